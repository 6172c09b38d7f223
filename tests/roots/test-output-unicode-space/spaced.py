"""Parameter names holding Unicode spaces (narrow no-break, thin, ideographic)."""

import torch
from torch import nn


class Spaced(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.p = nn.ParameterDict(
            {name: nn.Parameter(torch.zeros(n)) for name, n in (("a\u202fb", 3), ("c\u2009d", 4), ("e\u3000f", 5))}
        )
