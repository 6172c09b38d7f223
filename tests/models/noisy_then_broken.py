"""A module that prints and warns when imported, with a constructor that raises and one that works."""

import warnings

from torch import nn

print("NOISY IMPORT PRINT")
warnings.warn("noisy import warning", stacklevel=1)


class Bad(nn.Module):
    def __init__(self) -> None:
        raise ValueError("bad constructor")


class Good(nn.Linear):
    def __init__(self) -> None:
        super().__init__(2, 2)
