"""The engine without Sphinx: target text -> Report, with exact numbers."""

from __future__ import annotations

import copy
import json
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sphinx_paramcount import render, views
from sphinx_paramcount.api import explain
from sphinx_paramcount.build import build_model
from sphinx_paramcount.count import count_model
from sphinx_paramcount.errors import ImportTargetError, LazyError, TargetError
from sphinx_paramcount.report import Report
from sphinx_paramcount.views import collapse_repeats, rows_at_depth
from tests.arith import latex_value

SEED = "tests.models.seed:SimpleNet"
ZOO = "tests.models.zoo"


def check_invariants(report: Report, model: torch.nn.Module) -> None:
    real = sum(p.numel() for p in model.parameters())
    assert report.total == real == sum(r.params for r in report.rows)
    assert report.trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert report.trainable == sum(r.trainable for r in report.rows)
    for row in report.rows:
        assert latex_value(row.derivation) == row.params, row
        assert row.params == sum(t.numel for t in row.tensors if not t.shared_with)


def counted(target: str, device: str = "meta") -> tuple[Report, torch.nn.Module]:
    built = build_model(target, device)
    report = count_model(built.module, target)
    check_invariants(report, built.module)
    return report, built.module


# -- the seed ----------------------------------------------------------------------


def test_seed_rows_exact() -> None:
    report = explain(SEED)
    assert report.target == SEED
    assert report.total == 131_618
    assert report.trainable == 131_618
    assert report.frozen == 0
    assert report.method == "meta"
    assert report.notices == []
    assert report.buffers == []
    assert [(r.name, r.type, r.params) for r in report.rows] == [
        ("conv1", "Conv2d", 448),
        ("fc1", "Linear", 131_104),
        ("fc2", "Linear", 66),
    ]
    assert [r.label for r in report.rows] == ["Conv2d(3, 16, k=3)", "Linear(4096, 32)", "Linear(32, 2)"]
    assert [r.family for r in report.rows] == ["conv", "linear", "linear"]
    assert [r.depth for r in report.rows] == [1, 1, 1]
    assert all(r.note == "" for r in report.rows)
    assert report.type_name == "SimpleNet"


def test_seed_tensor_sizes() -> None:
    report = explain(SEED)
    tensors = [t for r in report.rows for t in r.tensors]
    assert [t.numel for t in tensors] == [432, 16, 131_072, 32, 64, 2]
    assert [t.name for t in tensors] == [
        "conv1.weight",
        "conv1.bias",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    assert [t.shape for t in tensors] == [(16, 3, 3, 3), (16,), (32, 4096), (32,), (2, 32), (2,)]
    assert all(t.dtype == "float32" and t.trainable and t.shared_with is None for t in tensors)
    assert report.bytes_by_dtype == {"float32": 131_618 * 4}


def test_seed_formulas_and_derivations() -> None:
    conv1, fc1, fc2 = explain(SEED).rows
    assert conv1.formula == r"C_{out} \cdot C_{in} \cdot k_h \cdot k_w + C_{out}"
    assert conv1.derivation == r"16 \times 3 \times 3 \times 3 + 16"
    assert fc1.formula == r"d_{in} \cdot d_{out} + d_{out}"
    assert fc1.derivation == r"4{,}096 \times 32 + 32"
    assert fc2.derivation == r"32 \times 2 + 2"
    assert conv1.legend == (
        ("C_{out}", "Number of filters (output channels)", 16),
        ("C_{in}", "Channels per filter (input channels)", 3),
        ("k_h", "Filter height", 3),
        ("k_w", "Filter width", 3),
    )
    assert fc1.legend == (("d_{in}", "Input features", 4096), ("d_{out}", "Output features", 32))


def test_seed_invariants() -> None:
    report, model = counted(SEED)
    assert report.total == 131_618
    assert isinstance(model, torch.nn.Module)
    assert all(p.device.type == "meta" for p in model.parameters())


def test_seed_conv_call_target() -> None:
    target = "torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)"
    report, _ = counted(target)
    assert report.total == 1160
    assert len(report.rows) == 1
    (row,) = report.rows
    assert (row.name, row.depth, row.params, row.family) == ("", 0, 1160, "conv")
    assert row.derivation == r"8 \times 16 \times 3 \times 3 + 8"
    assert row.label == "Conv2d(16, 8, k=3)"


def test_target_text_is_normalised() -> None:
    report = explain("torch.nn.Conv2d(16, 8,\n    kernel_size=3, padding=1)")
    assert report.target == "torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)"
    assert report.total == 1160


# -- torch.nn reference numbers ------------------------------------------------------


def test_lstm() -> None:
    report, _ = counted("torch.nn.LSTM(300, 512, num_layers=2)")
    assert report.total == 3_768_320
    (row,) = report.rows
    assert (row.family, row.label, row.params) == ("rnn", "LSTM(300, 512, layers=2)", 3_768_320)
    assert row.derivation == (
        r"4 \times 512 \times (300 + 512) + 2 \times 4 \times 512"
        r" + 1 \times (4 \times 512 \times (512 + 512) + 2 \times 4 \times 512)"
    )


def test_multihead_attention_is_one_row() -> None:
    report, _ = counted("torch.nn.MultiheadAttention(512, 8)")
    assert report.total == 1_050_624
    (row,) = report.rows
    assert (row.name, row.family, row.params) == ("", "multihead_attention", 1_050_624)
    assert row.derivation == r"4 \times 512 \times 512 + 4 \times 512"
    assert [t.name for t in row.tensors] == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]


