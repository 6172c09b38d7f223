"""Getting a Report for a directive or role, with errors turned into problems."""

from __future__ import annotations

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
