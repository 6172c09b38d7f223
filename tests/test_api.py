"""The Python API: ``from sphinx_paramcount import explain``, a Report that displays and checks itself."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from torch import nn

import sphinx_paramcount
from sphinx_paramcount import MismatchError, Report, explain
from sphinx_paramcount.errors import InstantiateError, OptionError, ParamcountError, TargetError
from tests.models.seed import SimpleNet
from tests.tools import require

REPO = Path(__file__).resolve().parent.parent
SEED = "tests.models.seed:SimpleNet"
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))


def counts(report: Report) -> dict[str, int]:
    return {r.name: r.params for r in report.shown_rows}


def nested() -> nn.Module:
    """Two levels: ``0`` holds ``0.0`` (4 x 8 + 8 = 40) and ``0.1`` (8 x 8 + 8 = 72); ``1`` is 8 x 2 + 2 = 18."""
    return nn.Sequential(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8)), nn.Linear(8, 2))


# -- the package ------------------------------------------------------------------------


def test_import_is_cheap_and_the_api_is_exported():
    code = (
        "import sys, sphinx_paramcount as sp\n"
        "from sphinx_paramcount import explain, Report, ComputeReport, MismatchError\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print(sorted(sp.__all__), issubclass(MismatchError, AssertionError), Report.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == (
        "['ComputeReport', 'MismatchError', 'Report', '__version__', 'explain', 'setup'] True sphinx_paramcount.report"
    )


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'explainn'"):
        sphinx_paramcount.explainn  # noqa: B018


# -- what explain() accepts --------------------------------------------------------------


def test_an_instance_with_real_weights_is_counted_as_it_is_and_left_unchanged():
    model = SimpleNet()
    model.fc2.weight.requires_grad_(False)  # 64 frozen: counted as the instance has it
    before = copy.deepcopy(model.state_dict())
    params = [id(p) for p in model.parameters()]
    report = explain(model)
    assert (report.total, report.trainable, report.method) == (131_618, 131_554, "instance")
    assert counts(report) == {"conv1": 448, "fc1": 131_104, "fc2": 66}
    assert report.target == "tests.models.seed:SimpleNet instance"
    # Not rebuilt, moved or changed: the same tensors, on the CPU, with the same values.
    assert [id(p) for p in model.parameters()] == params
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.fc2.weight.requires_grad


def test_an_instance_forward_pass_runs_on_a_copy():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))  # training mode: a forward pass updates stats
    report = explain(model, input_shape=(2, 3, 8, 8))
    assert counts(report) == {"0": 3 * 4 * 9 + 4, "1": 8}
    assert report.row("1").output_shape == "(2, 4, 6, 6)"
    assert int(model[1].num_batches_tracked) == 0
    assert torch.equal(model[1].running_mean, torch.zeros(4))


def test_an_instance_of_lazy_layers_only_is_materialised_on_a_copy():
    # No initialised parameter says where the input goes: the lazy ones do (the CPU here).
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    report = explain(model, input_shape=(1, 3))
    assert counts(report) == {"0": 3 * 4 + 4, "2": 4 * 2 + 2}
    assert report.row("2").output_shape == "(1, 2)"
    assert type(model[0]) is nn.LazyLinear  # the instance itself is left lazy
    assert explain(nn.LazyLinear(4), input_shape=(1, 3)).total == 16


def test_a_class_is_built_on_meta_like_a_target():
    report = explain(SimpleNet)
    assert (report.total, report.method, report.target) == (131_618, "meta", SEED)
    assert counts(report) == {"conv1": 448, "fc1": 131_104, "fc2": 66}


def test_a_factory_is_called_with_no_arguments():
    report = explain(nested, device="cpu")
    assert (report.total, report.method, report.target) == (130, "cpu", f"{__name__}:nested")
    assert counts(report) == {"0.0": 40, "0.1": 72, "1": 18}


def test_a_factory_that_needs_arguments_says_how_to_pass_one():
    def make(width):
        return nn.Linear(width, 2)

    with pytest.raises(TargetError) as caught:
        explain(make)
    assert caught.value.message.endswith("needs arguments that were not given: width")
    assert caught.value.hint == "pass an instance, or a factory that needs no arguments, e.g. lambda: make(...)"
    # A class from a module: the hint is Python a cell can run, not the target's pkg.mod:Name.
    with pytest.raises(TargetError) as caught:
        explain(nn.Linear)
    assert caught.value.hint.endswith("e.g. lambda: Linear(...)")


def test_a_target_string():
    assert explain(SEED).total == 131_618
    conv = explain("torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)")
    assert (conv.total, conv.shown_rows[0].derivation) == (1160, r"8 \times 16 \times 3 \times 3 + 8")


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), "1, 3, 32, 32"])
def test_input_shape_adds_output_shapes(shape):
    report = explain(SimpleNet, input_shape=shape)
    assert {r.name: r.output_shape for r in report.shown_rows} == {
        "conv1": "(1, 16, 32, 32)",
        "fc1": "(1, 32)",
        "fc2": "(1, 2)",
    }


def test_depth_and_root_choose_the_view_and_checks_see_it():
    report = explain(nested(), depth=1)
    assert counts(report) == {"0": 112, "1": 18}
    # Every row is kept, so a stated count of a merged row's part is checked, as the directive does.
    assert [r.name for r in report.rows] == ["0.0", "0.1", "1"]
    assert report.check(expect={"0": 112, "0.1": 72}) is report
    assert "| 0 | 112 |" in report._repr_markdown_()
    sub = explain(nested(), root="0")
    assert (sub.total, counts(sub), sub.root) == (112, {"0": 40, "1": 72}, "0")


def test_a_torch_device_names_the_device():
    assert explain(SimpleNet, device=torch.device("cpu")).total == 131618


def test_repeated_blocks_collapse_unless_expanded():
    stack = nn.Sequential(*(nn.Linear(4, 4) for _ in range(3)))
    assert counts(explain(stack)) == {"0–2": 60, "0": 20}
    assert counts(explain(stack, expand_repeats=True)) == {"0": 20, "1": 20, "2": 20}


@pytest.mark.parametrize(
    ("model", "kwargs", "error", "message"),
    [
        (SimpleNet, {"depth": -1}, OptionError, "depth -1 is not a whole number of 0 or more"),
        (SimpleNet, {"depth": "one"}, OptionError, "'one' is not a whole number of 0 or more"),
        (SimpleNet, {"device": "cuda"}, OptionError, "'cuda' is not one of meta, cpu"),
        (SimpleNet, {"device": torch.device("cuda", 0)}, OptionError, "'cuda:0' is not one of meta, cpu"),
        (SimpleNet, {"device": 0}, OptionError, "'0' is not one of meta, cpu"),
        (SimpleNet, {"input_shape": (1, 0)}, OptionError, "input_shape (1, 0) is not a tuple of whole numbers"),
        (SimpleNet, {"root": "fc9"}, OptionError, ":root: 'fc9' is not a sub-module of SimpleNet"),
        (42, {}, InstantiateError, "42 (int) is not an nn.Module, a class or a factory"),
        ("tests.models.seed:SimpleNt", {}, ParamcountError, "SimpleNt"),
    ],
)
def test_bad_arguments_are_clear_errors(model, kwargs, error, message):
    with pytest.raises(error) as caught:
        explain(model, **kwargs)
    assert message in caught.value.message


# -- check -------------------------------------------------------------------------------


def test_check_returns_the_report_when_every_number_holds():
    report = explain(SimpleNet())
    assert report.check(total="131,618", trainable=131618, expect={"conv1": 448, "fc1": "131,104"}) is report
    assert report.check(total="131.6K", expect="conv1=448, fc1=131,104, fc2=66") is report


def test_check_raises_the_builds_message(app_mismatch_messages):
    with pytest.raises(AssertionError) as caught:
        explain(SimpleNet).check(total="131,586")
    assert isinstance(caught.value, MismatchError)
    # Word for word what the docs build prints for the same stated number (test-mismatch's index.rst).
    (build,) = [m for m in app_mismatch_messages if m.startswith("stated total 131,586")]
    assert str(caught.value) == (
        "stated total 131,586 for tests.models.seed:SimpleNet, but the model has 131,618: +32 (+0.02%)"
    )
    # The build adds where to update the number.
    assert build.startswith(str(caught.value) + " (run 'sphinx-paramcount update ")
    (mismatch,) = caught.value.mismatches
    assert (mismatch.key.what, mismatch.stated.value, mismatch.actual) == ("total", 131_586, 131_618)


def test_a_failing_check_in_pytest_points_at_the_tests_line(tmp_path):
    (tmp_path / "test_size.py").write_text(
        "from sphinx_paramcount import explain\n"
        "from tests.models.seed import SimpleNet\n"
        "\n"
        "def test_size():\n"
        "    explain(SimpleNet).check(total='131,586')\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_size.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "ext"), str(REPO)])},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stdout
    assert ">       explain(SimpleNet).check(total='131,586')" in out.stdout
    assert "test_size.py:5: MismatchError" in out.stdout
    # The extension's own frames are hidden: the test's line is the last one shown.
    assert "sphinx_paramcount/api.py" not in out.stdout
    assert "sphinx_paramcount/report.py" not in out.stdout


def test_check_lists_every_number_that_does_not_hold():
    with pytest.raises(MismatchError) as caught:
        explain(SimpleNet).check(total="131.7K", trainable=131_618, expect={"conv1": 447, "fc9": 66})
    assert str(caught.value).splitlines() == [
        "3 stated numbers do not hold for tests.models.seed:SimpleNet:",
        "- stated total 131.7K for tests.models.seed:SimpleNet, but the model has 131,618 "
        "(131.6K at the stated precision): -82 (-0.06%)",
        "- stated row 'conv1' 447 for tests.models.seed:SimpleNet, but the model has 448: +1 (+0.22%)",
        "- :expect: names row 'fc9', which the model does not have (did you mean 'fc2', 'fc1'?)",
    ]
    assert [u.key.row for u in caught.value.unknown] == ["fc9"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total": "abc"}, "stated total 'abc' is not a number"),
        ({"total": 1.5}, "stated total 1.5 is a float, not a whole number of parameters"),
        ({"trainable": True}, "stated trainable count True is a bool, not a whole number of parameters"),
        ({"total": -3}, "stated total '-3' is not a number: a count cannot be negative"),
        ({"expect": {"fc1": "13l,104"}}, "expect count for 'fc1' '13l,104' is not a number"),
        ({"expect": "conv1 448"}, ":expect: entry 'conv1 448' is not of the form row=count"),
        ({"expect": [("conv1", 448)]}, "expect is a list, not a dict"),
    ],
)
def test_check_of_a_malformed_number_is_an_option_error(kwargs, message):
    with pytest.raises(OptionError) as caught:
        explain(SimpleNet).check(**kwargs)
    assert caught.value.message.startswith(message)


@pytest.fixture
def app_mismatch_messages(make_app, rootdir, tmp_path) -> list[str]:
    """The messages of the problems the docs build reports for ``test-mismatch``."""
    shutil.copytree(rootdir / "test-mismatch", tmp_path / "src")
    app = make_app("html", srcdir=tmp_path / "src")
    app.build()
    log = re.sub(r"\x1b\[[0-9;]*m", "", app._warning.getvalue())
    return [m.group(1) for m in re.finditer(r"paramcount: (.*?) \[paramcount\.\w+\]", log)]


# -- displays ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "shown"),
    [("text", str), ("markdown", Report._repr_markdown_), ("derivation", Report.derivation)],
)
def test_text_markdown_and_derivation_are_the_command_lines(fmt, shown):
    cli = subprocess.run(
        [sys.executable, "-m", "sphinx_paramcount", SEED, "--format", fmt, "--depth", "1"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
        cwd=REPO,
    )
    assert cli.returncode == 0, cli.stderr
    assert shown(explain(SimpleNet, depth=1)) == cli.stdout


class Cells(HTMLParser):
    """The text of every cell of the first ``paramcount-table``, row by row; math as its TeX."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.classes: list[list[str]] = []
        self._in_table = self._done = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "paramcount-table" in classes and not self._done:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
            self.classes.append(classes)
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._in_table and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self._in_table and tag == "table":
            self._in_table, self._done = False, True

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def cells(html: str) -> Cells:
    parser = Cells()
    parser.feed(html)
    return parser


