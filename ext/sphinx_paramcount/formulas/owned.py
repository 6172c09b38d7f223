"""The generic formula, and legends for tensors a model holds outside any layer.

A layer the registry does not know is shown as the product of its tensors'
shapes (``|weight|``).  Tensors a module owns beside its sub-modules are a
different case: a ViT's class token and position embedding, ConvNeXt's layer
scale, Swin's relative position bias table, a model's ``(root)`` parameters.
They are no layer, so no layer formula can name them; what a reader needs is
what each is and its shape, which the legend gives from the name
(``pos_embedding`` -> "Position embedding, shape 1 × 197 × 768").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .expr import Expr, TensorSize, total

# What the usual names of directly owned tensors mean (torchvision, timm,
# transformers spellings); matched on the whole name, case-insensitively.
_KINDS = [
    (re.compile(r"(cls|class)_?tokens?"), "Class token"),
    (re.compile(r"dist(illation)?_?tokens?"), "Distillation token"),
    (re.compile(r"mask_?tokens?"), "Mask token"),
    (re.compile(r"reg(ister)?_?tokens?"), "Register tokens"),
    (re.compile(r"(absolute_)?pos(ition(al)?)?_?(embed(ding)?s?|emb)"), "Position embedding"),
    (re.compile(r"relative_position_bias_tables?"), "Relative position bias table"),
    (re.compile(r"layer_?scales?(_\d+)?|gamma(_\d+)?|ls\d*"), "Layer scale (one factor per channel)"),
    (re.compile(r"logit_scale"), "Logit scale"),
]


def owned_words(name: str, shape: tuple[int, ...], container: str = "") -> str:
    """A directly owned tensor in words: ``"Position embedding, shape 1 × 197 × 768"``.

    ``container`` is ``"ParameterList"`` or ``"ParameterDict"`` for their entries.
    """
    dims = " × ".join(str(d) for d in shape) if shape else "() (a single number)"
    if container:
        return f"Entry {name} of the {container}, shape {dims}"
    for pattern, kind in _KINDS:
        if pattern.fullmatch(name.lower()):
            return f"{kind}, shape {dims}"
    return f"Parameter {name} of the module itself, shape {dims}"


def shape_product(module: Any, tensors: Sequence[tuple[str, tuple[int, ...]]], *, root: bool) -> Expr:
    """The sum of the tensors' sizes, ``tensors`` being ``(name, shape)`` pairs.

    A tensor gets a legend entry when ``module`` owns it directly and is no
    layer: it has sub-modules, or it is the model itself (``root``).  A leaf
    module of an unknown class keeps the bare product: what it lacks is a
    formula, which ``register_formula`` gives.
    """
    # A ParameterList's entries are named 0, 1, ...: ``|0| + |1|`` needs its legend most.
    container = type(module).__name__ if type(module).__name__ in ("ParameterList", "ParameterDict") else ""
    holder = root or bool(container) or bool(getattr(module, "_modules", None))
    own = getattr(module, "_parameters", None) or {}
    return total(
        [
            TensorSize(name, shape, owned_words(name, shape, container) if holder and name in own else "")
            for name, shape in tensors
        ]
    )
