"""Models that autodoc documents with ``paramcount_autodoc`` (the ``test-autodoc`` root)."""

import abc

from torch import nn


class Small(nn.Module):
    """Two linear layers: 4 x 8 + 8 and 8 x 2 + 2 parameters."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)


class Deep(nn.Module):
    """A body of two layers and a head, for ``:depth: 1``."""

    def __init__(self, width=4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.Linear(width, width))
        self.head = nn.Linear(width, 1)


class Block(nn.Module):
    """Needs its width: given a target in conf.py."""

    def __init__(self, width):
        super().__init__()
        self.proj = nn.Linear(width, width)


class NeedsArgs(nn.Module):
    """Needs its width, and has no target: no table."""

    def __init__(self, width, *, bias):
        super().__init__()
        self.proj = nn.Linear(width, width, bias=bias)


class Excluded(nn.Module):
    """Builds without arguments, but conf.py gives it no target (None): no table."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(2, 2)


class OwnTable(nn.Module):
    """Its docstring holds its own table: no second one.

    .. paramcount:: tests.models.autodoc_models:OwnTable
       :total: 3
    """

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(2, 1)


class WithInit(nn.Module):
    """A class docstring, and an __init__ docstring (``autoclass_content = "both"``): one table."""

    def __init__(self):
        """Builds one 3 x 3 layer."""
        super().__init__()
        self.proj = nn.Linear(3, 3)


class Base(nn.Module, abc.ABC):
    """An abstract base: no table."""

    @abc.abstractmethod
    def step(self):
        """What each subclass does."""


Alias = Small