def test_repr_is_one_line():
    expected = "<Report torch.nn.modules.container:Sequential instance: 130 parameters, 2 rows>"
    assert repr(explain(nested(), depth=1)) == expected


@pytest.mark.sphinx("html", testroot="basic")
def test_html_is_the_docs_table(app):
    app.build()
    page = cells((Path(app.outdir) / "index.html").read_text(encoding="utf-8"))
    shown = cells(explain(SimpleNet())._repr_html_())
    assert shown.rows == page.rows
    assert shown.rows[0] == ["Layer", "Parameters", "Share", "Type", "Formula", "Derivation"]
    assert shown.rows[-1] == ["Total", "131,618", "100.0%", "", "", r"\(448 + 131{,}104 + 66\)"]
    # The same row classes (the stylesheets style by them), less the theme's stripes.
    assert shown.classes == [[c for c in row if not c.startswith("row-")] for row in page.classes]


def test_html_math_is_marked_for_mathjax_and_text_is_escaped():
    html = explain(SimpleNet)._repr_html_()
    assert r'<span class="math notranslate nohighlight">\(16 \times 3 \times 3 \times 3 + 16\)</span>' in html
    assert r'<span class="math notranslate nohighlight">\(4{,}096 \times 32 + 32\)</span>' in html
    assert '<td class="paramcount-count">131,104</td>' in html
    assert "<span>&lt;0.1%</span>" in html  # fc2's share
    assert html.startswith('<div class="paramcount paramcount-nb">\n<style>')
    # Every rule of the stylesheet is scoped to the output: it styles no other table.
    style = html.split("<style>")[1].split("</style>")[0]
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", style) for s in block.split(",")]
    assert selectors and all(s.startswith(".paramcount-nb") for s in selectors)


