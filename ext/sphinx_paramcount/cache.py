"""One build per distinct target per process, rebuilt when its sources change.

A target used on twenty pages is built once.  Each entry remembers the
modification times of the files defining the model's classes; if one has
changed (an author editing a model between two builds in one process, as
sphinx-autobuild or a test session does), the modules are reloaded and the
model rebuilt, so a cache never serves a stale count.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass

from .api import explain
from .formulas.registry import REGISTRY, default_registry
from .report import Report


@dataclass
class _Entry:
    report: Report
    mtimes: dict[str, int]  # st_mtime_ns; -1 for a file that is gone


_entries: dict[tuple[str, str, tuple[int, ...] | None, int], _Entry] = {}
stats = {"builds": 0, "hits": 0}


def _mtimes(paths: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for path in paths:
        try:
            out[path] = os.stat(path).st_mtime_ns
        except OSError:
            out[path] = -1
    return out


def cached_explain(target: str, device: str = "meta", input_shape: tuple[int, ...] | None = None) -> Report:
    default_registry()  # load the built-ins first: loading them bumps the version the key holds
    key = (" ".join(target.split()), device, input_shape, REGISTRY.version)
    entry = _entries.get(key)
    if entry is not None:
        changed = [p for p, t in _mtimes(list(entry.mtimes)).items() if entry.mtimes[p] != t]
        if not changed:
            stats["hits"] += 1
            return entry.report
        _reload(changed)
        _entries.pop(key, None)
    report = explain(target, device, input_shape=input_shape)
    stats["builds"] += 1
    _entries[key] = _Entry(report, _mtimes(report.sources))
    return report


def _reload(paths: list[str]) -> None:
    importlib.invalidate_caches()
    wanted = {os.path.realpath(p) for p in paths}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path) in wanted:
            importlib.reload(module)
    # Other cached models may use the reloaded classes: drop them all.
    _entries.clear()


def clear() -> None:
    _entries.clear()
