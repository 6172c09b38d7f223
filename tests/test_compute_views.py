"""Compute tables viewed as parameter tables are (root, depth, repeats), stated MACs/FLOPs checked, the API."""

from __future__ import annotations

import json

import pytest
from torch import nn

from sphinx_paramcount import MismatchError, explain
from sphinx_paramcount.compute import compute_target
from sphinx_paramcount.compute_views import check_compute, claim_counts, compute_at_root, compute_view
from sphinx_paramcount.errors import InstantiateError, OptionError
from sphinx_paramcount.options import parse_options
from sphinx_paramcount.report import counted
from sphinx_paramcount.stated import Claim, ClaimKey, parse_stated
from tests.arith import latex_value
from tests.test_cli import run

SEED = "tests.models.seed:SimpleNet"
RESNET = "benchmarks.models:ResNet50"
GPT2 = "benchmarks.models:GPT2Small"
RESNET_MACS = 4_089_184_256


@pytest.fixture(scope="module")
def resnet():
    return compute_target(RESNET, (1, 3, 224, 224))


def test_collapsed_repeats_add_up(resnet) -> None:
    rows = compute_view(resnet)
    shown = [(r.name, r.macs, r.repeat, r.detail) for r in rows if r.repeat > 1 or r.detail][:4]
    assert shown == [
        ("layer1.1–2", 436_731_904, 2, False),
        ("layer1.1.conv1", 51_380_224, 1, True),
        ("layer1.1.conv2", 115_605_504, 1, True),
        ("layer1.1.conv3", 51_380_224, 1, True),
    ]
    repeat = next(r for r in rows if r.name == "layer3.1–5")
    assert (repeat.formula, repeat.derivation) == (r"5 \cdot m_{\mathrm{block}}", r"5 \times 218{,}365{,}952")
    assert sum(r.macs for r in counted(rows)) == RESNET_MACS
    for r in rows:
        assert latex_value(r.derivation) == r.macs, r.name
    assert len(compute_view(resnet, collapse=False)) == len(resnet.rows) == 54


def test_depth_merges_rows(resnet) -> None:
    rows = compute_view(resnet, depth=1)
    assert [(r.name, r.macs) for r in rows] == [
        ("conv1", 118_013_952),
        ("layer1", 667_942_912),
        ("layer2", 1_027_604_480),
        ("layer3", 1_464_336_384),
        ("layer4", 809_238_528),
        ("fc", 2_048_000),
    ]
    layer1 = rows[1]
    assert layer1.label == "Sequential: Bottleneck + 2 × Bottleneck"
    assert layer1.output_shape == "(1, 256, 56, 56)"
    assert latex_value(layer1.derivation) == 667_942_912
    assert [r.name for r in compute_view(resnet, depth=0)] == [""]


def test_root(resnet) -> None:
    sub = compute_at_root(resnet, "layer1")
    assert sub.macs == 667_942_912 and sub.subject == f"{RESNET}, sub-module layer1 at input (1, 3, 224, 224)"
    assert [r.name for r in compute_view(sub)][:5] == ["0.conv1", "0.conv2", "0.conv3", "0.downsample.0", "1–2"]
    with pytest.raises(OptionError, match=r":root: 'layer9' is not a sub-module .*did you mean") as exc:
        compute_at_root(resnet, "layer9")
    assert exc.value.hint.startswith("did you mean 'layer")


def claim(what: str, text: str, row: str = "") -> Claim:
    return Claim(ClaimKey(what, row), parse_stated(text))


@pytest.mark.parametrize(
    ("stated", "message"),
    [
        (
            claim("flops", "4.09G"),
            f"stated 4.09G FLOPs for {RESNET} at input (1, 3, 224, 224), but the model does 4.09 GMACs = "
            "8.18 GFLOPs: did you mean :macs:?",
        ),
        (
            claim("flops", "4.09 G"),  # the role's '4.09 GFLOPs', echoed as written
            f"stated 4.09 GFLOPs for {RESNET} at input (1, 3, 224, 224), but the model does 4.09 GMACs = "
            "8.18 GFLOPs: did you mean :macs:?",
        ),
        (
            claim("macs", "8,178,368,512"),
            f"stated 8,178,368,512 MACs for {RESNET} at input (1, 3, 224, 224), but the model does "
            "4,089,184,256 MACs = 8,178,368,512 FLOPs: did you mean :flops:?",
        ),
        (
            claim("macs", "4,089,184,257"),
            f"stated 4,089,184,257 MACs for {RESNET} at input (1, 3, 224, 224), but the model does "
            "4,089,184,256 MACs: -1 (-0.000000024%)",
        ),
        (
            claim("macs", "4.08G"),
            f"stated 4.08G MACs for {RESNET} at input (1, 3, 224, 224), but the model does 4,089,184,256 MACs "
            "(4.09 GMACs at the stated precision): +9,184,256 (+0.23%)",
        ),
        (
            claim("row", "2,048,001", "fc"),
            f"stated 2,048,001 MACs for row 'fc' for {RESNET} at input (1, 3, 224, 224), but the model does "
            "2,048,000 MACs: -1 (-0.000049%)",
        ),
    ],
)
def test_mismatch_messages(resnet, stated: Claim, message: str) -> None:
    result = check_compute(resnet, compute_view(resnet), [stated])
    assert [m.message for m in result.mismatches] == [message]


