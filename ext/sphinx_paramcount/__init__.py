"""sphinx-paramcount: parameter counts of PyTorch models, derived and checked in Sphinx docs.

``import sphinx_paramcount`` is cheap: torch is imported when the first
directive or role runs, or ``explain`` is first called, not here.  The Python
API (``explain``, ``Report``, ``ComputeReport``, ``MismatchError``) is loaded on first use.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

# torch without NumPy warns at import; counting never needs NumPy, so the
# warning would only be noise in build logs and the command line's stderr.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy", category=UserWarning)

__version__ = "0.1.0"
__all__ = ["ComputeReport", "MismatchError", "Report", "__version__", "explain", "setup"]

if TYPE_CHECKING:
    from .api import explain
    from .compute import ComputeReport
    from .errors import MismatchError
    from .report import Report

# Where each public name lives: imported when first asked for (PEP 562).
_LAZY = {"explain": "api", "Report": "report", "ComputeReport": "compute", "MismatchError": "errors"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def setup(app: Any) -> dict[str, Any]:
    from .sphinxext import setup as _setup

    return _setup(app)
