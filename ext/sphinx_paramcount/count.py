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

from .errors import FormulaError, LazyError, ParamcountError, UncountableError, brief
from .formulas.expr import Expr, Sym, TensorSize, latex_int, latex_text, legend, plain_form, total
from .formulas.owned import shape_product
from .formulas.registry import FormulaRegistry, default_registry
from .report import Buffer, ModuleInfo, NotCounted, Report, Row, Tensor
from .sources import model_sources


def count_model(
    model: Any,
    target: str = "",
    registry: FormulaRegistry | None = None,
    output_shapes: dict[str, str] | None = None,
) -> Report:
    """Count ``model`` (an ``nn.Module``) into a ``Report``.

    Raises ``LazyError`` for uninitialised parameters, ``FormulaError`` for a
    formula registered for the layer's own class that raises, and
    ``UncountableError`` for anything else about the model that cannot be
    counted (``parameters()`` yielding a non-tensor, a tensor whose size
    cannot be read): never an unexpected exception.
    """
    try:
        return _count(model, target, registry or default_registry(), output_shapes or {})
    except (KeyboardInterrupt, ParamcountError):
        raise
    except BaseException as exc:  # the user's objects did something we did not foresee: say what, located
        raise UncountableError(
            f"{target or type(model).__name__}: counting the built model failed: {type(exc).__name__}: {brief(exc)}",
            hint="the model does something the counter does not handle; count a plain nn.Module, "
            "or register a formula for the layer concerned",
        ) from exc


def _count(model: Any, target: str, registry: FormulaRegistry, output_shapes: dict[str, str]) -> Report:
    import torch
    from torch import nn

    # Registered modules, parameters and buffers through nn.Module's own methods: a
    # model may override them (a distillation wrapper's parameters() yields only the student).
    # Every use of a module, not only its first: a module registered in three
    # places is named in each, and its later uses say where it was counted.
    named_modules = list(nn.Module.named_modules(model, remove_duplicate=False))
    _refuse_lazy(named_modules, nn)
    first_use: dict[int, str] = {}  # id(module) -> name of its first use
    counted, notices = _counted_parameters(model, torch)

    seen: dict[int, str] = {}  # id(parameter) -> qualified name where first counted
    rows: list[Row] = []
    modules: list[ModuleInfo] = []
    covered: list[str] = []  # prefixes whose params a parent's formula already counted
    left_out: dict[int, NotCounted] = {}
    quantized: list[tuple[str, str]] = []  # top-most quantized layers: (name, class path)
    reason = _why_not_yielded(model, nn)

    for name, module in named_modules:
        same_as = first_use.setdefault(id(module), name)
        if same_as == name and _holds_packed_weights(name, module, quantized):
            quantized.append((name, f"{type(module).__module__}.{type(module).__qualname__}"))
        found = registry.lookup(type(module))
        label = layer_label(module, found)
        modules.append(ModuleInfo(name, type(module).__name__, label, class_path(type(module))))
        if any(c == "" or name == c or name.startswith(c + ".") for c in covered):
            continue
        recurse = bool(found and found[0].covers_children)
        own = list(nn.Module.named_parameters(module, recurse=recurse, remove_duplicate=False))
        if recurse and own:
            covered.append(name)
        tensors = _counted_tensors(name, own, counted, seen, left_out, reason)
        if not tensors:
            continue
        # A module missing some tensors from the count gets the shape product of the rest.
        row = _row(name, module, label, tensors, found if len(tensors) == len(own) else None)
        if same_as != name and row.params == 0:
            same = rf"\text{{same module as }}\mathtt{{{latex_text(same_as)}}}"
            row = replace(
                row, formula=same, derivation=same, family="shared", note=f"{name} is {same_as}, counted there"
            )
        if len(tensors) < len(own):
            row = replace(row, note=_joined(row.note, f"{len(own) - len(tensors)} of its tensors are not counted"))
        rows.append(replace(row, output_shape=output_shapes.get(name, "")) if output_shapes else row)

    unregistered = [p for i, p in counted.items() if i not in seen]
    if unregistered:
        row = _unregistered_row(unregistered)
        rows.append(row)
        modules.append(ModuleInfo(row.name, row.type, row.label))

    fresh = list(counted.values())
    buffers = [
        Buffer(n, _shape(b), int(b.numel()), _dtype(b))
        for n, b in nn.Module.named_buffers(model)
        if isinstance(b, torch.Tensor)
    ]
    report = Report(
        sources=model_sources(model, target, registry),
        target=target,
        total=sum(int(p.numel()) for p in fresh),
        trainable=sum(int(p.numel()) for p in fresh if p.requires_grad),
        rows=rows,
        modules=modules,
        buffers=buffers,
        bytes_by_dtype=_bytes_by_dtype(fresh),
        not_counted=list(left_out.values()),
        config=config_numbers(model),
    )
    # The invariant every view relies on; a failure here is our bug, not the user's.
    assert sum(r.params for r in rows) == report.total, "rows do not add up to the total"
    report.notices.extend(notices)
    # The page explains a quantized layer's 0 too, not only the build log.
    report.explained.extend(_quantized_notice(quantized))
    report.notices.extend(report.explained)
    return report


