"""A module whose docstrings state parameter counts (autodoc test root)."""

from torch import nn


class Tiny(nn.Linear):
    """A tiny layer.

    It has :paramcount:`15 <torch.nn.Linear(4, 2)>` parameters.
    """

    def __init__(self) -> None:
        super().__init__(4, 2)