def test_transformer_encoder_layer() -> None:
    report, _ = counted("torch.nn.TransformerEncoderLayer(512, 8)")
    assert report.total == 3_152_384
    assert [(r.name, r.params) for r in report.rows] == [
        ("self_attn", 1_050_624),
        ("linear1", 1_050_624),
        ("linear2", 1_049_088),
        ("norm1", 1024),
        ("norm2", 1024),
    ]
    assert all(r.family != "generic" for r in report.rows)
    # out_proj is inside self_attn's formula, not a row of its own
    assert report.row("self_attn.out_proj") is None


# -- counting rules ----------------------------------------------------------------


def test_tied_weight_counted_once() -> None:
    report, model = counted(f"{ZOO}:TiedLM")
    assert report.total == 1600 + 272 == 1872
    assert [(r.name, r.params) for r in report.rows] == [("embed", 1600), ("body", 272), ("head", 0)]
    head = report.row("head")
    assert head is not None
    assert [(t.name, t.shared_with) for t in head.shared] == [("head.weight", "embed.weight")]
    assert head.tensors[0].numel == 1600  # the tensor is shown, but adds nothing here
    # A row that adds nothing says whose tensor it uses, in formula and derivation, not "0".
    assert head.family == "tied"
    assert head.formula == head.derivation == r"\text{tied to }\mathtt{embed.weight}"
    assert render.plain(head.derivation) == "tied to embed.weight"
    assert head.note == ""  # the formula says it: no note repeats it
    assert report.bytes_by_dtype == {"float32": 1872 * 4}
    assert sum(p.numel() for p in model.parameters()) == 1872


def test_tied_weight_with_own_bias() -> None:
    report, _ = counted(f"{ZOO}:tied_lm_with_bias")
    assert report.total == 1972
    head = report.row("head")
    assert head is not None
    assert (head.params, head.family, head.formula, head.derivation) == (100, "generic", r"|\mathtt{bias}|", "100")
    assert (
        head.note == "weight is embed.weight (counted there)"
    )  # the bias is counted here: the note says why the weight is not


def test_batchnorm_buffers_apart() -> None:
    report, _ = counted(f"{ZOO}:BatchNormNet")
    assert report.total == 224 + 16 + 36 == 276
    assert [(r.name, r.params, r.family) for r in report.rows] == [
        ("conv", 224, "conv"),
        ("bn", 16, "batch_norm"),
        ("fc", 36, "linear"),
    ]
    assert [(b.name, b.shape, b.numel, b.dtype) for b in report.buffers] == [
        ("bn.running_mean", (8,), 8, "float32"),
        ("bn.running_var", (8,), 8, "float32"),
        ("bn.num_batches_tracked", (), 1, "int64"),
    ]
    assert report.buffer_total == 17
    assert report.to_json()["buffers"] == 17
    assert report.to_json()["total"] == 276


def test_frozen_split() -> None:
    report, _ = counted(f"{ZOO}:FrozenBackbone")
    assert (report.total, report.trainable, report.frozen) == (703, 63, 640)
    assert [(r.name, r.params, r.trainable, r.frozen) for r in report.rows] == [
        ("backbone.0", 220, 0, 220),
        ("backbone.2", 420, 0, 420),
        ("head", 63, 63, 0),
    ]
    text = render.to_text(report)
    # PEFT's print_trainable_parameters line, and each row marked.
    assert "trainable params: 63 || all params: 703 || trainable%: 8.9616" in text
    assert "backbone.0 (frozen)" in text and "head (frozen)" not in text


