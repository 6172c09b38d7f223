"""Small PyTorch models that the documentation counts.

``SimpleNet`` is the seed notebook's model, unchanged.  The others show
what a derivation table does with shared (tied) weights, frozen parameters
and buffers.
"""

import torch.nn as nn
import torch.nn.functional as F


class SimpleNet(nn.Module):
    """The seed notebook's ConvNet: one convolution, two fully connected layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 16 * 16, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        out = self.pool(F.tanh(self.conv1(x)))
        out = out.view(-1, 16 * 16 * 16)
        out = F.tanh(self.fc1(out))
        return self.fc2(out)


class TinyTransformer(nn.Module):
    """A one-block language model.

    The output projection ``lm_head`` shares its weight with the token
    embedding (weight tying), and the learned position embedding is frozen.
    """

    def __init__(self, vocab_size=1000, d_model=64, context=32, heads=4, d_ff=128):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(context, d_model)
        self.pos_emb.weight.requires_grad_(False)
        self.block = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=d_ff, batch_first=True, norm_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx):
        positions = self.pos_emb.weight[: idx.shape[1]]
        x = self.block(self.tok_emb(idx) + positions)
        return self.lm_head(self.norm(x))


class ConvBlockNet(nn.Module):
    """Convolutions with batch normalisation: running statistics are buffers."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(32, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class ResidualBlock(nn.Module):
    """A pre-norm residual MLP block."""

    def __init__(self, width=64, hidden=256):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, hidden)
        self.down = nn.Linear(hidden, width)

    def forward(self, x):
        return x + self.down(F.gelu(self.up(self.norm(x))))


class DeepMLP(nn.Module):
    """Six identical residual blocks between an input and an output layer."""

    def __init__(self, d_in=32, width=64, blocks=6, classes=10):
        super().__init__()
        self.stem = nn.Linear(d_in, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(blocks))
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)
