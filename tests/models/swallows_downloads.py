"""Factories that catch the refused download and build something else (they must still fail)."""

import torch
from torch import nn


def hub_swallow() -> nn.Module:
    try:
        torch.hub.load_state_dict_from_url("https://download.pytorch.org/models/resnet18-f37072fd.pth")
    except Exception:
        pass
    return nn.Linear(2, 2)


def hf_swallow() -> nn.Module:
    import transformers

    try:
        return transformers.AutoModel.from_pretrained("bert-base-uncased")
    except Exception:
        return nn.Linear(3, 3)
