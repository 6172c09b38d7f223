"""Every built-in formula against the real tensors, over random constructor arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sphinx_paramcount.count import count_model
from sphinx_paramcount.errors import FormulaError
from sphinx_paramcount.formulas import Const, Expr, FormulaRegistry, Sym, TensorSize, builtin, default_registry, total
from sphinx_paramcount.formulas.expr import latex_int, legend
from sphinx_paramcount.formulas.registry import load_formula_spec
from sphinx_paramcount.render import plain
from tests.arith import latex_value
from tests.models import zoo

SETTINGS = settings(max_examples=25, deadline=None)


def on_meta(factory: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return factory()


def check_family(module: nn.Module) -> None:
    """The module's own formula: exact value, one row, derivation that adds up."""
    assert all(p.device.type == "meta" for p in module.parameters())
    numel = sum(p.numel() for p in module.parameters())
    found = default_registry().lookup(type(module))
    assert found is not None, type(module)
    formula, exact = found
    assert exact
    expr = formula.build(module)
    assert expr.value == numel
    assert latex_value(expr.substituted()) == numel

    report = count_model(module)
    assert report.total == numel
    if numel == 0:  # affine=False and friends: no tensors, no row
        assert report.rows == []
        return
    (row,) = report.rows
    assert row.family == formula.name
    assert row.family != "generic"
    assert row.note == ""
    assert row.params == numel
    assert latex_value(row.derivation) == row.params
    assert row.formula == expr.symbolic()
    # the terminal and text builder show formulas as plain text: no LaTeX left over
    for text in (plain(row.formula), plain(row.derivation)):
        assert not set(text) & set("\\{}"), text
    for symbol, _words, value in row.legend:
        assert symbol in row.formula
        assert value >= 0


small = st.integers(1, 6)
features = st.integers(1, 40)


# -- convolutions ------------------------------------------------------------------

CONVS = {
    (1, False): nn.Conv1d,
    (2, False): nn.Conv2d,
    (3, False): nn.Conv3d,
    (1, True): nn.ConvTranspose1d,
    (2, True): nn.ConvTranspose2d,
    (3, True): nn.ConvTranspose3d,
}


@st.composite
def convs(draw: st.DrawFn) -> nn.Module:
    dims = draw(st.sampled_from([1, 2, 3]))
    transposed = draw(st.booleans())
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 4))
    c_out = groups * draw(st.integers(1, 4))
    if draw(st.booleans()):
        kernel: Any = draw(st.integers(1, 3))
    else:
        kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    bias = draw(st.booleans())
    cls = CONVS[(dims, transposed)]
    return on_meta(lambda: cls(c_in, c_out, kernel, groups=groups, bias=bias))


@SETTINGS
@given(convs())
def test_conv(module: nn.Module) -> None:
    check_family(module)


def test_conv_grouped_exact() -> None:
    module = on_meta(lambda: nn.Conv2d(8, 4, (3, 5), groups=2))
    check_family(module)
    (row,) = count_model(module).rows
    assert row.formula == r"C_{out} \cdot \frac{C_{in}}{g} \cdot k_h \cdot k_w + C_{out}"
    assert row.derivation == r"4 \times 4 \times 3 \times 5 + 4"
    assert (row.params, row.label) == (244, "Conv2d(8, 4, k=(3, 5), g=2)")
    assert plain(row.formula) == "C_out·C_in/g·k_h·k_w + C_out"
    assert plain(row.derivation) == "4 × 4 × 3 × 5 + 4"


def test_conv_transpose_exact() -> None:
    module = on_meta(lambda: nn.ConvTranspose2d(6, 4, 3, groups=2, bias=False))
    (row,) = count_model(module).rows
    assert row.formula == r"C_{in} \cdot \frac{C_{out}}{g} \cdot k_h \cdot k_w"
    assert row.derivation == r"6 \times 2 \times 3 \times 3"
    assert (row.params, row.label) == (108, "ConvTranspose2d(6, 4, k=3, g=2, bias=False)")


# -- dense layers and embeddings -----------------------------------------------------


@SETTINGS
@given(features, features, st.booleans())
def test_linear(d_in: int, d_out: int, bias: bool) -> None:
    check_family(on_meta(lambda: nn.Linear(d_in, d_out, bias=bias)))


@SETTINGS
@given(features, features, features, st.booleans())
def test_bilinear(in1: int, in2: int, out: int, bias: bool) -> None:
    check_family(on_meta(lambda: nn.Bilinear(in1, in2, out, bias=bias)))


