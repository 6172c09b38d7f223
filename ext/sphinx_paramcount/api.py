"""The engine's front door: target text in, ``Report`` out.

This is what the command line and the Sphinx layer call; both see only the
``Report`` that comes back.
"""

from __future__ import annotations

from .build import build_model
from .count import count_model
from .formulas.registry import FormulaRegistry
from .report import Report


def explain(target: str, device: str = "meta", registry: FormulaRegistry | None = None) -> Report:
    """Build the model ``target`` names and count it; ``ParamcountError`` on failure."""
    built = build_model(target, device)
    report = count_model(built.module, " ".join(target.split()), registry)
    report.method = built.method
    report.notices = built.notices + report.notices
    return report
