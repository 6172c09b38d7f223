"""A model whose layers are documented: PyTorch's through intersphinx, ``Block`` in the ``test-links`` root."""

from torch import nn


class Block(nn.Module):
    """One 4 x 4 linear layer."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4)


class Net(nn.Module):
    """A convolution (PyTorch's ``Conv2d``) and a ``Block``."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, kernel_size=3)
        self.block = Block()
