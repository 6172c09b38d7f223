"""Building the models of the pages being read: a Report for each directive and role, and the GC.

Errors become located problems (``problems.py``); torch is imported, and in a
parallel build the models are built, once, before the pages are read.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from sphinx.util import logging

from ..cache import cached_compute, cached_explain
from ..compute_request import ComputeRequest, parse_request
from ..errors import OptionError, ParamcountError
from ..formulas.registry import default_registry
from ..report import Report
from ..sources import target_sources
from .problems import note, report_problem

if TYPE_CHECKING:
    from ..compute import ComputeReport

logger = logging.getLogger("sphinx_paramcount")


def report_for(
    env: Any,
    location: str,
    target: str,
    device: str,
    input_shape: tuple[int, ...] | None = None,
    input_dtype: str = "float32",
) -> Report | None:
    """The model's report, or ``None`` after reporting a located problem."""
    return _built(
        env, location, target, lambda: cached_explain(target, device, input_shape, input_dtype), device, input_shape
    )


def compute_for(
    env: Any, location: str, target: str, device: str, input_shape: tuple[int, ...], input_dtype: str
) -> ComputeReport | None:
    """The MACs of one forward pass of the model (``compute.ComputeReport``), or ``None`` after reporting a problem.

    A forward pass that fails is a located ``paramcount.instantiate`` problem naming the layer.
    """
    return _built(
        env, location, target, lambda: cached_compute(target, device, input_shape, input_dtype), device, input_shape
    )


_Built = TypeVar("_Built", Report, "ComputeReport")


def _built(
    env: Any, location: str, target: str, build: Callable[[], _Built], device: str, input_shape: Any
) -> _Built | None:
    try:
        report = build()
    except ParamcountError as exc:
        report_problem(env, location, exc.subtype, exc.message, hint=exc.hint, exc=exc)
        _depend_on_target(env, target)
        return None
    except Exception as exc:  # our own bug: still located, still not a crash
        report_problem(env, location, "instantiate", f"{target}: unexpected {type(exc).__name__}: {exc}", exc=exc)
        _depend_on_target(env, target)
        return None
    for path in report.sources:
        env.note_dependency(path)
    for notice in report.notices:
        note(env, location, notice, build=f"{target} on {device}, input {input_shape}")
    return report


def _depend_on_target(env: Any, target: str) -> None:
    """A failed count's page is read again when the code it names changes: the fix is then seen."""
    for path in target_sources(target):
        env.note_dependency(path)


# The targets a page names, to build them before a parallel build's readers
# fork: directives (reST and MyST) and roles (``:paramcount:`131,618 <t>```,
# ``{paramcount}`t```).  A target this misses is still built, once per reader.
_DIRECTIVE = re.compile(
    r"^\s*(?:\.\.\s+paramcount::|(?:`{3,}|:{3,})\{paramcount\})[ \t]*(?P<target>\S.*?)[ \t]*$", re.MULTILINE
)
_ROLE = re.compile(r"(?::paramcount:|\{paramcount\})`(?:[^`<]*<(?P<explicit>[^`>]+)>|(?P<bare>[^`<>]+))`")


def page_targets(text: str) -> set[str]:
    targets = {m.group("target") for m in _DIRECTIVE.finditer(text)}
    targets |= {m.group("explicit") or m.group("bare") for m in _ROLE.finditer(text)}
    return {" ".join(t.split()) for t in targets}


# ``flopcount`` directives with their ``:name: value`` option lines (reST and MyST), and roles.
_FLOP_DIRECTIVE = re.compile(
    r"^\s*(?:\.\.\s+flopcount::|(?:`{3,}|:{3,})\{flopcount\})[ \t]*(?P<target>\S.*?)[ \t]*$"
    r"(?P<options>(?:\n[ \t>]*:[\w-]+:.*$)*)",
    re.MULTILINE,
)
_FLOP_ROLE = re.compile(r"(?::flopcount:|\{flopcount\})`(?:[^`<]*<(?P<explicit>[^`>]+)>|(?P<bare>[^`<>]+))`")
_OPTION = re.compile(r"^[ \t>]*:(?P<name>input-shape|input-dtype):[ \t]*(?P<value>.*?)[ \t]*$", re.MULTILINE)


