"""Multiply-accumulates (MACs) of one forward call, per layer family, as formula expressions.

Each function reads the module's hyper-parameters and the shapes its call
saw (never tensor values) and returns the formula; ``compute`` checks the
value against what ``FlopCounterMode`` measured for that module and shows the
measured number instead where they differ.  Only the products the counter
counts are in a formula: a bias add, a norm or an activation is no MAC.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .expr import Const, Expr, Pow, Sym, total

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Call:
    """What one call of a module saw: its tensor arguments' shapes and its (first) output's shape."""

    inputs: tuple[Shape, ...]
    output: Shape
    # Each ``F.scaled_dot_product_attention`` made while this module was the innermost running one: (q, k, v).
    attention: tuple[tuple[Shape, Shape, Shape], ...] = ()
    kwargs: tuple[tuple[str, Shape], ...] = ()  # tensor keyword arguments (``key=``, ``value=``)


_SPATIAL = {
    1: [("L_{out}", "Output length")],
    2: [("H_{out}", "Output height"), ("W_{out}", "Output width")],
    3: [("D_{out}", "Output depth"), ("H_{out}", "Output height"), ("W_{out}", "Output width")],
}
_KERNEL = {
    1: [("k", "Filter width")],
    2: [("k_h", "Filter height"), ("k_w", "Filter width")],
    3: [("k_d", "Filter depth"), ("k_h", "Filter height"), ("k_w", "Filter width")],
}


def _numbered(table: dict[int, list[tuple[str, str]]], n: int, latex: str, words: str) -> list[tuple[str, str]]:
    return table.get(n) or [(f"{latex}_{{{i + 1}}}", f"{words}, dimension {i + 1}") for i in range(n)]


def conv(m: Any, call: Call) -> Expr:
    r"""``N \cdot C_{out} \cdot \frac{C_{in}}{g} \cdot k_h \cdot k_w \cdot H_{out} \cdot W_{out}``.

    One MAC per weight per output position, for each image of the batch; the
    bias adds are not MACs.  An unbatched input (no N) counts one image.
    """
    kernel = tuple(m.kernel_size)
    dims = len(kernel)
    out = call.output
    batch = math.prod(out[: len(out) - dims - 1])
    terms: list[Expr] = [Sym("N", "Batch size", batch)] if len(out) > dims + 1 else []
    terms.append(Sym("C_{out}", "Number of filters (output channels)", m.out_channels))
    if m.groups == 1:
        terms.append(Sym("C_{in}", "Channels per filter (input channels)", m.in_channels))
    else:
        terms.append(
            Sym(
                r"\frac{C_{in}}{g}",
                f"Channels per filter (input channels / groups, {m.in_channels} / {m.groups})",
                m.in_channels // m.groups,
            )
        )
    terms += [Sym(s, w, k) for (s, w), k in zip(_numbered(_KERNEL, dims, "k", "Kernel size"), kernel)]
    spatial = out[len(out) - dims :]
    terms += [Sym(s, w, d) for (s, w), d in zip(_numbered(_SPATIAL, dims, "S", "Output size"), spatial)]
    return _product(terms)


def dense(d_in: int, d_out: int, call: Call) -> Expr:
    r"""``d_{in} \cdot d_{out} \cdot N``, N the positions the layer is applied to (output elements / d_out)."""
    positions = math.prod(call.output) // d_out if d_out else 0
    return _product(
        [
            Sym("d_{in}", "Input features", d_in),
            Sym("d_{out}", "Output features", d_out),
            Sym("N", "Positions the layer is applied to (output elements / d_out)", positions),
        ]
    )


def linear(m: Any, call: Call) -> Expr:
    return dense(m.in_features, m.out_features, call)


def transformers_conv1d(m: Any, call: Call) -> Expr:
    """transformers' ``Conv1D`` (GPT-2): a linear layer with its weight stored transposed, ``(nx, nf)``."""
    return dense(m.nx, m.nf, call)


