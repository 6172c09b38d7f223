"""A layer of the user's own, for the custom formula example."""

import torch
import torch.nn as nn


class LowRankLinear(nn.Module):
    """``y = x A^T B^T + b``: a ``d_in x d_out`` map factored through rank ``r``."""

    def __init__(self, in_features, out_features, rank):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.rank = rank
        self.down = nn.Parameter(torch.empty(rank, in_features))
        self.up = nn.Parameter(torch.empty(out_features, rank))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, rank={self.rank}"

    def forward(self, x):
        return x @ self.down.T @ self.up.T + self.bias
