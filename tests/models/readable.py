"""Models whose tables must read well: shared sub-modules, frozen parts, labels."""

from __future__ import annotations

import torch
from torch import nn


class SharedProjBlock(nn.Module):
    def __init__(self, proj: nn.Linear) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 8)  # 40
        self.proj = proj  # 20, the same Linear in every block


class SharedProj(nn.Module):
    """One ``Linear`` used in three blocks: each block holds 60, the model 3 x 40 + 20 = 140."""

    def __init__(self) -> None:
        super().__init__()
        proj = nn.Linear(4, 4)
        self.blocks = nn.ModuleList([SharedProjBlock(proj) for _ in range(3)])


class AlbertLike(nn.Module):
    """ALBERT's trick: ``ModuleList([layer] * 4)``, one layer's parameters used four times."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)  # 40
        layer = nn.Linear(4, 4)  # 20
        self.layers = nn.ModuleList([layer] * 4)


class TiedHead(nn.Module):
    """An embedding and an output layer sharing one matrix, as GPT-2's lm_head and wte."""

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.wte.weight


class FrozenBase(nn.Module):
    """A frozen backbone and a trainable head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(8, 8)  # 72, frozen
        self.head = nn.Linear(8, 2)  # 18
        self.backbone.requires_grad_(False)


class Odd(nn.Module):
    """Containers and wrappers whose own repr reads badly in a cell."""

    def __init__(self) -> None:
        super().__init__()
        self.plist = nn.ParameterList([nn.Parameter(torch.zeros(2, 3)), nn.Parameter(torch.zeros(3))])
        self.pdict = nn.ParameterDict({"scale": nn.Parameter(torch.zeros(1))})


def scripted() -> nn.Module:
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    return torch.jit.script(model)


def one_parameter() -> nn.Module:
    model = nn.Module()
    model.scale = nn.Parameter(torch.zeros(1))
    return model
