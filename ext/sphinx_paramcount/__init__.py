"""sphinx-paramcount: parameter counts of PyTorch models, derived and checked in Sphinx docs.

``import sphinx_paramcount`` is cheap: torch is imported when the first
directive or role runs, not here.
"""

from __future__ import annotations

import warnings
from typing import Any

# torch without NumPy warns at import; counting never needs NumPy, so the
# warning would only be noise in build logs and the command line's stderr.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy", category=UserWarning)

__version__ = "0.1.0"


def setup(app: Any) -> dict[str, Any]:
    from .sphinxext import setup as _setup

    return _setup(app)