def attention(call: Call) -> Expr | None:
    r"""``N \cdot 2 \cdot h \cdot T^2 \cdot d_h``: the scores ``QK^T`` and their product with ``V``, per head.

    One term per ``scaled_dot_product_attention`` call the module made itself
    (equal calls grouped); ``None`` if it made none.
    """
    if not call.attention:
        return None
    terms: list[Expr] = []
    runs: dict[tuple[Shape, Shape, Shape], int] = {}
    for shapes in call.attention:
        runs[shapes] = runs.get(shapes, 0) + 1
    for (q, k, v), times in runs.items():
        one = sdpa(q, k, v)
        terms.append(Const(times) * one if times > 1 else one)
    return total(terms)


def sdpa(q: Shape, k: Shape, v: Shape) -> Expr:
    """One attention call's two matrix products, from the shapes of q ``(..., T_q, d_h)``, k and v."""
    lead = q[:-2]
    factors: list[Expr] = []
    if len(lead) == 2:  # (batch, heads, ...), the usual layout
        factors.append(Sym("N", "Batch size", lead[0]))
        factors.append(Sym("h", "Attention heads (of the queries)", lead[1]))
    elif lead:
        factors.append(Sym("n", "Batch × heads (the leading dimensions of q)", math.prod(lead)))
    t_q, t_k, d_h, d_v = q[-2], k[-2], q[-1], v[-1]
    if t_q == t_k and d_h == d_v:
        return _product([*factors[:1], Const(2), *factors[1:], Pow(Sym("T", "Sequence length", t_q), 2), _d_h(d_h)])
    seq = [Sym("T_q", "Query length", t_q), Sym("T_k", "Key length", t_k)]
    head: Expr = _d_h(d_h) + Sym("d_v", "Value size per head", d_v) if d_h != d_v else Const(2) * _d_h(d_h)
    return _product([*factors, *seq, head])


def _d_h(n: int) -> Sym:
    return Sym("d_h", "Query and key size per head", n)


def multihead_attention(m: Any, call: Call) -> Expr | None:
    r"""``nn.MultiheadAttention``: the input projections, attention, the output projection.

    Self-attention with ``kdim = vdim = E``: ``N \cdot (4 \cdot T \cdot E^2 + 2 \cdot h \cdot T^2 \cdot d_h)``.
    """
    shapes = [*call.inputs, *(s for _, s in call.kwargs)]
    if len(shapes) < 3:
        return None
    q, k, v = shapes[:3]
    if len(q) == 3:
        batch, t_q, t_k = (q[0], q[1], k[1]) if m.batch_first else (q[1], q[0], k[0])
    else:
        batch, t_q, t_k = 1, q[0], k[0]
    e, h = m.embed_dim, m.num_heads
    N, E, H = Sym("N", "Batch size", batch), Sym("E", "Embedding size", e), Sym("h", "Attention heads", h)
    d_h = _d_h(e // h)
    if t_q == t_k and m.kdim == e and m.vdim == e:
        T = Sym("T", "Sequence length", t_q)
        inner: Expr = Const(4) * T * Pow(E, 2) + Const(2) * H * Pow(T, 2) * d_h
    else:
        tq, tk = Sym("T_q", "Query length", t_q), Sym("T_k", "Key length", t_k)
        dk, dv = Sym("d_k", "Key features", m.kdim), Sym("d_v", "Value features", m.vdim)
        inner = Const(2) * tq * Pow(E, 2) + tk * (dk + dv) * E + Const(2) * H * tq * tk * d_h
    return N * inner if len(q) == 3 else inner


def _product(factors: list[Expr]) -> Expr:
    out = factors[0]
    for f in factors[1:]:
        out = out * f
    return out


Formula = Callable[[Any, Call], "Expr | None"]


def formula_for(module: Any) -> Formula | None:
    """The MAC formula of ``module``'s family; ``None`` for layers counted by measurement alone."""
    from torch import nn

    if isinstance(module, nn.MultiheadAttention):
        return multihead_attention
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return conv
    if isinstance(module, nn.Linear):
        return linear
    if type(module).__name__ == "Conv1D" and hasattr(module, "nx") and hasattr(module, "nf"):
        return transformers_conv1d
    return None