def test_weight_norm_falls_back_to_generic() -> None:
    report, _ = counted(f"{ZOO}:WeightNormConv")
    # g is (8, 1, 1, 1), v is (8, 4, 3, 3): 8 + 288 in place of the conv's 288-element weight
    assert report.total == 8 + 8 + 288 + 18 == 322
    conv = report.row("conv")
    assert conv is not None
    assert (conv.family, conv.params, conv.derivation) == ("generic", 8, "8")
    assert conv.note == (
        "the conv formula gives 296 but the tensors hold 8 "
        "(a parametrization, pruning or a subclass changed them): shown as tensor sizes"
    )
    weight = report.row("conv.parametrizations.weight")
    assert weight is not None
    assert (weight.family, weight.params) == ("generic", 296)
    assert weight.formula == r"|\mathtt{original0}| + |\mathtt{original1}|"
    assert weight.derivation == r"8 \times 1 \times 1 \times 1 + 8 \times 4 \times 3 \times 3"
    fc = report.row("fc")
    assert fc is not None and fc.family == "linear"


def test_parameter_on_root_module() -> None:
    report, _ = counted(f"{ZOO}:ClsToken")
    assert report.total == 16 + 272 + 272 == 560
    root = report.rows[0]
    assert (root.name, root.depth, root.type, root.params, root.family) == ("", 0, "ClsToken", 16, "generic")
    assert root.formula == r"|\mathtt{cls\_token}|"
    assert root.derivation == r"1 \times 1 \times 16"
    assert [t.name for t in root.tensors] == ["cls_token"]


def test_zero_parameters() -> None:
    report, _ = counted(f"{ZOO}:NoParams")
    assert (report.total, report.trainable, report.rows) == (0, 0, [])
    assert rows_at_depth(report, 0) == []


def test_lazy_module_is_refused() -> None:
    with pytest.raises(LazyError) as info:
        explain(f"{ZOO}:Lazy")
    assert info.value.subtype == "lazy"
    assert info.value.message == (
        "the model has lazy modules whose size is not known until a forward pass: fc (LazyLinear)"
    )


# -- how the model was built -------------------------------------------------------------


def test_meta_params_fallback() -> None:
    report = explain(f"{ZOO}:ReadsValues")
    assert report.method == "meta-params"
    assert report.total == 9 + 16 + 25 == 50
    assert len(report.notices) == 1
    notice = report.notices[0]
    assert notice.startswith(
        f"{ZOO}:ReadsValues: built on the CPU with parameters moved to the meta device "
        "(the constructor reads tensor values); the meta build raised "
    )
    built = build_model(f"{ZOO}:ReadsValues")
    assert built.method == "meta-params"
    assert all(p.device.type == "meta" for p in built.module.parameters())
    check_invariants(count_model(built.module), built.module)


def test_cpu_fallback() -> None:
    report = explain(f"{ZOO}:ReadsParameters")
    assert report.method == "cpu"
    assert report.total == 6
    assert report.notices == [
        f"{ZOO}:ReadsParameters: built on the CPU (the constructor cannot run on the meta device); "
        "the meta build raised RuntimeError: Tensor.item() cannot be called on meta tensors"
    ]


def test_device_cpu_builds_on_cpu() -> None:
    built = build_model(SEED, device="cpu")
    assert built.method == "cpu"
    assert all(p.device.type == "cpu" for p in built.module.parameters())
    report = explain(SEED, device="cpu")
    assert (report.method, report.total, report.notices) == ("cpu", 131_618, [])


def test_unknown_device() -> None:
    with pytest.raises(TargetError) as info:
        build_model(SEED, device="gpu")
    assert (info.value.message, info.value.hint) == ("unknown device 'gpu'", "use one of meta, cpu")


def test_instance_used_as_is() -> None:
    from tests.models import zoo

    built = build_model(f"{ZOO}:seed_instance")
    assert built.module is zoo.seed_instance
    report = explain(f"{ZOO}:seed_instance")
    assert (report.method, report.total) == ("instance", 131_618)
    report = explain(f"{ZOO}:seed_instance.fc1")
    assert (report.method, report.total) == ("instance", 131_104)


