"""A model that notes each time it is built, in the file ``$PARAMCOUNT_BUILD_LOG``."""

import os

from torch import nn


def logged_linear() -> nn.Module:
    with open(os.environ["PARAMCOUNT_BUILD_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")
    return nn.Linear(4, 2)
