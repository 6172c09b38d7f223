"""The benchmark's models, built from code (no torchvision, no transformers).

Each is an ``nn.Module`` class with a no-argument constructor, so that every
tool under test (the engine, a naive CPU build, torchinfo, fvcore and the bare
meta-device build) builds exactly the same thing from the same import path,
``benchmarks.models:Name``.  ``EXPECTED`` holds each model's true count.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class SimpleNet(nn.Module):
    """The seed notebook's model: 448 + 131,104 + 66 = 131,618 parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 16 * 16, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(torch.tanh(self.conv1(x)))
        out = out.view(-1, 16 * 16 * 16)
        return self.fc2(torch.tanh(self.fc1(out)))


# -- ResNet-50 ------------------------------------------------------------------------


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet50(nn.Module):
    """torchvision's ResNet-50 layout (bottlenecks [3, 4, 6, 3]): 25,557,032 parameters."""

    def __init__(self, blocks: tuple[int, ...] = (3, 4, 6, 3), num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        stages = []
        for i, count in enumerate(blocks):
            width = 64 * 2**i
            stage = []
            for j in range(count):
                stage.append(Bottleneck(channels, width, stride=2 if i > 0 and j == 0 else 1))
                channels = width * Bottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -- GPT-2 small ----------------------------------------------------------------------


class GPT2Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)  # HF GPT-2's Conv1D(3d, d): the same tensors
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT2Small(nn.Module):
    """HF GPT-2 small's shapes, lm_head tied to the token embedding: 124,439,808 parameters."""

    def __init__(self, vocab: int = 50257, positions: int = 1024, d: int = 768, layers: int = 12, heads: int = 12):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        self.h = nn.ModuleList(GPT2Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


# -- Llama-2-70B ----------------------------------------------------------------------


class LlamaBlock(nn.Module):
    def __init__(self, d: int, heads: int, kv_heads: int, ffn: int) -> None:
        super().__init__()
        head_dim = d // heads
        self.input_layernorm = nn.RMSNorm(d)
        self.q_proj = nn.Linear(d, heads * head_dim, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
        self.o_proj = nn.Linear(heads * head_dim, d, bias=False)
        self.post_attention_layernorm = nn.RMSNorm(d)
        self.gate_proj = nn.Linear(d, ffn, bias=False)
        self.up_proj = nn.Linear(d, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, d, bias=False)
        self.heads, self.kv_heads = heads, kv_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, -1).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.kv_heads, -1).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv_heads, -1).transpose(1, 2)
        q, k = _rope(q), _rope(k)
        # GQA: the 8 key/value heads serve the 64 query heads, 8 each.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        x = x + self.o_proj(y.transpose(1, 2).reshape(b, t, -1))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


def _rope(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding of ``(batch, heads, T, d_h)``: elementwise, no matrix product."""
    t, d_h = x.shape[-2], x.shape[-1]
    inv_freq = base ** -(torch.arange(0, d_h, 2, device=x.device, dtype=torch.float32) / d_h)
    angles = torch.arange(t, device=x.device, dtype=torch.float32)[:, None] * inv_freq  # (T, d_h / 2)
    cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), -1) * sin


class Llama2_70B(nn.Module):
    """Llama-2-70B's shapes (GQA, SwiGLU, RMSNorm, untied lm_head): 68,976,648,192 parameters."""

    def __init__(
        self,
        d: int = 8192,
        layers: int = 80,
        heads: int = 64,
        kv_heads: int = 8,
        ffn: int = 28672,
        vocab: int = 32000,
    ) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(LlamaBlock(d, heads, kv_heads, ffn) for _ in range(layers))
        self.norm = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(idx)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


EXPECTED = {
    "SimpleNet": 131_618,
    "ResNet50": 25_557_032,
    "GPT2Small": 124_439_808,
    "Llama2_70B": 68_976_648_192,
}
#: One forward pass's MACs at the benchmark's inputs (FlopCounterMode on meta; FLOPs = 2 x MACs).
EXPECTED_MACS = {
    "SimpleNet": 573_504,  # 1, 3, 32, 32
    "ResNet50": 4_089_184_256,  # 1, 3, 224, 224
    "GPT2Small": 145_824_153_600,  # 1, 1024 token ids
    "Llama2_70B": 303_439_439_462_400,  # 1, 4096 token ids
}