@SETTINGS
@given(st.sampled_from([nn.Embedding, nn.EmbeddingBag]), st.integers(1, 200), features)
def test_embedding(cls: type[nn.Module], vocab: int, dim: int) -> None:
    check_family(on_meta(lambda: cls(vocab, dim)))


# -- normalisation -------------------------------------------------------------------


@SETTINGS
@given(
    st.sampled_from(
        [
            nn.BatchNorm1d,
            nn.BatchNorm2d,
            nn.BatchNorm3d,
            nn.SyncBatchNorm,
            nn.InstanceNorm1d,
            nn.InstanceNorm2d,
            nn.InstanceNorm3d,
        ]
    ),
    features,
    st.booleans(),
    st.booleans(),
)
def test_batch_and_instance_norm(cls: type[nn.Module], c: int, affine: bool, track: bool) -> None:
    module = on_meta(lambda: cls(c, affine=affine, track_running_stats=track))
    check_family(module)
    assert count_model(module).total == (2 * c if affine else 0)


shapes = st.one_of(small, st.lists(small, min_size=1, max_size=3).map(tuple))


@SETTINGS
@given(shapes, st.booleans(), st.booleans())
def test_layer_norm(shape: Any, affine: bool, bias: bool) -> None:
    module = on_meta(lambda: nn.LayerNorm(shape, elementwise_affine=affine, bias=bias))
    check_family(module)


@SETTINGS
@given(shapes, st.booleans())
def test_rms_norm(shape: Any, affine: bool) -> None:
    check_family(on_meta(lambda: nn.RMSNorm(shape, elementwise_affine=affine)))


@SETTINGS
@given(small, small, st.booleans())
def test_group_norm(groups: int, per_group: int, affine: bool) -> None:
    check_family(on_meta(lambda: nn.GroupNorm(groups, groups * per_group, affine=affine)))


@SETTINGS
@given(st.integers(1, 64))
def test_prelu(n: int) -> None:
    check_family(on_meta(lambda: nn.PReLU(n)))


def test_layer_norm_exact() -> None:
    module = on_meta(lambda: nn.LayerNorm((3, 4), bias=False))
    (row,) = count_model(module).rows
    assert (row.formula, row.derivation, row.params, row.label) == ("D", "12", 12, "LayerNorm((3, 4))")
    assert row.legend == (("D", "Normalised size (3 x 4)", 12),)


# -- recurrent ---------------------------------------------------------------------


@st.composite
def rnns(draw: st.DrawFn) -> nn.Module:
    cls = draw(st.sampled_from([nn.RNN, nn.LSTM, nn.GRU]))
    d_in, hidden = draw(st.integers(1, 12)), draw(st.integers(2, 12))
    kwargs: dict[str, Any] = {
        "num_layers": draw(st.integers(1, 3)),
        "bias": draw(st.booleans()),
        "bidirectional": draw(st.booleans()),
    }
    if cls is nn.LSTM:
        kwargs["proj_size"] = draw(st.integers(0, hidden - 1))
    if cls is nn.RNN:
        kwargs["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    return on_meta(lambda: cls(d_in, hidden, **kwargs))


@SETTINGS
@given(rnns())
def test_rnn(module: nn.Module) -> None:
    check_family(module)


def test_lstm_projection_exact() -> None:
    module = on_meta(lambda: nn.LSTM(10, 8, num_layers=2, proj_size=3, bidirectional=True))
    (row,) = count_model(module).rows
    # per direction: 4h(d_in + p) + 8h + p*h, then 4h(2p + p) + 8h + p*h for the second layer
    assert row.params == 2 * (32 * 13 + 64 + 24) + 2 * (32 * 9 + 64 + 24) == 1760
    assert row.label == "LSTM(10, 8, layers=2, bidirectional, proj=3)"
    check_family(module)


@SETTINGS
@given(st.sampled_from([nn.RNNCell, nn.LSTMCell, nn.GRUCell]), st.integers(1, 16), st.integers(1, 16), st.booleans())
def test_rnn_cell(cls: type[nn.Module], d_in: int, hidden: int, bias: bool) -> None:
    check_family(on_meta(lambda: cls(d_in, hidden, bias=bias)))


# -- attention -----------------------------------------------------------------------


@st.composite
def attentions(draw: st.DrawFn) -> nn.Module:
    heads = draw(st.integers(1, 4))
    embed = heads * draw(st.integers(1, 6))
    kdim = draw(st.one_of(st.none(), st.integers(1, 12)))
    vdim = draw(st.one_of(st.none(), st.integers(1, 12)))
    bias, add_bias_kv = draw(st.booleans()), draw(st.booleans())
    return on_meta(
        lambda: nn.MultiheadAttention(embed, heads, bias=bias, add_bias_kv=add_bias_kv, kdim=kdim, vdim=vdim)
    )


@SETTINGS
@given(attentions())
def test_multihead_attention(module: nn.Module) -> None:
    check_family(module)


def test_multihead_attention_kdim_vdim_exact() -> None:
    module = on_meta(lambda: nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True))
    (row,) = count_model(module).rows
    assert row.formula == r"2 \cdot E \cdot E + E \cdot d_k + E \cdot d_v + 4 \cdot E + 2 \cdot E"
    assert row.derivation == r"2 \times 8 \times 8 + 8 \times 3 + 8 \times 5 + 4 \times 8 + 2 \times 8"
    assert row.params == 128 + 24 + 40 + 32 + 16 == 240
    assert row.label == "MultiheadAttention(8, heads=2, kdim=3, vdim=5, add_bias_kv)"