def _counted_tensors(
    name: str,
    own: list[tuple[str, Any]],
    counted: dict[int, Any],
    seen: dict[int, str],
    left_out: dict[int, NotCounted],
    reason: str,
) -> list[Tensor]:
    """A module's tensors that the count includes; the others go to ``left_out``; ``seen`` learns the new ones."""
    tensors = []
    for pname, p in own:
        qualified = f"{name}.{pname}" if name else pname
        if id(p) not in counted:
            left_out.setdefault(id(p), NotCounted(qualified, _shape(p), int(p.numel()), reason))
            continue
        shared_with = seen.get(id(p))
        if shared_with is None:
            seen[id(p)] = qualified
        tensors.append(_tensor(qualified, p, shared_with))
    return tensors


def _counted_parameters(model: Any, torch: Any) -> tuple[dict[int, Any], list[str]]:
    """What the counting rule counts: ``model.parameters()``, each tensor once, by id, in order."""
    try:
        yielded = list(model.parameters())
    except (KeyboardInterrupt, ParamcountError):
        raise
    except BaseException as exc:
        raise UncountableError(
            f"{type(model).__name__}.parameters() raised {type(exc).__name__}: {brief(exc)}",
            hint="the count is sum(p.numel() for p in model.parameters()): that call must work",
        ) from exc
    counted: dict[int, Any] = {}
    for p in yielded:
        if not isinstance(p, torch.Tensor):
            raise UncountableError(
                f"{type(model).__name__}.parameters() yielded a {type(p).__name__}, not a tensor",
                hint="parameters() must yield torch.nn.Parameter objects",
            )
        if isinstance(p, torch.nn.parameter.UninitializedParameter):
            raise LazyError(
                f"{type(model).__name__}.parameters() yields a lazy parameter whose size is not known until a "
                "forward pass",
                hint="give an input shape (':input-shape:' in the directive, '--input-shape' on the command line)",
            )
        counted.setdefault(id(p), p)
    notices = []
    if len(counted) < len(yielded):
        notices.append(
            f"{type(model).__name__}.parameters() yields {len(yielded)} tensors but only {len(counted)} distinct ones;"
            " each is counted once"
        )
    return counted, notices


def _why_not_yielded(model: Any, nn: Any) -> str:
    """Which class's override of parameters() or named_parameters() leaves a tensor out."""
    for cls in type(model).__mro__:
        if cls is nn.Module:
            break
        for method in ("named_parameters", "parameters"):  # parameters() calls named_parameters()
            if method in vars(cls):
                return f"registered, but {cls.__name__}.{method}() does not yield it"
    return "registered, but model.parameters() does not yield it"


def _unregistered_row(params: list[Any]) -> Row:
    """One row for tensors that parameters() yields but no module registers: counted, by their shapes."""
    tensors = [_tensor(f"{UNREGISTERED}.param{i}", p, None) for i, p in enumerate(params)]
    expr = total([TensorSize(t.name.rpartition(".")[2], t.shape) for t in tensors])
    return Row(
        name=UNREGISTERED,
        type="",
        label="yielded by parameters(), registered on no module",
        depth=1,
        params=sum(t.numel for t in tensors),
        trainable=sum(t.numel for t in tensors if t.trainable),
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        form=plain_form(expr),
        note="model.parameters() yields these tensors, but no module registers them",
        tensors=tuple(tensors),
    )


#: The name of the row for tensors that parameters() yields but no module registers.
UNREGISTERED = "(unregistered)"


def _tensor(qualified: str, p: Any, shared_with: str | None) -> Tensor:
    return Tensor(qualified, _shape(p), int(p.numel()), _dtype(p), bool(p.requires_grad), shared_with)


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in t.shape)


def _dtype(t: Any) -> str:
    return str(t.dtype).replace("torch.", "")


