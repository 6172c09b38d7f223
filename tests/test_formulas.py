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
