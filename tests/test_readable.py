"""Issue 12: rows that say what they are, one style in every output, the CLI's formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sphinx_paramcount import render
from sphinx_paramcount.api import explain
from sphinx_paramcount.count import compact_sum
from sphinx_paramcount.errors import OptionError
from sphinx_paramcount.options import parse_options
from sphinx_paramcount.report import percent
from sphinx_paramcount.stated import Claim, ClaimKey, StatedCount, describe_difference, parse_stated
from sphinx_paramcount.views import at_root, check, view
from tests.arith import latex_value
from tests.test_reliability import table_rows

REPO = Path(__file__).resolve().parent.parent
READABLE = "tests.models.readable"
RESNET = "benchmarks.models:ResNet50"


def _adds_up(report, rows) -> None:
    for row in rows:
        assert latex_value(row.derivation) == row.params, row
    assert sum(r.params for r in rows if not r.detail) == report.total
    assert latex_value(render.total_derivation(rows)) == report.total


# -- compact sums --------------------------------------------------------------------------


def test_compact_sum_groups_equal_terms_and_evaluates() -> None:
    assert compact_sum([2048, 70_400, 70_400, 70_400, 70_400, 70_400]) == r"2{,}048 + 5 \times 70{,}400"
    assert compact_sum([5, 0, 5]) == r"2 \times 5"  # tied rows add no "+ 0"
    assert compact_sum([]) == compact_sum([0]) == "0"
    assert latex_value(compact_sum([3, 7, 3, 7, 1])) == 21


# -- depth rows ----------------------------------------------------------------------------


def test_depth_rows_on_resnet50_show_their_structure() -> None:
    report = explain(RESNET)
    rows = view(report, 1)
    _adds_up(report, rows)
    layer3 = next(r for r in rows if r.name == "layer3")
    assert layer3.label == "Sequential: Bottleneck + 5 × Bottleneck"
    assert layer3.derivation == r"1{,}512{,}448 + 5 \times 1{,}117{,}184"
    assert layer3.formula == r"n_{\mathrm{0}} + 5 \cdot n_{\mathrm{1}}"
    assert layer3.legend == (
        (r"n_{\mathrm{0}}", "Parameters of layer3.0 (Bottleneck)", 1_512_448),
        (r"n_{\mathrm{1}}", "Parameters of each of layer3.1 ... layer3.5 (Bottleneck)", 1_117_184),
    )
    assert layer3.note == ""  # no "sum of 38 rows below" with no rows below
    # The Total row: seven terms, grouped where equal, not a 39-term sum.
    assert render.total_derivation(rows).count("+") == 6


def test_cli_depth_1_on_resnet50_fits_120_columns() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sphinx_paramcount", RESNET, "--depth", "1"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 120, max(lines, key=len)
    assert any(line.split()[:4] == ["layer3", "7,098,368", "Sequential:", "Bottleneck"] for line in lines)
    assert any(" Sequential: Bottleneck + 5 × Bottleneck " in line for line in lines)
    # The Total's derivation wraps inside its column, and still lists every term.
    total = out[out.index("\nTotal") :]
    assert "25,557,032" in total and "14,964,736" in total


def test_text_table_fits_a_narrow_width() -> None:
    report = explain(RESNET)
    text = render.to_text(report, view(report, 1), width=80)
    assert max(len(line) for line in text.splitlines()) <= 80


def test_text_table_keeps_its_columns_when_a_word_is_wider_than_the_terminal_allows() -> None:
    # "transformer.wte.weight", "Embedding(50257,": a word longer than its shrunk column
    # once ran into the next column and past the terminal's edge (100 columns at 90).
    report = explain("transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1))")
    for width in (72, 90, 100):
        lines = render.to_text(report, view(report, 2), width=width).splitlines()
        table = lines[2 : 2 + next(i for i, line in enumerate(lines[2:]) if not line)]
        assert max(len(line) for line in table) <= width, (width, table)
        starts = [i + 3 for i in range(len(table[1])) if table[1][i : i + 3] == "-  "]
        for line in table:
            assert all(line[k - 2 : k] in ("  ", " ", "") for k in starts), (width, line)


# -- a sub-tree ----------------------------------------------------------------------------


def test_root_starts_the_table_at_a_submodule() -> None:
    report = at_root(explain(RESNET), "layer1")
    assert (report.total, report.root) == (215_808, "layer1")
    rows = view(report, 1)
    assert [(r.name, r.params, r.depth) for r in rows if not r.detail] == [("0", 75_008, 1), ("1–2", 140_800, 1)]
    _adds_up(report, rows)
    assert "The total counts layer1 (Sequential), not the whole model." in render.to_text(report, rows)
    # Stated numbers are checked against the sub-tree, under the names the table prints.
    result = check(
        report,
        rows,
        [Claim(ClaimKey("total"), parse_stated("215,808")), Claim(ClaimKey("row", "1-2"), parse_stated("140800"))],
    )
    assert not result.mismatches and not result.unknown
    assert report.bytes_by_dtype == {"float32": 215_808 * 4}
    # A stale number says whose count it is: layer1's, not ResNet-50's.
    stale = check(report, rows, [Claim(ClaimKey("total"), parse_stated("215,000"))]).mismatches
    assert (
        stale[0].message
        == f"stated total 215,000 for {RESNET}, sub-module layer1, but the model has 215,808: +808 (+0.38%)"
    )
    assert render.to_text(report, rows).splitlines()[0] == f"{RESNET}, sub-module layer1: 215,808 parameters"


def test_root_that_is_no_submodule_is_an_option_error() -> None:
    with pytest.raises(OptionError, match=r":root: 'layer9' is not a sub-module of ResNet50") as err:
        at_root(explain(RESNET), "layer9")
    assert err.value.hint == "did you mean 'layer4'?"
    parsed = parse_options([("root", " base_model.model "), ("depth", "1")])
    assert (parsed.options.root, parsed.errors) == ("base_model.model", [])
    bad = parse_options([("root", "a b")])
    assert [e.message for e in bad.errors] == [":root: 'a b' is not a sub-module name"]


# -- tied and shared -----------------------------------------------------------------------


def test_tied_row_says_tied_to() -> None:
    report = explain(f"{READABLE}:TiedHead")
    head = report.row("lm_head")
    assert head is not None and head.params == 0
    assert render.plain(head.formula) == render.plain(head.derivation) == "tied to wte.weight"
    assert r"\text{tied to }\mathtt{wte.weight}" in render.to_markdown(report)


def test_shared_module_in_three_blocks() -> None:
    report = explain(f"{READABLE}:SharedProj")
    assert report.total == 3 * 40 + 20 == 140
    later = report.row("blocks.1.proj")
    assert later is not None and later.params == 0
    assert later.note == "blocks.1.proj is blocks.0.proj, counted there"
    assert render.plain(later.derivation) == "same module as blocks.0.proj"
    rows = view(report)
    repeat = rows[0]
    assert (repeat.name, repeat.repeat, repeat.params) == ("blocks.0–2", 3, 140)
    # One block holds 60 (its fc and the shared proj); later blocks add 40 each.
    assert repeat.derivation == r"60 + 2 \times 40"
    assert repeat.legend[0] == (r"n_{\mathrm{block}}", "Parameters one block holds (blocks.0)", 60)
    assert repeat.note == "each block holds 60; modules shared between blocks are counted once"
    _adds_up(report, rows)


def test_albert_shares_one_layer_four_times() -> None:
    report = explain(f"{READABLE}:AlbertLike")
    assert report.total == 40 + 20
    assert [(r.name, r.params) for r in report.rows] == [
        ("embed", 40),
        ("layers.0", 20),
        ("layers.1", 0),
        ("layers.2", 0),
        ("layers.3", 0),
    ]
    assert report.row("layers.3").note == "layers.3 is layers.0, counted there"
    repeat = view(report)[1]
    assert (repeat.name, repeat.derivation, repeat.params) == ("layers.0–3", r"20 + 3 \times 0", 20)
    _adds_up(report, view(report))


# -- frozen and trainable ------------------------------------------------------------------


def test_frozen_rows_marked_and_peft_summary() -> None:
    report = explain(f"{READABLE}:FrozenBase")
    text = render.to_text(report, view(report))
    assert "backbone (frozen)" in text
    assert "\nhead " in text
    assert "trainable params: 18 || all params: 90 || trainable%: 20.0000" in text
    assert render.FROZEN_LEGEND in text
    md = render.to_markdown(report, view(report))
    assert "| backbone (frozen) |" in md


def test_peft_lora_summary_matches_print_trainable_parameters() -> None:
    peft = pytest.importorskip("peft")
    transformers = pytest.importorskip("transformers")
    import torch

    with torch.device("meta"):
        base = transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config())
    model = peft.get_peft_model(base, peft.LoraConfig(r=8, target_modules=["c_attn"]))
    trainable, total = model.get_nb_trainable_parameters()
    from sphinx_paramcount.count import count_model

    report = count_model(model, "lora")
    assert (report.trainable, report.total) == (trainable, total) == (294_912, 124_734_720)
    assert render.trainable_line(report) == "trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364"
    sub = at_root(report, "base_model.model")
    assert sub.total == 124_734_720 - 0  # the wrapper owns no parameters of its own
    rows = view(sub, None, collapse=False)
    # The LoRA-wrapped layer is one row (its formula covers the frozen base and the adapter): partly frozen.
    c_attn = next(r for r in rows if r.name.endswith("h.0.attn.c_attn"))
    assert c_attn.trainable == 8 * (768 + 2304)
    assert render.state(c_attn, sub) == "partly frozen"
    c_fc = next(r for r in rows if r.name.endswith("h.0.mlp.c_fc"))
    assert render.state(c_fc, sub) == "frozen"


# -- labels and singulars ------------------------------------------------------------------


def test_readable_labels() -> None:
    odd = explain(f"{READABLE}:Odd")
    assert [(r.name, r.label) for r in odd.rows] == [
        ("plist", "ParameterList(2 tensors)"),
        ("pdict", "ParameterDict(1 tensor)"),
    ]
    scripted = explain(f"{READABLE}:scripted")
    assert scripted.rows[0].label == "Conv2d (TorchScript)"


def test_quantized_zero_is_explained_on_the_page() -> None:
    report = explain("tests.models.zoo:float_and_quantized")
    assert report.explained and "keep their weights packed" in report.explained[0]
    assert report.explained[0] in render.to_text(report).replace("\n  ", " ")


def test_singulars() -> None:
    report = explain(f"{READABLE}:one_parameter")
    assert render.to_text(report).splitlines()[0] == f"{READABLE}:one_parameter: 1 parameter"
    assert render.plural(1, "row") == "1 row" and render.plural(1200, "row") == "1,200 rows"


# -- one style -----------------------------------------------------------------------------


def test_one_percentage_format() -> None:
    assert percent(0.02) == "0.02%"
    assert percent(0.00061) == "0.00061%"
    assert percent(8e-5) == "0.000080%"
    assert "e-" not in percent(8e-7)
    assert percent(0.05, decimals=1, smallest=0.1) == "<0.1%"
    # A mismatch far below 0.01%: fixed notation, never an exponent.
    assert describe_difference(StatedCount("6738415616", 6_738_415_616), 6_738_415_680) == "+64 (+0.00000095%)"


def test_cli_format_total_and_root() -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "sphinx_paramcount", *args], capture_output=True, text=True, cwd=REPO
        )

    assert run("tests.models.seed:SimpleNet", "--format", "total").stdout == "131,618\n"
    assert run(RESNET, "--root", "layer1", "-f", "total").stdout == "215,808\n"
    data = json.loads(run(RESNET, "--root", "layer1", "-f", "json").stdout)
    assert (data["root"], data["total"], data["rows"][0]["name"]) == ("layer1", 215_808, "0.conv1")
    # The heading names the sub-module: 215,808 is not ResNet-50's count.
    assert run(RESNET, "--root", "layer1").stdout.splitlines()[0] == f"{RESNET}, sub-module layer1: 215,808 parameters"
    bad = run(RESNET, "--root", "layer9")
    assert bad.returncode == 2
    assert bad.stderr.splitlines() == [
        "sphinx-paramcount: error [option]: :root: 'layer9' is not a sub-module of ResNet50",
        "  hint: did you mean 'layer4'?",
    ]


def test_cli_input_shape_adds_the_output_shape_column_as_the_directive_does() -> None:
    args = [sys.executable, "-m", "sphinx_paramcount", "tests.models.seed:SimpleNet", "--input-shape", "1, 3, 32, 32"]
    text = subprocess.run(args, capture_output=True, text=True, check=True, cwd=REPO).stdout.splitlines()
    assert text[2].startswith("Layer  Parameters  Type                Output shape     Formula ")
    assert text[4].startswith("conv1         448  Conv2d(3, 16, k=3)  (1, 16, 32, 32)  C_out")
    md = subprocess.run([*args, "-f", "markdown"], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert md.splitlines()[:3] == [
        "| Layer | Parameters | Type | Output shape | Formula | Derivation |",
        "|---|---:|---|---|---|---|",
        r"| conv1 | 448 | Conv2d(3, 16, k=3) | (1, 16, 32, 32) | $C_{out} \cdot C_{in} \cdot k_h \cdot k_w + C_{out}$"
        r" | $16 \times 3 \times 3 \times 3 + 16$ |",
    ]
    assert "| **Total** | **131,618** | | | | $448 + 131{,}104 + 66$ |" in md.splitlines()


# -- in a Sphinx build ---------------------------------------------------------------------


def _rows(html: str, table_id: str) -> list[list[str]]:
    from bs4 import BeautifulSoup

    table = BeautifulSoup(html, "html.parser").find(id=table_id)
    return table_rows(table)


@pytest.mark.sphinx("html", testroot="readable-rows", freshenv=True)
def test_root_frozen_and_tied_rows_in_html(app, warning):
    app.build()
    html = (app.outdir / "index.html").read_text()
    sub = _rows(html, "sub-tree")
    assert [r[0] for r in sub] == ["Layer", "0", "1–2", "1", "Total"]
    assert sub[-1][1] == "215,808"
    assert "The total counts layer1 (Sequential), not the whole model." in html
    frozen = _rows(html, "frozen")
    assert frozen[1][0] == "backbone frozen" and frozen[2][0] == "head"
    assert "trainable params: 18 || all params: 90 || trainable%: 20.0000." in html
    assert "Rows marked frozen hold parameters with requires_grad=False" in html
    tied = _rows(html, "tied")
    assert tied[2][4] == tied[2][5] == "tied to wte.weight"
    # The stated numbers under :root: pass; the unknown :root: is one located option error.
    problems = [line for line in warning.getvalue().splitlines() if "paramcount" in line]
    assert len(problems) == 1, problems
    assert "index.rst:17:" in problems[0] and "[paramcount.option]" in problems[0]
    assert ":root: 'layer9' is not a sub-module of ResNet50" in problems[0]
    assert app.statuscode == 1


def test_total_derivation_is_short_and_groups_only_neighbours() -> None:
    """Found by a tester: a full ResNet-50 table's Total was a 24-term sum, and Llama's
    embedding and untied head read ``2 × 131,072,000`` as if they were a repeated block."""
    resnet = explain(RESNET)
    assert render.total_derivation(resnet.rows) == (
        "9{,}408 + 128 + 215{,}808 + 1{,}219{,}584 + 7{,}098{,}368 + 14{,}964{,}736 + 2{,}049{,}000"
    )
    assert latex_value(render.total_derivation(resnet.rows)) == resnet.total == 25_557_032
    llama = explain("transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig())")
    shown = view(llama, None)
    assert render.total_derivation(shown) == "131{,}072{,}000 + 6{,}476{,}267{,}520 + 4{,}096 + 131{,}072{,}000"
    # Few rows: listed, equal neighbours grouped.
    nn = torch.nn
    few = explain(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2), nn.Linear(2, 4)))
    assert render.total_derivation(few.rows) == r"2 \times 20 + 10 + 12"
    # Many rows in one wrapper: its parts a level down, each summed (twelve 2-row blocks here).
    blocks = [nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1)) for _ in range(4)]
    wrapped = explain(nn.Sequential(nn.Sequential(*blocks, nn.Linear(3, 5))), expand_repeats=True)
    assert len(wrapped.rows) == 9
    assert render.total_derivation(wrapped.rows) == r"4 \times 16 + 20"


@pytest.mark.sphinx("latex", testroot="readable-rows", freshenv=True)
def test_a_tied_row_in_latex_is_words_and_a_name_that_can_wrap(app):
    """Found by a tester: the tie as inline math could not break and ran over the next column in the PDF."""
    app.build()
    tex = next(Path(app.outdir).glob("*.tex")).read_text()
    assert tex.count(r"tied to \sphinxcode{\sphinxupquote{wte.weight}}") == 2
    assert r"\text{tied to }" not in tex


def test_a_tied_row_in_the_notebook_display() -> None:
    nn = torch.nn
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    model[1].weight = model[0].weight
    report = explain(model)
    assert report._repr_html_().count("tied to <code>0.weight</code>") == 2
    assert report._repr_latex_().count(r"tied to \texttt{0.weight}") == 2
