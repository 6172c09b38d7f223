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

from .conv import kernel_syms, per_group
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


_AXES = {
    1: [("L", "length")],
    2: [("H", "height"), ("W", "width")],
    3: [("D", "depth"), ("H", "height"), ("W", "width")],
}


def _spatial(n: int, side: str) -> list[tuple[str, str]]:
    """The symbols of ``n`` spatial sizes on one ``side`` ("out" or "in"): ``H_{out}``, "Output height"."""
    words = {"out": "Output", "in": "Input"}[side]
    if n not in _AXES:
        return [(f"S_{{{i + 1}}}", f"{words} size, dimension {i + 1}") for i in range(n)]
    return [(f"{a}_{{{side}}}", f"{words} {w}") for a, w in _AXES[n]]


def conv(m: Any, call: Call) -> Expr:
    r"""``B \cdot C_{out} \cdot \frac{C_{in}}{g} \cdot k_h \cdot k_w \cdot H_{out} \cdot W_{out}``.

    One MAC per weight per output position, for each image of the batch; the
    bias adds are not MACs.  An unbatched input (no N) counts one image.
    """
    kernel = tuple(m.kernel_size)
    dims = len(kernel)
    out = call.output
    batch = math.prod(out[: len(out) - dims - 1])
    terms: list[Expr] = [Sym("B", "Batch size", batch)] if len(out) > dims + 1 else []
    terms.append(Sym("C_{out}", "Number of filters (output channels)", m.out_channels))
    terms.append(per_group("C_{in}", "Channels per filter (input channels)", m.in_channels, m.groups))
    terms += kernel_syms(kernel)
    terms += [Sym(s, w, d) for (s, w), d in zip(_spatial(dims, "out"), out[len(out) - dims :])]
    return _product(terms)


def conv_transpose(m: Any, call: Call) -> Expr | None:
    r"""``B \cdot C_{in} \cdot \frac{C_{out}}{g} \cdot k_h \cdot k_w \cdot H_{in} \cdot W_{in}``.

    A transposed convolution is the gradient of a convolution with respect to
    its input: each input element is multiplied by the ``C_{out}/g \cdot k_h
    \cdot k_w`` weights of its group and scattered into the output.  So the
    count runs over the *input* positions, and stride, padding,
    ``output_padding`` and dilation (which only place the products in the
    output) do not enter it; this is what ``torch.utils.flop_counter``'s
    ``conv_flop_count(transposed=True)`` counts.  An unbatched input counts one image.
    """
    kernel = tuple(m.kernel_size)
    dims = len(kernel)
    x = call.inputs[0] if call.inputs else ()
    if len(x) not in (dims + 1, dims + 2):
        return None
    terms: list[Expr] = [Sym("B", "Batch size", x[0])] if len(x) == dims + 2 else []
    terms.append(Sym("C_{in}", "Input channels", m.in_channels))
    # The symbols of the parameter table's ConvTranspose row: its weight is (C_in, C_out / g, *k).
    terms.append(per_group("C_{out}", "Output channels", m.out_channels, m.groups))
    terms += kernel_syms(kernel)
    terms += [Sym(s, w, d) for (s, w), d in zip(_spatial(dims, "in"), x[len(x) - dims :])]
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


def bilinear(m: Any, call: Call) -> Expr:
    r"""``nn.Bilinear``, :math:`y = x_1^T A x_2 + b`: ``N \cdot d_{out} \cdot d_{in_2} \cdot (d_{in_1} + 1)``.

    ``torch.bilinear`` runs as ``aten._trilinear``, which loops over the
    ``d_{out}`` slices of ``A``: per slice one matrix product
    ``x_1 A_k`` (``N \cdot d_{in_1} \cdot d_{in_2}`` MACs), then one dot product of
    each row with ``x_2`` (``N \cdot d_{in_2}``).  ``FlopCounterMode`` has no
    formula for ``_trilinear`` (it would read 0); ``trilinear_flops`` gives it
    these products.  N is the positions (output elements / d_out).
    """
    d_out = m.out_features
    positions = math.prod(call.output) // d_out if d_out else 0
    d1 = Sym("d_{in_1}", "First input features", m.in1_features)
    return _product(
        [
            Sym("N", "Positions the layer is applied to (output elements / d_out)", positions),
            Sym("d_{out}", "Output features", d_out),
            Sym("d_{in_2}", "Second input features", m.in2_features),
            d1 + Const(1),
        ]
    )


def trilinear_flops(
    i1: Shape,
    i2: Shape,
    i3: Shape,
    expand1: list[int],
    expand2: list[int],
    expand3: list[int],
    sumdim: list[int],
    *args: Any,
    **kwargs: Any,
) -> int:
    r"""FLOPs of ``aten._trilinear`` (``torch.bilinear``), for ``FlopCounterMode(custom_mapping=...)``.

    The kernel multiplies the first two operands, summing the dimensions the
    third lacks, then the result with the third, summing the rest; each step is
    one multiply-add per point of its operands' joint index space.  For
    ``torch.bilinear``'s call that is ``N \cdot d_{out} \cdot d_{in_2} \cdot (d_{in_1} + 1)``
    MACs, the matrix products its CPU kernel runs (``bmm`` per output feature).
    """
    ndim = len(i1) + len(expand1)
    spaces = [_expanded(s, e, ndim) for s, e in ((i1, expand1), (i2, expand2), (i3, expand3))]
    first = [max(a, b) for a, b in zip(spaces[0], spaces[1])]
    # dims summed in the first product: summed ones the third operand does not have
    summed = {d for d in sumdim if spaces[2][d] == 1}
    second = [1 if d in summed else max(a, c) for d, (a, c) in enumerate(zip(first, spaces[2]))]
    return 2 * (math.prod(first) + math.prod(second))


