"""One forward pass on meta tensors: materialises lazy modules, records output shapes.

Meta tensors carry shapes but no data, so a forward pass of a 70B model
costs nothing; it is also how ``LazyLinear`` and friends learn their sizes.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import InstantiateError, OptionError, ParamcountError, brief
from .guards import downloads_refused, torch_state_kept

#: What ``:input-dtype:`` and ``--input-dtype`` accept: the input tensor's dtype (``int64`` for token ids).
INPUT_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")

_SHAPE = re.compile(r"^\s*\(?\s*\d+(\s*,\s*\d+)*\s*,?\s*\)?\s*$", re.ASCII)


def parse_input_shape(text: str) -> tuple[int, ...]:
    """``1, 3, 32, 32`` (or ``(1, 3, 32, 32)``) -> (1, 3, 32, 32)."""
    if not isinstance(text, str) or not _SHAPE.match(text) or not text.strip():
        raise OptionError(
            f"input shape {text!r} is not a list of whole numbers",
            hint="write the input tensor's shape, e.g. '1, 3, 32, 32'",
        )
    dims = tuple(int(d) for d in re.findall(r"\d+", text, re.ASCII))
    if any(d == 0 for d in dims):
        raise OptionError(f"input shape {text!r} has a zero dimension", hint="every dimension must be 1 or more")
    return dims


def parse_input_dtype(text: str) -> str:
    """``int64`` (or ``torch.int64``) -> ``"int64"``; ``OptionError`` for anything else."""
    name = text.strip().removeprefix("torch.") if isinstance(text, str) else ""
    if name not in INPUT_DTYPES:
        raise OptionError(
            f"input dtype {text!r} is not one of {', '.join(INPUT_DTYPES)}",
            hint="float32 for images and features, int64 for token ids",
        )
    return name


def output_dims(output: Any) -> tuple[int, ...] | None:
    """The shape of a module's output: a tensor's, or its first tensor's (tuple, list, dict); ``None`` if none."""
    import torch

    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)) and output:
        return output_dims(output[0])
    if isinstance(output, dict) and output:
        return output_dims(next(iter(output.values())))
    return None


def _shape_of(output: Any) -> str:
    dims = output_dims(output)
    return "" if dims is None else "(" + ", ".join(str(d) for d in dims) + ")"


def run_forward(model: Any, shape: tuple[int, ...], dtype: str = "float32") -> dict[str, str]:
    """Run ``model`` on a tensor of ``shape`` (zeros of ``dtype``, a torch dtype's name); return each module's output shape.

    A failure names the innermost module that was running, so the author can
    see which layer does not accept the shape.
    """
    import torch

    # nn.Module's own walk: a model may override named_modules() or modules() with anything.
    named = list(torch.nn.Module.named_modules(model))
    names = {id(m): n for n, m in named}
    shapes: dict[str, str] = {}
    running: list[str] = []
    handles = []

    def pre(module: Any, args: Any) -> None:
        running.append(names.get(id(module), "?"))

    def post(module: Any, args: Any, output: Any) -> None:
        name = running.pop() if running else names.get(id(module), "?")
        shapes.setdefault(name, _shape_of(output))

    for _, m in named:
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    # Run where the parameters are: meta for built targets, the instance's device otherwise.
    # (Registered tensors, not parameters(): a model may override that to yield anything.)
    # A model that is all lazy layers has only uninitialised parameters: they, too, know their
    # device (a lazy instance's are on the CPU), and the input must be there for them to materialise.
    tensors = [p for _, m in named for p in m._parameters.values() if isinstance(p, torch.Tensor)]
    lazy = [p for p in tensors if isinstance(p, torch.nn.parameter.UninitializedParameter)]
    device = next(
        (p.device for p in tensors if not isinstance(p, torch.nn.parameter.UninitializedParameter)),
        lazy[0].device if lazy else torch.device("meta"),
    )
    try:
        # The forward pass is the user's code too: it must not change what later pages show.
        with torch_state_kept(), downloads_refused(), torch.no_grad():
            model(torch.zeros(shape, device=device, dtype=getattr(torch, dtype)))
    except (KeyboardInterrupt, ParamcountError):
        raise
    except BaseException as exc:  # SystemExit, CancelledError ...: this directive's error, not the build's
        if not running:
            layer = ""
        elif running[-1]:
            layer = f" in layer {running[-1]!r} ({type(dict(named)[running[-1]]).__name__})"
        else:
            layer = f" in {type(model).__name__}.forward itself"
        hint = "check :input-shape: against what the model expects (batch first)"
        if dtype != "float32":  # the dtype the user chose is as likely the cause as the shape
            hint = f"check :input-shape: and :input-dtype: {dtype} against what the model expects (batch first)"
        if (
            running
            and isinstance(dict(named).get(running[-1]), torch.nn.Embedding)
            and dtype.startswith(("float", "bf"))
        ):
            hint = "the model takes token ids: add ':input-dtype: int64' (--input-dtype int64, input_dtype='int64')"
        raise InstantiateError(
            f"the forward pass with input shape {shape} failed{layer}: {type(exc).__name__}: {brief(exc, 300)}",
            hint=hint,
        ) from exc
    finally:
        for h in handles:
            h.remove()
    return shapes