# -- every registered family is tested above -------------------------------------

TESTED = {
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
    nn.Linear, nn.Bilinear, nn.Embedding, nn.EmbeddingBag,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
    nn.LayerNorm, nn.RMSNorm, nn.GroupNorm, nn.PReLU,
    nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell,
    nn.MultiheadAttention,
}  # fmt: skip


def test_every_builtin_family_is_tested() -> None:
    registry = FormulaRegistry()
    builtin.register_all(registry)
    registered = {
        cls for cls in vars(nn).values() if isinstance(cls, type) and issubclass(cls, nn.Module) and cls in registry
    }
    assert registered == TESTED
    for cls in TESTED:
        found = registry.lookup(cls)
        assert found is not None and found[1]


# -- the expression language -----------------------------------------------------------


def test_latex_int_groups_from_one_thousand() -> None:
    # One grouping rule in every output: counts and formulas alike, from 1,000 up.
    assert [latex_int(n) for n in (0, 999, 9999, 10_000, 131_618, 3_768_320)] == [
        "0",
        "999",
        "9{,}999",
        "10{,}000",
        "131{,}618",
        "3{,}768{,}320",
    ]


def test_expression_rendering() -> None:
    a, b, c = Sym("a", "A", 2), Sym("b", "B", 3), Sym("c", "C", 12_000)
    expr = (a + b) * c + Const(4) * a
    assert expr.value == 60_008
    assert expr.symbolic() == r"(a + b) \cdot c + 4 \cdot a"
    assert expr.substituted() == r"(2 + 3) \times 12{,}000 + 4 \times 2"
    assert legend(expr) == [("a", "A", 2), ("b", "B", 3), ("c", "C", 12_000)]
    assert 3 * a + 1 == Const(3) * a + Const(1)
    assert total([]) == Const(0) and total([a]) is a
    assert TensorSize("cls_token", ()).substituted() == "1"
    assert TensorSize("cls_token", (1, 1, 16)).symbolic() == r"|\mathtt{cls\_token}|"


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> Expr:
    if depth == 0 or draw(st.booleans()):
        n = draw(st.integers(0, 20_000))
        return draw(st.sampled_from([Const(n), Sym("x", "X", n), TensorSize("w", (n, 3))]))
    left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    return left + right if draw(st.booleans()) else left * right


@settings(max_examples=100, deadline=None)
@given(expressions())
def test_substituted_latex_evaluates_to_value(expr: Expr) -> None:
    assert latex_value(expr.substituted()) == expr.value


# -- registering formulas ------------------------------------------------------------


def registry_copy() -> FormulaRegistry:
    return default_registry().copy()


def test_user_formula_is_used() -> None:
    registry = registry_copy()
    registry.register(zoo.LowRank)(zoo.low_rank_formula)
    report = count_model(zoo.LowRank(), registry=registry)
    (row,) = report.rows
    assert (row.family, row.params, report.total) == ("low_rank_formula", 22, 22)
    assert row.formula == r"d_{in} \cdot r + r \cdot d_{out}"
    assert row.derivation == r"6 \times 2 + 2 \times 5"
    assert row.legend == (("d_{in}", "Input features", 6), ("r", "Rank", 2), ("d_{out}", "Output features", 5))
    # the copy is the user's own: the global registry did not change
    assert default_registry().lookup(zoo.LowRank) is None
    assert count_model(zoo.LowRank()).rows[0].family == "generic"


@pytest.mark.parametrize("key", ["tests.models.zoo.LowRank", "tests.models.zoo:LowRank", " tests.models.zoo.LowRank "])
def test_string_keys(key: str) -> None:
    registry = registry_copy()
    registry.register(key, label=lambda m: f"LowRank(r={m.rank})")(zoo.low_rank_formula)
    assert zoo.LowRank in registry
    assert key in registry
    (row,) = count_model(zoo.LowRank(), registry=registry).rows
    assert (row.family, row.label, row.params) == ("low_rank_formula", "LowRank(r=2)", 22)