def test_constructor_output_is_captured(capsys: pytest.CaptureFixture[str]) -> None:
    report = explain(f"{ZOO}:Chatty")
    assert report.total == 4
    assert report.notices == [f"{ZOO}:Chatty printed while being built: hello from Chatty"]
    assert capsys.readouterr().out == ""


def test_factory_and_nested_calls() -> None:
    report, _ = counted(f"{ZOO}.make_mlp({ZOO}.MLPConfig(hidden=8), sizes=(3, 5))")
    # dims 3 -> 5 -> 8 -> 8
    assert [(r.name, r.params) for r in report.rows] == [("0", 20), ("1", 48), ("2", 72)]
    assert report.total == 140
    report, _ = counted(f"{ZOO}:Configurable.small")
    assert report.total == 20


def test_imports_do_not_run_under_meta() -> None:
    # A module first imported while resolving an argument must keep real tensors.
    sys.modules.pop("tests.models.import_time_tensor", None)
    report = explain("torch.nn.Linear(tests.models.import_time_tensor.WIDTH, 2)")
    assert report.total == 10
    assert sys.modules["tests.models.import_time_tensor"].ONES.device.type == "cpu"


def test_misspelt_argument_is_an_import_error() -> None:
    with pytest.raises(ImportTargetError) as info:
        build_model(f"{ZOO}:NeedsArgs(nosuchpkg_xyz.WIDTH)")
    assert info.value.message == "no module named 'nosuchpkg_xyz' (target 'nosuchpkg_xyz.WIDTH')"


def test_dtype_argument() -> None:
    report = explain("torch.nn.Linear(4, 2, dtype=torch.float16)")
    assert report.total == 10
    assert report.bytes_by_dtype == {"float16": 20}
    assert {t.dtype for t in report.rows[0].tensors} == {"float16"}


# -- invariants across the zoo -------------------------------------------------------

INVARIANT_TARGETS = {
    SEED: 131_618,
    "torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)": 1160,
    "torch.nn.LSTM(300, 512, num_layers=2)": 3_768_320,
    "torch.nn.MultiheadAttention(512, 8)": 1_050_624,
    "torch.nn.TransformerEncoderLayer(512, 8)": 3_152_384,
    f"{ZOO}:TiedLM": 1872,
    f"{ZOO}:tied_lm_with_bias": 1972,
    f"{ZOO}:BatchNormNet": 276,
    f"{ZOO}:FrozenBackbone": 703,
    f"{ZOO}:WeightNormConv": 322,
    f"{ZOO}:ReadsValues": 50,
    f"{ZOO}:ReadsParameters": 6,
    f"{ZOO}:ClsToken": 560,
    f"{ZOO}:NoParams": 0,
    f"{ZOO}:Deep": 110,
    f"{ZOO}:seed_instance": 131_618,
    f"{ZOO}:TiedReadsValues": 16,
    f"{ZOO}:FreezesLocalParameter": 7,
    "torch.nn.Transformer(d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=64)": (
        # encoder layer 8,544 + decoder layer 12,832 + two final LayerNorms
        8544 + 12_832 + 128
    ),
}


@pytest.mark.parametrize(("target", "expected"), list(INVARIANT_TARGETS.items()))
def test_total_equals_numel_and_row_sum(target: str, expected: int) -> None:
    report, model = counted(target)
    assert report.total == expected
    for depth in (None, 0, 1, 2, 3):
        rows = rows_at_depth(report, depth)
        assert sum(r.params for r in rows) == expected
        assert sum(r.trainable for r in rows) == report.trainable
        for row in rows:
            assert latex_value(row.derivation) == row.params
            for text in (render.plain(row.formula), render.plain(row.derivation)):
                assert not set(text) & set("\\{}"), text
    data = json.loads(render.to_json(report))
    assert data["total"] == expected == sum(r["params"] for r in data["rows"])


@pytest.mark.parametrize("target", list(INVARIANT_TARGETS))
def test_meta_and_cpu_builds_agree(target: str) -> None:
    on_meta, on_cpu = explain(target), explain(target, device="cpu")
    assert on_meta.total == on_cpu.total == INVARIANT_TARGETS[target]
    assert [(r.name, r.params, r.trainable, r.derivation) for r in on_meta.rows] == [
        (r.name, r.params, r.trainable, r.derivation) for r in on_cpu.rows
    ]


