"""A stand-in for torchvision (not installable here) with the same weights API.

``torchvision.models.resnet50(weights=ResNet50_Weights.DEFAULT)`` fetches its
weights with ``torch.hub.load_state_dict_from_url``, imported by name when
torchvision is imported; this package does the same, with a small network.
"""

from . import models

__all__ = ["models"]
