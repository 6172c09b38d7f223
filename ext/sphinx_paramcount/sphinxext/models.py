"""Getting a Report for a directive or role, with errors turned into problems."""

from __future__ import annotations

import re
from typing import Any

from sphinx.util import logging

from ..cache import cached_explain
from ..errors import ParamcountError
from ..report import Report
from .problems import report_problem

logger = logging.getLogger("sphinx_paramcount")


def report_for(
    env: Any, location: tuple[str, int], target: str, device: str, input_shape: tuple[int, ...] | None = None
) -> Report | None:
    """The model's report, or ``None`` after reporting a located problem."""
    try:
        report = cached_explain(target, device, input_shape)
    except ParamcountError as exc:
        report_problem(env, location, exc.subtype, exc.message, hint=exc.hint, exc=exc)
        return None
    except Exception as exc:  # our own bug: still located, still not a crash
        report_problem(env, location, "instantiate", f"{target}: unexpected {type(exc).__name__}: {exc}", exc=exc)
        return None
    for path in report.sources:
        env.note_dependency(path)
    for notice in report.notices:
        logger.info(f"paramcount: {notice}", location=location)
    return report


_DIRECTIVE = re.compile(
    r"^\s*(?:\.\.\s+paramcount::|(?:`{3,}|:{3,})\{paramcount\})[ \t]*(?P<target>\S.*?)[ \t]*$", re.MULTILINE
)


def prebuild(env: Any, docnames: list[str]) -> None:
    """Build the models of the pages about to be read, before parallel readers fork.

    Forked readers inherit the parent's cache, so each model is built once
    instead of once per reader process.  Failures are ignored here: the
    directive that names the target reports them, located, when it is read.
    """
    targets: set[str] = set()
    for docname in docnames:
        try:
            with open(env.doc2path(docname), encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if "paramcount" in text:
            targets.update(" ".join(m.group("target").split()) for m in _DIRECTIVE.finditer(text))
    device = env.config.paramcount_device
    for target in sorted(targets):
        try:
            cached_explain(target, device)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            continue  # reported by the directive itself
