"""Formulas: the registry and the expression language formulas are written in.

Importing this package does not import torch; the built-in families load on
first use (``default_registry()``).
"""

from .expr import Const, Expr, Prod, Sum, Sym, TensorSize, latex_int, legend, total
from .registry import REGISTRY, Formula, FormulaRegistry, default_registry, register_formula

__all__ = [
    "REGISTRY",
    "Const",
    "Expr",
    "Formula",
    "FormulaRegistry",
    "Prod",
    "Sum",
    "Sym",
    "TensorSize",
    "default_registry",
    "latex_int",
    "legend",
    "register_formula",
    "total",
]