def test_claims_that_hold(resnet) -> None:
    rows = compute_view(resnet)
    holds = [claim("macs", "4.09G"), claim("flops", "8.18G"), claim("macs", "4,089,184,256")]
    holds += [claim("row", "436,731,904", "layer1.1-2"), claim("row", "118.0M", "conv1")]
    result = check_compute(resnet, rows, holds)
    assert result.ok and len(result.actual) == 5
    unknown = check_compute(resnet, rows, [claim("row", "1", "fc2")])
    assert [u.key.row for u in unknown.unknown] == ["fc2"]
    assert claim_counts(resnet, rows)[ClaimKey("flops")] == 2 * RESNET_MACS


def test_options_per_directive() -> None:
    flop = parse_options(
        [("macs", "573,504"), ("input-shape", "1, 3, 32, 32"), ("input-dtype", "int64")], directive="flopcount"
    )
    assert not flop.errors
    assert flop.options.input_shape == (1, 3, 32, 32) and flop.options.input_dtype == "int64"
    assert [c.key.what for c in flop.options.claims] == ["macs"]
    missing = parse_options([("flops", "1")], directive="flopcount")
    assert [e.message for e in missing.errors] == [
        "flopcount needs :input-shape:, the input the forward pass is counted on"
    ]
    wrong = parse_options([("total", "1"), ("input-shape", "1, 2")], directive="flopcount")
    assert wrong.errors[0].message == "unknown option :total:"
    assert wrong.errors[0].hint == "a flopcount directive states :macs: or :flops:"
    unused = parse_options([("input-dtype", "int64")])
    assert [e.message for e in unused.errors] == [":input-dtype: needs :input-shape:, the input it is the dtype of"]
    params = parse_options([("macs", "1"), ("input-dtype", "long")])
    assert [e.message for e in params.errors] == [
        "unknown option :macs:",
        "input dtype 'long' is not one of float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool",
    ]


# -- the Python API ---------------------------------------------------------------------------------


def test_explain_exposes_macs() -> None:
    report = explain(SEED, input_shape=(1, 3, 32, 32))
    assert (report.total, report.macs, report.flops) == (131_618, 573_504, 1_147_008)
    assert report.check(total="131,618", macs="573,504", flops="1.15M") is report
    with pytest.raises(MismatchError, match=r"stated 573504 FLOPs .* did you mean macs=\?"):
        report.check(flops=573_504)
    compute = report.compute
    assert compute is not None
    assert [(r.name, r.macs) for r in compute.shown_rows] == [("conv1", 442_368), ("fc1", 131_072), ("fc2", 64)]
    assert compute.check(expect={"conv1": 442_368}, macs="574K") is compute
    with pytest.raises(MismatchError) as exc:
        compute.check(expect="conv1=442,369, fc1=131,072", flops=2)
    assert len(exc.value.mismatches) == 2 and str(exc.value).startswith("2 stated numbers do not hold")
    assert str(compute).splitlines()[0] == f"{SEED}: 573,504 MACs (1,147,008 FLOPs) for input (1, 3, 32, 32) float32"
    assert compute._repr_markdown_().startswith("| Layer | MACs | Share |")
    assert "Total MACs: 442,368 + 131,072 + 64 = 573,504" in compute.derivation()
    assert repr(compute) == f"<ComputeReport {SEED} at input (1, 3, 32, 32): 573,504 MACs, 1,147,008 FLOPs>"


def test_explain_without_input_shape_has_no_macs() -> None:
    report = explain(SEED)
    assert report.compute is None and report.macs is None
    with pytest.raises(OptionError, match="macs and flops need the MACs of a forward pass"):
        report.check(macs=1)
    skipped = explain(SEED, input_shape=(1, 3, 32, 32), compute=False)
    assert skipped.compute is None
    with pytest.raises(OptionError) as exc:
        skipped.check(macs=1)
    assert exc.value.hint.startswith("give explain() an input shape and leave out compute=False")
    with pytest.raises(OptionError, match="compute=True needs an input shape"):
        explain(SEED, compute=True)
    with pytest.raises(OptionError, match="input_dtype='int64' needs an input shape"):
        explain(SEED, input_dtype="int64")