def test_html_of_frozen_and_shaped_rows():
    model = SimpleNet()
    model.conv1.requires_grad_(False)
    rows = cells(explain(model, input_shape=(1, 3, 32, 32))._repr_html_())
    assert rows.rows[0] == ["Layer", "Parameters", "Share", "Type", "Output shape", "Formula", "Derivation"]
    assert rows.rows[1][:5] == ["conv1 frozen", "448", "0.3%", "Conv2d(3, 16, k=3)", "(1, 16, 32, 32)"]
    assert rows.classes[1] == ["paramcount-frozen"]


def test_latex_compiles_with_pdflatex(tmp_path):
    require("LaTeX display test", [] if shutil.which("pdflatex") else ["pdflatex"])
    model = nn.ModuleDict({"a_b%#": nn.Linear(4, 4), "blocks": nn.Sequential(*(nn.Linear(4, 4) for _ in range(3)))})
    # Words that outgrow their column unless the cells may break or hyphenate them:
    # a long snake_case name, a type label with no space before its first comma.
    wide = nn.ModuleDict({"token_type_embeddings": nn.Embedding(1000, 64), "bn": nn.BatchNorm2d(8)})
    latex = (
        explain(model)._repr_latex_()
        + explain(SimpleNet, input_shape=(1, 3, 32, 32))._repr_latex_()
        + explain(wide)._repr_latex_()
    )
    assert r"\texttt{token\_\allowbreak{}type\_\allowbreak{}embeddings}" in latex
    assert r"BatchNorm2d(\allowbreak{}8)" in latex
    assert r"\texttt{a\_\allowbreak{}b\%\#} & 20 &" in latex
    assert r"$16 \times 3 \times 3 \times 3 + 16$" in latex
    assert r"\textbf{Total} & \textbf{131,618} & 100.0\% &" in latex
    # Packages and margins as nbconvert's PDF template has them, and nothing else.
    (tmp_path / "t.tex").write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{amsmath,amssymb,longtable,array}\n\\usepackage[margin=1in]{geometry}\n"
        "\\begin{document}\n" + latex + "\\end{document}\n",
        encoding="utf-8",
    )
    out = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 0
    assert "Overfull" not in out.stdout


