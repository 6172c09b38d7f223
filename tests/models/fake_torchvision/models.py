"""``resnet50`` and ``ResNet50_Weights`` with torchvision's signatures; a small body."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch.nn as nn
from torch.hub import load_state_dict_from_url  # as torchvision's _internally_replaced_utils does


@dataclass
class Weights:
    url: str

    def get_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        return load_state_dict_from_url(self.url, *args, **kwargs)


class ResNet50_Weights(Enum):  # noqa: N801 - torchvision's name
    IMAGENET1K_V1 = Weights("https://download.pytorch.org/models/resnet50-0676ba61.pth")
    IMAGENET1K_V2 = Weights("https://download.pytorch.org/models/resnet50-11ad3fa6.pth")
    DEFAULT = IMAGENET1K_V2

    @classmethod
    def verify(cls, obj: Any) -> Any:
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            return cls[obj.replace(cls.__name__ + ".", "")]
        raise TypeError(f"invalid weight {obj!r}")

    def get_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        return self.value.get_state_dict(*args, **kwargs)


def resnet50(*, weights: ResNet50_Weights | str | None = None, progress: bool = True, **kwargs: Any) -> nn.Module:
    weights = ResNet50_Weights.verify(weights)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 10))  # 224 + 16 + 90 = 330
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