def test_subclass_inherits_formula() -> None:
    registry = registry_copy()
    registry.add(zoo.LowRank, build=zoo.low_rank_formula)
    found = registry.lookup(zoo.LowRankChild)
    assert found is not None and found[1] is False
    (row,) = count_model(zoo.LowRankChild(), registry=registry).rows
    assert (row.family, row.params) == ("low_rank_formula", 22)


def test_subclass_with_extra_tensor_falls_back() -> None:
    registry = registry_copy()
    registry.add(zoo.LowRank, build=zoo.low_rank_formula)
    (row,) = count_model(zoo.LowRankWithBias(), registry=registry).rows
    assert (row.family, row.params) == ("generic", 27)
    assert row.derivation == r"6 \times 2 + 2 \times 5 + 5"
    assert row.note == (
        "the low_rank_formula formula gives 22 but the tensors hold 27 "
        "(a parametrization, pruning or a subclass changed them): shown as tensor sizes"
    )


def test_builtin_subclass_with_extra_tensor_falls_back() -> None:
    (row,) = count_model(zoo.ScaledLinear(4, 3)).rows
    assert (row.family, row.params, row.type) == ("generic", 16, "ScaledLinear")
    assert row.formula == r"|\mathtt{weight}| + |\mathtt{bias}| + |\mathtt{scale}|"
    assert row.derivation == r"3 \times 4 + 3 + 1"
    assert row.note.startswith("the linear formula gives 15 but the tensors hold 16 ")


def test_wrong_formula_falls_back_with_note() -> None:
    def wrong(m: zoo.LowRank) -> Expr:
        return Sym("d_{in}", "Input features", m.d_in) * Sym("d_{out}", "Output features", m.d_out)

    registry = registry_copy()
    registry.register(zoo.LowRank)(wrong)
    report = count_model(zoo.LowRank(), registry=registry)
    (row,) = report.rows
    assert (row.family, row.params, report.total) == ("generic", 22, 22)
    assert row.formula == r"|\mathtt{u}| + |\mathtt{v}|"
    assert row.derivation == r"6 \times 2 + 2 \times 5"
    assert row.note == (
        "the wrong formula gives 30 but the tensors hold 22 "
        "(a parametrization, pruning or a subclass changed them): shown as tensor sizes"
    )


def test_formula_may_return_an_int() -> None:
    registry = registry_copy()
    registry.add(zoo.LowRank, build=lambda m: m.d_in * m.rank + m.rank * m.d_out)
    (row,) = count_model(zoo.LowRank(), registry=registry).rows
    assert (row.family, row.formula, row.derivation, row.params) == ("<lambda>", "n", "22", 22)


def test_formula_returning_a_string_is_an_error() -> None:
    registry = registry_copy()
    registry.add(zoo.LowRank, build=lambda m: "12 + 10")
    with pytest.raises(FormulaError, match="returned str, not an expression"):
        count_model(zoo.LowRank(), registry=registry)


def test_formula_raising_is_an_error_for_its_own_class() -> None:
    def broken(m: Any) -> Expr:
        raise KeyError("rank")

    registry = registry_copy()
    registry.add(zoo.LowRank, build=broken)
    with pytest.raises(FormulaError) as info:
        count_model(zoo.LowRank(), registry=registry)
    assert info.value.subtype == "formula"
    assert info.value.message == "the formula 'broken' for LowRank (root) raised KeyError: 'rank'"
    # ... but only a fallback for a subclass it was not written for
    (row,) = count_model(zoo.LowRankChild(), registry=registry).rows
    assert (row.family, row.params) == ("generic", 22)


def test_replace_false_keeps_existing() -> None:
    registry = registry_copy()
    registry.add(nn.Linear, build=lambda m: 0, replace=False)
    (row,) = count_model(nn.Linear(2, 2), registry=registry).rows
    assert row.family == "linear"


def test_broken_label_falls_back_to_repr() -> None:
    registry = registry_copy()
    registry.add(zoo.LowRank, build=zoo.low_rank_formula, label=lambda m: m.missing)
    (row,) = count_model(zoo.LowRank(), registry=registry).rows
    assert (row.label, row.family) == ("LowRank", "low_rank_formula")


