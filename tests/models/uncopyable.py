"""A module instance that refuses to be deep-copied (the API copies instances before a forward pass)."""

from typing import Any

from torch import nn


class Uncopyable(nn.Linear):
    def __deepcopy__(self, memo: Any) -> Any:
        raise TypeError("cannot pickle 'SSLContext' object")


MODEL = Uncopyable(4, 2)
