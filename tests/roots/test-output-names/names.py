"""Parameter and layer names with every character LaTeX treats specially."""

from __future__ import annotations

import torch
from torch import nn

# ParameterDict keys reach the formulas as |\mathtt{key}|.
KEYS = {"50%": 3, "a&b": 4, "x_y": 5, "{k}": 6, "$#": 7, "~^\\": 8, "a b": 9, "é": 10}


class OddNames(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.extra = nn.ParameterDict({k: nn.Parameter(torch.zeros(n)) for k, n in KEYS.items()})
        # ModuleDict keys become row names.
        self.blocks = nn.ModuleDict({"a&b": nn.Linear(2, 2), "50%": nn.Linear(3, 3), "{k}_~^\\$#": nn.Linear(4, 4)})
        self.big = nn.Linear(512, 512)  # 262,656: grouped by paramcount_thousands_sep


class Root(nn.Module):
    """Parameters on the root module itself: their names are the whole qualified name."""

    def __init__(self) -> None:
        super().__init__()
        self.register_parameter("w_50%", nn.Parameter(torch.zeros(20, 600)))
