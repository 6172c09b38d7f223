"""Formulas for the layers of transformers, PEFT, torchvision and timm.

Registered by class path (``"transformers.pytorch_utils.Conv1D"``) or by a
glob over class paths (``"transformers.*RMSNorm"``), so no library is imported
unless the model being counted uses it: the registry matches the names of a
module's classes, and these functions only read the module they are given.
Like the built-ins, each formula is checked against the real tensors; one
that does not fit a variant falls back to the shape product.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from . import builtin
from .builtin import Registrar
from .expr import Const, Expr, Sym, total


def gpt_conv1d(m: Any) -> Expr:
    """transformers' ``Conv1D`` (GPT, GPT-2): a linear layer with its weight stored transposed.

    Weight ``(nx, nf)`` and bias ``(nf,)``: ``d_in · d_out + d_out`` with
    ``d_in = nx`` and ``d_out = nf`` (transformers' ``pytorch_utils.Conv1D``).
    """
    return builtin.dense(m.nx, m.nf, bias=getattr(m, "bias", None) is not None)


def gpt_conv1d_label(m: Any) -> str:
    # The constructor's order and names: Conv1D(nf, nx) takes the output size first.
    return f"Conv1D(nf={m.nf}, nx={m.nx})"


def _scale(m: Any, words: str) -> Sym:
    # These classes keep no size attribute (``hidden_size`` is not stored): the weight's shape is the size.
    return Sym("D", words, math.prod(m.weight.shape))


def rms_norm(m: Any) -> Expr:
    """Any ``*RMSNorm`` of transformers (Llama, Mistral, Qwen2, Gemma...): a scale per feature.

    RMSNorm (Zhang and Sennrich, 2019, arXiv:1910.07467) rescales by the root
    mean square and learns one gain per feature, ``D``; Gemma's multiplies by
    ``1 + weight``, which changes no count.  A variant with a ``bias`` adds one
    shift per feature.
    """
    d = _scale(m, "Hidden size: one scale per feature")
    return builtin.affine(d, weight=True, bias=getattr(m, "bias", None) is not None)


def t5_layer_norm(m: Any) -> Expr:
    """T5's ``T5LayerNorm`` (and mT5's, LongT5's...): RMS normalisation, one scale per feature, no shift.

    See transformers' ``modeling_t5.T5LayerNorm``: "no bias and no subtraction of mean".
    """
    return _scale(m, "Hidden size: one scale per feature (no shift)")


def weight_label(m: Any) -> str:
    """``LlamaRMSNorm(4096)``: the class and its size (the class stores only the weight)."""
    shape = tuple(m.weight.shape)
    return f"{type(m).__name__}({shape[0] if len(shape) == 1 else shape})"


def layer_scale(m: Any) -> Expr:
    """timm's ``LayerScale`` / ``LayerScale2d`` (CaiT, Touvron et al. 2021): a learned factor per channel."""
    return Sym("D", "Channels: one learned scale each", math.prod(m.gamma.shape))


def layer_scale_label(m: Any) -> str:
    return f"{type(m).__name__}({math.prod(m.gamma.shape)})"


def frozen_batch_norm(m: Any) -> Expr:
    """torchvision's ``FrozenBatchNorm2d``: batch normalisation with everything fixed.

    Its scale, shift and running statistics are buffers (torchvision's
    ``ops.misc.FrozenBatchNorm2d``), so it has no parameters: 0.
    """
    return total([])


def frozen_batch_norm_label(m: Any) -> str:
    return f"FrozenBatchNorm2d({math.prod(m.weight.shape)})"


def _base(layer: Any, d_in: int, d_out: int) -> tuple[Expr, Expr, Expr]:
    """The frozen base layer's own formula and its input and output size symbols."""
    if isinstance(layer, nn.Embedding):
        v = Sym("V", "Number of embeddings (vocabulary size)", d_in)
        d = Sym("d", "Embedding dimension", d_out)
        return v * d, v, d
    if isinstance(layer, nn.Linear) or type(layer).__name__ == "Conv1D":
        expr = builtin.dense(d_in, d_out, bias=getattr(layer, "bias", None) is not None)
        return expr, Sym("d_{in}", "Input features", d_in), Sym("d_{out}", "Output features", d_out)
    raise TypeError(f"no LoRA formula for a {type(layer).__name__} base layer")


def _ranks(m: Any) -> list[tuple[str, int, Any]]:
    """(adapter, rank, its B factor) for every adapter the layer holds, weights or embeddings."""
    out = []
    for adapter, b in dict(m.lora_B).items():
        out.append((adapter, int(m.r[adapter]), b))
    for adapter in dict(m.lora_embedding_B):
        out.append((adapter, int(m.r[adapter]), None))
    return out


def lora(m: Any) -> Expr:
    r"""PEFT's LoRA layer: the frozen base layer beside ``r \cdot (d_{in} + d_{out})`` per adapter.

    LoRA (Hu et al., 2021, arXiv:2106.09685) learns ``B A`` with ``A`` of
    shape ``(r, d_in)`` and ``B`` of shape ``(d_out, r)``; the base layer keeps
    its own formula.  A bias on ``B`` (``lora_bias``) or a DoRA magnitude
    vector adds ``d_out``.  Linear, transformers' ``Conv1D`` and Embedding
    bases; other bases fall back to the shape product.
    """
    base, d_in, d_out = _base(m.base_layer, int(m.in_features), int(m.out_features))
    ranks = _ranks(m)
    terms: list[Expr] = [base]
    for i, (adapter, rank, b) in enumerate(ranks, 1):
        latex = "r" if len(ranks) == 1 else rf"r_{{{i}}}"
        r = Sym(latex, f"LoRA rank (adapter '{adapter}')", rank)
        terms.append(r * (d_in + d_out))
        if b is not None and getattr(b, "bias", None) is not None:
            terms.append(d_out)
    magnitudes = len(dict(getattr(m, "lora_magnitude_vector", {})))
    if magnitudes:
        terms.append(Const(magnitudes) * d_out if magnitudes > 1 else d_out)
    return total(terms)


def lora_label(m: Any) -> str:
    """``LoRA Linear(768, 2304, r=8)``; over transformers' ``Conv1D``, its own arguments."""
    ranks = ", ".join(f"r={r}" for _, r, _ in _ranks(m))
    base: Any = m.get_base_layer() if hasattr(m, "get_base_layer") else None
    if type(base).__name__ == "Conv1D":  # PEFT wraps it in its Linear layer: name what it wraps
        return f"LoRA Conv1D(nf={base.nf}, nx={base.nx}, {ranks})"
    return f"LoRA {type(m).__name__}({m.in_features}, {m.out_features}, {ranks})"


def register_all(registry: Registrar) -> None:
    """Declare the library families by class path; never replaces a user's registration."""

    def add(*keys: str, build: Any, label: Any, covers_children: bool = False) -> None:
        registry.add(*keys, build=build, label=label, covers_children=covers_children, replace=False)

    add("transformers.pytorch_utils.Conv1D", build=gpt_conv1d, label=gpt_conv1d_label)
    add("transformers.*RMSNorm", build=rms_norm, label=weight_label)
    add("transformers.*T5LayerNorm", build=t5_layer_norm, label=weight_label)
    # The base class: every LoRA layer type (Linear, Embedding, Conv2d...) inherits it.
    add("peft.tuners.lora.layer.LoraLayer", build=lora, label=lora_label, covers_children=True)
    add("torchvision.ops.misc.FrozenBatchNorm2d", build=frozen_batch_norm, label=frozen_batch_norm_label)
    add("timm.*LayerScale", "timm.*LayerScale2d", build=layer_scale, label=layer_scale_label)
