"""Running a Sphinx ``conf.py`` outside Sphinx, for the command line tools.

A project's ``conf.py`` is where its ``sys.path`` is set up and its own
formulas are registered (``paramcount_formulas``); without it a command line
count would show those layers as generic tensor products.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def nearest(paths: Iterable[str | Path]) -> list[Path]:
    """The ``conf.py`` nearest above each path (each one once)."""
    found: list[Path] = []
    for p in map(Path, paths):
        for d in [p.resolve(), *p.resolve().parents]:
            conf = d / "conf.py"
            if conf.is_file():
                if conf not in found:
                    found.append(conf)
                break
    return found


def run(conf: Path) -> dict[str, Any]:
    """Run ``conf`` as Sphinx would, in its own folder, and register its formulas; its namespace.

    Raises whatever the file raises; the caller says so in its own words.
    """
    from .formulas.registry import REGISTRY

    namespace: dict[str, Any] = {"__file__": str(conf), "__name__": "conf"}
    cwd = os.getcwd()
    try:
        os.chdir(conf.parent)
        exec(compile(conf.read_text(), str(conf), "exec"), namespace)
    finally:
        os.chdir(cwd)
    formulas: dict[str, str] = dict(namespace.get("paramcount_formulas") or {})
    for layer, spec in formulas.items():
        REGISTRY.add_spec(layer, spec)
    return namespace