def _expanded(shape: Shape, expand: list[int], ndim: int) -> list[int]:
    """``shape`` with a 1 inserted at each of the ``expand`` dimensions (``_trilinear``'s unsqueeze)."""
    sizes = iter(shape)
    return [1 if d in expand else next(sizes) for d in range(ndim)]


def rnn(m: Any, call: Call) -> Expr | None:
    r"""``nn.RNN``, ``nn.LSTM``, ``nn.GRU``: the gate products of every step, layer and direction.

    Each step of each layer and direction multiplies the layer's input by
    ``W_{ih}`` (``G h \times d``) and the hidden state by ``W_{hh}``
    (``G h \times h``), G the gates (LSTM 4, GRU 3, RNN 1, as in the
    weight shapes the PyTorch docs give):
    ``D \cdot T \cdot B \cdot (G \cdot h \cdot (d_{in} + h) + (L - 1) \cdot G \cdot (D + 1) \cdot h^2)``,
    the first layer reading ``d_{in}`` features, the others ``D \cdot h`` (the
    directions' outputs side by side); D is shown only when 2.
    With ``proj_size`` p (LSTM) the hidden state is p wide and each step
    adds ``p \cdot h`` for the projection.  ``None`` for a ``PackedSequence``
    (its steps have different batch sizes).
    """
    x = call.inputs[0] if call.inputs else ()
    if len(x) not in (2, 3):
        return None
    if len(x) == 3:
        batch, steps = (x[0], x[1]) if m.batch_first else (x[1], x[0])
    else:
        batch, steps = 1, x[0]
    # The symbols of the parameter table's row for the same layer.
    G, h, d_in = _gates(m, m.weight_ih_l0), Sym("h", "Hidden size", m.hidden_size), _input_size(m)
    proj = getattr(m, "proj_size", 0) or 0
    r = Sym("p", "Projection size (proj_size)", proj) if proj else h  # what the recurrence and the next layer see
    D = Sym("D", "Directions (2: bidirectional)", 2) if m.bidirectional else None
    projection: list[Expr] = [r * h] if proj else []
    layer = total([G * h * (d_in + r), *projection])
    if m.num_layers > 1:
        hr = h * r if proj else Pow(h, 2)
        later = total([(G * (D + Const(1)) if D is not None else Const(2) * G) * hr, *projection])
        layer = layer + Sym("(L - 1)", "Layers after the first", m.num_layers - 1) * later
    factors: list[Expr] = [D] if D is not None else []
    factors.append(Sym("T", "Sequence length (steps)", steps))
    if len(x) == 3:
        factors.append(Sym("B", "Batch size", batch))
    return _product([*factors, layer])


def rnn_cell(m: Any, call: Call) -> Expr | None:
    r"""``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``: one step, ``B \cdot G \cdot h \cdot (d_{in} + h)``."""
    x = call.inputs[0] if call.inputs else ()
    if len(x) not in (1, 2):
        return None
    h = Sym("h", "Hidden size", m.hidden_size)
    factors: list[Expr] = [Sym("B", "Batch size", x[0])] if len(x) == 2 else []
    return _product([*factors, _gates(m, m.weight_ih), h, _input_size(m) + h])


def _gates(m: Any, w_ih: Any) -> Sym:
    """G from the input weight, ``(G h, d_in)``: 1 for an RNN, 3 for a GRU, 4 for an LSTM."""
    return Sym("G", "Gates (weight blocks) per layer: 1 RNN, 3 GRU, 4 LSTM", w_ih.shape[0] // m.hidden_size)


def _input_size(m: Any) -> Sym:
    return Sym("d_{in}", "Input size", m.input_size)


def mkldnn_rnn_layer_flops(x: Shape, w_ih: Shape, w_hh: Shape, *args: Any, **kwargs: Any) -> int:
    """FLOPs of ``aten.mkldnn_rnn_layer`` (the CPU's fused LSTM layer), for ``FlopCounterMode(custom_mapping=...)``.

    ``FlopCounterMode`` has no formula for it (an LSTM on the CPU would read
    0): every step multiplies its input by ``w_ih`` and its hidden state by ``w_hh``.
    """
    return 2 * math.prod(x[:-1]) * w_ih[0] * (w_ih[1] + w_hh[1])


def transformers_conv1d(m: Any, call: Call) -> Expr:
    """transformers' ``Conv1D`` (GPT-2): a linear layer with its weight stored transposed, ``(nx, nf)``."""
    return dense(m.nx, m.nf, call)


def attention(call: Call) -> Expr | None:
    r"""``B \cdot 2 \cdot h \cdot T^2 \cdot d_h``: the scores ``QK^T`` and their product with ``V``, per head.

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
        factors.append(Sym("B", "Batch size", lead[0]))
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

    Self-attention with ``kdim = vdim = E``: ``B \cdot (4 \cdot T \cdot E^2 + 2 \cdot h \cdot T^2 \cdot d_h)``.
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
    N, E, H = Sym("B", "Batch size", batch), Sym("E", "Embedding size", e), Sym("h", "Attention heads", h)
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
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return conv_transpose
    if isinstance(module, nn.Bilinear):
        return bilinear
    if isinstance(module, nn.RNNBase):
        return rnn
    if isinstance(module, nn.RNNCellBase):
        return rnn_cell
    if type(module).__name__ == "Conv1D" and hasattr(module, "nx") and hasattr(module, "nf"):
        return transformers_conv1d
    return None