def test_covers_children() -> None:
    def pair(m: nn.Sequential) -> Expr:
        return Const(2) * Sym("d", "Width", 3) * Sym("d", "Width", 3) + Const(2) * Sym("d", "Width", 3)

    registry = FormulaRegistry()
    registry.add(nn.Sequential, build=pair, covers_children=True)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    (row,) = count_model(model, registry=registry).rows
    assert (row.name, row.family, row.params) == ("", "pair", 24)
    assert [t.name for t in row.tensors] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_registration_errors() -> None:
    registry = FormulaRegistry()
    with pytest.raises(FormulaError, match="needs at least one layer type"):
        registry.register()
    with pytest.raises(FormulaError, match="is neither a class nor"):
        registry.add(42, build=zoo.low_rank_formula)  # type: ignore[arg-type]
    with pytest.raises(FormulaError, match="is not callable"):
        registry.add(zoo.LowRank, build="not a function")  # type: ignore[arg-type]


def test_load_formula_spec() -> None:
    assert load_formula_spec("tests.models.zoo:low_rank_formula") is zoo.low_rank_formula
    assert load_formula_spec("tests.models.zoo.low_rank_formula") is zoo.low_rank_formula
    with pytest.raises(FormulaError, match="has no attribute 'nope'"):
        load_formula_spec("tests.models.zoo:nope")
    with pytest.raises(FormulaError, match="cannot be imported"):
        load_formula_spec("nosuchpkg_xyz:f")
    with pytest.raises(FormulaError, match="is not of the form"):
        load_formula_spec("justaname")
    with pytest.raises(FormulaError, match="is not callable"):
        load_formula_spec("tests.models.zoo:NOT_CALLABLE")


# -- the layers of transformers, PEFT, torchvision and timm (issue 12) -----------------


def check_library_family(module: nn.Module, family: str, label: str) -> None:
    """A library layer matched by class path: exact value, one row, legend, derivation that adds up."""
    numel = sum(p.numel() for p in module.parameters())
    report = count_model(module)
    assert report.total == numel
    (row,) = report.rows
    assert (row.family, row.label, row.note, row.params) == (family, label, "", numel)
    assert latex_value(row.derivation) == numel
    assert row.legend
    for symbol, words, value in row.legend:
        assert symbol in row.formula and words and value > 0
    for text in (plain(row.formula), plain(row.derivation)):
        assert not set(text) & set("\\{}"), text


@SETTINGS
@given(features, features)
def test_transformers_conv1d(nf: int, nx: int) -> None:
    from transformers.pytorch_utils import Conv1D

    module = on_meta(lambda: Conv1D(nf, nx))
    check_library_family(module, "gpt_conv1d", f"Conv1D(nf={nf}, nx={nx})")
    (row,) = count_model(module).rows
    assert row.formula == r"d_{in} \cdot d_{out} + d_{out}"
    assert row.derivation == rf"{latex_int(nx)} \times {latex_int(nf)} + {latex_int(nf)}"


def _rms_norms() -> list[type[nn.Module]]:
    from transformers.models.gemma.modeling_gemma import GemmaRMSNorm
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    from transformers.models.mistral.modeling_mistral import MistralRMSNorm
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm

    return [LlamaRMSNorm, MistralRMSNorm, Qwen2RMSNorm, GemmaRMSNorm]


@SETTINGS
@given(st.integers(0, 3), st.integers(1, 5000))
def test_transformers_rms_norm_family(which: int, hidden: int) -> None:
    cls = _rms_norms()[which]
    module = on_meta(lambda: cls(hidden))
    check_library_family(module, "rms_norm", f"{cls.__name__}({hidden})")
    (row,) = count_model(module).rows
    assert (row.formula, row.derivation) == ("D", latex_int(hidden))
    assert row.legend == (("D", "Hidden size: one scale per feature", hidden),)


class BiasedRMSNorm(nn.Module):
    """An RMSNorm of transformers with a shift too (as some checkpoints' norms have)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))


class OddRMSNorm(nn.Module):
    """A class the name pattern matches but the formula does not fit (two weights)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(hidden, 2))


BiasedRMSNorm.__module__ = OddRMSNorm.__module__ = "transformers.models.fake.modeling_fake"


@SETTINGS
@given(st.integers(1, 5000))
def test_rms_norm_family_with_bias_and_one_that_does_not_fit(hidden: int) -> None:
    check_library_family(on_meta(lambda: BiasedRMSNorm(hidden)), "rms_norm", f"BiasedRMSNorm({hidden})")
    (row,) = count_model(on_meta(lambda: BiasedRMSNorm(hidden))).rows
    assert (row.formula, row.derivation) == (r"2 \cdot D", rf"2 \times {latex_int(hidden)}")
    # Matched by name only: no `weight`, so the formula fails and the row is the shape product, no error.
    (odd,) = count_model(on_meta(lambda: nn.Sequential(OddRMSNorm(hidden)))).rows
    assert (odd.family, odd.params, odd.formula, odd.legend) == ("generic", 2 * hidden, r"|\mathtt{scale}|", ())


