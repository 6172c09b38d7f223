"""Issue 14: the ``flopcount`` directive and role, in reST and MyST, checked like ``paramcount``.

Small Sphinx projects under ``tests/roots/test-flopcount*``: the seed SimpleNet
on ``1, 3, 32, 32`` does conv1 442,368 + fc1 131,072 + fc2 64 = 573,504 MACs,
1,147,008 FLOPs.
"""

from __future__ import annotations

import ast
import operator
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup

from sphinx_paramcount.compute import CONVENTION
from sphinx_paramcount.compute_request import ComputeRequest, parse_request, parse_stated_compute
from sphinx_paramcount.errors import OptionError
from sphinx_paramcount.sphinxext.reading import page_computes
from sphinx_paramcount.stated import ClaimKey
from tests.test_pdf import _compile
from tests.test_reliability import ROOTS, problems, table_rows
from tests.test_trust_sphinx import problems as summary_problems
from tests.test_trust_sphinx import run_update as update
from tests.test_trust_sphinx import sphinx_build

SEED = "tests.models.seed:SimpleNet"
GPT2 = "transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config(n_layer=2))"
GPT2_MACS = 844_836_864  # 2 blocks of 113,639,424 + lm_head 768 x 50,257 x 16
HEADER = ["Layer", "MACs", "Share", "Type", "Output shape", "Formula", "Derivation"]


def _tables(html: str) -> list[list[list[str]]]:
    soup = BeautifulSoup(html, "html.parser")
    return [table_rows(t) for t in soup.select("div.flopcount table.paramcount-table")]


def _value(latex: str) -> int:
    """A derivation as the page shows it (``1 \\times 2 \\times 16^2``): whole numbers, +, x and powers only."""
    tree = ast.parse(latex.replace(r"\times", "*").replace("{,}", "").replace("^", "**"), mode="eval")
    ops = {ast.Add: operator.add, ast.Mult: operator.mul, ast.Pow: operator.pow}

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        assert isinstance(node, ast.BinOp) and type(node.op) in ops, latex
        return ops[type(node.op)](value(node.left), value(node.right))  # type: ignore[no-any-return]

    return value(tree.body)


def _adds_up(rows: list[list[str]]) -> dict[str, list[str]]:
    """Every row's derivation evaluates to its MACs, and the counted rows (not the detail rows) to the total."""
    assert rows[0] == HEADER
    body = rows[1:]
    for row in body:
        derivation = row[-1]
        assert derivation.startswith(r"\(") and derivation.endswith(r"\)"), row
        assert _value(derivation[2:-2]) == int(row[1].strip("()").replace(",", "")), row
    assert body[-1][0] == "Total"
    counted = [int(r[1].replace(",", "")) for r in body[:-1] if not r[1].startswith("(")]
    assert sum(counted) == int(body[-1][1].replace(",", ""))
    return {r[0]: r for r in body}


# -- reST ----------------------------------------------------------------------------------------------


