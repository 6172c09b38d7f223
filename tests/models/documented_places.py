"""A module docstring: :paramcount:`3 <torch.nn.Linear(4, 2)>`."""

from torch import nn

#: A width whose comment states :paramcount:`4 <torch.nn.Linear(4, 2)>`.
WIDTH = 4

DEPTH: int = 2
"""A depth whose docstring states :paramcount:`5 <torch.nn.Linear(4, 2)>`."""


class Holder(nn.Module):
    #: A class attribute: :paramcount:`6 <torch.nn.Linear(4, 2)>`.
    size = 1