def test_tie_survives_meta_params_build() -> None:
    # A parameter object registered on two modules while parameters are moved to
    # meta one by one: the tie must hold, as in the CPU build.
    report = explain(f"{ZOO}:TiedReadsValues")
    assert report.method == "meta-params"
    assert report.total == 16
    assert [(r.name, r.params) for r in report.rows] == [("a", 16), ("b", 0)]
    b = report.row("b")
    assert b is not None and b.note == "" and b.formula == r"\text{tied to }\mathtt{a.weight}"


def test_freezing_survives_meta_params_build() -> None:
    report = explain(f"{ZOO}:FreezesLocalParameter")
    assert report.method == "meta-params"
    assert (report.total, report.trainable, report.frozen) == (7, 4, 3)


# -- depth ----------------------------------------------------------------------


def test_rows_at_depth_exact() -> None:
    report, _ = counted(f"{ZOO}:Deep")
    assert [(r.name, r.params) for r in report.rows] == [
        ("stem", 16),
        ("stages.0.0.fc", 20),
        ("stages.0.0.norm", 8),
        ("stages.0.1.fc", 20),
        ("stages.0.1.norm", 8),
        ("stages.1.0.fc", 20),
        ("stages.1.0.norm", 8),
        ("head", 10),
    ]
    assert rows_at_depth(report, None) == report.rows
    assert rows_at_depth(report, 4) == report.rows

    (root,) = rows_at_depth(report, 0)
    assert (root.name, root.type, root.depth, root.params, root.family) == ("", "Deep", 0, 110, "group")
    # A merged row shows its structure: one term per child, not one per row merged.
    assert root.derivation == "16 + 84 + 10"
    assert root.formula == r"n_{\mathrm{stem}} + n_{\mathrm{stages}} + n_{\mathrm{head}}"
    assert root.label == "Deep: Conv2d + ModuleList + Linear"
    assert root.legend[1] == (r"n_{\mathrm{stages}}", "Parameters of stages (ModuleList)", 84)
    assert root.note == ""
    assert len(root.tensors) == 16

    depth1 = rows_at_depth(report, 1)
    assert [(r.name, r.params, r.family) for r in depth1] == [
        ("stem", 16, "conv"),
        ("stages", 84, "group"),
        ("head", 10, "linear"),
    ]
    assert depth1[1].type == "ModuleList"
    assert depth1[1].derivation == "56 + 28"

    depth2 = rows_at_depth(report, 2)
    assert [(r.name, r.params, r.depth) for r in depth2] == [
        ("stem", 16, 1),
        ("stages.0", 56, 2),
        ("stages.1", 28, 2),
        ("head", 10, 1),
    ]
    depth3 = rows_at_depth(report, 3)
    assert [(r.name, r.params) for r in depth3] == [
        ("stem", 16),
        ("stages.0.0", 28),
        ("stages.0.1", 28),
        ("stages.1.0", 28),
        ("head", 10),
    ]
    assert depth3[1].type == "Block"


def test_rows_at_depth_seed_and_shared() -> None:
    (root,) = rows_at_depth(explain(SEED), 0)
    assert (root.params, root.derivation) == (131_618, r"448 + 131{,}104 + 66")
    report = explain(f"{ZOO}:TiedLM")
    (root,) = rows_at_depth(report, 0)
    assert (root.params, root.derivation) == (1872, r"1{,}600 + 272 + 0")
    root_rows = rows_at_depth(explain(f"{ZOO}:ClsToken"), 1)
    assert [(r.name, r.params) for r in root_rows] == [("", 16), ("blocks", 544)]


def test_frozen_rows_collapse() -> None:
    report = explain(f"{ZOO}:FrozenBackbone")
    rows = rows_at_depth(report, 1)
    assert [(r.name, r.params, r.trainable) for r in rows] == [("backbone", 640, 0), ("head", 63, 63)]


# -- renderings ------------------------------------------------------------------


def test_render_text_and_markdown() -> None:
    report = explain(SEED)
    text = render.to_text(report)
    assert text.splitlines()[0] == f"{SEED}: 131,618 parameters"
    assert "16 × 3 × 3 × 3 + 16" in text
    assert "448 + 131,104 + 66" in text
    md = render.to_markdown(report).splitlines()
    assert md[0] == "| Layer | Parameters | Type | Formula | Derivation |"
    assert md[2] == (
        r"| conv1 | 448 | Conv2d(3, 16, k=3) | $C_{out} \cdot C_{in} \cdot k_h \cdot k_w + C_{out}$ | "
        r"$16 \times 3 \times 3 \times 3 + 16$ |"
    )
    assert md[5] == "| **Total** | **131,618** | | | $448 + 131{,}104 + 66$ |"
    assert "Size: 526.47 KB (float32)" in md[6:]


