"""sphinx-paramcount: parameter counts of PyTorch models, derived and checked in Sphinx docs.

``import sphinx_paramcount`` is cheap: torch is imported when the first
directive or role runs, not here.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def setup(app: Any) -> dict[str, Any]:
    from .sphinxext import setup as _setup

    return _setup(app)