@SETTINGS
@given(st.integers(1, 5000))
def test_t5_layer_norm(hidden: int) -> None:
    from transformers.models.mt5.modeling_mt5 import MT5LayerNorm
    from transformers.models.t5.modeling_t5 import T5LayerNorm

    for cls in (T5LayerNorm, MT5LayerNorm):
        module = on_meta(lambda: cls(hidden))  # noqa: B023 - called at once
        check_library_family(module, "t5_layer_norm", f"{cls.__name__}({hidden})")
        (row,) = count_model(module).rows
        assert row.legend == (("D", "Hidden size: one scale per feature (no shift)", hidden),)


class Wrapped(nn.Module):
    """A model for PEFT to wrap: one layer named ``proj``."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.proj = layer


def lora_model(layer: Callable[[], nn.Module], adapters: list[tuple[str, int]], **config: Any) -> nn.Module:
    import peft

    with torch.device("meta"):
        model: Any = peft.get_peft_model(
            Wrapped(layer()), peft.LoraConfig(r=adapters[0][1], target_modules=["proj"], **config)
        )
        for name, r in adapters[1:]:
            model.add_adapter(name, peft.LoraConfig(r=r, target_modules=["proj"], **config))
    return model


def lora_row(model: nn.Module) -> Any:
    (row,) = [r for r in count_model(model).rows if r.name.endswith("proj")]
    return row


@settings(max_examples=10, deadline=None)
@given(features, features, st.integers(1, 16), st.booleans())
def test_lora_linear(d_in: int, d_out: int, r: int, bias: bool) -> None:
    model = lora_model(lambda: nn.Linear(d_in, d_out, bias=bias), [("default", r)])
    row = lora_row(model)
    report = count_model(model)
    assert report.total == sum(p.numel() for p in model.parameters())
    assert len(report.rows) == 1  # base layer and adapters in one row: the base's formula beside LoRA's
    base = r"d_{in} \cdot d_{out} + d_{out}" if bias else r"d_{in} \cdot d_{out}"
    assert (row.family, row.note) == ("lora", "")
    assert row.formula == base + r" + r \cdot (d_{in} + d_{out})"
    assert latex_value(row.derivation) == row.params == d_in * d_out + bias * d_out + r * (d_in + d_out)
    assert row.trainable == report.trainable == r * (d_in + d_out)  # the base layer is frozen
    assert row.label == f"LoRA Linear({d_in}, {d_out}, r={r})"
    assert row.legend[-1] == ("r", "LoRA rank (adapter 'default')", r)


def test_lora_on_gpt2_conv1d_two_adapters_and_lora_bias() -> None:
    from transformers.pytorch_utils import Conv1D

    model = lora_model(lambda: Conv1D(12, 5), [("default", 4), ("second", 2)], lora_bias=True, fan_in_fan_out=True)
    row = lora_row(model)
    assert row.formula == (
        r"d_{in} \cdot d_{out} + d_{out} + r_{1} \cdot (d_{in} + d_{out}) + d_{out} + r_{2} \cdot (d_{in} + d_{out}) + d_{out}"
    )
    assert row.derivation == r"5 \times 12 + 12 + 4 \times (5 + 12) + 12 + 2 \times (5 + 12) + 12"
    assert row.params == sum(p.numel() for p in model.parameters()) == 60 + 12 + 4 * 17 + 12 + 2 * 17 + 12
    assert [w for _, w, _ in row.legend][-2:] == [
        "LoRA rank (adapter 'default')",
        "LoRA rank (adapter 'second')",
    ]
    assert row.label == "LoRA Conv1D(nf=12, nx=5, r=4, r=2)"


def test_lora_embedding_and_dora() -> None:
    emb = lora_row(lora_model(lambda: nn.Embedding(100, 16), [("default", 4)]))
    assert (emb.family, emb.formula) == ("lora", r"V \cdot d + r \cdot (V + d)")
    assert emb.derivation == r"100 \times 16 + 4 \times (100 + 16)"
    assert emb.params == 1600 + 464
    dora = lora_row(lora_model(lambda: nn.Linear(8, 6), [("default", 2)], use_dora=True))
    assert dora.formula == r"d_{in} \cdot d_{out} + d_{out} + r \cdot (d_{in} + d_{out}) + d_{out}"
    assert dora.params == 48 + 6 + 2 * 14 + 6


def test_lora_conv_base_falls_back_to_the_shape_product() -> None:
    conv = lora_row(lora_model(lambda: nn.Conv2d(3, 4, 3), [("default", 2)]))
    assert conv.family == "generic"  # no LoRA formula for a convolution base: the tensors, exactly
    assert conv.params == 4 * 3 * 9 + 4 + 2 * 3 * 9 + 4 * 2
    assert conv.note == ""


def test_lora_on_a_gpt2_model_from_config() -> None:
    import peft
    import transformers

    config = transformers.GPT2Config(
        n_layer=2, n_embd=64, n_head=2, vocab_size=100, n_positions=32, bos_token_id=0, eos_token_id=0
    )
    with torch.device("meta"):
        model = peft.get_peft_model(
            transformers.GPT2LMHeadModel(config), peft.LoraConfig(r=8, target_modules=["c_attn"], fan_in_fan_out=True)
        )
    report = count_model(model)
    lora_rows = [r for r in report.rows if r.family == "lora"]
    assert [r.name for r in lora_rows] == [f"base_model.model.transformer.h.{i}.attn.c_attn" for i in (0, 1)]
    assert {r.derivation for r in lora_rows} == {r"64 \times 192 + 192 + 8 \times (64 + 192)"}
    # Found by a tester: the label named PEFT's wrapper (``LoRA Linear(64, 192, r=8)``), not Conv1D.
    assert {r.label for r in lora_rows} == {"LoRA Conv1D(nf=192, nx=64, r=8)"}
    assert report.trainable == 2 * 8 * (64 + 192) == 4096
    assert report.total == 4096 + sum(p.numel() for p in transformers.GPT2LMHeadModel(config).parameters())
    assert not [r for r in report.rows if r.family == "generic" and r.params]


@SETTINGS
@given(st.integers(1, 512))
def test_frozen_batch_norm(c: int) -> None:
    from tests.models.real_layouts import FrozenBatchNorm2d

    module = on_meta(lambda: FrozenBatchNorm2d(c))
    found = default_registry().lookup(type(module))
    assert found is not None and found[0].name == "frozen_batch_norm" and found[1]
    assert found[0].build(module).value == 0 == sum(p.numel() for p in module.parameters())
    report = count_model(module)
    assert (report.total, report.rows) == (0, [])  # scale and shift are buffers: no parameters
    assert [(b.name, b.numel) for b in report.buffers] == [
        ("weight", c), ("bias", c), ("running_mean", c), ("running_var", c)
    ]  # fmt: skip
    assert report.modules[0].label == f"FrozenBatchNorm2d({c})"


def test_frozen_resnet50_backbone() -> None:
    from tests.models.real_layouts import frozen_resnet50

    report = count_model(on_meta(frozen_resnet50))
    assert report.total == 25_557_032 - 2 * 26_560  # the 53 batch norms' 26,560 channels keep no parameters
    assert sum(m.label.startswith("FrozenBatchNorm2d(") for m in report.modules) == 53
    assert all(r.family in {"conv", "linear"} for r in report.rows)


@SETTINGS
@given(st.integers(1, 2048), st.booleans())
def test_timm_layer_scale(dim: int, two_d: bool) -> None:
    from tests.models.real_layouts import LayerScale, LayerScale2d

    cls = LayerScale2d if two_d else LayerScale
    module = on_meta(lambda: cls(dim))
    check_library_family(module, "layer_scale", f"{cls.__name__}({dim})")
    (row,) = count_model(module).rows
    assert row.legend == (("D", "Channels: one learned scale each", dim),)


def test_library_formulas_import_no_library() -> None:
    code = (
        "import sys, torch\n"
        "from sphinx_paramcount.count import count_model\n"
        "count_model(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LayerNorm(3)))\n"
        "print(sorted(m for m in ('transformers', 'peft', 'timm', 'torchvision') if m in sys.modules))\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- glob keys -----------------------------------------------------------------------------


def test_glob_keys_match_by_class_path_and_exact_keys_win() -> None:
    from tests.models import zoo

    registry = FormulaRegistry()
    registry.add("tests.models.*LowRank", build=lambda m: Sym("n", "all", 1))
    found = registry.lookup(zoo.LowRank)
    assert found is not None and found[0].name == "<lambda>" and not found[1]  # a pattern is never "exact"
    assert registry.lookup(nn.Linear) is None
    assert "tests.models.*LowRank" in registry

    def exact(m: Any) -> Expr:
        return Const(0)

    def newer(m: Any) -> Expr:
        return Const(1)

    registry.add("tests.models.zoo:LowRank", build=exact)
    registry.add("tests.*", build=newer)
    found = registry.lookup(zoo.LowRank)
    assert found is not None and found[0].build is exact and found[1]
    copied = registry.copy()
    del registry._by_key["tests.models.zoo.LowRank"]
    found = registry.lookup(zoo.LowRank)
    assert found is not None and found[0].build is newer  # the newest pattern first
    found = copied.lookup(zoo.LowRank)
    assert found is not None and found[0].build is exact


# -- tensors a module owns beside its layers ---------------------------------------------


def test_directly_owned_tensors_get_a_legend() -> None:
    from tests.models.real_layouts import ConvNeXt, SwinTransformer, VisionTransformer

    rows = {r.name: r for r in count_model(on_meta(VisionTransformer)).rows}
    assert rows[""].legend == ((r"|\mathtt{class\_token}|", "Class token, shape 1 × 1 × 768", 768),)
    assert rows["encoder"].legend == (
        (r"|\mathtt{pos\_embedding}|", "Position embedding, shape 1 × 197 × 768", 151_296),
    )
    assert rows["encoder"].formula == r"|\mathtt{pos\_embedding}|"
    assert rows["encoder"].derivation == r"1 \times 197 \times 768"
    cn = {r.name: r for r in count_model(on_meta(ConvNeXt)).rows}["features.1.0"]
    assert cn.legend == ((r"|\mathtt{layer\_scale}|", "Layer scale (one factor per channel), shape 96 × 1 × 1", 96),)
    swin = {r.name: r for r in count_model(on_meta(SwinTransformer)).rows}["features.7.1.attn"]
    assert swin.legend == (
        (r"|\mathtt{relative\_position\_bias\_table}|", "Relative position bias table, shape 169 × 24", 4056),
    )
    assert "Relative position bias table, shape 169 × 24 (|relative_position_bias_table|): 4,056" in (
        __import__("sphinx_paramcount.render", fromlist=["to_derivation"]).to_derivation(
            count_model(on_meta(SwinTransformer))
        )
    )


class Holder(nn.Module):
    def __init__(self, shapes: dict[str, tuple[int, ...]]) -> None:
        super().__init__()
        self.layer = nn.Linear(2, 2)
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.zeros(shape)))


class Unknown(nn.Module):
    """A leaf layer of a class with no formula: it needs one, not a legend."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3, 4))