def _bytes_by_dtype(params: list[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in params:
        out[_dtype(p)] = out.get(_dtype(p), 0) + int(p.numel()) * int(p.element_size())
    return out


def _joined(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


# Where PyTorch keeps modules whose weights are packed quantized tensors, not Parameters.
_QUANTIZED_PACKAGES = ("torch.ao.nn.quantized", "torch.nn.quantized", "torch.ao.nn.intrinsic.quantized")


def _holds_packed_weights(name: str, module: Any, quantized: list[tuple[str, str]]) -> bool:
    """A quantized layer without parameters, not inside one already found (its packed-params child)."""
    if not type(module).__module__.startswith(_QUANTIZED_PACKAGES):
        return False
    if any(q == "" or name.startswith(q + ".") for q, _ in quantized):
        return False
    return not module._parameters


def _quoted(name: str) -> str:
    """A layer's name in prose: ``'0'`` reads as a name, not a number."""
    return repr(name) if name else "(root)"


def _quantized_notice(quantized: list[tuple[str, str]]) -> list[str]:
    """Say why quantized layers count nothing, rather than show them silently as 0."""
    if not quantized:
        return []
    name, cls = quantized[0]
    advice = "count the float model to document its parameters"
    if len(quantized) == 1:
        return [
            f"the quantized layer {_quoted(name)} ({cls}) keeps its weights packed, not as parameters,"
            f" so it counts 0; {advice}"
        ]
    return [
        f"{len(quantized)} quantized layers (the first: {_quoted(name)}, {cls}) keep their weights packed,"
        f" not as parameters, so they count 0; {advice}"
    ]


def _refuse_lazy(named_modules: list[tuple[str, Any]], nn: Any) -> None:
    lazy = [
        f"{name or '(root)'} ({type(m).__name__})"
        for name, m in named_modules
        if any(isinstance(p, nn.parameter.UninitializedParameter) for p in m._parameters.values())
    ]
    if lazy:
        shown = ", ".join(lazy[:5]) + (f" and {len(lazy) - 5} more" if len(lazy) > 5 else "")
        raise LazyError(
            f"the model has lazy modules whose size is not known until a forward pass: {shown}",
            hint="give an input shape (':input-shape:' in the directive, '--input-shape' on the command line)",
        )


def layer_label(module: Any, found: Any) -> str:
    """``Conv2d(3, 16, k=3)``; the class name alone when the label or ``extra_repr()`` fails.

    Both are the user's code (a subclass, a registered label): one that raises
    or returns something odd must not cost the row.
    """
    if found is not None and found[0].label is not None:
        label = _call_user(found[0].label, module)
        if isinstance(label, str) and label:
            return label
    special = _special_label(module)
    if special:
        return special
    extra = _call_user(module.extra_repr)
    if not isinstance(extra, str) or not extra:
        return type(module).__name__
    extra = extra if len(extra) <= 48 else extra[:45] + "..."
    return f"{type(module).__name__}({extra})"


def _special_label(module: Any) -> str:
    """Labels for modules whose ``extra_repr`` reads badly in a cell.

    ``ParameterList``'s is one line per tensor; a scripted module is a
    ``RecursiveScriptModule`` whatever it was.  (A quantized layer owns no
    parameters, so it has no row: the summary says why it counts 0.)
    """
    cls = type(module)
    if cls.__name__ in ("ParameterList", "ParameterDict") and cls.__module__.startswith("torch.nn"):
        n = len(module)
        return f"{cls.__name__}({n} tensor{'' if n == 1 else 's'})"
    original = getattr(module, "original_name", None) if cls.__name__ == "RecursiveScriptModule" else None
    if isinstance(original, str) and original:
        return f"{original} (TorchScript)"
    return ""


def _call_user(fn: Any, *args: Any) -> Any:
    """``fn(*args)``, or ``None`` if it raises anything but a ``KeyboardInterrupt``."""
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return None


def _row(name: str, module: Any, label: str, tensors: list[Tensor], found: Any) -> Row:
    """A module's row; ``found`` is its registered formula, or ``None`` for the shape product."""
    fresh = [t for t in tensors if not t.shared_with]
    expr, family, note = None, "generic", ""
    # Part of the module tied to an earlier row: derive only what is new here, by shapes.
    if found is not None and len(fresh) == len(tensors):
        expr, family, note = _checked_formula(name, module, sum(t.numel for t in tensors), found)
    if expr is None:
        expr = shape_product(
            module, [(t.name.rpartition(".")[2] if name else t.name, t.shape) for t in fresh], root=not name
        )
    shared = [t for t in tensors if t.shared_with]
    tied = "; ".join(f"{t.name.rpartition('.')[2]} is {t.shared_with} (counted there)" for t in shared)
    if not fresh:  # every tensor counted elsewhere: say where, not "0"
        text = tied_latex(shared)
        formula = derivation = text
        family = "tied"
    else:
        formula, derivation = expr.symbolic(), expr.substituted()
    return Row(
        name=name,
        type=type(module).__name__,
        label=label,
        class_path=class_path(type(module)),
        depth=name.count(".") + 1 if name else 0,
        params=sum(t.numel for t in fresh),
        trainable=sum(t.numel for t in fresh if t.trainable),
        tensors=tuple(tensors),
        formula=formula,
        derivation=derivation,
        legend=tuple(legend(expr)) if fresh else (),
        form=plain_form(expr) if fresh else "",
        family=family,
        # A row whose every tensor is tied says so in its formula: no note repeats it.
        note=_joined(note, tied) if fresh else note,
    )


def config_numbers(model: Any) -> dict[str, int | None]:
    """The model's config's hyperparameters (a transformers ``PretrainedConfig``'s usual attributes), for ``:symbols: config``."""
    from .symbols import CONFIG_SYMBOLS

    config = getattr(model, "config", None)
    if config is None or not callable(getattr(config, "to_dict", None)):
        return {}
    try:
        values = config.to_dict()
    except Exception:  # a config that cannot be read binds nothing
        return {}
    wanted = {attribute for _, attribute, _ in CONFIG_SYMBOLS if attribute}
    return {
        k: v
        for k, v in values.items()
        if k in wanted and (v is None or (isinstance(v, int) and not isinstance(v, bool)))
    }


def class_path(cls: type) -> str:
    """``torch.nn.modules.conv:Conv2d``: where a class is defined, module and qualified name apart."""
    return f"{getattr(cls, '__module__', '')}:{getattr(cls, '__qualname__', cls.__name__)}"


def tied_latex(shared: list[Tensor]) -> str:
    r"""``\text{tied to }\mathtt{wte.weight}``: a row that adds nothing says whose tensors it uses."""
    owners = list(dict.fromkeys(t.shared_with or "" for t in shared))
    return r"\text{tied to }" + r"\text{, }".join(rf"\mathtt{{{latex_text(o)}}}" for o in owners)


def _checked_formula(name: str, module: Any, own_numel: int, found: Any) -> tuple[Expr | None, str, str]:
    """(expression, family, note): the registered formula if it gives exactly ``own_numel``.

    A formula registered for the layer's own class that raises or returns a
    non-expression is a ``FormulaError``; one inherited from a base class
    (a subclass it may not fit) falls back to the shape product.
    """
    formula, exact = found
    try:
        candidate = formula.build(module)
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            candidate = Sym("n", "Parameters", candidate)
        if not isinstance(candidate, Expr):
            raise FormulaError(
                f"the formula {formula.name!r} returned {type(candidate).__name__}, not an expression",
                hint="build the formula from Sym and Const with + and *",
            )
        value = candidate.value
        fits = type(value) is int and value == own_numel
        if fits:  # rendered here, so that a formula that cannot be shown is caught with the rest
            legend(candidate), candidate.symbolic(), candidate.substituted()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if not exact:
            return None, "generic", ""
        if isinstance(exc, FormulaError):
            raise
        raise FormulaError(
            f"the formula {formula.name!r} for {type(module).__name__} ({name or 'root'}) raised "
            f"{type(exc).__name__}: {brief(exc)}",
            hint="fix the formula function, or unregister it",
        ) from exc
    if fits:
        return candidate, formula.name, ""
    shown = f"{value:,}" if type(value) is int else repr(value)[:40]
    note = (
        f"the {formula.name} formula gives {shown} but the tensors hold {own_numel:,} "
        "(a parametrization, pruning or a subclass changed them): shown as tensor sizes"
    )
    return None, "generic", note


def latex_sum(values: list[int]) -> str:
    """``448 + 131{,}104 + 66``: every term, for a reader who asks for the full sum (``:format: derivation``)."""
    return " + ".join(latex_int(v) for v in values) if values else "0"


def grouped_terms(values: list[int]) -> list[tuple[int, int]]:
    """``[2048, 70400, 70400]`` -> ``[(1, 2048), (2, 70400)]``: equal terms counted, in order of first appearance."""
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [(k, v) for v, k in counts.items()]


def compact_sum(values: list[int], times: str = r" \times ") -> str:
    r"""``2{,}048 + 5 \times 70{,}400``: a sum with equal terms grouped, for total and group rows.

    Still plain arithmetic that evaluates to ``sum(values)``; ``times`` is
    ``" × "`` for plain text.
    """
    values = [v for v in values if v]  # tied rows add nothing: no "+ 0" terms
    if not values:
        return "0"
    return " + ".join(f"{k}{times}{latex_int(v)}" if k > 1 else latex_int(v) for k, v in grouped_terms(values))
