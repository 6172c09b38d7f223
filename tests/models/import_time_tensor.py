"""Creates a tensor when imported: importing it under the meta device would make it meta."""

import torch

ONES = torch.ones(3)
WIDTH = 4
