"""Models for the scale tests: built from code, counted on the meta device."""

import torch.nn as nn


class DecoderBlock(nn.Module):
    def __init__(self, d: int, heads: int, kv_heads: int, ffn: int) -> None:
        super().__init__()
        head_dim = d // heads
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.gate_proj = nn.Linear(d, ffn, bias=False)
        self.up_proj = nn.Linear(d, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, d, bias=False)
        self.input_norm = nn.RMSNorm(d)
        self.post_norm = nn.RMSNorm(d)


class Decoder(nn.Module):
    def __init__(self, d=8192, layers=80, heads=64, kv_heads=8, ffn=28672, vocab=32000) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(DecoderBlock(d, heads, kv_heads, ffn) for _ in range(layers))
        self.norm = nn.RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)


def llama2_70b() -> Decoder:
    """Llama-2-70B's shapes: 68,976,648,192 parameters."""
    return Decoder()


def tiny_decoder() -> Decoder:
    return Decoder(d=64, layers=4, heads=4, kv_heads=2, ffn=128, vocab=100)


class LazyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.LazyConv2d(8, 3), nn.ReLU(), nn.Flatten())
        self.head = nn.LazyLinear(10)

    def forward(self, x):
        return self.head(self.features(x))
