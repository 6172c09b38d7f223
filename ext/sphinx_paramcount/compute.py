"""Per-layer multiply-accumulates (MACs) from one forward pass under ``FlopCounterMode``.

The forward pass runs on the meta device for a built target (shapes, no
memory, no weights), under ``torch.utils.flop_counter.FlopCounterMode``, the
ground truth: it counts matrix products, convolutions and attention, and
nothing else.  A module's MACs are the counter's FLOPs during its calls,
less those of the modules it called, halved (FLOPs = 2 x MACs).  Each row's
formula (``formulas.macs``) is checked against that figure; where they
differ the row shows the measured number with a note, so no derivation
states a number the forward pass did not do.

Attention must never read 0: ``nn.MultiheadAttention``'s fused fast path
(eval, no grad) runs one kernel the counter cannot see, so it is switched
off for the pass; and the CPU's fused ``scaled_dot_product_attention``
kernel, which the counter has no formula for, is counted here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .build import build_model
from .formulas.expr import Const, Expr, latex_int, legend, total
from .formulas.macs import Call, Shape, attention, formula_for, mkldnn_rnn_layer_flops, trilinear_flops
from .report import ModuleInfo
from .shapes import output_dims, parse_input_dtype, parse_input_shape, run_forward
from .sources import model_sources

#: The convention every output states next to the totals.
CONVENTION = (
    "FLOPs = 2 × MACs. Counted: matrix products, convolutions, attention; "
    "not counted: elementwise operations, normalisation, activations, pooling."
)


@dataclass(frozen=True)
class ComputeRow:
    """One layer that computes: its own MACs (not its sub-modules'), and how they come about."""

    name: str  # "" for the root module
    type: str  # class name
    label: str  # "Conv2d(3, 16, k=3)"
    depth: int
    macs: int
    formula: str  # symbolic LaTeX; "" where the measured number is shown
    derivation: str  # substituted LaTeX; evaluates to ``macs``
    legend: tuple[tuple[str, str, int], ...] = ()
    family: str = "measured"  # conv, linear, attention, multihead_attention, ..., or measured
    note: str = ""  # why the measured number is shown
    output_shape: str = ""
    calls: int = 1  # forward calls the row adds up
    repeat: int = 1  # > 1 for a row that stands for identical sibling blocks
    # Part of a repeated block shown once for explanation: counted by the repeat row above it.
    detail: bool = False
    class_path: str = ""  # ``module:qualname`` of the layer's class, as ``Row.class_path``

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass
class ComputeReport:
    """MACs of one forward pass: plain, picklable data, free of torch."""

    target: str
    input_shape: tuple[int, ...]
    input_dtype: str
    macs: int
    rows: list[ComputeRow]
    method: str = "meta"
    notices: list[str] = field(default_factory=list)
    # Every module of the tree (name, type, label), for merging rows by depth and finding repeats.
    modules: list[ModuleInfo] = field(default_factory=list)
    # Every module's output shape, "(1, 64, 112, 112)": for rows that merge several.
    output_shapes: dict[str, str] = field(default_factory=dict)
    # User-code files the count depends on (as ``Report.sources``): editing one re-reads the page.
    sources: list[str] = field(default_factory=list)
    # The sub-module the rows start at (``:root:``), "" for the whole model.
    root: str = ""
    # The rows the tables show (``compute_views.compute_view``) when ``api.explain`` chose a view.
    shown: list[ComputeRow] | None = None

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def shown_rows(self) -> list[ComputeRow]:
        """The rows the tables and ``check`` see: the chosen view, or every row."""
        return self.rows if self.shown is None else self.shown

    # -- the Python API: ``explain(model, input_shape=...).compute`` -----------------------------

    def __repr__(self) -> str:
        return f"<ComputeReport {self.subject}: {self.macs:,} MACs, {self.flops:,} FLOPs>"

    def __str__(self) -> str:
        """The command line's text table (``sphinx-paramcount TARGET --compute``)."""
        from .compute_render import to_text

        return to_text(self)

    def derivation(self) -> str:
        """Per row: the MAC formula, its named factors, the substitution, the MACs; then the sum."""
        from .compute_render import to_derivation

        return to_derivation(self)

    def _repr_markdown_(self) -> str:
        from .compute_render import to_markdown

        return to_markdown(self)

    def check(
        self,
        macs: int | str | None = None,
        flops: int | str | None = None,
        expect: Mapping[str, int | str] | str | None = None,
    ) -> ComputeReport:
        """Check stated numbers as the ``flopcount`` directive does; ``self`` if they all hold.

        ``macs`` and ``flops`` (FLOPs = 2 x MACs) are ints or strings as the
        docs write them (``"4.09G"`` is checked at its precision); ``expect``
        maps row names to their MACs.  Raises ``MismatchError`` (an
        ``AssertionError``) with the docs build's message, which says so when
        a number is the other measure (off by exactly 2x).
        """
        __tracebackhide__ = True  # pytest shows the test's line that checked, not this one
        from .api import check_compute_report

        return check_compute_report(self, macs, flops, expect)

    @property
    def subject(self) -> str:
        """``resnet50() at input (1, 3, 224, 224)``: what the MACs are of, as messages name it."""
        where = f", sub-module {self.root}" if self.root else ""
        dtype = "" if self.input_dtype == "float32" else f" {self.input_dtype}"
        shape = "(" + ", ".join(str(d) for d in self.input_shape) + ")"
        return f"{self.target}{where} at input {shape}{dtype}"

    def to_json(self) -> dict[str, Any]:
        """The command line's JSON: totals, the convention, and the shown rows with their MACs."""
        return {
            "target": self.target,
            "input_shape": list(self.input_shape),
            "input_dtype": self.input_dtype,
            "macs": self.macs,
            "flops": self.flops,
            "convention": CONVENTION,
            "method": self.method,
            **({"root": self.root} if self.root else {}),
            "rows": [
                {
                    "name": r.name,
                    "type": r.label,
                    "macs": r.macs,
                    "flops": r.flops,
                    "formula": r.formula,
                    "derivation": r.derivation,
                    "family": r.family,
                    "note": r.note,
                    "legend": [{"symbol": s, "meaning": w, "value": v} for s, w, v in r.legend],
                    "calls": r.calls,
                    **({"repeat": r.repeat} if r.repeat > 1 else {}),
                    **({"detail": True} if r.detail else {}),
                    **({"output_shape": r.output_shape} if r.output_shape else {}),
                }
                for r in self.shown_rows
            ],
            "notices": list(self.notices),
        }


def compute_target(
    target: str, input_shape: tuple[int, ...] | str, input_dtype: str = "float32", device: str = "meta"
) -> ComputeReport:
    """Build ``target`` and count the MACs of one forward pass on ``input_shape``; ``ParamcountError`` on failure."""
    shape = parse_input_shape(input_shape) if isinstance(input_shape, str) else tuple(input_shape)
    dtype = parse_input_dtype(input_dtype)
    built = build_model(target, device)
    name = " ".join(target.split())
    report = compute_model(built.module, name, shape, dtype)
    report.method = built.method
    report.notices[:0] = built.notices
    report.sources = model_sources(built.module, name)
    return report


def compute_model(model: Any, target: str, input_shape: tuple[int, ...], input_dtype: str = "float32") -> ComputeReport:
    """The MACs of ``model`` (an ``nn.Module``) on zeros of ``input_shape``, one row per module that computes.

    The pass runs where the model's parameters are (meta for a built target);
    ``InstantiateError`` if it fails, naming the layer that was running.
    """
    import torch

    named = list(torch.nn.Module.named_modules(model))
    seen = _Seen(named)
    with seen.watching():
        shapes = run_forward(model, input_shape, input_dtype)
    from .count import class_path, layer_label  # the parameter table's labels: both tables name a layer alike
    from .formulas.registry import default_registry

    registry = default_registry()
    labels = {name: layer_label(module, registry.lookup(type(module))) for name, module in named}
    rows = [
        replace(_row(name, module, labels[name], seen, shapes.get(name, "")), class_path=class_path(type(module)))
        for name, module in named
        if seen.own.get(name)
    ]
    outside = seen.total - sum(seen.own.values())
    if outside:  # ops of a hook or of code around the root's forward: counted, no module's
        rows.append(_measured("(outside any module)", "", "", 0, outside // 2, "computed outside every module"))
    return ComputeReport(
        target=target,
        input_shape=input_shape,
        input_dtype=input_dtype,
        macs=seen.total // 2,
        rows=rows,
        method="instance",
        modules=[
            ModuleInfo(name, type(module).__name__, labels[name], class_path(type(module))) for name, module in named
        ],
        output_shapes=shapes,
    )


# -- the forward pass ---------------------------------------------------------------------------------


@dataclass
class _Frame:
    name: str
    start: int  # the counter's FLOPs when the call began
    inputs: tuple[Shape, ...]
    kwargs: tuple[tuple[str, Shape], ...]
    inner: int = 0  # FLOPs of the module calls made inside this one
    attention: list[tuple[Shape, Shape, Shape]] = field(default_factory=list)


class _Seen:
    """What the pass did per module: own FLOPs (calls less inner calls), and each call's shapes."""

    def __init__(self, named: list[tuple[str, Any]]) -> None:
        self.named = named
        self.own: dict[str, int] = {}
        self.calls: dict[str, list[Call]] = {}
        self.stack: list[_Frame] = []
        self.total = 0
        self.counter: Any = None

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        aten = torch.ops.aten
        # Kernels the counter has no formula for (they would read 0): the CPU's fused attention,
        # torch.bilinear's, and the CPU's fused LSTM layer.
        mapping = {
            aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flops,
            aten._trilinear: trilinear_flops,
            aten.mkldnn_rnn_layer: mkldnn_rnn_layer_flops,
        }
        handles = []
        for name, module in self.named:
            handles.append(module.register_forward_pre_hook(self._pre(name), with_kwargs=True))
            handles.append(module.register_forward_hook(self._post, with_kwargs=True))
        counter = FlopCounterMode(display=False, custom_mapping=mapping)
        # The rows come from this class's own hooks; the counter's module tracker is not needed,
        # and its grad hooks fail under no_grad on a view of a parameter passed to a layer (a
        # learned query expanded to the batch): 'Expected gradient function to be set'.
        if hasattr(counter, "mod_tracker"):
            counter.mod_tracker = _GlobalOnly()  # type: ignore[assignment]  # duck-typed: parents, enter, exit
        self.counter = counter
        try:
            with _fastpath_off(torch), _AttentionCalls(self), counter:
                yield
        finally:
            for h in handles:
                h.remove()
        self.total = counter.get_total_flops()

    def _pre(self, name: str) -> Any:
        def hook(module: Any, args: Any, kwargs: Any) -> None:
            self.stack.append(
                _Frame(
                    name,
                    self.counter.get_total_flops(),
                    tuple(s for a in args if (s := _shape(a)) is not None),
                    tuple((k, s) for k, v in kwargs.items() if (s := _shape(v)) is not None),
                )
            )

        return hook

    def _post(self, module: Any, args: Any, kwargs: Any, output: Any) -> None:
        if not self.stack:
            return
        frame = self.stack.pop()
        inclusive = self.counter.get_total_flops() - frame.start
        if self.stack:
            self.stack[-1].inner += inclusive
        self.own[frame.name] = self.own.get(frame.name, 0) + inclusive - frame.inner
        call = Call(frame.inputs, output_dims(output) or (), tuple(frame.attention), frame.kwargs)
        self.calls.setdefault(frame.name, []).append(call)


class _GlobalOnly:
    """Stands in for ``FlopCounterMode``'s ``ModuleTracker``: every FLOP counts towards the total only."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *args: object) -> None:
        return None


def _shape(value: Any) -> Shape | None:
    import torch

    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _sdpa_flops(q: Shape, k: Shape, v: Shape, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """FLOPs of one attention call: ``QK^T`` and the product with ``V``, per batch and (query) head."""
    return 2 * math.prod(q[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])


@contextlib.contextmanager
def _fastpath_off(torch: Any) -> Iterator[None]:
    """``nn.MultiheadAttention`` and ``TransformerEncoderLayer`` without their fused kernels, restored after."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


class _AttentionCalls:
    """Records each ``F.scaled_dot_product_attention`` call's q, k, v shapes for the module running it.

    A torch-function mode sees the call itself, whichever kernel (math, fused)
    then runs it, so the row's formula can name the heads and the lengths.
    """

    def __init__(self, seen: _Seen) -> None:
        self.seen = seen
        self.mode: Any = None

    def __enter__(self) -> None:
        import torch.nn.functional as F
        from torch.overrides import TorchFunctionMode

        seen = self.seen

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
                kwargs = kwargs or {}
                if func is F.scaled_dot_product_attention and seen.stack:
                    q, k, v = (*args, None, None, None)[:3]
                    shapes = [_shape(x) for x in (q, k, v)]
                    if all(s is not None for s in shapes):
                        seen.stack[-1].attention.append(tuple(shapes))  # type: ignore[arg-type]
                return func(*args, **kwargs)

        self.mode = Mode()
        self.mode.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.mode.__exit__(*exc)


# -- rows ---------------------------------------------------------------------------------------------


def _row(name: str, module: Any, label: str, seen: _Seen, output_shape: str) -> ComputeRow:
    macs = seen.own[name] // 2
    calls = seen.calls.get(name, [])
    depth = name.count(".") + 1 if name else 0
    kind = type(module).__name__
    formula = formula_for(module)
    family = formula.__name__ if formula is not None else "attention"
    exprs = [formula(module, c) if formula is not None else attention(c) for c in calls]
    if not calls or any(e is None for e in exprs):
        what = f"no MAC formula for {kind}" if formula is None else f"its {family} formula does not apply"
        return _measured(name, kind, label, depth, macs, f"{what}: the count the forward pass did", output_shape)
    expr = _calls_total([e for e in exprs if e is not None])
    if expr.value != macs:
        note = f"the {family} formula gives {expr.value:,} MACs, the forward pass did {macs:,}: the measured number is shown"
        return _measured(name, kind, label, depth, macs, note, output_shape)
    return ComputeRow(
        name=name,
        type=kind,
        label=label,
        depth=depth,
        macs=macs,
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        family=family,
        output_shape=output_shape,
        calls=len(calls),
    )


def _calls_total(exprs: list[Expr]) -> Expr:
    """One call's formula, or ``k x`` it for k equal calls, or the sum of different calls."""
    if len(exprs) > 1 and all(e == exprs[0] for e in exprs):
        return Const(len(exprs)) * exprs[0]
    return total(exprs)


def _measured(name: str, kind: str, label: str, depth: int, macs: int, note: str, output_shape: str = "") -> ComputeRow:
    return ComputeRow(
        name=name,
        type=kind,
        label=label or kind,
        depth=depth,
        macs=macs,
        formula="",
        derivation=latex_int(macs),
        note=note,
        output_shape=output_shape,
    )
