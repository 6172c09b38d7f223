"""Real architectures for the formula coverage test, built on the meta device.

torchvision and timm do not install beside the CPU torch here, so their
layouts are code copies: the same module tree, tensor names and shapes as
torchvision's ``vit_b_16``, ``convnext_tiny`` and ``swin_t`` (ResNet-50 is
``benchmarks.models.ResNet50``), plus torchvision's ``FrozenBatchNorm2d``
and timm's ``LayerScale`` under their libraries' class paths, which is all
the formula registry matches.  transformers models are built from their
configs (no weights anywhere).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from benchmarks.models import ResNet50

# -- torchvision.ops.misc.FrozenBatchNorm2d and timm's LayerScale ---------------------


class FrozenBatchNorm2d(nn.Module):
    """torchvision's: batch normalisation whose scale, shift and statistics are buffers."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))


FrozenBatchNorm2d.__module__ = "torchvision.ops.misc"


class LayerScale(nn.Module):
    """timm's ``timm.layers.layer_scale.LayerScale``: one learned factor per channel."""

    def __init__(self, dim: int, init_values: float = 1e-5, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace
        self.gamma = nn.Parameter(init_values * torch.ones(dim))


class LayerScale2d(LayerScale):
    """timm's ``LayerScale2d`` (the same tensor, applied over channels first)."""


LayerScale.__module__ = LayerScale2d.__module__ = "timm.layers.layer_scale"


def frozen_resnet50() -> nn.Module:
    """A detection backbone's ResNet-50: every BatchNorm2d frozen (torchvision's ``norm_layer``)."""
    model = ResNet50()
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, child_name, FrozenBatchNorm2d(child.num_features))
    return model


# -- ViT-B/16 (torchvision.models.vision_transformer) -----------------------------------


class MLPBlock(nn.Sequential):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim), nn.Dropout(0.0))


class EncoderBlock(nn.Module):
    def __init__(self, heads: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, hidden)


class Encoder(nn.Module):
    def __init__(self, seq_length: int, layers: int, heads: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, dim).normal_(std=0.02))
        self.dropout = nn.Dropout(0.0)
        self.layers = nn.Sequential(*(EncoderBlock(heads, dim, hidden) for _ in range(layers)))
        self.ln = nn.LayerNorm(dim, eps=1e-6)


class VisionTransformer(nn.Module):
    """torchvision's ``vit_b_16``: 86,567,656 parameters."""

    def __init__(self, image: int = 224, patch: int = 16, layers: int = 12, heads: int = 12, dim: int = 768) -> None:
        super().__init__()
        self.conv_proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        seq_length = (image // patch) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder = Encoder(seq_length, layers, heads, dim, 4 * dim)
        self.heads = nn.Sequential()
        self.heads.add_module("head", nn.Linear(dim, 1000))


# -- ConvNeXt-T (torchvision.models.convnext) -------------------------------------------


class LayerNorm2d(nn.LayerNorm):
    """torchvision's: a LayerNorm over channels first (inherits LayerNorm's formula)."""


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims


class CNBlock(nn.Module):
    def __init__(self, dim: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)


class ConvNeXt(nn.Module):
    """torchvision's ``convnext_tiny``: 28,589,128 parameters."""

    def __init__(self, depths: tuple[int, ...] = (3, 3, 9, 3), dims: tuple[int, ...] = (96, 192, 384, 768)) -> None:
        super().__init__()
        norm = partial(LayerNorm2d, eps=1e-6)
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, dims[0], kernel_size=4, stride=4), norm(dims[0]))]
        for i, (depth, dim) in enumerate(zip(depths, dims)):
            layers.append(nn.Sequential(*(CNBlock(dim) for _ in range(depth))))
            if i + 1 < len(dims):
                layers.append(nn.Sequential(norm(dim), nn.Conv2d(dim, dims[i + 1], kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(norm(dims[-1]), nn.Flatten(1), nn.Linear(dims[-1], 1000))


# -- Swin-T (torchvision.models.swin_transformer) ---------------------------------------


class ShiftedWindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, shift: int, heads: int) -> None:
        super().__init__()
        self.window_size, self.shift_size, self.num_heads = [window, window], [shift, shift], heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) * (2 * window - 1), heads))
        self.register_buffer(
            "relative_position_index", torch.zeros(window * window * window * window, dtype=torch.long)
        )


class SwinTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = ShiftedWindowAttention(dim, window, shift, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = MLPBlock(dim, 4 * dim)


class PatchMerging(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)


class SwinTransformer(nn.Module):
    """torchvision's ``swin_t``: 28,288,354 parameters."""

    def __init__(
        self, dim: int = 96, depths: tuple[int, ...] = (2, 2, 6, 2), heads: tuple[int, ...] = (3, 6, 12, 24)
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, dim, kernel_size=4, stride=4), Permute([0, 2, 3, 1]), nn.LayerNorm(dim))
        ]
        for i, (depth, h) in enumerate(zip(depths, heads)):
            d = dim * 2**i
            layers.append(nn.Sequential(*(SwinTransformerBlock(d, h, 7, 0 if j % 2 == 0 else 3) for j in range(depth))))
            if i + 1 < len(depths):
                layers.append(PatchMerging(d))
        self.features = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(dim * 2 ** (len(depths) - 1))
        self.head = nn.Linear(dim * 2 ** (len(depths) - 1), 1000)


# -- transformers, from their default configs -------------------------------------------


def _hf(model: str, config: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import transformers

        return getattr(transformers, model)(getattr(transformers, config)())

    build.__name__ = model
    return build


def gpt2_lora() -> nn.Module:
    """PEFT's LoRA (r=8) on GPT-2's attention projections, as its docs' first example."""
    import peft
    import transformers

    config = peft.LoraConfig(r=8, target_modules=["c_attn"], fan_in_fan_out=True)
    return peft.get_peft_model(transformers.GPT2LMHeadModel(transformers.GPT2Config()), config)  # type: ignore[no-any-return]


#: Name -> factory, the coverage test's models; each built on the meta device.
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "GPT-2 (transformers)": _hf("GPT2LMHeadModel", "GPT2Config"),
    "GPT-2 + LoRA r=8 (PEFT)": gpt2_lora,
    "BERT-base (transformers)": _hf("BertModel", "BertConfig"),
    "T5-small (transformers)": _hf("T5ForConditionalGeneration", "T5Config"),
    "Llama-2-7B (transformers)": _hf("LlamaForCausalLM", "LlamaConfig"),
    "Mistral-7B (transformers)": _hf("MistralForCausalLM", "MistralConfig"),
    "Qwen2 (transformers default config)": _hf("Qwen2ForCausalLM", "Qwen2Config"),
    "ResNet-50 (torchvision layout)": ResNet50,
    "ViT-B/16 (torchvision layout)": VisionTransformer,
    "ConvNeXt-T (torchvision layout)": ConvNeXt,
    "Swin-T (torchvision layout)": SwinTransformer,
}


def on_meta(factory: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return factory()


def uncovered(report: Any) -> int:
    """Parameters in rows with neither a named formula nor a legend: bare shape products."""
    return sum(r.params for r in report.rows if r.family == "generic" and not r.legend)


def torch_nn_only() -> Any:
    """A registry with only the ``torch.nn`` families: the formulas there were before issue 12."""
    from sphinx_paramcount.formulas import FormulaRegistry, builtin

    registry = FormulaRegistry()
    builtin.register_all(registry)
    return registry


def generic(report: Any) -> int:
    """Parameters in rows shown as shape products (with or without a legend)."""
    return sum(r.params for r in report.rows if r.family == "generic")


def coverage_table() -> list[tuple[str, int, int, int]]:
    """(model, parameters, in bare shape products now, in shape products with torch.nn formulas only)."""
    from sphinx_paramcount.count import count_model

    out = []
    for name, factory in ARCHITECTURES.items():
        model = on_meta(factory)
        report = count_model(model)
        out.append((name, report.total, uncovered(report), generic(count_model(model, registry=torch_nn_only()))))
    return out
