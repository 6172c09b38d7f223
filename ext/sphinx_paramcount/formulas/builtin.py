"""The built-in layer families of ``torch.nn``.

Each function reads the module's hyper-parameters (never its tensors) and
returns the formula as an expression; ``count`` checks the value against the
tensors.  The words of the legend follow the seed notebook's.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from torch import nn

from .conv import kernel_syms, per_group
from .expr import Const, Expr, Sym, total


class Registrar(Protocol):
    """What ``register_all`` needs of a registry (``FormulaRegistry.add``).

    Declared here rather than imported: the registry imports this module when
    first used, and this module must not import the registry back.
    """

    def add(
        self, *keys: type | str, build: Any, label: Any = ..., covers_children: bool = ..., replace: bool = ...
    ) -> None: ...


def _dims(value: Any, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * n


def _k(kernel: tuple[int, ...]) -> str:
    return str(kernel[0]) if len(set(kernel)) == 1 else str(tuple(kernel))


def _flags(m: Any, *, groups: bool = True) -> str:
    out = ""
    if groups and getattr(m, "groups", 1) != 1:
        out += f", g={m.groups}"
    if getattr(m, "bias", None) is None:
        out += ", bias=False"
    return out


# -- convolutions ------------------------------------------------------------


def conv(m: Any) -> Expr:
    c_out = Sym("C_{out}", "Number of filters (output channels)", m.out_channels)
    weight = c_out * per_group("C_{in}", "Channels per filter (input channels)", m.in_channels, m.groups)
    for k in kernel_syms(tuple(m.kernel_size)):
        weight = weight * k
    return weight + c_out if m.bias is not None else weight


def conv_transpose(m: Any) -> Expr:
    # The weight of a transposed convolution is (C_in, C_out / g, *k).
    c_in = Sym("C_{in}", "Input channels", m.in_channels)
    c_out = Sym("C_{out}", "Output channels", m.out_channels)
    weight = c_in * per_group("C_{out}", "Output channels", m.out_channels, m.groups)
    for k in kernel_syms(tuple(m.kernel_size)):
        weight = weight * k
    return weight + c_out if m.bias is not None else weight


def conv_label(m: Any) -> str:
    return f"{type(m).__name__}({m.in_channels}, {m.out_channels}, k={_k(tuple(m.kernel_size))}{_flags(m)})"


# -- dense layers and embeddings ---------------------------------------------


def dense(d_in: int, d_out: int, *, bias: bool) -> Expr:
    """A weight per input and output feature, and a bias per output feature."""
    din = Sym("d_{in}", "Input features", d_in)
    dout = Sym("d_{out}", "Output features", d_out)
    return din * dout + dout if bias else din * dout


def linear(m: Any) -> Expr:
    return dense(m.in_features, m.out_features, bias=m.bias is not None)


def linear_label(m: Any) -> str:
    return f"{type(m).__name__}({m.in_features}, {m.out_features}{_flags(m, groups=False)})"


def bilinear(m: Any) -> Expr:
    d_out = Sym("d_{out}", "Output features", m.out_features)
    w = (
        d_out
        * Sym("d_{in_1}", "First input features", m.in1_features)
        * Sym("d_{in_2}", "Second input features", m.in2_features)
    )
    return w + d_out if m.bias is not None else w


def bilinear_label(m: Any) -> str:
    return f"Bilinear({m.in1_features}, {m.in2_features}, {m.out_features}{_flags(m, groups=False)})"


def embedding(m: Any) -> Expr:
    return Sym("V", "Number of embeddings (vocabulary size)", m.num_embeddings) * Sym(
        "d", "Embedding dimension", m.embedding_dim
    )


def embedding_label(m: Any) -> str:
    return f"{type(m).__name__}({m.num_embeddings}, {m.embedding_dim})"


# -- normalisation ------------------------------------------------------------


def affine(features: Sym, *, weight: bool, bias: bool) -> Expr:
    """A scale (``weight``) and a shift (``bias``) per feature, either or both."""
    terms: list[Expr] = []
    if weight and bias:
        return Const(2) * features
    if weight or bias:
        terms.append(features)
    return total(terms)


def batch_norm(m: Any) -> Expr:
    c = Sym("C", "Number of features (channels): one scale and one shift each", m.num_features)
    return affine(c, weight=m.affine, bias=m.affine)


def norm_label(m: Any) -> str:
    return f"{type(m).__name__}({m.num_features})"


def group_norm(m: Any) -> Expr:
    c = Sym("C", "Number of channels: one scale and one shift each", m.num_channels)
    return affine(c, weight=m.affine, bias=m.affine)


def group_norm_label(m: Any) -> str:
    return f"GroupNorm({m.num_groups}, {m.num_channels})"


def _normalized(m: Any) -> Sym:
    shape = tuple(m.normalized_shape)
    words = "Normalised size" + (f" ({' x '.join(map(str, shape))})" if len(shape) > 1 else "")
    return Sym("D", words, math.prod(shape))


def layer_norm(m: Any) -> Expr:
    scaled = bool(m.elementwise_affine)
    return affine(_normalized(m), weight=scaled, bias=scaled and m.bias is not None)


def rms_norm(m: Any) -> Expr:
    return affine(_normalized(m), weight=bool(m.elementwise_affine), bias=False)


def shape_label(m: Any) -> str:
    shape = tuple(m.normalized_shape)
    return f"{type(m).__name__}({shape[0] if len(shape) == 1 else shape})"


def prelu(m: Any) -> Expr:
    return Sym("n", "Number of learnable slopes", m.num_parameters)


# -- recurrent ----------------------------------------------------------------

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _gates(m: Any) -> Sym:
    if isinstance(m, nn.RNNBase):
        g = _GATES[m.mode]
    else:
        g = 4 if isinstance(m, nn.LSTMCell) else 3 if isinstance(m, nn.GRUCell) else 1
    return Sym("G", "Gates (weight blocks) per layer: 1 RNN, 3 GRU, 4 LSTM", g)


def rnn(m: Any) -> Expr:
    g = _gates(m)
    h = Sym("h", "Hidden size", m.hidden_size)
    d_in = Sym("d_{in}", "Input size", m.input_size)
    proj = getattr(m, "proj_size", 0) or 0
    p = Sym("p", "Projection size (proj_size)", proj) if proj else None
    h_r: Sym = p if p is not None else h  # what the recurrence and the next layer see
    dirs = Sym("D", "Directions (2: bidirectional)", 2) if m.bidirectional else None

    def layer(inputs: Expr) -> Expr:
        terms: list[Expr] = [g * h * (inputs + h_r)]
        if m.bias:
            terms.append(Const(2) * g * h)
        if p is not None:
            terms.append(p * h)
        one = total(terms)
        return dirs * one if dirs is not None else one

    terms = [layer(d_in)]
    if m.num_layers > 1:
        upper_in: Expr = dirs * h_r if dirs is not None else h_r
        rest = Sym("(L - 1)", "Layers after the first", m.num_layers - 1)
        terms.append(rest * layer(upper_in))
    return total(terms)


def rnn_label(m: Any) -> str:
    extra = ""
    if m.num_layers != 1:
        extra += f", layers={m.num_layers}"
    if m.bidirectional:
        extra += ", bidirectional"
    if getattr(m, "proj_size", 0):
        extra += f", proj={m.proj_size}"
    if not m.bias:
        extra += ", bias=False"
    return f"{type(m).__name__}({m.input_size}, {m.hidden_size}{extra})"


def rnn_cell(m: Any) -> Expr:
    g = _gates(m)
    h = Sym("h", "Hidden size", m.hidden_size)
    w = g * h * (Sym("d_{in}", "Input size", m.input_size) + h)
    return w + Const(2) * g * h if m.bias else w


def rnn_cell_label(m: Any) -> str:
    return f"{type(m).__name__}({m.input_size}, {m.hidden_size}{'' if m.bias else ', bias=False'})"


# -- attention ----------------------------------------------------------------


def multihead_attention(m: Any) -> Expr:
    e = Sym("E", "Embedding dimension", m.embed_dim)
    has_bias = m.in_proj_bias is not None
    if m._qkv_same_embed_dim:
        # Packed q, k, v projections plus the output projection: 4 E x E blocks.
        terms: list[Expr] = [Const(4) * e * e]
    else:
        k = Sym("d_k", "Key dimension (kdim)", m.kdim)
        v = Sym("d_v", "Value dimension (vdim)", m.vdim)
        terms = [Const(2) * e * e, e * k, e * v]
    bias_terms = (3 if has_bias else 0) + (1 if m.out_proj.bias is not None else 0)
    if bias_terms:
        terms.append(Const(bias_terms) * e if bias_terms > 1 else e)
    if m.bias_k is not None:
        terms.append(Const(2) * e)  # bias_k and bias_v
    return total(terms)


def mha_label(m: Any) -> str:
    extra = ""
    if not m._qkv_same_embed_dim:
        extra += f", kdim={m.kdim}, vdim={m.vdim}"
    if m.bias_k is not None:
        extra += ", add_bias_kv"
    if m.in_proj_bias is None:
        extra += ", bias=False"
    return f"MultiheadAttention({m.embed_dim}, heads={m.num_heads}{extra})"


def register_all(registry: Registrar) -> None:
    """Declare every built-in family; never replaces a user's registration."""

    def add(*keys: type, build: Any, label: Any = None, covers_children: bool = False) -> None:
        registry.add(*keys, build=build, label=label, covers_children=covers_children, replace=False)

    add(nn.Conv1d, nn.Conv2d, nn.Conv3d, build=conv, label=conv_label)
    add(nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, build=conv_transpose, label=conv_label)
    add(nn.Linear, build=linear, label=linear_label)
    add(nn.Bilinear, build=bilinear, label=bilinear_label)
    add(nn.Embedding, nn.EmbeddingBag, build=embedding, label=embedding_label)
    add(
        nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
        nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
        build=batch_norm, label=norm_label,
    )  # fmt: skip
    add(nn.LayerNorm, build=layer_norm, label=shape_label)
    add(nn.RMSNorm, build=rms_norm, label=shape_label)
    add(nn.GroupNorm, build=group_norm, label=group_norm_label)
    add(nn.PReLU, build=prelu, label=lambda m: f"PReLU({m.num_parameters})")
    add(nn.RNN, nn.LSTM, nn.GRU, build=rnn, label=rnn_label)
    add(nn.RNNCell, nn.LSTMCell, nn.GRUCell, build=rnn_cell, label=rnn_cell_label)
    add(nn.MultiheadAttention, build=multihead_attention, label=mha_label, covers_children=True)