_known = ["cls_token", "class_token", "pos_embedding", "position_embeddings", "layer_scale", "gamma"]
names = st.sampled_from(_known) | st.from_regex(r"[a-z][a-z_0-9]{0,12}", fullmatch=True).filter(
    lambda s: s != "layer" and not hasattr(nn.Module(), s)  # register_parameter refuses nn.Module's own names
)
tensor_shapes = st.lists(st.integers(1, 9), max_size=3).map(tuple)


@SETTINGS
@given(st.dictionaries(names, tensor_shapes, min_size=1, max_size=4))
def test_owned_tensor_legend_from_name_and_shape(shapes: dict[str, tuple[int, ...]]) -> None:
    report = count_model(on_meta(lambda: Holder(shapes)))
    root = report.rows[0]
    assert root.name == ""
    assert [(s, v) for s, _, v in root.legend] == [
        (rf"|\mathtt{{{name.replace('_', chr(92) + '_')}}}|", math_prod(shape)) for name, shape in shapes.items()
    ]
    for (_, words, _), shape in zip(root.legend, shapes.values()):
        assert words.endswith("shape " + (" × ".join(map(str, shape)) if shape else "() (a single number)"))
    assert latex_value(root.derivation) == root.params == sum(math_prod(s) for s in shapes.values())


def math_prod(shape: tuple[int, ...]) -> int:
    import math

    return math.prod(shape)


def test_unknown_leaf_layer_gets_no_legend() -> None:
    model = on_meta(lambda: nn.Sequential(Unknown()))
    (row,) = count_model(model).rows
    assert (row.family, row.formula, row.legend) == ("generic", r"|\mathtt{weight}|", ())
    (root,) = count_model(on_meta(Unknown)).rows  # the model itself: its own parameters are described
    assert root.legend == ((r"|\mathtt{weight}|", "Parameter weight of the module itself, shape 3 × 4", 12),)


def test_every_library_family_is_in_the_gallery() -> None:
    from pathlib import Path

    from sphinx_paramcount.formulas import libraries

    registry = FormulaRegistry()
    libraries.register_all(registry)
    keys = [*registry._by_key, *registry._by_pattern]
    assert len(keys) == 7
    gallery = (Path(__file__).resolve().parent.parent / "docs" / "gallery.rst").read_text()
    for key in keys:
        assert f"``{key.rpartition('.')[2].lstrip('*')}``" in gallery, key
