"""One build per distinct target per process, rebuilt when the user's code changes.

A target used on twenty pages is built once.  The cache remembers, for every
file of user code a cached count depends on (``Report.sources``: the model's
classes, its factory or instance, the configs and constants they import, its
formulas), what the file looked like when its module was counted.  Before
answering, it looks at them all: if one was edited between two builds in one
process (sphinx-autobuild, a test session), that module and every tracked
module importing it are reloaded, dependencies first, and every count is
dropped, so the cache never serves a stale count.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from types import ModuleType

from .api import count_target
from .compute import ComputeReport, compute_target
from .formulas.registry import REGISTRY, default_registry
from .report import Report
from .sources import Fingerprint, fingerprint, reload_order

# (what, target, device, input shape, input dtype, formula registry version) -> report.
_entries: dict[tuple[str, str, str, tuple[int, ...] | None, str, int], Report | ComputeReport] = {}
# Every file a cached count depended on, as it was when its module was counted.
# Kept across ``clear()``: the modules stay loaded, and so may still be stale.
_seen: dict[str, Fingerprint] = {}
stats = {"builds": 0, "hits": 0, "reloads": 0}


def cached_explain(
    target: str, device: str = "meta", input_shape: tuple[int, ...] | None = None, input_dtype: str = "float32"
) -> Report:
    """The parameter report of ``target`` (``api.count_target``), built once per process."""
    report = _cached("params", target, device, input_shape, input_dtype)
    assert isinstance(report, Report)
    return report


def cached_compute(
    target: str, device: str, input_shape: tuple[int, ...], input_dtype: str = "float32"
) -> ComputeReport:
    """The compute report of ``target`` on ``input_shape`` (``compute.compute_target``), built once per process."""
    report = _cached("compute", target, device, input_shape, input_dtype)
    assert isinstance(report, ComputeReport)
    return report


def _cached(
    what: str, target: str, device: str, input_shape: tuple[int, ...] | None, input_dtype: str
) -> Report | ComputeReport:
    _reload_edited()
    default_registry()  # load the built-ins first: loading them bumps the version the key holds
    target = " ".join(target.split())
    key = (what, target, device, input_shape, input_dtype, REGISTRY.version)
    report = _entries.get(key)
    if report is not None:
        stats["hits"] += 1
        return report
    if what == "compute":
        assert input_shape is not None
        report = compute_target(target, input_shape, input_dtype, device)
    else:
        report = count_target(target, device, input_shape=input_shape, input_dtype=input_dtype)
    stats["builds"] += 1
    _entries[key] = report
    for path in report.sources:
        _seen.setdefault(path, fingerprint(path))
    return report


def _reload_edited() -> None:
    """Reload what was edited since it was counted, and forget every count.

    Every tracked file is checked, not only the requested target's: a new
    target may import a module another target's count already loaded.
    """
    changed = [path for path, seen in _seen.items() if fingerprint(path) != seen]
    if not changed:
        return
    importlib.invalidate_caches()
    edited = {os.path.realpath(p) for p in changed}
    for module in reload_order(changed, _seen):
        if module.__file__ and os.path.realpath(module.__file__) in edited:
            _forget_bytecode(module)
        try:
            importlib.reload(module)
        except (Exception, SystemExit):  # a SyntaxError, a NameError, sys.exit() at import
            # Forget the broken module: the next import of the target raises the
            # error again, located at the directive, instead of using the old code.
            sys.modules.pop(module.__name__, None)
        stats["reloads"] += 1
    for path in changed:
        _seen.pop(path)  # recorded again, as it is now, by the next count that uses it
    # Other cached models may use the reloaded classes: drop them all.
    _entries.clear()


def _forget_bytecode(module: ModuleType) -> None:
    """Delete the module's cached bytecode, so that its reload compiles the source.

    Python trusts a ``.pyc`` whose recorded source size and mtime, in whole
    seconds, match the file: an edit in the same second that keeps the size
    (``8`` to ``9``) would reload the old code.
    """
    cached = getattr(module, "__cached__", None)
    if cached:
        with contextlib.suppress(OSError):
            os.remove(cached)


def clear() -> None:
    _entries.clear()
