"""MAC formulas beyond conv, linear and attention: each equals what the forward pass did, and a 70B decoder."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.overrides import TorchFunctionMode

from sphinx_paramcount.build import build_model
from sphinx_paramcount.compute import ComputeReport, compute_model, compute_target
from tests.arith import latex_value
from tests.test_compute import check_rows, counter

SETTINGS = settings(max_examples=15, deadline=None)


def only_row(model: nn.Module, shape: tuple[int, ...], family: str) -> Any:
    """The one row of ``model``'s report: derived by ``family``'s formula (not measured), its derivation its value."""
    (row,) = compute_model(model, type(model).__name__, shape).rows
    assert (row.family, row.note) == (family, ""), row
    assert row.formula and latex_value(row.derivation) == row.macs
    return row


# -- transposed convolutions ------------------------------------------------------------------------


@SETTINGS
@given(
    dims=st.integers(1, 3),
    groups=st.integers(1, 3),
    per_group_in=st.integers(1, 3),
    per_group_out=st.integers(1, 3),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    output_padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    size=st.integers(1, 5),
    batch=st.integers(0, 2),  # 0: unbatched
)
def test_conv_transpose_formula_matches_counter(
    dims: int,
    groups: int,
    per_group_in: int,
    per_group_out: int,
    kernel: int,
    stride: int,
    padding: int,
    output_padding: int,
    dilation: int,
    size: int,
    batch: int,
) -> None:
    assume(output_padding < max(stride, dilation))  # what torch accepts
    assume((size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1 > 0)
    c_in, c_out = groups * per_group_in, groups * per_group_out
    conv_class = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[dims - 1]
    conv = conv_class(c_in, c_out, kernel, stride, padding, output_padding, groups, dilation=dilation)
    model = nn.Sequential(conv).to("meta")
    shape = (*(batch,) * bool(batch), c_in, *(size,) * dims)
    row = only_row(model, shape, "conv_transpose")
    # Over the INPUT positions: stride, padding, output_padding and dilation do not enter.
    assert row.macs == max(batch, 1) * c_in * per_group_out * kernel**dims * size**dims == counter(model, shape)[0]
    assert row.formula.endswith(
        {1: r"k \cdot L_{in}", 2: r"k_w \cdot H_{in} \cdot W_{in}", 3: r"D_{in} \cdot H_{in} \cdot W_{in}"}[dims]
    )
    assert row.formula.startswith("B" if batch else "C_{in}")
    assert (r"\frac{C_{out}}{g}" in row.formula) == (groups > 1)


def test_conv_transpose_legend() -> None:
    model = nn.Sequential(nn.ConvTranspose2d(6, 4, 3, stride=2, output_padding=1, groups=2)).to("meta")
    row = only_row(model, (2, 6, 5, 4), "conv_transpose")
    assert row.formula == r"B \cdot C_{in} \cdot \frac{C_{out}}{g} \cdot k_h \cdot k_w \cdot H_{in} \cdot W_{in}"
    assert row.derivation == r"2 \times 6 \times 2 \times 3 \times 3 \times 5 \times 4"
    assert row.legend[2] == (
        "\\frac{C_{out}}{g}",
        "Output channels, per group: 4 / 2",
        2,
    )
    assert [w for _, w, _ in row.legend[-2:]] == ["Input height", "Input width"]
    assert row.output_shape == "(2, 4, 12, 10)"


# -- bilinear ---------------------------------------------------------------------------------------


class TwoInputs(nn.Module):
    """``nn.Bilinear`` on the input and a second input of ``d2`` features made from it."""

    def __init__(self, d1: int, d2: int, d_out: int) -> None:
        super().__init__()
        self.bilinear = nn.Bilinear(d1, d2, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bilinear(x, torch.zeros(*x.shape[:-1], self.bilinear.in2_features, device=x.device))


@SETTINGS
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    d1=st.integers(1, 6),
    d2=st.integers(1, 6),
    d_out=st.integers(1, 6),
    device=st.sampled_from(["meta", "cpu"]),
)
def test_bilinear_formula_matches_pass(lead: list[int], d1: int, d2: int, d_out: int, device: str) -> None:
    model = TwoInputs(d1, d2, d_out).to(device)
    shape = (*lead, d1)
    row = only_row(model, shape, "bilinear")
    assert row.macs == math.prod(lead) * d_out * d2 * (d1 + 1)
    assert row.formula == r"N \cdot d_{out} \cdot d_{in_2} \cdot (d_{in_1} + 1)"
    assert counter(model, shape)[0] == 0  # a plain FlopCounterMode has no formula for aten._trilinear


@pytest.mark.parametrize(("lead", "d1", "d2", "d_out"), [((8,), 3, 5, 7), ((2, 3), 6, 2, 3), ((), 4, 4, 2)])
def test_bilinear_counts_the_kernels_products(lead: tuple[int, ...], d1: int, d2: int, d_out: int) -> None:
    # The ground truth for the count given to aten._trilinear: the matrix products its CPU kernel runs,
    # as the profiler records them (one (N x d1) @ (d1 x d2) and one batched dot product per output feature).
    from torch.profiler import profile

    model = TwoInputs(d1, d2, d_out)
    with profile(record_shapes=True) as prof:
        model(torch.zeros(*lead, d1))
    products = [e.input_shapes for e in prof.events() if e.name in ("aten::mm", "aten::bmm")]
    assert len(products) == 2 * d_out
    kernel_macs = sum(math.prod(a) * b[-1] for a, b, *_ in products)
    assert compute_model(model, "TwoInputs", (*lead, d1)).macs == kernel_macs == math.prod(lead) * d_out * d2 * (d1 + 1)


# -- recurrent layers -------------------------------------------------------------------------------


@SETTINGS
@given(
    kind=st.sampled_from([nn.RNN, nn.LSTM, nn.GRU]),
    layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    proj=st.integers(0, 3),  # LSTM only
    batch_first=st.booleans(),
    batch=st.integers(0, 3),  # 0: unbatched
    steps=st.integers(1, 5),
    d_in=st.integers(1, 5),
    hidden=st.integers(4, 6),
)
def test_rnn_formula_matches_counter(
    kind: type[nn.RNNBase],
    layers: int,
    bidirectional: bool,
    proj: int,
    batch_first: bool,
    batch: int,
    steps: int,
    d_in: int,
    hidden: int,
) -> None:
    extra = {"proj_size": proj} if kind is nn.LSTM else {}
    rnn = kind(d_in, hidden, layers, bidirectional=bidirectional, batch_first=batch_first, **extra)
    model = nn.Sequential(rnn).to("meta")  # on meta every step is an addmm the counter sees
    if not batch:
        shape: tuple[int, ...] = (steps, d_in)
    else:
        shape = (batch, steps, d_in) if batch_first else (steps, batch, d_in)
    row = only_row(model, shape, "rnn")
    gates = {nn.RNN: 1, nn.LSTM: 4, nn.GRU: 3}[kind]
    r = proj if kind is nn.LSTM and proj else hidden
    directions = 2 if bidirectional else 1
    per_step = gates * hidden * (d_in + r) + (layers - 1) * gates * hidden * (directions * r + r)
    if r != hidden:  # each layer's projection h -> p
        per_step += layers * hidden * r
    assert row.macs == directions * steps * max(batch, 1) * per_step == counter(model, shape)[0]


def test_rnn_legend() -> None:
    model = nn.Sequential(nn.LSTM(4, 6, num_layers=3, bidirectional=True)).to("meta")
    row = only_row(model, (5, 2, 4), "rnn")
    assert (
        row.formula
        == r"D \cdot T \cdot B \cdot (G \cdot h \cdot (d_{in} + h) + (L - 1) \cdot G \cdot (D + 1) \cdot h^2)"
    )
    assert (
        row.derivation
        == r"2 \times 5 \times 2 \times (4 \times 6 \times (4 + 6) + 2 \times 4 \times (2 + 1) \times 6^2)"
    )
    assert ("G", "Gates (weight blocks) per layer: 1 RNN, 3 GRU, 4 LSTM", 4) in row.legend
    assert row.macs == 22_080


def test_lstm_on_the_cpu_is_counted() -> None:
    # On the CPU an LSTM runs the fused aten.mkldnn_rnn_layer, which a plain FlopCounterMode reads as 0.
    model = nn.Sequential(nn.LSTM(4, 6, num_layers=2, bidirectional=True))
    assert counter(model, (5, 2, 4))[0] == 0
    row = only_row(model, (5, 2, 4), "rnn")
    meta = nn.Sequential(nn.LSTM(4, 6, num_layers=2, bidirectional=True)).to("meta")
    assert row.macs == counter(meta, (5, 2, 4))[0] == 2 * 5 * 2 * (4 * 6 * (4 + 6) + 4 * 6 * (12 + 6)) == 13_440


@SETTINGS
@given(kind=st.sampled_from([nn.RNNCell, nn.LSTMCell, nn.GRUCell]), batch=st.integers(0, 3), d_in=st.integers(1, 6))
def test_rnn_cell_formula_matches_counter(kind: type[nn.RNNCellBase], batch: int, d_in: int) -> None:
    model = nn.Sequential(kind(d_in, 5)).to("meta")
    shape = (batch, d_in) if batch else (d_in,)
    row = only_row(model, shape, "rnn_cell")
    gates = {nn.RNNCell: 1, nn.LSTMCell: 4, nn.GRUCell: 3}[kind]
    assert row.macs == max(batch, 1) * gates * 5 * (d_in + 5) == counter(model, shape)[0]
    assert row.formula == ("B \\cdot " if batch else "") + r"G \cdot h \cdot (d_{in} + h)"


def test_packed_sequence_is_measured() -> None:
    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(3, 4)

        def forward(self, x: torch.Tensor) -> Any:
            packed = nn.utils.rnn.pack_padded_sequence(x, torch.tensor([5, 2]), enforce_sorted=True)
            return self.gru(packed)[1]

    report = compute_model(Packed(), "Packed", (5, 2, 3))
    (row,) = report.rows
    # Steps of a packed sequence have different batch sizes: 7 steps in all, not T x N = 10.
    assert (row.family, row.macs) == ("measured", 7 * 3 * 4 * (3 + 4))
    assert row.note == "its rnn formula does not apply: the count the forward pass did"


def test_transformer_layers_are_linear_and_attention() -> None:
    # nn.Transformer's layers compute nothing of their own: every MAC is in a Linear or a MultiheadAttention.
    class Seq2Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.t = nn.Transformer(16, 4, 2, 2, 32, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.t(x, x[:, :3])

    model = Seq2Seq().to("meta").eval()
    report = compute_model(model, "Seq2Seq", (2, 5, 16))
    total, counts = counter(model, (2, 5, 16))
    assert report.macs == total
    check_rows(report, model, counts)
    assert {(r.type, r.family) for r in report.rows} == {
        ("Linear", "linear"),
        ("MultiheadAttention", "multihead_attention"),
    }
    assert all(r.formula and not r.note for r in report.rows)


# -- Llama-2-70B at 1 x 4,096 tokens ----------------------------------------------------------------

# By hand, d = 8,192, d_kv = 8 kv heads x 128 = 1,024, d_ff = 28,672, h = 64, d_h = 128, V = 32,000, T = 4,096:
#   q, o projections   2 x d x d x T        = 2 x 8,192 x 8,192 x 4,096    =   549,755,813,888
#   k, v projections   2 x d x d_kv x T     = 2 x 8,192 x 1,024 x 4,096    =    68,719,476,736
#   MLP (SwiGLU)       3 x d x d_ff x T     = 3 x 8,192 x 28,672 x 4,096   = 2,886,218,022,912
#   attention          2 x h x T^2 x d_h    = 2 x 64 x 4,096^2 x 128       =   274,877,906,944
#   one layer                                                              = 3,779,571,220,480
#   80 layers                                                              = 302,365,697,638,400
#   lm_head            V x d x T            = 32,000 x 8,192 x 4,096       =   1,073,741,824,000
#   total                                                                  = 303,439,439,462,400
LLAMA_70B_MACS = 303_439_439_462_400
LLAMA_70B = (
    "transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig(hidden_size=8192,"
    " intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8,"
    " vocab_size=32000))"
)


class AttentionShapes(TorchFunctionMode):
    """Records the q, k, v shapes and the ``enable_gqa`` of each ``F.scaled_dot_product_attention`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: set[tuple[Any, ...]] = set()

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            self.calls.add((*(tuple(a.shape) for a in args[:3]), kwargs.get("enable_gqa", False)))
        return func(*args, **kwargs)


def check_llama_70b(report: ComputeReport, attention_name: str, k_proj_name: str) -> None:
    assert report.macs == LLAMA_70B_MACS
    assert all(r.formula and not r.note for r in report.rows), [r.name for r in report.rows if r.note]
    assert len(report.rows) == 80 * 8 + 1  # 7 projections and the attention per layer, the lm_head
    assert (report.rows[-1].name, report.rows[-1].macs) == ("lm_head", 32_000 * 8_192 * 4_096)
    by_name = {r.name: r for r in report.rows}
    attention = by_name[attention_name]
    assert (attention.family, attention.macs) == ("attention", 274_877_906_944)
    assert attention.formula == r"B \cdot 2 \cdot h \cdot T^2 \cdot d_h"
    # h is the 64 query heads (the 8 kv heads serve 8 each) and T_q = T_k.
    assert attention.legend == (
        ("B", "Batch size", 1),
        ("h", "Attention heads (of the queries)", 64),
        ("T", "Sequence length", 4_096),
        ("d_h", "Query and key size per head", 128),
    )
    assert (by_name[k_proj_name].family, by_name[k_proj_name].derivation) == (
        "linear",
        r"8{,}192 \times 1{,}024 \times 4{,}096",
    )
    assert sum(r.macs for r in report.rows if r.family == "attention") == 80 * 274_877_906_944


GQA_CALL = ((1, 64, 4_096, 128), (1, 8, 4_096, 128), (1, 8, 4_096, 128), True)


def test_llama2_70b_code_copy() -> None:
    shapes = AttentionShapes()
    with shapes:
        report = compute_target("benchmarks.models:Llama2_70B", "1, 4096", "int64")
    check_llama_70b(report, "layers.0", "layers.0.k_proj")
    # GQA: 8 key/value heads against 64 query heads, through enable_gqa.
    assert shapes.calls == {GQA_CALL}
    # FlopCounterMode's own total, and its figure for each layer, equal the rows'.
    model = build_model("benchmarks.models:Llama2_70B").module
    total, counts = counter(model, (1, 4_096), torch.int64)
    assert total == LLAMA_70B_MACS
    check_rows(report, model, counts)


def test_llama2_70b_transformers() -> None:
    shapes = AttentionShapes()
    with shapes:
        report = compute_target(LLAMA_70B, "1, 4096", "int64")
    check_llama_70b(report, "model.layers.0.self_attn", "model.layers.0.self_attn.k_proj")
    assert shapes.calls == {GQA_CALL}  # transformers passes enable_gqa too (no repeat_kv) when there is no mask
