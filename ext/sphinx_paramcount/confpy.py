"""Running a Sphinx ``conf.py`` outside Sphinx, for ``sphinx-paramcount TARGET --conf``.

A project's ``conf.py`` is where its ``sys.path`` is set up and its own
formulas are registered (``paramcount_formulas``); without it a command line
count would show those layers as generic tensor products.  (``update`` runs
Sphinx itself, which runs ``conf.py``: see ``sphinxext/collect.py``.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


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