# -- notebooks built into docs -----------------------------------------------------------


def build_notebook_root(root: str, tmp_path: Path, builder: str = "html") -> Path:
    """Build ``root`` (its notebook executed at every build) in a subprocess; the output directory.

    A subprocess: MyST-NB's parsers do not survive another Sphinx app in the process.
    """
    out = tmp_path / builder
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", builder, "-q", str(REPO / "tests" / "roots" / root), str(out)],
        capture_output=True,
        text=True,
        env=ENV,  # the kernel imports this checkout's sphinx_paramcount
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    return out


def test_myst_nb_page_shows_the_output_with_math_mathjax_typesets(tmp_path):
    page = (build_notebook_root("test-api-mystnb", tmp_path) / "model.html").read_text(encoding="utf-8")
    output = page.split('<div class="output text_html">')[1]
    assert cells(output).rows[-1] == ["Total", "131,618", "100.0%", "", "", r"\(448 + 131{,}104 + 66\)"]
    assert r'<span class="math notranslate nohighlight">\(16 \times 3 \times 3 \times 3 + 16\)</span>' in output
    # MathJax is loaded on the page, though the page's own text has no math (sphinxext/notebook_outputs.py),
    # and told to typeset elements of class "math": MyST's dollarmath limits it to its classes.
    assert re.search(r'<script defer="defer" src="[^"]*mathjax[^"]*">', page)
    assert '"processHtmlClass": "tex2jax_process|mathjax_process|math|output_area"' in page
    assert "<p>The seed model, counted in the notebook.</p>" in page


