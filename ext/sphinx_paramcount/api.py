"""The engine's front door: target text in, ``Report`` out.

This is what the command line and the Sphinx layer call; both see only the
``Report`` that comes back.
"""

from __future__ import annotations

import copy

from .build import build_model
from .count import count_model
from .errors import InstantiateError, brief
from .formulas.registry import FormulaRegistry
from .report import Report
from .shapes import run_forward


def explain(
    target: str,
    device: str = "meta",
    registry: FormulaRegistry | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> Report:
    """Build the model ``target`` names and count it; ``ParamcountError`` on failure.

    With ``input_shape``, one forward pass materialises lazy modules and adds
    each row's output shape.
    """
    built = build_model(target, device)
    module, shapes = built.module, None
    if input_shape is not None:
        if built.method == "instance":
            # Never change the user's object: a forward pass may materialise
            # lazy modules or update BatchNorm statistics.
            try:
                module = copy.deepcopy(module)
            except Exception as exc:
                raise InstantiateError(
                    f"{target!r} is a module instance that cannot be copied for the forward pass: "
                    f"{type(exc).__name__}: {brief(exc)}",
                    hint="name its class or a factory instead, so the forward pass runs on a model of its own",
                ) from exc
        shapes = run_forward(module, input_shape)
    report = count_model(module, " ".join(target.split()), registry, output_shapes=shapes)
    report.method = built.method
    report.notices = built.notices + report.notices
    return report
