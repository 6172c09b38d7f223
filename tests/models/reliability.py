"""Models for the reliability tests: constructors that misbehave and layers that are not plain."""

from __future__ import annotations

import sys

import torch
import torch.nn as nn
from torch.nn.utils import parametrize, prune
from torch.nn.utils.parametrizations import weight_norm


class Interrupts(nn.Module):
    """As if the user pressed Ctrl-C while the model was being built."""

    def __init__(self) -> None:
        super().__init__()
        raise KeyboardInterrupt


class ExitsWithMessage(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        sys.exit("giving up")


class PrintsEverywhere(nn.Module):
    """Writes to stdout and stderr and warns while being built."""

    def __init__(self) -> None:
        super().__init__()
        print("chatter on stdout from PrintsEverywhere")
        print("chatter on stderr from PrintsEverywhere", file=sys.stderr)
        import warnings

        warnings.warn("a warning from PrintsEverywhere", UserWarning, stacklevel=1)
        self.fc = nn.Linear(5, 3)


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        raise ValueError("reliability: broken on purpose")


def returns_none() -> None:
    return None


def returns_a_class() -> type:
    return nn.Linear


def returns_a_tensor() -> torch.Tensor:
    return torch.zeros(3)


# -- instances shared between directives ---------------------------------------------


class SharedNet(nn.Module):
    """In training mode with BatchNorm: a forward pass on the instance itself would
    update running_mean, running_var and num_batches_tracked."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(self.conv(x)).flatten(1))


torch.manual_seed(0)
#: Used by several directives, with and without :input-shape:; none may change it.
shared_net = SharedNet()

#: Lazy until a forward pass: a directive with :input-shape: must not materialise it.
lazy_instance = nn.Sequential(nn.Linear(4, 6), nn.LazyLinear(3))


# -- parametrized, pruned, quantized -----------------------------------------------


class LowRankDelta(nn.Module):
    """A parametrization with parameters of its own (LoRA-like): W + A @ B."""

    def __init__(self, d_out: int, d_in: int, rank: int) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.zeros(d_out, rank))
        self.b = nn.Parameter(torch.zeros(rank, d_in))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + self.a @ self.b


def parametrized() -> nn.Module:
    """weight_norm on a conv and a LoRA-like parametrization on a linear layer."""
    model = nn.Sequential(nn.Conv2d(3, 6, 3), nn.Flatten(), nn.Linear(24, 10))
    weight_norm(model[0])
    parametrize.register_parametrization(model[2], "weight", LowRankDelta(10, 24, 2))
    return model


def pruned() -> nn.Module:
    """l1_unstructured pruning: weight becomes weight_orig (a parameter) times weight_mask (a buffer)."""
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 2))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    prune.random_unstructured(model[2], "bias", amount=0.5)
    return model


def dynamic_quantized() -> nn.Module:
    """Linear layers become packed quantized ones (no nn.Parameters); LayerNorm stays a float layer."""
    from torch.ao.quantization import quantize_dynamic

    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 4), nn.LayerNorm(4))
    return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


# -- zero parameters, views, sharing ------------------------------------------------


class ZeroParams(nn.Module):
    """Layers, but no parameters; a buffer that is not a parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.act = nn.Sequential(nn.ReLU(), nn.Dropout(0.1), nn.Flatten())
        self.register_buffer("scale", torch.ones(3))


class ViewParams(nn.Module):
    """Parameters made from views of one tensor (as some fused-weight loaders do)."""

    def __init__(self) -> None:
        super().__init__()
        fused = torch.zeros(12, 4)
        self.q = nn.Parameter(fused[:4])
        self.k = nn.Parameter(fused[4:8])
        self.v = nn.Parameter(fused[8:].view(2, 8))
        self.fused = nn.Parameter(fused)
        self.proj = nn.Linear(4, 4)
        self.proj.weight = nn.Parameter(self.fused.data[:4].t())


class SharedThrice(nn.Module):
    """One Parameter in three modules, and one module registered in three places."""

    def __init__(self) -> None:
        super().__init__()
        weight = nn.Parameter(torch.zeros(6, 6))
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(6, 6)
        self.c = nn.Linear(6, 6, bias=False)
        for layer in (self.a, self.b, self.c):
            layer.weight = weight
        norm = nn.LayerNorm(6)
        self.norm1 = norm
        self.blocks = nn.ModuleList([norm, nn.Linear(6, 2)])
        self.extra = nn.Sequential(norm)