def test_myst_nb_latex_build_passes_the_table_to_latex_as_it_is(tmp_path):
    # MyST-NB makes a text/latex output display math; a longtable in equation* does not compile.
    out = build_notebook_root("test-api-mystnb", tmp_path, "latex")
    (tex,) = out.glob("*.tex")
    text = tex.read_text(encoding="utf-8")
    table = text.index(r"\begin{longtable}")
    assert r"\texttt{conv1} & 448 & 0.3\% &" in text
    assert r"\begin{equation*}" not in text[text.rindex(r"\end{sphinxVerbatim}", 0, table) : table]
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        pdf = subprocess.run(
            ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", tex.name],
            cwd=out,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert pdf.returncode == 0, pdf.stdout[-2000:]


def test_nbsphinx_page_shows_the_output_with_math_mathjax_typesets(tmp_path):
    require("nbsphinx test", [] if shutil.which("pandoc") else ["pandoc"])  # nbsphinx converts Markdown cells
    page = (build_notebook_root("test-api-nbsphinx", tmp_path) / "model.html").read_text(encoding="utf-8")
    output = page.split('class="output_area rendered_html docutils container">')[1]
    assert cells(output).rows[1][:2] == ["conv1", "448"]
    assert r'<span class="math notranslate nohighlight">\(4{,}096 \times 32 + 32\)</span>' in output
    assert re.search(r'<script defer="defer" src="[^"]*mathjax[^"]*">', page)