def page_computes(text: str) -> set[ComputeRequest]:
    """The forward passes a page's ``flopcount`` directives and roles ask for; malformed ones are left out."""
    texts = [m.group("explicit") or m.group("bare") for m in _FLOP_ROLE.finditer(text)]
    for m in _FLOP_DIRECTIVE.finditer(text):
        given = {o["name"]: o["value"] for o in _OPTION.finditer(m["options"])}
        if "input-shape" in given:
            texts.append(f"{m['target']} @ {given['input-shape']} {given.get('input-dtype', '')}")
    out = set()
    for request in texts:
        try:
            out.add(parse_request(request))
        except OptionError:
            continue  # reported by the directive or role itself
    return out


def prepare(app: Any, env: Any, docnames: list[str]) -> None:
    """Before the pages are read: load torch and the formulas once, and keep the GC off them.

    Only when a page about to be read uses the directive or the role: a
    no-change rebuild, or a site without them, never imports torch.  In a
    parallel build the models are built here too, before the readers fork:
    forked readers inherit the parent's cache, so each model is built once
    instead of once per reader process.
    """
    texts = [
        text for text in map(_read, (env.doc2path(d) for d in docnames)) if "paramcount" in text or "flopcount" in text
    ]
    if not texts:
        return
    # ``import torch`` makes about 235,000 objects that live as long as the
    # process; with the GC on, the collections it triggers midway rescan them
    # and all of Sphinx's, about 0.15 s.  Few of them are garbage.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        default_registry()
    except Exception:  # torch missing or broken: each directive reports it, located
        return
    finally:
        if was_enabled:
            gc.enable()
    if getattr(app, "parallel", 0) > 1:
        prebuild(env, sorted(set().union(*map(page_targets, texts))), set().union(*map(page_computes, texts)))
    freeze_gc(app)


def freeze_gc(app: Any) -> None:
    """Hide the objects alive now (torch's, Sphinx's) from the cyclic GC until the build ends.

    ``import torch`` leaves a few hundred thousand objects that live as long as
    the process.  A docs build makes many full collections (docutils nodes are
    cyclic), and each one scanned all of torch again: on the benchmark's
    200-table site, freezing cut the time spent in the GC from 0.52 s to
    0.33 s.  ``build-finished`` unfreezes them (``thaw_gc``), so nothing
    outlives the build because of this, which matters to test suites and
    tools that run many builds in one process.
    """
    if not getattr(app, "paramcount_gc_frozen", False):
        gc.freeze()
        app.paramcount_gc_frozen = True


def thaw_gc(app: Any) -> None:
    if getattr(app, "paramcount_gc_frozen", False):
        gc.unfreeze()
        app.paramcount_gc_frozen = False


def _read(path: Any) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def prebuild(env: Any, targets: list[str], computes: Iterable[ComputeRequest] = ()) -> None:
    """Build these targets, and run these forward passes, into the cache.

    Failures are ignored here: the directive that names the target reports
    them, located, when it is read.
    """
    device = env.config.paramcount_device
    builds: list[Callable[[], object]] = [partial(cached_explain, target, device) for target in targets]
    builds += [
        partial(cached_compute, c.target, device, c.input_shape, c.input_dtype)
        for c in sorted(computes, key=lambda c: (c.target, c.input_shape, c.input_dtype))
    ]
    for build in builds:
        try:
            build()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            continue  # reported by the directive itself


def before_read(app: Any, env: Any, docnames: list[str]) -> None:
    app.paramcount_read = set(docnames)
    prepare(app, env, docnames)


def build_finished(app: Any, exc: BaseException | None) -> None:
    thaw_gc(app)


def setup_reading(app: Any) -> None:
    app.connect("env-before-read-docs", before_read)
    app.connect("build-finished", build_finished)