@pytest.mark.sphinx("html", testroot="flopcount", freshenv=True)
def test_rst_table_roles_and_formats_show_the_seed_macs(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    assert "paramcount" not in warning.getvalue()
    html = (app.outdir / "index.html").read_text()
    first = _tables(html)[0]
    body = _adds_up(first)
    assert [r[:5] for r in first[1:]] == [
        ["conv1", "442,368", "77.1%", "Conv2d(3, 16, k=3)", "(1, 16, 32, 32)"],
        ["fc1", "131,072", "22.9%", "Linear(4096, 32)", "(1, 32)"],
        ["fc2", "64", "<0.1%", "Linear(32, 2)", "(1, 2)"],
        ["Total", "573,504", "100.0%", "", ""],
    ]
    assert body["conv1"][5] == r"\(B \cdot C_{out} \cdot C_{in} \cdot k_h \cdot k_w \cdot H_{out} \cdot W_{out}\)"
    assert body["conv1"][6] == r"\(1 \times 16 \times 3 \times 3 \times 3 \times 32 \times 32\)"
    assert body["Total"][6] == r"\(442{,}368 + 131{,}072 + 64\)"
    soup = BeautifulSoup(html, "html.parser")
    summary = [p.get_text().strip() for p in soup.select("div.flopcount p.paramcount-summary")]
    assert summary[0] == (
        "573,504 MACs = 1,147,008 FLOPs for one forward pass on an input of shape (1, 3, 32, 32), float32. "
        + CONVENTION
    )
    # The table's symbols, each once, with what it stands for.
    assert summary[1].startswith(r"Symbols: \(B\): batch size; \(C_{out}\): number of filters (output channels);")
    # The same CSS classes as the parameter table: its count column aligned, its sticky name column.
    assert soup.select_one("div.flopcount th.paramcount-count").get_text() == "MACs"
    assert soup.select_one("div.flopcount code.paramcount-name").get_text() == "conv1"
    # :numref: resolves to the captioned table.
    assert 'href="#simplenet-macs"' in html and "SimpleNet compute" in html
    # Roles: the computed MACs, and the author's checked text as written.
    roles = [s.get_text() for s in soup.select("span.flopcount")]
    assert roles == ["573,504 MACs", "573,504 MACs", "1.15M FLOPs", "0.57 MMACs"]
    # :format: derivation: each row's formula, factors and substitution; the total; the FLOPs.
    prose = soup.select("div.flopcount")[1].get_text(" ", strip=True)
    assert r"MACs = \(N \cdot d_{in} \cdot d_{out}\)" in prose or r"MACs = \(d_{in} \cdot d_{out} \cdot N\)" in prose
    assert r"MACs: \(1 \times 16 \times 3 \times 3 \times 3 \times 32 \times 32 = 442{,}368\)" in prose
    assert r"Total MACs: \(442{,}368 + 131{,}072 + 64 = 573{,}504\)" in prose
    assert r"FLOPs: \(2 \times 573{,}504 = 1{,}147{,}008\)" in prose
    # :format: total: the MACs, with the author's class.
    assert soup.select_one("p.flopcount.macs-total").get_text() == "573,504"


@pytest.mark.sphinx("html", testroot="flopcount", freshenv=True)
def test_gpt2_int64_tokens_repeats_depth_and_the_parameter_table_shapes(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    html = (app.outdir / "gpt2.html").read_text()
    full, depth1, measured = _tables(html)
    rows = _adds_up(full)
    # The two blocks collapse into one repeat row; the first block's rows are shown, not added again.
    assert rows["transformer.h.0–1"][3].startswith("2 × GPT2Block")
    assert rows["transformer.h.0.attn"][1].startswith("(")
    assert rows["lm_head"][4] == "(1, 16, 50257)"
    assert rows["Total"][1] == f"{GPT2_MACS:,}"
    top = _adds_up(depth1)
    assert list(top) == ["transformer", "lm_head", "Total"]
    assert top["Total"][1] == f"{GPT2_MACS:,}"
    # paramcount takes :input-dtype: too: token ids run the forward pass, so outputs have shapes.
    soup = BeautifulSoup(html, "html.parser")
    params = table_rows(soup.select("div.paramcount table.paramcount-table")[0])
    assert params[0] == ["Layer", "Parameters", "Share", "Type", "Output shape", "Formula", "Derivation"]
    assert {r[0]: r[4] for r in params[1:]}["lm_head"] == "(1, 16, 50257)"
    assert [s.get_text() for s in soup.select("span.flopcount")] == [f"{GPT2_MACS:,} MACs"]
    # A layer without a MAC formula: the measured number, no formula, and why, under the table.
    gram = _adds_up(measured)["gram"]
    assert gram[1:] == ["256", "66.7%", "Gram", "(1, 8, 8)", "measured", r"\(256\)"]
    notes = soup.select("div.flopcount")[2].select("ul.paramcount-notes li")
    assert [li.get_text() for li in notes] == ["gram: no MAC formula for Gram: the count the forward pass did."]
    # :root: one block: its MACs alone, checked.
    assert soup.select_one("p.flopcount.block-macs").get_text() == f"{(GPT2_MACS - 617_558_016) // 2:,}"


# -- MyST ----------------------------------------------------------------------------------------------


@pytest.mark.sphinx("html", testroot="flopcount-myst", freshenv=True)
def test_myst_directive_and_roles(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    assert "paramcount" not in warning.getvalue()
    html = (app.outdir / "index.html").read_text()
    table, _ = [*_tables(html), None]
    assert _adds_up(table)["Total"][1] == "573,504"
    soup = BeautifulSoup(html, "html.parser")
    assert [s.get_text() for s in soup.select("span.flopcount")] == [
        "573.5 KMACs",
        "573,504 MACs",
        "1,147,008 FLOPs",
    ]
    assert 'href="#simplenet-macs-myst"' in html
    assert r"FLOPs: \(2 \times 573{,}504 = 1{,}147{,}008\)" in soup.get_text(" ", strip=True)


# -- errors --------------------------------------------------------------------------------------------


def test_stated_numbers_that_do_not_hold_fail_the_build_located(tmp_path):
    build = sphinx_build(ROOTS / "test-flopcount-errors", tmp_path / "out")
    assert build.returncode == 1, build.stderr
    found = summary_problems(build)
    assert [(f, line, sub) for f, line, sub, _ in found] == [
        ("index.rst", 4, "mismatch"),
        ("index.rst", 8, "mismatch"),
        ("index.rst", 12, "mismatch"),
        ("index.rst", 16, "option"),
        ("index.rst", 19, "instantiate"),
        ("index.rst", 22, "mismatch"),
        ("index.rst", 24, "option"),
        ("index.rst", 26, "option"),
        ("index.rst", 28, "option"),
        ("index.rst", 30, "option"),
        ("index.rst", 30, "option"),
        ("index.rst", 35, "mismatch"),
    ]
    messages = [m.split(" (run 'sphinx-paramcount")[0] for *_, m in found]
    seed = f"{SEED} at input (1, 3, 32, 32)"
    assert messages[0] == f"stated 573,505 MACs for {seed}, but the model does 573,504 MACs: -1 (-0.00017%)"
    assert messages[1] == (
        f"stated 573,504 FLOPs for {seed}, but the model does 573,504 MACs = 1,147,008 FLOPs: did you mean :macs:?"
    )
    assert messages[2].startswith(f"stated 573K MACs for {seed}, but the model does 573,504 MACs (574 KMACs at the")
    assert messages[3].startswith(f"{SEED}: flopcount needs :input-shape:")
    assert "failed in layer 'transformer.wte' (Embedding)" in messages[4]
    assert messages[5] == messages[0]
    assert "does not say whether it counts MACs or FLOPs" in messages[6]
    assert messages[7] == f"{SEED}: the role gives no input shape after '@'"
    assert "the role gives no input shape after '@' (write :flopcount:`" in build.stderr  # the hint, in the log
    assert "input dtype 'long' is not one of" in messages[8]
    assert "unknown option :total:" in messages[9]
    assert ":expect: names row 'fc3'" in messages[10]
    # A role states its measure in its title: the 2x hint names the word to write there, not an option.
    assert messages[11] == (
        f"stated 573,504 FLOPs for {seed}, but the model does 573,504 MACs = 1,147,008 FLOPs: did you mean MACs?"
    )
    # Nothing the author wrote is lost: a role that failed is shown as written.
    html = (tmp_path / "out" / "index.html").read_text()
    assert f'<span class="problematic">:flopcount:`573,504 &lt;{SEED} &#64; 1, 3, 32, 32&gt;`</span>' in html


@pytest.mark.sphinx("html", testroot="flopcount-myst-errors", freshenv=True)
def test_myst_problems_are_located_at_the_fence_and_the_role(app, status, warning):
    app.build()
    assert app.statuscode == 1
    # The end-of-build summary: the subtype is there on every Sphinx (its log lines have it from Sphinx 8).
    logs = SimpleNamespace(stdout=status.getvalue(), stderr=warning.getvalue())
    found = [(f, line, sub) for f, line, sub, _ in summary_problems(logs)]
    assert found == [("index.md", 5, "option"), ("index.md", 9, "option"), ("index.md", 11, "mismatch")]


# -- other builders, parallel reading --------------------------------------------------------------------


@pytest.mark.sphinx("latex", testroot="flopcount", freshenv=True)
def test_latex_writes_the_compute_table_as_a_longtable(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    tex = next(Path(app.outdir).glob("*.tex")).read_text()
    table = tex.split(r"\caption{SimpleNet compute")[1].split(r"\end{longtable}")[0]
    assert re.search(r"\\sphinxstyletheadfamily[^&]*?\bMACs\n", table)  # the count column's header
    assert r"\(1 \times 16 \times 3 \times 3 \times 3 \times 32 \times 32\)" in tex
    assert r"\(442{,}368 + 131{,}072 + 64\)" in tex


def test_the_compute_tables_compile_to_pdf(tmp_path):
    tex = _compile(tmp_path, "test-flopcount")
    assert r"\begin{longtable}" in tex and "844,836,864 MACs" in tex


def test_parallel_build_passes_and_shows_what_a_serial_one_shows(tmp_path):
    shown = {}
    for jobs in ("1", "2"):
        build = sphinx_build(ROOTS / "test-flopcount", tmp_path / jobs, "-j", jobs)
        assert build.returncode == 0, build.stderr
        assert problems(build.stderr) == []
        pages = [BeautifulSoup((tmp_path / jobs / f"{p}.html").read_text(), "html.parser") for p in ("index", "gpt2")]
        shown[jobs] = [str(n) for soup in pages for n in soup.select("div.flopcount, p.flopcount, span.flopcount")]
    assert len(shown["1"]) == 12  # 5 tables and prose, 2 totals, 5 roles
    assert shown["2"] == shown["1"]


def test_each_forward_pass_is_run_once_before_a_parallel_build_forks(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    repo = str(ROOTS.parent.parent)
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {repo!r})\nextensions = ['sphinx_paramcount']\n")
    pages = [f"page{i}" for i in range(8)]
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n" + "".join(f"   {p}\n" for p in pages))
    linear = "tests.models.counted_builds:logged_linear"
    for i, page in enumerate(pages):
        (src / f"{page}.rst").write_text(
            f"Page {i}\n======\n\n.. flopcount:: {linear}\n   :input-shape: 1, 4\n   :macs: 8\n\n"
            f"It does :flopcount:`16 FLOPs <{linear} @ 1, 4>`.\n"
        )
    log = tmp_path / "builds.log"
    result = sphinx_build(src, tmp_path / "out", "-j", "2", env={"PARAMCOUNT_BUILD_LOG": str(log)})
    assert result.returncode == 0, result.stderr
    assert len(log.read_text().splitlines()) == 1
    assert '<span class="flopcount">16 FLOPs</span>' in (tmp_path / "out" / "page3.html").read_text()


def test_page_computes_reads_directives_and_roles():
    text = (ROOTS / "test-flopcount" / "index.rst").read_text() + (ROOTS / "test-flopcount" / "gpt2.rst").read_text()
    assert page_computes(text) == {
        ComputeRequest(SEED, (1, 3, 32, 32), "float32"),
        ComputeRequest(GPT2, (1, 16), "int64"),
        ComputeRequest("flopmodels:GramNet", (1, 8, 4), "float32"),
    }
    myst = (ROOTS / "test-flopcount-myst" / "index.md").read_text()
    assert page_computes(myst) == {ComputeRequest(SEED, (1, 3, 32, 32), "float32")}


# -- the role's text --------------------------------------------------------------------------------------


def test_role_target_and_title_forms():
    assert parse_request("m:M @ 1, 16 int64") == ComputeRequest("m:M", (1, 16), "int64")
    assert parse_request("m:M(2) @ (1, 3, 8, 8), torch.float16") == ComputeRequest("m:M(2)", (1, 3, 8, 8), "float16")
    stated = {t: parse_stated_compute(t) for t in ("573,504 MACs", "4.09G FLOPs", "4.09 GFLOPs", "574 KMACs")}
    assert {t: (c.key, c.count.text) for t, c in stated.items()} == {
        "573,504 MACs": (ClaimKey("macs"), "573,504"),
        "4.09G FLOPs": (ClaimKey("flops"), "4.09G"),
        "4.09 GFLOPs": (ClaimKey("flops"), "4.09 G"),
        "574 KMACs": (ClaimKey("macs"), "574 K"),
    }
    with pytest.raises(OptionError, match="gives no input shape"):
        parse_request("m:M")
    with pytest.raises(OptionError, match="names no model"):
        parse_request(" @ 1, 2")
    with pytest.raises(OptionError, match="does not say whether it counts MACs or FLOPs"):
        parse_stated_compute("4.09G")


# -- update ------------------------------------------------------------------------------------------------


def test_update_rewrites_stale_compute_numbers_in_the_authors_form(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-flopcount-myst", src)
    (src / "stale.rst").write_text(
        "Stale\n=====\n\n"
        f".. flopcount:: {SEED}\n"
        "   :input-shape: 1, 3, 32, 32\n"
        "   :macs: 573,000\n"
        "   :flops: 1.2M\n"
        "   :expect: conv1=442_000, fc2=64\n\n"
        f"Inline: :flopcount:`4.09 GFLOPs <{SEED} @ 1, 3, 32, 32>` and :flopcount:`570.1K MACs <{SEED} @ 1, 3, 32, 32>`.\n"
    )
    index = src / "index.md"
    index.write_text(index.read_text().replace(":macs: 573,504", ":macs: 573,111") + "\n```{toctree}\nstale\n```\n")
    written = update("--write", str(src), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stderr == "sphinx-paramcount: 6 stated numbers updated\n"
    stale = (src / "stale.rst").read_text()
    assert "   :macs: 573,504\n   :flops: 1.1M\n   :expect: conv1=442_368, fc2=64\n" in stale
    # A rounded GFLOPs figure for a model below a billion moves to the unit it reaches, decimals kept.
    assert f"Inline: :flopcount:`1.15 MFLOPs <{SEED} @ 1, 3, 32, 32>` and :flopcount:`573.5K MACs <" in stale
    assert ":macs: 573,504" in index.read_text()
    rebuilt = sphinx_build(src, tmp_path / "out")
    assert rebuilt.returncode == 0, rebuilt.stderr
