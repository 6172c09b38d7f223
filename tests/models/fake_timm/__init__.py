"""A stand-in for timm (not installable here): ``create_model(name, pretrained=...)``.

Like timm, pretrained weights come from the Hugging Face hub
(``hf_hub_download``) or, for older entries, from a URL through
``torch.hub.load_state_dict_from_url``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

_CONFIGS = {
    "resnet18": {"hf_hub_id": "timm/resnet18.a1_in1k"},
    "resnet18_tv": {"url": "https://download.pytorch.org/models/resnet18-f37072fd.pth"},
}


def create_model(model_name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    cfg = _CONFIGS[model_name]
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 5))  # 112 + 25 = 137
    if pretrained:
        if "hf_hub_id" in cfg:
            from huggingface_hub import hf_hub_download

            path = hf_hub_download(cfg["hf_hub_id"], filename="model.safetensors")
            state = torch.load(path)
        else:
            state = torch.hub.load_state_dict_from_url(cfg["url"], map_location="cpu")
        model.load_state_dict(state)
    return model