def test_explain_views_compute_like_parameters() -> None:
    report = explain(GPT2, input_shape="1, 1024", input_dtype="int64", depth=1)
    assert report.compute is not None
    assert [(r.name, r.macs) for r in report.compute.shown_rows] == [
        ("h", 106_300_440_576),
        ("lm_head", 39_523_713_024),
    ]
    assert report.macs == 145_824_153_600
    # The parameter table gets its output-shape column from the same int64 input.
    assert report.row("lm_head").output_shape == "(1, 1024, 50257)"
    sub = explain(GPT2, input_shape="1, 16", input_dtype="int64", root="h.0")
    assert (
        sub.compute is not None
        and sub.compute.root == "h.0"
        and sub.compute.macs == sub.compute.shown_rows[0].macs + sum(r.macs for r in sub.compute.shown_rows[1:])
    )


def test_instance_is_left_unchanged() -> None:
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 2))
    report = explain(model, input_shape=(3, 5))
    assert report.macs == 3 * 5 * 4 + 3 * 4 * 2
    assert isinstance(model[0], nn.LazyLinear)  # the pass ran on a copy


def test_float_tokens_say_to_use_int64() -> None:
    with pytest.raises(InstantiateError) as exc:
        explain(GPT2, input_shape="1, 16")
    assert "in layer 'wte' (Embedding)" in exc.value.message
    assert exc.value.hint.startswith("the model takes token ids: add ':input-dtype: int64'")


# -- the command line -------------------------------------------------------------------------------


def test_cli_compute_views() -> None:
    proc = run(RESNET, "--compute", "--input-shape", "1,3,224,224", "--depth", "1", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [(r["name"], r["macs"]) for r in data["rows"]][:2] == [("conv1", 118_013_952), ("layer1", 667_942_912)]
    assert data["macs"] == RESNET_MACS and data["flops"] == 2 * RESNET_MACS
    text = run(RESNET, "--compute", "--input-shape", "1,3,224,224", "--root", "layer4").stdout
    assert text.startswith(f"{RESNET}, sub-module layer4: 809,238,528 MACs (1,618,477,056 FLOPs)")
    assert "  1.conv1        (51,380,224)" in text  # the collapsed block's first block, not added again
    expanded = json.loads(
        run(RESNET, "--compute", "--input-shape", "1,3,224,224", "--expand-repeats", "-f", "json").stdout
    )
    assert len(expanded["rows"]) == 54 and not any(r.get("repeat") for r in expanded["rows"])


def test_cli_parameter_table_with_token_ids() -> None:
    proc = run(GPT2, "--input-shape", "1, 8", "--input-dtype", "int64", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)["rows"]}
    assert rows["wte"]["output_shape"] == "(1, 8, 768)"
    assert "macs" not in json.loads(proc.stdout)


# -- build fallbacks and failures, as for parameters ---------------------------------------------------


@pytest.mark.parametrize(
    ("target", "shape", "macs", "method"),
    [
        ("tests.models.zoo:ReadsValues", (1, 2), 2 * 3 + 3 * 4 + 4 * 5, "meta-params"),
        ("tests.models.zoo:ReadsParameters", (1, 2), 2 * 2, "cpu"),
    ],
)
def test_constructors_that_read_tensor_values_fall_back(target: str, shape: tuple, macs: int, method: str) -> None:
    report = compute_target(target, shape)
    assert (report.macs, report.method) == (macs, method)
    assert report.notices and "meta" in report.notices[0]
    assert explain(target, input_shape=shape).macs == macs


def test_a_failing_forward_with_a_chosen_dtype_names_it() -> None:
    with pytest.raises(InstantiateError) as exc:
        explain(SEED, input_shape=(1, 3, 32, 32), input_dtype="int64")
    assert "failed in layer 'conv1' (Conv2d)" in exc.value.message
    assert exc.value.hint == "check :input-shape: and :input-dtype: int64 against what the model expects (batch first)"


def test_a_failing_forward_names_the_layer() -> None:
    with pytest.raises(InstantiateError) as exc:
        compute_target(SEED, (1, 4, 32, 32))
    assert exc.value.message.startswith(
        "the forward pass with input shape (1, 4, 32, 32) failed in layer 'conv1' (Conv2d)"
    )
