"""Walking a module tree into a ``Report``.

The rule is fvcore's: the count is ``sum(p.numel() for p in model.parameters())``.
Each module that owns parameters directly gets a row; a tensor already seen
(a tied weight) is named in the later row and adds nothing there.  A row's
formula comes from the registry and is used only when its value equals the
real size of the tensors it describes; otherwise the row shows the generic
product of the tensor shapes and says why.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .errors import FormulaError, LazyError
from .formulas.expr import Expr, Sym, TensorSize, latex_int, legend, total
from .formulas.registry import FormulaRegistry, default_registry
from .report import Buffer, ModuleInfo, Report, Row, Tensor
from .sources import model_sources


def count_model(
    model: Any,
    target: str = "",
    registry: FormulaRegistry | None = None,
    output_shapes: dict[str, str] | None = None,
) -> Report:
    """Count ``model`` (an ``nn.Module``) into a ``Report``."""
    import torch
    from torch import nn

    registry = registry or default_registry()
    _refuse_lazy(model, nn)

    seen: dict[int, str] = {}  # id(parameter) -> qualified name where first counted
    rows: list[Row] = []
    modules: list[ModuleInfo] = []
    covered: list[str] = []  # prefixes whose params a parent's formula already counted
    bytes_by_dtype: dict[str, int] = {}
    quantized: list[tuple[str, str]] = []  # top-most quantized layers: (name, class path)

    for name, module in model.named_modules():
        if _holds_packed_weights(name, module, quantized):
            quantized.append((name, f"{type(module).__module__}.{type(module).__qualname__}"))
        found = registry.lookup(type(module))
        modules.append(ModuleInfo(name, type(module).__name__, _label(module, found)))
        if any(c == "" or name == c or name.startswith(c + ".") for c in covered):
            continue
        formula = found[0] if found else None
        recurse = bool(formula and formula.covers_children)
        own = list(module.named_parameters(recurse=recurse, remove_duplicate=False))
        if not own:
            continue
        if recurse:
            covered.append(name)
        tensors = []
        for pname, p in own:
            qualified = f"{name}.{pname}" if name else pname
            shared_with = seen.get(id(p))
            if shared_with is None:
                seen[id(p)] = qualified
                dtype = str(p.dtype).replace("torch.", "")
                bytes_by_dtype[dtype] = bytes_by_dtype.get(dtype, 0) + p.numel() * p.element_size()
            tensors.append(
                Tensor(
                    qualified,
                    tuple(int(d) for d in p.shape),
                    int(p.numel()),
                    str(p.dtype).replace("torch.", ""),
                    bool(p.requires_grad),
                    shared_with,
                )
            )
        row = _row(name, module, tensors, found, registry)
        if output_shapes:
            row = replace(row, output_shape=output_shapes.get(name, ""))
        rows.append(row)

    buffers = [
        Buffer(n, tuple(int(d) for d in b.shape), int(b.numel()), str(b.dtype).replace("torch.", ""))
        for n, b in model.named_buffers()
        if isinstance(b, torch.Tensor)
    ]
    params = list(model.parameters())
    report = Report(
        sources=model_sources(model, target, registry),
        target=target,
        total=sum(int(p.numel()) for p in params),
        trainable=sum(int(p.numel()) for p in params if p.requires_grad),
        rows=rows,
        modules=modules,
        buffers=buffers,
        bytes_by_dtype=bytes_by_dtype,
    )
    # The invariant every view relies on; a failure here is our bug, not the user's.
    assert sum(r.params for r in rows) == report.total, "rows do not add up to the total"
    report.notices.extend(_quantized_notice(quantized))
    return report


# Where PyTorch keeps modules whose weights are packed quantized tensors, not Parameters.
_QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.nn.quantized", "torch.ao.nn.intrinsic.quantized")


def _holds_packed_weights(name: str, module: Any, quantized: list[tuple[str, str]]) -> bool:
    """A quantized layer without parameters, not inside one already found (its packed-params child)."""
    if not type(module).__module__.startswith(_QUANTIZED_PACKAGES):
        return False
    if any(q == "" or name.startswith(q + ".") for q, _ in quantized):
        return False
    return next(module.parameters(recurse=False), None) is None


def _quantized_notice(quantized: list[tuple[str, str]]) -> list[str]:
    """Say why quantized layers count nothing, rather than show them silently as 0."""
    if not quantized:
        return []
    name, cls = quantized[0]
    advice = "count the float model to document its parameters"
    if len(quantized) == 1:
        return [
            f"the quantized layer {name or '(root)'} ({cls}) keeps its weights packed, not as parameters,"
            f" so it counts 0; {advice}"
        ]
    return [
        f"{len(quantized)} quantized layers (the first: {name or '(root)'}, {cls}) keep their weights packed,"
        f" not as parameters, so they count 0; {advice}"
    ]


def _refuse_lazy(model: Any, nn: Any) -> None:
    lazy = [
        f"{name or '(root)'} ({type(m).__name__})"
        for name, m in model.named_modules()
        if any(isinstance(p, nn.parameter.UninitializedParameter) for p in m.parameters(recurse=False))
    ]
    if lazy:
        shown = ", ".join(lazy[:5]) + (f" and {len(lazy) - 5} more" if len(lazy) > 5 else "")
        raise LazyError(
            f"the model has lazy modules whose size is not known until a forward pass: {shown}",
            hint="give an input shape (':input-shape:' in the directive, '--input-shape' on the command line)",
        )


def _label(module: Any, found: Any) -> str:
    if found is not None and found[0].label is not None:
        try:
            return str(found[0].label(module))
        except Exception:
            pass  # a broken label must not cost the count; fall back to the repr
    extra = module.extra_repr()
    if not extra:
        return type(module).__name__
    extra = extra if len(extra) <= 48 else extra[:45] + "..."
    return f"{type(module).__name__}({extra})"


def _row(name: str, module: Any, tensors: list[Tensor], found: Any, registry: FormulaRegistry) -> Row:
    own_numel = sum(t.numel for t in tensors)
    fresh = [t for t in tensors if not t.shared_with]
    params = sum(t.numel for t in fresh)
    common: dict[str, Any] = {
        "name": name,
        "type": type(module).__name__,
        "label": _label(module, found),
        "depth": name.count(".") + 1 if name else 0,
        "params": params,
        "trainable": sum(t.numel for t in fresh if t.trainable),
        "tensors": tuple(tensors),
    }
    expr, family, note = None, "generic", ""
    if found is not None:
        formula, exact = found
        try:
            candidate = formula.build(module)
        except Exception as exc:
            if exact:
                raise FormulaError(
                    f"the formula {formula.name!r} for {type(module).__name__} ({name or 'root'}) raised "
                    f"{type(exc).__name__}: {exc}",
                    hint="fix the formula function, or unregister it",
                ) from exc
            candidate = None
        if isinstance(candidate, int):
            candidate = Sym("n", "Parameters", candidate)
        if candidate is not None and not isinstance(candidate, Expr):
            raise FormulaError(
                f"the formula {formula.name!r} returned {type(candidate).__name__}, not an expression",
                hint="build the formula from Sym and Const with + and *",
            )
        if candidate is not None and candidate.value == own_numel:
            expr, family = candidate, formula.name
        elif candidate is not None:
            note = (
                f"the {formula.name} formula gives {candidate.value:,} but the tensors hold {own_numel:,} "
                "(a parametrization, pruning or a subclass changed them): shown as tensor sizes"
            )
    if expr is not None and len(fresh) < len(tensors):
        # Part of the module is tied to an earlier row: derive only what is new here.
        expr, family = None, "generic"
    if expr is None:
        expr = total([TensorSize(t.name.rpartition(".")[2] if name else t.name, t.shape) for t in fresh])
    shared = [t for t in tensors if t.shared_with]
    if shared:
        tied = "; ".join(f"{t.name.rpartition('.')[2]} is {t.shared_with} (counted there)" for t in shared)
        note = f"{note}; {tied}" if note else tied
    return Row(
        **common,
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        family=family,
        note=note,
    )


def latex_sum(values: list[int]) -> str:
    """``448 + 131{,}104 + 66``: the derivation of a total or a group of rows."""
    return " + ".join(latex_int(v) for v in values) if values else "0"
