"""Prints and warns while imported, as research code often does."""

import sys
import warnings

import torch.nn as nn

print("loading trust_noisy_import on stdout")
print("and a line on stderr", file=sys.stderr)
warnings.warn("trust_noisy_import: a warning at import", UserWarning, stacklevel=1)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
