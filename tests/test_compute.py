"""``compute``: per-layer MACs of one forward pass, each equal to what ``FlopCounterMode`` measures."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from sphinx_paramcount.build import build_model
from sphinx_paramcount.compute import ComputeReport, compute_model, compute_target
from sphinx_paramcount.compute_render import to_derivation, to_markdown, to_text
from sphinx_paramcount.errors import InstantiateError, OptionError
from sphinx_paramcount.shapes import parse_input_dtype
from tests.arith import latex_value
from tests.test_cli import run

SEED = "tests.models.seed:SimpleNet"
GPT2 = "transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config())"
SETTINGS = settings(max_examples=20, deadline=None)


def counter(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> tuple[int, dict]:
    """FlopCounterMode's own figures, without our hooks or mappings: (total MACs, FLOPs by module key)."""
    device = next(model.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as c:
        model(torch.zeros(shape, dtype=dtype, device=device))
    return c.get_total_flops() // 2, c.get_flop_counts()


def own_macs(model: nn.Module, counts: dict, name: str) -> int:
    """The counter's FLOPs under the module ``name`` less its children's, halved."""
    root = type(model).__name__
    key = f"{root}.{name}" if name else root
    module = model.get_submodule(name)
    inner = sum(sum(counts.get(f"{key}.{child}", {}).values()) for child, _ in module.named_children())
    return (sum(counts.get(key, {}).values()) - inner) // 2


def check_rows(report: ComputeReport, model: nn.Module, counts: dict) -> None:
    """Every row: its derivation evaluates to its MACs, which are the counter's figure for that module."""
    for r in report.rows:
        assert latex_value(r.derivation) == r.macs, r
        assert r.macs == own_macs(model, counts, r.name), r.name
    assert sum(r.macs for r in report.rows) == report.macs
    assert report.flops == 2 * report.macs


def test_seed_simplenet() -> None:
    report = compute_target(SEED, "1, 3, 32, 32")
    assert report.macs == 573_504 == 442_368 + 131_072 + 64
    assert [(r.name, r.macs, r.family) for r in report.rows] == [
        ("conv1", 442_368, "conv"),
        ("fc1", 131_072, "linear"),
        ("fc2", 64, "linear"),
    ]
    conv1 = report.rows[0]
    assert conv1.formula == r"B \cdot C_{out} \cdot C_{in} \cdot k_h \cdot k_w \cdot H_{out} \cdot W_{out}"
    assert conv1.derivation == r"1 \times 16 \times 3 \times 3 \times 3 \times 32 \times 32"
    assert conv1.output_shape == "(1, 16, 32, 32)"
    assert report.rows[1].formula == r"d_{in} \cdot d_{out} \cdot N"
    assert report.rows[1].derivation == r"4{,}096 \times 32 \times 1"
    assert [s for s, _, _ in report.rows[1].legend] == ["d_{in}", "d_{out}", "N"]
    assert report.method == "meta"
    model = build_model(SEED).module
    total, counts = counter(model, (1, 3, 32, 32))
    assert report.macs == total
    check_rows(report, model, counts)


def test_resnet50() -> None:
    built = build_model("benchmarks.models:ResNet50")
    report = compute_model(built.module, "ResNet50", (1, 3, 224, 224))
    total, counts = counter(built.module, (1, 3, 224, 224))
    assert report.macs == 4_089_184_256 == total
    check_rows(report, built.module, counts)
    # Every conv and the classifier derived; norms, activations and pooling compute no MACs: no row.
    assert {r.type for r in report.rows} == {"Conv2d", "Linear"}
    assert all(r.formula and not r.note for r in report.rows)
    assert len(report.rows) == 54


def test_gpt2_small_tokens() -> None:
    built = build_model(GPT2)
    report = compute_model(built.module, "GPT-2", (1, 1024), "int64")
    total, counts = counter(built.module, (1, 1024), torch.int64)
    assert report.macs == total == 145_824_153_600
    check_rows(report, built.module, counts)
    attention = [r for r in report.rows if r.family == "attention"]
    assert [r.name for r in attention] == [f"transformer.h.{i}.attn" for i in range(12)]
    assert all(r.macs == 2 * 12 * 1024**2 * 64 for r in attention)
    assert attention[0].formula == r"B \cdot 2 \cdot h \cdot T^2 \cdot d_h"
    assert attention[0].derivation == r"1 \times 2 \times 12 \times 1{,}024^2 \times 64"
    c_attn = report.rows[1]
    assert (c_attn.name, c_attn.family, c_attn.macs) == (
        "transformer.h.0.attn.c_attn",
        "transformers_conv1d",
        768 * 2304 * 1024,
    )
    lm_head = report.rows[-1]
    assert (lm_head.name, lm_head.macs, lm_head.output_shape) == ("lm_head", 768 * 50257 * 1024, "(1, 1024, 50257)")


class SelfAttention(nn.Module):
    def __init__(self, need_weights: bool) -> None:
        super().__init__()
        self.att = nn.MultiheadAttention(16, 4, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.att(x, x, x, need_weights=self.need_weights)[0]


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_in_eval_and_no_grad(device: str, need_weights: bool) -> None:
    # Eval and no_grad on the CPU is nn.MultiheadAttention's fused fast path: one kernel the counter cannot see.
    model = SelfAttention(need_weights).to(device).eval()
    with torch.no_grad():
        report = compute_model(model, "SelfAttention", (2, 5, 16))
    # In-projections 3 x 5 x 16 x 16, attention 2 x 4 x 5^2 x 4, out-projection 5 x 16 x 16; batch 2.
    assert report.macs == 2 * (4 * 5 * 16 * 16 + 2 * 4 * 5 * 5 * 4) == 11_840
    (row,) = report.rows
    assert (row.name, row.family, row.note) == ("att", "multihead_attention", "")
    assert row.formula == r"B \cdot (4 \cdot T \cdot E^2 + 2 \cdot h \cdot T^2 \cdot d_h)"
    assert latex_value(row.derivation) == 11_840
    assert torch.backends.mha.get_fastpath_enabled()  # restored


def test_multihead_cross_attention() -> None:
    class Cross(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.att = nn.MultiheadAttention(8, 2, kdim=6, vdim=4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            memory = torch.zeros(7, x.shape[1], 6, device=x.device)
            return self.att(x, memory, memory[..., :4])[0]

    model = Cross().to("meta")
    report = compute_model(model, "Cross", (3, 2, 8))
    total, _ = counter(model, (3, 2, 8))
    (row,) = report.rows
    assert row.macs == total == 2 * (2 * 3 * 8 * 8 + 7 * (6 + 4) * 8 + 2 * 2 * 3 * 7 * 4)
    assert row.formula.startswith("B \\cdot (2 \\cdot T_q \\cdot E^2")
    assert latex_value(row.derivation) == row.macs


class LearnedQueries(nn.Module):
    """Perceiver-style: learned latents, expanded to the batch, attend to the input."""

    def __init__(self) -> None:
        super().__init__()
        self.latents = nn.Parameter(torch.zeros(1, 4, 8))
        self.att = nn.MultiheadAttention(8, 2, kdim=6, vdim=6, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.att(self.latents.expand(x.shape[0], -1, -1), x, x)[0]


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_parameter_view_passed_to_a_layer_is_counted(device: str) -> None:
    # Under no_grad an expanded parameter requires grad but has no grad_fn: FlopCounterMode's own
    # module tracker fails on it ('Expected gradient function to be set'); the pass must not.
    model = LearnedQueries().to(device)
    with FlopCounterMode(display=False) as c:  # grad on: the counter's figure without the failure
        model(torch.zeros(2, 5, 6, device=device))
    report = compute_model(model, "LearnedQueries", (2, 5, 6))
    # q 4 x 8 x 8, k and v 5 x 6 x 8 each, attention 2 x 2 x 4 x 5 x 4, out 4 x 8 x 8; batch 2.
    assert report.macs == c.get_total_flops() // 2 == 2 * (2 * 4 * 8 * 8 + 5 * (6 + 6) * 8 + 2 * 2 * 4 * 5 * 4)
    assert [(r.name, r.macs) for r in report.rows] == [("att", report.macs)]


class Attend(nn.Module):
    """Attention through ``F.scaled_dot_product_attention`` on q, k, v made from the input."""

    def __init__(self, heads: int, t_k: int, d_v: int) -> None:
        super().__init__()
        self.heads, self.t_k, self.d_v = heads, t_k, d_v
        self.anchor = nn.Parameter(torch.zeros(1))  # where the pass runs

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        b, h, _, d = q.shape
        k = torch.zeros(b, h, self.t_k, d, device=q.device)
        v = torch.zeros(b, h, self.t_k, self.d_v, device=q.device)
        return F.scaled_dot_product_attention(q, k, v)


def test_cpu_fused_attention_is_counted() -> None:
    # On the CPU, scaled_dot_product_attention runs a fused kernel FlopCounterMode has no formula for.
    model = Attend(4, 9, 8)
    assert counter(model, (2, 4, 9, 8))[0] == 0  # what a plain FlopCounterMode reads
    report = compute_model(model, "Attend", (2, 4, 9, 8))
    (row,) = report.rows
    assert (row.name, row.family, row.macs) == ("", "attention", 2 * 2 * 4 * 9 * 9 * 8)
    assert row.derivation == r"2 \times 2 \times 4 \times 9^2 \times 8"


class Doubled(nn.Linear):
    """A subclass that applies its weight twice: the Linear formula would state half of what it does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + F.linear(x, self.weight)


class Bare(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(6, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


def test_measured_rows_say_why() -> None:
    model = nn.Sequential(Doubled(4, 6), Bare(), nn.ReLU(), nn.LayerNorm(5)).to("meta")
    report = compute_model(model, "Sequential", (3, 4))
    doubled, bare = report.rows
    assert (doubled.name, doubled.macs, doubled.formula, doubled.derivation) == ("0", 144, "", "144")
    assert doubled.note == "the linear formula gives 72 MACs, the forward pass did 144: the measured number is shown"
    assert (bare.name, bare.macs, bare.family, bare.formula) == ("1", 90, "measured", "")
    assert bare.note == "no MAC formula for Bare: the count the forward pass did"
    assert report.macs == 234 == counter(model, (3, 4))[0]


def test_repeated_calls_are_multiplied() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    report = compute_model(Twice().to("meta"), "Twice", (5, 8))
    (row,) = report.rows
    assert (row.macs, row.calls) == (2 * 8 * 8 * 5, 2)
    assert row.formula == r"2 \cdot d_{in} \cdot d_{out} \cdot N"


# -- property tests: each formula equals the counter for random arguments ----------------------------


@SETTINGS
@given(
    dims=st.integers(1, 3),
    groups=st.integers(1, 3),
    per_group_in=st.integers(1, 3),
    per_group_out=st.integers(1, 3),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    size=st.integers(3, 8),
    batch=st.integers(1, 3),
)
def test_conv_formula_matches_counter(
    dims: int,
    groups: int,
    per_group_in: int,
    per_group_out: int,
    kernel: int,
    stride: int,
    padding: int,
    size: int,
    batch: int,
) -> None:
    conv_class = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1]
    model = nn.Sequential(
        conv_class(groups * per_group_in, groups * per_group_out, kernel, stride=stride, padding=padding, groups=groups)
    ).to("meta")
    shape = (batch, groups * per_group_in, *(size,) * dims)
    report = compute_model(model, "conv", shape)
    (row,) = report.rows
    assert row.family == "conv" and not row.note
    assert row.macs == latex_value(row.derivation) == counter(model, shape)[0]


@SETTINGS
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=3), d_in=st.integers(1, 9), d_out=st.integers(1, 9))
def test_linear_formula_matches_counter(lead: list[int], d_in: int, d_out: int) -> None:
    model = nn.Sequential(nn.Linear(d_in, d_out)).to("meta")
    shape = (*lead, d_in)
    report = compute_model(model, "linear", shape)
    (row,) = report.rows
    assert row.family == "linear" and not row.note
    assert row.macs == latex_value(row.derivation) == counter(model, shape)[0]


@SETTINGS
@given(
    batch=st.integers(1, 3),
    heads=st.integers(1, 4),
    t_q=st.integers(1, 6),
    t_k=st.integers(1, 6),
    d_h=st.integers(1, 6),
    d_v=st.none() | st.integers(1, 6),  # None: as d_h, where the CPU takes its fused kernel
    device=st.sampled_from(["meta", "cpu"]),
)
def test_attention_formula_matches_counter(
    batch: int, heads: int, t_q: int, t_k: int, d_h: int, d_v: int | None, device: str
) -> None:
    d_v = d_h if d_v is None else d_v
    model = Attend(heads, t_k, d_v).to(device)
    report = compute_model(model, "Attend", (batch, heads, t_q, d_h))
    (row,) = report.rows
    assert row.family == "attention" and not row.note
    assert row.macs == latex_value(row.derivation) == batch * heads * t_q * t_k * (d_h + d_v)
    if device == "meta":  # the math kernel, which the counter sees
        assert row.macs == counter(model, (batch, heads, t_q, d_h))[0]


# -- input, errors and output ----------------------------------------------------------------------


def test_input_dtype() -> None:
    assert parse_input_dtype("torch.int64") == "int64"
    with pytest.raises(OptionError, match="input dtype 'long' is not one of float32"):
        parse_input_dtype("long")


def test_float_tokens_fail_at_the_embedding() -> None:
    with pytest.raises(InstantiateError, match=r"failed in layer 'transformer.wte' \(Embedding\)"):
        compute_target(GPT2, "1, 16")


def test_renderings() -> None:
    report = compute_target(SEED, "1, 3, 32, 32")
    text = to_text(report).splitlines()
    assert text[0] == f"{SEED}: 573,504 MACs (1,147,008 FLOPs) for input (1, 3, 32, 32) float32"
    assert text[4].split()[:4] == ["conv1", "442,368", "77.13%", "Conv2d(3,"]
    # The formula wraps after a product's dot, not inside a symbol.
    assert "B·C_out·C_in·k_h·k_w·H_out·" in text[4] and text[5].split() == ["W_out"]
    assert any(line.startswith("Total  573,504  100.00%") and line.endswith("442,368 + 131,072 + 64") for line in text)
    assert "FLOPs = 2 × MACs. Counted: matrix products, convolutions, attention;" in to_text(report)
    markdown = to_markdown(report).splitlines()
    assert markdown[2].startswith(
        "| conv1 | 442,368 | 77.13% | Conv2d(3, 16, k=3) | (1, 16, 32, 32) | $B \\cdot C_{out}"
    )
    derivation = to_derivation(report)
    assert "    - MACs: 1 × 16 × 3 × 3 × 3 × 32 × 32 = 442,368" in derivation
    assert "FLOPs: 2 × 573,504 = 1,147,008" in derivation


def test_report_pickles() -> None:
    import pickle

    report = compute_target(SEED, "1, 3, 32, 32")
    assert pickle.loads(pickle.dumps(report)) == report


def test_cli_json() -> None:
    proc = run(SEED, "--input-shape", "1,3,32,32", "--compute", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    assert (data["macs"], data["flops"], data["input_dtype"]) == (573_504, 1_147_008, "float32")
    assert [(r["name"], r["macs"], latex_value(r["derivation"])) for r in data["rows"]] == [
        ("conv1", 442_368, 442_368),
        ("fc1", 131_072, 131_072),
        ("fc2", 64, 64),
    ]
    assert data["rows"][1]["formula"] == r"d_{in} \cdot d_{out} \cdot N"


def test_cli_text_and_total() -> None:
    proc = run(SEED, "--input-shape", "1,3,32,32", "--compute")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"{SEED}: 573,504 MACs (1,147,008 FLOPs) for input (1, 3, 32, 32) float32"
    total = run(
        "torch.nn.Embedding(10, 4)", "--input-shape", "2, 3", "--input-dtype", "int64", "--compute", "-f", "total"
    )
    assert (total.returncode, total.stdout, total.stderr) == (0, "0\n", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compute"], "sphinx-paramcount: error: --compute needs --input-shape, e.g. --input-shape 1,3,224,224\n"),
        (["--input-dtype", "int64"], "sphinx-paramcount: error: --input-dtype needs --input-shape, e.g. --input-shape"),
        (["--compute", "--input-shape", "1,3,x"], "sphinx-paramcount: error [option]: input shape '1,3,x' is not"),
        (
            ["--compute", "--input-shape", "1,3,32,32", "--root", "nope"],
            "sphinx-paramcount: error [option]: :root: 'nope' is not a sub-module of SimpleNet",
        ),
    ],
)
def test_cli_usage_errors(args: list[str], message: str) -> None:
    proc = run(SEED, *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message)
    bad = run(SEED, "--compute", "--input-shape", "1,3,32,32", "--input-dtype", "long")
    assert bad.returncode == 2 and "input dtype 'long' is not one of" in bad.stderr
