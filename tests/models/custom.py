"""A user's own layer and its formula, registered through conf.py."""

import torch
import torch.nn as nn

from sphinx_paramcount.formulas import Sym


class LowRankLinear(nn.Module):
    def __init__(self, d_in: int = 64, d_out: int = 32, rank: int = 4) -> None:
        super().__init__()
        self.rank = rank
        self.d_in, self.d_out = d_in, d_out
        self.down = nn.Parameter(torch.empty(d_in, rank))
        self.up = nn.Parameter(torch.empty(rank, d_out))


def low_rank_formula(m: LowRankLinear):
    r = Sym("r", "Rank", m.rank)
    return Sym("d_{in}", "Input features", m.d_in) * r + r * Sym("d_{out}", "Output features", m.d_out)


class Adapter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = LowRankLinear()
        self.norm = nn.LayerNorm(32)