def test_render_derivation_prose() -> None:
    prose = render.to_derivation(explain(SEED))
    assert "1. conv1: Conv2d(3, 16, k=3)" in prose
    assert "    - Number of filters (output channels) (C_out): 16" in prose
    assert "    - Total parameters: 16 × 3 × 3 × 3 + 16 = 448" in prose
    assert prose.rstrip().endswith("Total parameters: 448 + 131,104 + 66 = 131,618")


def test_report_json_keys() -> None:
    data = explain(SEED).to_json()
    assert list(data)[:3] == ["target", "total", "trainable"]
    assert [row["params"] for row in data["rows"]] == [448, 131_104, 66]
    assert data["rows"][0]["type"] == "Conv2d(3, 16, k=3)"
    assert data["rows"][0]["derivation"] == r"16 \times 3 \times 3 \times 3 + 16"
    assert data["method"] == "meta"


def test_report_is_picklable() -> None:
    import pickle

    report = explain(f"{ZOO}:TiedLM")
    again = pickle.loads(pickle.dumps(report))
    assert again == report


def test_sources_are_the_users_model_files() -> None:
    from pathlib import Path

    import tests.models.seed

    assert explain(SEED).sources == [str(Path(tests.models.seed.__file__))]
    assert explain("torch.nn.Linear(4, 2)").sources == []


# -- random module trees ------------------------------------------------------------


@st.composite
def module_trees(draw: st.DrawFn, depth: int = 3) -> torch.nn.Module:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        kind = draw(st.sampled_from(["linear", "norm", "conv", "act"]))
        n = draw(st.integers(1, 6))
        if kind == "linear":
            return torch.nn.Linear(n, draw(st.integers(1, 6)), bias=draw(st.booleans()))
        if kind == "norm":
            return torch.nn.LayerNorm(n)
        if kind == "conv":
            return torch.nn.Conv1d(n, 2, 3)
        return torch.nn.ReLU()
    children = draw(st.lists(module_trees(depth - 1), min_size=1, max_size=4))
    if draw(st.booleans()):  # identical siblings, as in a stack of blocks
        children = children + [copy.deepcopy(children[-1]) for _ in range(draw(st.integers(0, 3)))]
    return torch.nn.Sequential(*children)


@settings(max_examples=40, deadline=None)
@given(module_trees(), st.booleans(), st.booleans())
def test_random_trees_add_up(model: torch.nn.Module, tie: bool, freeze: bool) -> None:
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if tie and len(linears) >= 2 and linears[0].weight.shape == linears[-1].weight.shape:
        linears[-1].weight = linears[0].weight
    if freeze and linears:
        linears[0].requires_grad_(False)
    report = count_model(model.to("meta"))
    check_invariants(report, model)
    for depth in (None, 0, 1, 2, 3):
        rows = rows_at_depth(report, depth)
        assert sum(r.params for r in rows) == report.total
        assert sum(r.trainable for r in rows) == report.trainable
        assert sorted(t.name for r in rows for t in r.tensors) == sorted(t.name for r in report.rows for t in r.tensors)
        shown = collapse_repeats(report, rows)
        assert sum(r.params for r in views.counted(shown)) == report.total
        for row in shown:
            assert latex_value(row.derivation) == row.params


def test_quantized_layers_count_zero_and_say_why() -> None:
    report = explain("tests.models.zoo:float_and_quantized")
    assert report.total == 4 * 4 + 4  # only the float layer's parameters
    assert [r.name for r in report.rows] == ["0"]
    assert report.notices[-1] == (
        "2 quantized layers (the first: '1', torch.ao.nn.quantized.modules.linear.Linear) keep their weights packed,"
        " not as parameters, so they count 0; count the float model to document its parameters"
    )
    single = explain("torch.ao.nn.quantized.Linear(4, 2)")
    assert single.total == 0
    assert single.notices[-1].startswith("the quantized layer (root) (torch.ao.nn.quantized.modules.linear.Linear)")
    assert not any("quantized" in n for n in explain("tests.models.seed:SimpleNet").notices)
