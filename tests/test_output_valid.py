"""Valid output in every builder: odd names, every separator, nested tables, translated captions.

Each kind of input that once broke a builder (a ``%`` in a parameter name
ending the formula, a table in a table cell crashing the text writer, a
caption gettext never saw) is built here for real, by each builder it broke.
Compiling the LaTeX is ``test_pdf.py``'s job; MathJax's verdict is
``test_browser.py``'s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docutils import nodes

from sphinx_paramcount.formulas.expr import TensorSize, latex_int, latex_sep, latex_text, regroup
from sphinx_paramcount.render import fmt, plain
from sphinx_paramcount.report import Report, Row
from sphinx_paramcount.sphinxext.nodes import derivation
from sphinx_paramcount.tablespec import table_spec

REPO = Path(__file__).resolve().parent.parent
ROOTS = REPO / "tests" / "roots"

# Every ParameterDict key of tests/roots/test-output-names/names.py, as LaTeX math writes it.
NAMES = {
    "50%": r"50\%",
    "a&b": r"a\&b",
    "x_y": r"x\_y",
    "{k}": r"\{k\}",
    "$#": r"\$\#",
    "~^\\": r"\sim{}\hat{}\backslash{}",
    "a b": r"a\ b",
    "é": r"\text{é}",
}
# Every documented paramcount_thousands_sep, and 262,656 written with it in math.
SEPARATORS = {
    ",": "262{,}656",
    "_": r"262{\_}656",
    " ": r"262\,656",
    "\u202f": r"262\,656",
    "'": r"262{\text{'}}656",
    ".": "262{.}656",
    "": "262656",
}


def _build(make_app, root: str, tmp_path: Path, builder: str, **kwargs):
    srcdir = tmp_path / f"{root}-{builder}"
    shutil.copytree(ROOTS / f"test-{root}", srcdir)
    app = make_app(builder, srcdir=srcdir, freshenv=True, **kwargs)
    app.build()
    return app


def _output(app, suffixes: tuple[str, ...]) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(Path(app.outdir).rglob("*")) if p.suffix in suffixes)


# -- text that goes into math ------------------------------------------------------------


@pytest.mark.parametrize(("name", "latex"), list(NAMES.items()))
def test_a_tensor_name_is_escaped_in_math_and_shown_as_written_in_text(name, latex):
    size = TensorSize(name, (2, 3))
    assert size.symbolic() == rf"|\mathtt{{{latex}}}|"
    assert latex_text(name) == latex
    # The text builder and the terminal show the name exactly.
    assert plain(size.symbolic()) == f"|{name}|"
    # Nor do the rules for LaTeX subscripts touch a name that looks like one.
    other = TensorSize("x_{k}", (2,)).symbolic()
    assert plain(rf"{size.symbolic()} + {other} \cdot C_{{out}}") == f"|{name}| + |x_{{k}}|·C_out"


@pytest.mark.parametrize(("sep", "latex"), list(SEPARATORS.items()))
def test_each_separator_has_one_math_form(sep, latex):
    assert latex_int(262_656, sep) == latex
    assert latex_int(1_160, sep) == f"1{latex_sep(sep)}160"  # one rule everywhere: from 1,000
    assert latex_int(1_160, sep, group_from=1000) == (f"1{latex_sep(sep)}160")
    derivation = r"4 \times 131{,}072 + 1{,}234{,}567"
    assert regroup(derivation, sep) == derivation.replace("{,}", latex_sep(sep))
    # Back in plain text, the groups are the separator itself, as in the count cells.
    assert plain(regroup(derivation, sep), sep) == f"4 × {fmt(131_072, sep)} + {fmt(1_234_567, sep)}"


def test_table_and_prose_group_formula_constants_and_sums_with_the_separator():
    row = Row("emb", "Emb", "Emb", 1, 24_000, 24_000, r"12{,}000 \cdot d", r"12{,}000 \times 2")
    report = Report("m", 24_000, 24_000, [row])
    spec = table_spec(report, [row], "_")
    assert [(r.formula, r.derivation, r.params) for r in spec.rows] == [
        (r"12{\_}000 \cdot d", r"12{\_}000 \times 2", "24_000"),
        ("", r"24{\_}000", "24_000"),
    ]
    maths = [m.astext() for n in derivation(report, [row], "\u202f") for m in n.findall(nodes.math)]
    assert maths == [r"12\,000 \cdot d", r"12\,000 \times 2 = 24\,000"]


def test_odd_names_in_html_latex_and_text(make_app, tmp_path):
    apps = {b: _build(make_app, "output-names", tmp_path, b) for b in ("html", "latex", "text")}
    assert [app.statuscode for app in apps.values()] == [0, 0, 0]
    order = ("$#", "50%", "a b", "a&b", "x_y", "{k}", "~^\\", "é")  # as named_parameters() sorts them
    symbolic = " + ".join(rf"|\mathtt{{{NAMES[n]}}}|" for n in order)
    tex = _output(apps["latex"], (".tex",))
    assert rf"\({symbolic}\)" in tex
    assert r"\sphinxcode{\sphinxupquote{blocks.\{k\}\_\textasciitilde{}\textasciicircum{}\textbackslash{}\$\#}}" in tex
    text = (Path(apps["text"].outdir) / "index.txt").read_text()
    assert "Number of parameters = " + " + ".join(f"|{n}|" for n in order) in " ".join(text.split())
    html = (Path(apps["html"].outdir) / "index.html").read_text()
    # HTML-escaped as any text is, inside the formula: MathJax reads the TeX back.
    assert rf"\({symbolic}\)".replace("&", "&amp;") in html
    assert r"\(|\mathtt{w\_50\%}|\)" in html  # a root parameter: its whole name
    assert '<code class="docutils literal notranslate paramcount-name">blocks.a&amp;b</code>' in html
    assert "Names with 50% &amp; {braces}" in html


@pytest.mark.parametrize("sep", list(SEPARATORS))
def test_each_separator_in_html_latex_and_text(make_app, tmp_path, sep):
    overrides = {"paramcount_thousands_sep": sep}
    html_app = _build(make_app, "output-names", tmp_path, "html", confoverrides=overrides)
    latex_app = _build(make_app, "output-names", tmp_path, "latex", confoverrides=overrides)
    text_app = _build(make_app, "output-names", tmp_path, "text", confoverrides=overrides)
    assert (html_app.statuscode, latex_app.statuscode, text_app.statuscode) == (0, 0, 0)
    html = (Path(html_app.outdir) / "index.html").read_text()
    tex = _output(latex_app, (".tex",))
    text = (Path(text_app.outdir) / "index.txt").read_text()
    count = fmt(262_656, sep)
    math = SEPARATORS[sep]
    # The derivation (table and prose), and the result the prose states.
    assert rf"\(512 \times 512 + 512 = {math}\)" in tex
    assert rf"\(52 + 6 + 12 + 20 + {math}\)" in tex  # the total row
    assert rf"\(512 \times 512 + 512 = {math}\)" in html
    assert f"512 × 512 + 512 = {count}" in text
    assert f"52 + 6 + 12 + 20 + {count}" in text
    # The count cells keep the separator itself.
    assert f"<p>{count}</p>" in html
    assert f"| {count} " in text
    # No brace-wrapped separator of old ("262{_}656") is left anywhere.
    for out in (html, tex):
        assert "{_}" not in out
    if sep == "\u202f":
        # pdflatex learns the narrow no-break space, as the thin space math uses.
        assert r"\DeclareUnicodeCharacter{202F}{\,}" in tex


@pytest.mark.parametrize("sep", ["1", "x", "ab"])
def test_a_separator_that_reads_as_a_digit_is_a_config_error(tmp_path, sep):
    out = tmp_path / "out"
    result = _sphinx_build(ROOTS / "test-output-names", out, "html", "-D", f"paramcount_thousands_sep={sep}")
    assert result.returncode == 1
    assert re.search(
        r"conf\.py:\d+: ERROR: paramcount: paramcount_thousands_sep must be one character other than a digit or "
        rf"letter, or empty .*, not '{sep}'",
        result.stderr,
    ), result.stderr
    assert "Traceback" not in result.stderr
    # The build went on with the default separator.
    assert "<p>262,656</p>" in (out / "index.html").read_text()


def _sphinx_build(src: Path, out: Path, builder: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            builder,
            "-E",
            "-q",
            "-d",
            str(out.parent / f"{out.name}.doctrees"),
            *extra,
            str(src),
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


# -- a table in a table cell, an admonition, a list, ``only``, a MyST list-table -------------


NESTED_BUILDERS = ["text", "latex", "html", "man", "texinfo", "epub", "singlehtml"]


@pytest.mark.parametrize("builder", NESTED_BUILDERS)
def test_nested_tables_build_in_every_builder(tmp_path, builder):
    out = tmp_path / "out"
    result = _sphinx_build(ROOTS / "test-output-nested", out, builder)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr
    # epub warns of its own empty metadata.
    assert not [line for line in result.stderr.splitlines() if "WARNING" in line and "EPUB3" not in line]
    suffixes = {"text": ".txt", "latex": ".tex", "man": ".1", "texinfo": ".texi"}.get(builder, ".html")
    if builder == "epub":
        suffixes = ".xhtml"
    text = "\n".join(p.read_text() for p in sorted(out.rglob(f"*{suffixes}")))
    # SimpleNet: index.rst's list-table, admonition, list item, ``only``; myst.md's list-table.
    simple = 5
    if builder in ("html", "epub", "singlehtml"):
        # Browsers nest tables: every one is a real table, the Conv2d in the grid table too.
        assert text.count('class="paramcount-table') == simple + 1
        assert text.count("SimpleNet in a list-table") == 1
        assert len(re.findall(r'<td class="paramcount-count"><p><strong>131,618</strong>', text)) == simple
        return
    if builder == "latex":
        # Outside tables: longtables.  In a cell: the list.
        assert text.count(r"\begin{longtable}") == 3
        assert text.count(r"\sphinxstylestrong{Total}: \(448 + 131{,}104 + 66\) = \sphinxstylestrong{131,618}") == 2
        assert r"\sphinxstylestrong{SimpleNet in a list\sphinxhyphen{}table}" in text
        assert r"(Linear(4096, 32)): \(d_{in} \cdot d_{out} + d_{out}\) = \(4{,}096 \times 32 + 32\) = 131,104" in text
        assert r"(Conv2d(16, 8, k=3)): \(C_{out} \cdot C_{in} \cdot k_h \cdot k_w + C_{out}\)" in text
        # The derivation format in a cell: its lists, as in any cell.
        assert r"Total parameters: \(8 \times 16 \times 3 \times 3 + 8 = 1{,}160\)" in text
        return
    # text, man, texinfo: no nested tables; the cells hold lists, math as text.
    if builder == "text":
        # The list is in the outer tables' last column, wrapped: read that column.
        column = (line.split("|")[-2] for line in text.splitlines() if line.startswith("|"))
        text = " ".join(" ".join(column).split())
    text = text.replace("\\-", "-")  # man escapes hyphens
    assert "SimpleNet in a list-table" in text
    total = {
        "text": "**Total**: 448 + 131,104 + 66 = **131,618**",
        "man": r"\fBTotal\fP: 448 + 131,104 + 66 = \fB131,618\fP",
        "texinfo": "`Total': 448 + 131,104 + 66 = `131,618'",
    }
    assert text.count(total[builder]) == 2  # the reST and the MyST list-table
    assert " = 8 × 16 × 3 × 3 + 8 = 1,160" in text
    assert "(Linear(4096, 32)): d_in·d_out + d_out = 4,096 × 32 + 32 = 131,104" in text
    assert "Total parameters: 8 × 16 × 3 × 3 + 8 = 1,160" in text


def test_nested_tables_keep_their_label(make_app, tmp_path):
    """A listed table keeps the ids of the table it replaces: references to it resolve."""
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-output-nested", srcdir)
    index = srcdir / "index.rst"
    index.write_text(
        index.read_text().replace(
            "          :caption: SimpleNet in a list-table\n",
            "          :caption: SimpleNet in a list-table\n          :name: cell-table\n",
        )
        + "\nSee :ref:`cell-table`.\n"
    )
    app = make_app("latex", srcdir=srcdir, freshenv=True)
    app.build()
    assert app.statuscode == 0
    tex = _output(app, (".tex",))
    assert r"\label{\detokenize{index:cell-table}}" in tex
    assert r"\hyperref[\detokenize{index:cell-table}]" in tex


# -- translated captions ----------------------------------------------------------------


def test_captions_are_extracted_by_gettext(make_app, tmp_path):
    app = _build(make_app, "output-i18n", tmp_path, "gettext")
    assert app.statuscode == 0
    index = (Path(app.outdir) / "index.pot").read_text()
    myst = (Path(app.outdir) / "myst.pot").read_text()
    assert re.search(r"#: [^\n]*index\.rst:8\nmsgid \"SimpleNet, layer by layer\"", index), index
    assert re.search(r"#: [^\n]*index\.rst:15\nmsgid \"One convolution, in a cell\"", index), index
    assert re.search(r"#: [^\n]*myst\.md:3\nmsgid \"SimpleNet, from MyST\"", myst), myst
    # The rows are numbers and LaTeX, not prose to translate.
    assert "conv1" not in index and "Layer" not in index


@pytest.mark.parametrize("builder", ["html", "latex", "text"])
def test_captions_are_translated(make_app, tmp_path, builder):
    app = _build(make_app, "output-i18n", tmp_path, builder, confoverrides={"language": "de"})
    assert app.statuscode == 0
    suffix = {"html": ".html", "latex": ".tex", "text": ".txt"}[builder]
    out = _output(app, (suffix,))
    for caption in ("SimpleNet, Schicht für Schicht", "Eine Faltung, in einer Zelle", "SimpleNet, aus MyST"):
        assert caption in out, (builder, caption)
    for original in ("layer by layer", "One convolution", "from MyST"):
        assert original not in out
    if builder == "html":
        assert '<span class="caption-text">SimpleNet, Schicht für Schicht</span>' in out
    if builder == "latex":
        assert r"\caption{SimpleNet, Schicht für Schicht\strut}\label{\detokenize{index:simple-table}}" in out
