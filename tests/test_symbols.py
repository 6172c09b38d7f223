"""Formulas in a model's hyperparameters (``symbols``): rows, blocks and the whole model, and stated formulas."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import torch

from sphinx_paramcount import MismatchError, explain
from sphinx_paramcount.errors import OptionError
from sphinx_paramcount.symbols import (
    Binding,
    check_formula,
    config_bindings,
    parse_formula,
    read_symbols,
)
from tests.arith import latex_value
from tests.test_cli import run

SEED = "tests.models.seed:SimpleNet"
GPT2 = "transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config())"
BERT = "transformers.AutoModel.from_config(transformers.BertConfig())"
LLAMA_7B = (
    "transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig(hidden_size=4096, "
    "intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, vocab_size=32000))"
)
LLAMA_70B = (
    "transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig(hidden_size=8192, "
    "intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8, "
    "vocab_size=32000))"
)


def values(report) -> dict[str, int]:
    return {b.name: b.value for b in report.symbolic.bindings}


def evaluate(text: str, env: dict[str, int]) -> int:
    """The formula's plain text evaluated with the bound values (sympy's own reading, independent of ours)."""
    import sympy

    expr = sympy.sympify(text)
    return int(expr.subs({sympy.Symbol(k): v for k, v in env.items()}))


def test_seed_simplenet() -> None:
    report = explain(SEED, symbols="C=16, k=3, F=32")
    sym = report.symbolic
    assert sym is not None
    assert {name: f.text for name, f in sym.rows.items()} == {
        "conv1": "3*C*k**2 + C",  # C_in = 3 is no filter size: the role keeps it a number
        "fc1": "4097*F",
        "fc2": "2*F + 2",
    }
    assert sym.whole.text == "3*C*k**2 + C + 4099*F + 2"
    assert evaluate(sym.whole.text, values(report)) == 131_618 == sym.whole.value
    assert sym.whole.latex == r"3\,C\,k^{2} + C + 4099\,F + 2"
    conv1 = report.shown_rows[0]
    assert conv1.formula == r"3\,C\,k^{2} + C" and latex_value(conv1.derivation) == 448
    assert [s for s, _, _ in conv1.legend] == ["C", "k"]


@pytest.mark.parametrize(
    ("target", "whole", "total"),
    [
        # GPT-2 small: lm_head is wte (tied), so V d once; c_attn is 3d wide.
        (GPT2, "L*(4*d**2 + 2*d*d_ff + 9*d + d_ff) + P*d + V*d + 2*d", 124_439_808),
        # BERT-base: the pooler's d^2 + d, the token-type embedding 2d and the embedding LayerNorm 2d.
        (BERT, "L*(4*d**2 + 2*d*d_ff + 9*d + d_ff) + P*d + V*d + d**2 + 5*d", 109_482_240),
        (LLAMA_7B, "L*(4*d**2 + 3*d*d_ff + 2*d) + 2*V*d + d", 6_738_415_616),
        # Grouped-query attention: k and v are d_kv = h_kv d_h wide.
        (LLAMA_70B, "L*(2*d**2 + 3*d*d_ff + 2*d*d_kv + 2*d) + 2*V*d + d", 68_976_648_192),
    ],
)
def test_whole_model_formulas_from_the_config(target: str, whole: str, total: int) -> None:
    report = explain(target, symbols="config")
    assert report.total == total
    assert report.symbolic is not None and report.symbolic.whole.text == whole
    assert evaluate(whole, values(report)) == total
    assert not report.symbolic.notes
    for row in report.shown_rows:  # every formula shown gives its row's count
        form = report.symbolic.rows[row.name]
        assert evaluate(form.text, values(report)) == row.params, row.name


def test_config_bindings_name_their_attributes() -> None:
    config = {"hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8}
    assert config_bindings(config) == [
        Binding("d", 8192, "hidden_size"),
        Binding("L", 80, "num_hidden_layers"),
        Binding("h", 64, "num_attention_heads"),
        Binding("h_kv", 8, "num_key_value_heads"),
        Binding("d_kv", 1024, "num_key_value_heads × head_dim"),
    ]
    # As many key/value heads as heads: no GQA symbols.
    assert [b.name for b in config_bindings({"num_attention_heads": 32, "num_key_value_heads": 32})] == ["h"]
    assert config_bindings({"n_embd": 768, "n_inner": None})[1] == Binding("d_ff", 3072, "n_inner (None: 4 × n_embd)")


def test_a_block_is_one_polynomial() -> None:
    report = explain(LLAMA_7B, symbols="d=4096, d_ff=11008, V=32000, L=32, h=32")
    sym = report.symbolic
    assert sym is not None
    assert sym.rows["model.layers.0–31"].latex == r"L\,\left(4\,d^{2} + 3\,d\,d_{ff} + 2\,d\right)"
    assert sym.rows["model.layers.0.mlp.down_proj"].text == "d*d_ff"
    # L and h are both 32: L counts the blocks; h, bound but used by no parameter formula, is reported.
    assert [b.name for b in sym.unused] == ["h"] and not sym.notes
    depth = explain(LLAMA_7B, symbols="d=4096, d_ff=11008, V=32000, L=32", depth=2)
    assert depth.symbolic is not None
    assert depth.symbolic.rows["model.layers"].text == "L*(4*d**2 + 3*d*d_ff + 2*d)"


def test_two_symbols_of_one_value_and_role_say_so() -> None:
    report = explain(SEED, symbols="C=16, F=32, G=32")
    assert report.symbolic is not None
    assert report.symbolic.notes == [
        "32 is both F and G, and the role it plays does not decide between them: it is written F "
        "(bind only one of them to choose)"
    ]
    assert report.symbolic.unused == []  # G matches 32 too: the note, not a "matches no number" warning


def test_stated_formula_off_by_terms() -> None:
    report = explain(LLAMA_7B, symbols="config")
    report.check(formula="2*V*d + L*(4*d**2 + 3*d*d_ff + 2*d) + d")
    report.check(formula="2*V*d + L*(4*d^2 + 3*d*d_ff + 2*d) + d")  # ^ as LaTeX writes a power
    with pytest.raises(MismatchError) as exc:
        report.check(formula="2*V*d + L*(4*d**2 + 3*d*d_ff)")
    assert str(exc.value) == (
        f"stated formula L*(4*d**2 + 3*d*d_ff) + 2*V*d gives 6,738,149,376 for {LLAMA_7B}, but the model has "
        "6,738,415,616: the model has 2*L*d + d more than the stated formula (266,240)"
    )
    with pytest.raises(MismatchError, match=r"the stated formula has 2\*V\*d more than the model"):
        report.check(formula="4*V*d + L*(4*d**2 + 3*d*d_ff + 2*d) + d")


def test_estimates_within_a_tolerance() -> None:
    report = explain(LLAMA_7B, symbols="config")
    report.check(formula="~ 12*L*d**2")  # 6,442,450,944: 4.4% under
    with pytest.raises(
        MismatchError, match=r"4\.4% off the model's 6,738,415,616, beyond the stated tolerance of 1\.0%"
    ):
        report.check(formula="~ 12*L*d**2", tolerance="1%")
    report.check(formula="~12*L*d**2", tolerance=0.05)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", ":formula: cannot use \"__import__('os')\": only numbers, bound symbols and + - * / **"),
        ("12*L*x**2", ":formula: uses 'x', which :symbols: does not bind"),
        ("d**d", ":formula: raises to a power that is not a whole number up to 16"),
        ("12 *", ":formula: '12 *' is not arithmetic: invalid syntax"),
        ("~", ":formula: is empty"),
        ("d/0", ":formula: divides by zero in 'd / 0'"),
        ("((((d**16)**16)**16)**16)**16", ":formula: '(d ** 16) ** 16' raises to a power above 16 in all"),
        ("((((16**16)**16)**16)**16)**16", ":formula: '((16 ** 16) ** 16) ** 16' is a number too large to check"),
        ("+".join(["d"] * 5000), ":formula: is nested too deeply to read"),
    ],
)
def test_formulas_are_read_never_evaluated(text: str, message: str) -> None:
    with pytest.raises(OptionError) as exc:
        parse_formula(text, [Binding("d", 4), Binding("L", 2)])
    assert exc.value.message == message


def test_formula_literals_are_exact_and_undefined_values_a_mismatch() -> None:
    report = explain(SEED, symbols="C=16, F=32")
    report.check(formula="28*C + 4099*F + 2 + 1e400 - 1e400 + 0.1 + 0.2 - 0.3")
    with pytest.raises(MismatchError, match=r"has 1/100000000000000000 more than the stated formula"):
        report.check(formula="28*C + 4099*F + 1.99999999999999999")  # 2.0 as a binary float
    with pytest.raises(MismatchError, match=r"has no value for .*: it divides by zero at the bound symbols' values"):
        report.check(formula="28*C + 4099*F + 2 + 1/(C - 16)")


def test_reading_symbols() -> None:
    bindings, config, errors = read_symbols("d=4_096, d_ff=11008, config, 2x=3, V=abc, d=5, L")
    assert bindings == [Binding("d", 4096), Binding("d_ff", 11008)] and config
    assert [e.message for e in errors] == [
        ":symbols: name '2x' is not an identifier",
        ":symbols: value of V is 'abc', not a whole number of 1 or more",
        ":symbols: binds d twice",
        ":symbols: entry 'L' is not of the form name=value",
    ]
    with pytest.raises(OptionError, match="has no config with the usual hyperparameters"):
        explain(SEED, symbols="config")


def test_check_formula_exactly() -> None:
    report = explain(SEED, symbols="C=16, F=32")
    model = report.symbolic
    assert model is not None
    assert check_formula(parse_formula("28*C + 4099*F + 2", model.bindings), model, 131_618, "x") is None
    tolerance = Decimal("0.01")
    assert check_formula(parse_formula("~ 4100*F", model.bindings), model, 131_618, "x", tolerance) is None


def test_symbols_need_explain_first() -> None:
    with pytest.raises(OptionError, match="formula needs the model's symbols"):
        explain(SEED).check(formula="1")


def test_cli_symbols_and_formula() -> None:
    proc = run(SEED, "--symbols", "C=16, k=3, F=32", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["formula"] == {"latex": r"3\,C\,k^{2} + C + 4099\,F + 2", "text": "3*C*k**2 + C + 4099*F + 2"}
    assert data["symbols"] == {"C": 16, "k": 3, "F": 32}
    assert data["rows"][0]["formula"] == r"3\,C\,k^{2} + C"
    assert data["rows"][0]["formula_text"] == "3*C*k**2 + C"
    text = run(SEED, "--symbols", "C=16, k=3, F=32, Z=7")
    assert "N = 3·C·k^2 + C + 4099·F + 2 = 131,618" in text.stdout
    assert text.stderr == "warning: symbol Z=7 matches no number of the model\n"
    wrong = run(SEED, "--symbols", "C=16, F=32", "--formula", "28*C + 4099*F")
    assert wrong.returncode == 1
    assert "the model has 2 more than the stated formula (2)" in wrong.stderr
    assert run(SEED, "--formula", "1").returncode == 2


def test_notebook_displays_typeset_the_whole_formula() -> None:
    report = explain(SEED, symbols="C=16, k=3, F=32")
    assert (
        '<p class="paramcount-formula">The whole model: <span class="math notranslate nohighlight">'
        r"\(N = 3\,C\,k^{2} + C + 4099\,F + 2 = 131{,}618\)</span></p>"
    ) in report._repr_html_()
    assert r"\noindent The whole model: $N = 3\,C\,k^{2} + C + 4099\,F + 2 = 131{,}618$\par" in report._repr_latex_()
    assert "N = 3·C·k^2 + C + 4099·F + 2 = 131,618" in report._repr_markdown_()


def test_tolerance_options_are_named_once_and_need_a_formula() -> None:
    from sphinx_paramcount.options import parse_options

    bad = parse_options([("symbols", "d=4"), ("formula", "~ d"), ("tolerance", "150%")])
    assert [e.message for e in bad.errors] == [":tolerance: '150%' is not between 0% and 100%"]
    alone = parse_options([("symbols", "d=4"), ("tolerance", "5%")])
    assert [e.message for e in alone.errors] == [":tolerance: applies to an estimated :formula:, and none is given"]
    assert parse_options([("symbols", "d=4"), ("formula", "~ d"), ("tolerance", "5%")]).errors == []


@pytest.mark.parametrize("name", ["num_hidden_layers", "num_blocks", "depth", "L"])
def test_block_counts_under_their_usual_names(name: str) -> None:
    def stack() -> torch.nn.Module:
        return torch.nn.Sequential(*[torch.nn.Linear(8, 8) for _ in range(4)])

    report = explain(stack, symbols=f"d=8, {name}=4")
    assert report.symbolic is not None and report.symbolic.unused == []
    assert report.symbolic.whole.text == f"{name}*(d**2 + d)"


def test_a_group_count_is_not_a_width() -> None:
    # 16 input channels per group (64 / 4) were written 4*groups, so the formula grew with groups: 100*C*groups.
    report = explain(lambda: torch.nn.Conv2d(64, 64, 5, groups=4, bias=False), symbols="C=64, groups=4")
    assert report.symbolic is not None
    assert report.symbolic.whole.text == "400*C"
    assert [b.name for b in report.symbolic.unused] == ["groups"]


def test_a_groups_share_of_channels_is_no_multiple() -> None:
    # 16 channels per group of 64 in 4 groups: not "4 G" (it shrinks as G grows); the number stays.
    report = explain("torch.nn.Conv2d(64, 64, 5, groups=4)", symbols="C=64, G=4")
    assert report.symbolic is not None
    assert report.symbolic.whole.text == "401*C"
    assert [b.name for b in report.symbolic.unused] == ["G"]


def test_the_formula_line_names_a_sub_module() -> None:
    report = explain(SEED, symbols="F=32,", root="fc1")  # a trailing comma is no entry
    assert "The sub-module fc1: N = 4097·F = 131,104" in str(report)
    assert "The sub-module fc1: " in report._repr_html_()


def test_cli_tolerance_needs_a_formula() -> None:
    proc = run(SEED, "--symbols", "F=32", "--tolerance", "5%")
    assert proc.returncode == 2
    assert "--tolerance needs --formula" in proc.stderr
