"""Small models for the engine tests: one corner of the counting rules each."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import weight_norm

from sphinx_paramcount.formulas import Expr, Sym

from .seed import SimpleNet


class TiedLM(nn.Module):
    """Input embedding and output projection share one weight (no output bias)."""

    def __init__(self, vocab: int = 100, dim: int = 16, head_bias: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.body = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=head_bias)
        self.head.weight = self.embed.weight


def tied_lm_with_bias() -> TiedLM:
    return TiedLM(head_bias=True)


class BatchNormNet(nn.Module):
    """BatchNorm's running statistics are buffers, not parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)


class FrozenBackbone(nn.Module):
    """A frozen feature extractor under a trainable head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 20))
        self.backbone.requires_grad_(False)
        self.head = nn.Linear(20, 3)


class WeightNormConv(nn.Module):
    """weight_norm replaces the conv's weight by two tensors (g and v)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = weight_norm(nn.Conv2d(4, 8, kernel_size=3))
        self.fc = nn.Linear(8, 2)


class ReadsValues(nn.Module):
    """Reads tensor values while being built: cannot run on the meta device."""

    def __init__(self) -> None:
        super().__init__()
        widths = [w + 2 for w in torch.arange(4).tolist()]  # [2, 3, 4, 5]
        self.layers = nn.Sequential(*(nn.Linear(a, b) for a, b in zip(widths, widths[1:])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ReadsParameters(nn.Module):
    """Reads a parameter's value: fails on meta and with parameters on meta."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.scale = float(self.fc.weight.detach().abs().sum().item()) >= 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        raise ValueError("broken on purpose")


class Exits(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        sys.exit(3)


class NeedsArgs(nn.Module):
    def __init__(self, width: int, depth: int = 2) -> None:
        super().__init__()
        self.layers = nn.Sequential(*(nn.Linear(width, width) for _ in range(depth)))


def not_a_model() -> int:
    return 42


class Chatty(nn.Module):
    """Prints while being built; the print must not reach stdout."""

    def __init__(self) -> None:
        super().__init__()
        print("hello from Chatty")
        self.fc = nn.Linear(3, 1)


class ClsToken(nn.Module):
    """A parameter held directly by the root module, as ViT's cls_token."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.Sequential(nn.Linear(dim, dim), nn.Linear(dim, dim))


class Lazy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.LazyLinear(4)


class NoParams(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = nn.ReLU()


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)


class Deep(nn.Module):
    """Three levels of nesting, for collapsing rows by depth."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, kernel_size=1)
        self.stages = nn.ModuleList([nn.Sequential(Block(4), Block(4)), nn.Sequential(Block(4))])
        self.head = nn.Linear(4, 2)


@dataclass
class MLPConfig:
    hidden: int = 8
    layers: int = 2


class Configurable(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)

    @classmethod
    def small(cls) -> Configurable:
        return cls(4)


def make_mlp(config: MLPConfig, sizes: tuple[int, ...] = (3,)) -> nn.Module:
    dims = [*sizes, *([config.hidden] * config.layers)]
    return nn.Sequential(*(nn.Linear(a, b) for a, b in zip(dims, dims[1:])))


class LowRank(nn.Module):
    """A user's own layer type, for registering a formula."""

    def __init__(self, d_in: int = 6, rank: int = 2, d_out: int = 5) -> None:
        super().__init__()
        self.d_in, self.rank, self.d_out = d_in, rank, d_out
        self.u = nn.Parameter(torch.empty(d_in, rank))
        self.v = nn.Parameter(torch.empty(rank, d_out))


class LowRankChild(LowRank):
    """Inherits LowRank's formula through the MRO."""


class LowRankWithBias(LowRank):
    """Adds a tensor LowRank's formula does not know about."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.empty(self.d_out))


def low_rank_formula(m: LowRank) -> Expr:
    r = Sym("r", "Rank", m.rank)
    return Sym("d_{in}", "Input features", m.d_in) * r + r * Sym("d_{out}", "Output features", m.d_out)


class ScaledLinear(nn.Linear):
    """A subclass of Linear with one more parameter: Linear's formula no longer fits."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__(d_in, d_out)
        self.scale = nn.Parameter(torch.ones(1))


#: A module instance: used as is, not rebuilt.
seed_instance = SimpleNet()

#: Not a module, not callable.
NOT_CALLABLE = 3


class TiedReadsValues(nn.Module):
    """Ties one parameter object into two modules and reads tensor values (meta-params build)."""

    def __init__(self) -> None:
        super().__init__()
        (width,) = torch.tensor([4]).tolist()
        shared = nn.Parameter(torch.zeros(width, width))
        self.a = nn.Linear(width, width, bias=False)
        self.b = nn.Linear(width, width, bias=False)
        self.a.weight = shared
        self.b.weight = shared


class FreezesLocalParameter(nn.Module):
    """Freezes a parameter through its own reference after registering it (meta-params build)."""

    def __init__(self) -> None:
        super().__init__()
        (width,) = torch.tensor([3]).tolist()
        scale = nn.Parameter(torch.ones(width))
        self.scale = scale
        scale.requires_grad_(False)
        self.fc = nn.Linear(width, 1)


def float_and_quantized() -> nn.Module:
    """A float layer and two quantized ones, whose packed weights are not Parameters."""
    from torch.ao.nn import quantized

    return nn.Sequential(nn.Linear(4, 4), quantized.Linear(4, 2), quantized.Linear(2, 2))
