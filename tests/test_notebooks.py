"""Notebooks in the docs: MyST-NB markdown cells, nbsphinx raw reST cells, the docs' own executed notebook.

Real ``sphinx-build`` runs (serial and ``-j 2`` where pages are read in other
processes) of notebooks written with nbformat in ``tmp_path``; a problem is
located at the notebook's cell and the line in that cell (``nb.ipynb:cell 3:2``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sphinx_paramcount.sphinxext.locations import holding_file, notebook_line, update_hint
from sphinx_paramcount.sphinxext.notebooks import _myst_uses, _rest_uses
from tests.test_reliability import ANSI
from tests.test_trust_sphinx import REPO, problems, sphinx_build
from tests.tools import require

nbformat = pytest.importorskip("nbformat", reason="nbformat is in the notebooks extra")

LINEAR = "torch.nn.Linear(4, 2)"
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
RST = "text/restructuredtext"


def _project(tmp_path: Path, conf: str, cells: list, name: str = "nb") -> Path:
    src = tmp_path / "src"
    src.mkdir(parents=True)
    (src / "conf.py").write_text(conf)
    (src / "index.rst").write_text(f"Index\n=====\n\n.. toctree::\n\n   {name}\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNEL
    nb.cells = cells
    nbformat.write(nb, src / f"{name}.ipynb")
    return src


def _mystnb(tmp_path: Path, cells: list) -> Path:
    pytest.importorskip("myst_nb", reason="MyST-NB is in the notebooks extra")
    conf = 'extensions = ["myst_nb", "sphinx_paramcount"]\nnb_execution_mode = "off"\n'
    return _project(tmp_path, conf, cells)


def _nbsphinx(tmp_path: Path, cells: list) -> Path:
    pytest.importorskip("nbsphinx", reason="nbsphinx is in the notebooks extra")
    require("nbsphinx's markdown cells", [] if shutil.which("pandoc") else ["pandoc"])
    conf = 'extensions = ["nbsphinx", "sphinx_paramcount"]\nnbsphinx_execute = "never"\n'
    return _project(tmp_path, conf, cells)


def _raw_rst(text: str):
    return nbformat.v4.new_raw_cell(text, metadata={"raw_mimetype": RST})


def _html(out: Path, page: str = "nb") -> BeautifulSoup:
    return BeautifulSoup((out / f"{page}.html").read_text(), "html.parser")


def _logged(stderr: str) -> list[str]:
    return [line for line in ANSI.sub("", stderr).splitlines() if "paramcount:" in line]


# -- MyST-NB -------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_mystnb_drift_is_located_at_the_notebook_cell_and_line(tmp_path, jobs):
    src = _mystnb(
        tmp_path,
        [
            # The same directive text in an earlier cell, right: not the one reported.
            nbformat.v4.new_markdown_cell(f"# Notebook\n\n```{{paramcount}} {LINEAR}\n:total: 10\n```"),
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_markdown_cell(
                f"Intro.\n\n```{{paramcount}} {LINEAR}\n:total: 11\n```\n\nText,\nthen the role: {{paramcount}}`12 <{LINEAR}>`."
            ),
        ],
    )
    out = tmp_path / "out"
    result = sphinx_build(src, out, "-j", jobs)
    assert result.returncode == 1, result.stderr
    assert problems(result) == [
        ("nb.ipynb:cell 3", 3, "mismatch", f"stated total 11 for {LINEAR}, but the model has 10: -1 (-9.09%)"),
        ("nb.ipynb:cell 3", 8, "mismatch", f"stated total 12 for {LINEAR}, but the model has 10: -2 (-16.67%)"),
    ]
    logged = _logged(result.stderr)
    assert logged[0].startswith(f"{src / 'nb.ipynb'}:cell 3:3: ERROR: paramcount: stated total 11 ")
    assert "(run 'sphinx-paramcount update " in logged[0] and logged[0].endswith("[paramcount.mismatch]")
    # Both directives render their table; the role shows its stated text.
    html = _html(out)
    assert len(html.select("table.paramcount-table, .paramcount table")) == 2
    assert [s.get_text() for s in html.select("span.paramcount")] == ["12"]


def test_a_mystnb_role_in_a_markdown_cell_shows_the_total(tmp_path):
    src = _mystnb(
        tmp_path,
        [nbformat.v4.new_markdown_cell(f"# Notebook\n\nThe layer has {{paramcount}}`{LINEAR}` parameters.")],
    )
    out = tmp_path / "out"
    result = sphinx_build(src, out)
    assert result.returncode == 0, result.stderr
    assert problems(result) == []
    paragraph = next(p for p in _html(out).select("p") if "The layer has" in p.get_text())
    assert paragraph.get_text() == "The layer has 10 parameters."


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_rest_paramcount_in_a_mystnb_raw_cell_is_a_notebook_error(tmp_path, jobs):
    src = _mystnb(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell(f"# Notebook\n\n```{{paramcount}} {LINEAR}\n:total: 10\n```"),
            _raw_rst(
                f"Raw.\n\n.. paramcount:: {LINEAR}\n   :total: 10\n\nSee ``:paramcount:`1 <x:Y>``` and :paramcount:`{LINEAR}`."
            ),
            # A raw cell for another format is not reST.
            nbformat.v4.new_raw_cell(f".. paramcount:: {LINEAR}", metadata={"raw_mimetype": "text/html"}),
        ],
    )
    result = sphinx_build(src, tmp_path / "out", "-j", jobs)
    assert result.returncode == 1, result.stderr
    said = "in a raw cell: MyST-NB passes raw cells on unparsed: it is neither shown nor checked"
    assert problems(result) == [
        ("nb.ipynb:cell 2", 3, "notebook", f"a reST paramcount directive {said}"),
        ("nb.ipynb:cell 2", 6, "notebook", f"a reST paramcount role {said}"),
    ]
    logged = _logged(result.stderr)
    assert (
        f"(write it as MyST in a markdown cell, which MyST-NB runs: '```{{paramcount}} {LINEAR}' with its options "
        "and a closing '```') [paramcount.notebook]"
    ) in logged[0]
    assert f"runs: '{{paramcount}}`{LINEAR}`')" in logged[1]


def test_rest_uses_skip_code_spans():
    text = ".. paramcount:: a:B\n   :total: 1\n\n   .. paramcount::\n``:paramcount:`1 <c:D>``` :paramcount:`2 <e:F>`"
    assert _rest_uses(text) == [
        (1, "directive", "'```{paramcount} a:B' with its options and a closing '```'"),
        (4, "directive", "'```{paramcount} pkg.mod:Model' with its options and a closing '```'"),
        (5, "role", "'{paramcount}`2 <e:F>`'"),
    ]


def test_a_failed_check_in_an_executed_mystnb_cell_is_a_mismatch_at_its_cell_and_line(tmp_path):
    pytest.importorskip("ipykernel", reason="ipykernel runs the notebook")
    src = _mystnb(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell("# Notebook"),
            nbformat.v4.new_code_cell(
                f'from sphinx_paramcount import explain\n\nexplain("{LINEAR}").check(total="10")\n'
                f'explain("{LINEAR}").check(total="12")'
            ),
        ],
    )
    (src / "conf.py").write_text((src / "conf.py").read_text().replace('"off"', '"force"'))
    result = sphinx_build(src, tmp_path / "out")
    assert result.returncode == 1, result.stderr
    assert problems(result) == [
        ("nb.ipynb:cell 2", 4, "mismatch", f"stated total 12 for {LINEAR}, but the model has 10: -2 (-16.67%)"),
    ]
    assert "(the check in this cell no longer holds: correct its number, or the model)" in _logged(result.stderr)[0]


# -- nbsphinx ------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_nbsphinx_raw_rest_cell_is_counted_and_its_drift_located(tmp_path, jobs):
    same = f".. paramcount:: {LINEAR}\n   :total: 10\n"
    src = _nbsphinx(
        tmp_path,
        [
            _raw_rst(f"Title\n=====\n\n{same}"),
            nbformat.v4.new_code_cell(f"# .. paramcount:: {LINEAR}\nx = 1"),
            _raw_rst(
                f"Again, right:\n\n{same}\nWrong:\n\n.. paramcount:: {LINEAR}\n   :total: 11\n\n"
                f"The role :paramcount:`12 <{LINEAR}>` and :paramcount:`{LINEAR}`."
            ),
        ],
    )
    out = tmp_path / "out"
    result = sphinx_build(src, out, "-j", jobs)
    assert result.returncode == 1, result.stderr
    assert problems(result) == [
        ("nb.ipynb:cell 3", 8, "mismatch", f"stated total 11 for {LINEAR}, but the model has 10: -1 (-9.09%)"),
        ("nb.ipynb:cell 3", 11, "mismatch", f"stated total 12 for {LINEAR}, but the model has 10: -2 (-16.67%)"),
    ]
    html = _html(out)
    assert len(html.select("table.paramcount-table, .paramcount table")) == 3
    assert [s.get_text() for s in html.select("span.paramcount")] == ["12", "10"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_myst_paramcount_in_an_nbsphinx_markdown_cell_is_a_notebook_error(tmp_path, jobs):
    src = _nbsphinx(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell(
                "# Notebook\n\nAn example, not a use:\n\n````md\n```{paramcount} x:Y\n```\n````\n\n"
                "And ``{paramcount}`1 <x:Y>``` in a code span."
            ),
            nbformat.v4.new_markdown_cell(
                f"Text.\n\n```{{paramcount}} {LINEAR}\n:total: 10\n```\n\nRole: {{paramcount}}`10 <{LINEAR}>`."
            ),
            _raw_rst(f".. paramcount:: {LINEAR}\n   :total: 10\n"),
        ],
    )
    out = tmp_path / "out"
    result = sphinx_build(src, out, "-j", jobs)
    assert result.returncode == 1, result.stderr
    said = "in a markdown cell: nbsphinx shows it as text and does not check it"
    assert problems(result) == [
        ("nb.ipynb:cell 2", 3, "notebook", f"a MyST {{paramcount}} directive {said}"),
        ("nb.ipynb:cell 2", 7, "notebook", f"a MyST {{paramcount}} role {said}"),
    ]
    logged = _logged(result.stderr)
    assert (
        f"(use a raw cell of format reStructuredText (raw_mimetype text/restructuredtext) holding "
        f"'.. paramcount:: {LINEAR}' and its options, or build the notebook with MyST-NB ('myst_nb' in "
        "extensions), which runs MyST) [paramcount.notebook]"
    ) in logged[0]
    assert f"holding ':paramcount:`10 <{LINEAR}>`'" in logged[1]
    # The raw reST cell's directive still renders.
    assert len(_html(out).select("table.paramcount-table, .paramcount table")) == 1


def test_the_notebook_error_is_suppressible_and_mystnb_never_reports_it(tmp_path):
    cells = [nbformat.v4.new_markdown_cell(f"```{{paramcount}} {LINEAR}\n:total: 10\n```")]
    nbs = _nbsphinx(tmp_path / "a", cells)
    (nbs / "conf.py").write_text((nbs / "conf.py").read_text() + 'suppress_warnings = ["paramcount.notebook"]\n')
    result = sphinx_build(nbs, tmp_path / "a" / "out")
    assert result.returncode == 0 and problems(result) == [], result.stderr
    myst = _mystnb(tmp_path / "b", cells)
    result = sphinx_build(myst, tmp_path / "b" / "out")
    assert result.returncode == 0 and problems(result) == [], result.stderr


def test_myst_uses_skip_code_fences_and_spans():
    text = (
        "```{paramcount} a:B\n:total: 1\n```\n"  # 1: a use
        "~~~python\n```{paramcount} c:D\n```\n~~~\n"  # 4-7: an example in a fence
        ":::{paramcount} e:F\n:::\n"  # 8: a colon fence is MyST too
        "See ``{paramcount}`1 <g:H>``` and {paramcount}`2 <i:J>`.\n"  # 10: one example, one use
        "> ```{paramcount}\n"  # 11: in a blockquote, no target
    )
    assert _myst_uses(text) == [
        (1, "directive", "'.. paramcount:: a:B' and its options"),
        (8, "directive", "'.. paramcount:: e:F' and its options"),
        (10, "role", "':paramcount:`2 <i:J>`'"),
        (11, "directive", "'.. paramcount:: pkg.mod:Model' and its options"),
    ]


def test_a_cell_location_names_its_file_for_update():
    location = "/docs/sub/nb.ipynb:cell 12:3"
    assert holding_file(location) == "/docs/sub/nb.ipynb"
    assert notebook_line(location) == 12 * 10_000 + 3 + 1  # MyST-NB's numbering, which update follows
    assert notebook_line("/docs/index.rst:3") == 0
    assert update_hint(location).endswith("nb.ipynb' to see and apply the new numbers")


# -- the docs' own notebook --------------------------------------------------------------


def test_the_docs_notebook_is_executed_and_shows_the_seeds_derivation(tmp_path):
    """docs/notebook.ipynb, built with docs/conf.py: its cells ran, the check passed, the directive rendered."""
    pytest.importorskip("myst_nb", reason="MyST-NB is in the notebooks extra")
    pytest.importorskip("ipykernel", reason="ipykernel runs the notebook")
    docs = REPO / "docs"
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(docs / "conf.py", src)
    shutil.copy(docs / "notebook.ipynb", src)
    shutil.copytree(docs / "examples", src / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   notebook\n")
    out = tmp_path / "out"
    result = sphinx_build(src, out, "-W", "-n")
    assert result.returncode == 0, result.stderr
    html = _html(out, "notebook")
    outputs = [o.get_text(" ", strip=True) for o in html.select(".cell_output")]
    assert not html.select(".cell_output .output.error, .cell_output .traceback")
    # The report's table, the check, the seed's prose, the seed's second example.
    assert outputs[0].startswith("Layer Parameters") and "131,618" in outputs[0]
    # Its formulas are math that the page's MathJax typesets.
    assert html.select(".cell_output")[0].select("span.math")
    assert any("mathjax" in (script.get("src") or "") for script in html.select("script"))
    assert outputs[1] == "131,618 parameters: checked"
    assert "16 × 3 × 3 × 3 + 16 = 448" in outputs[2] and "32 × 2 + 2 = 66" in outputs[2]
    assert "1,160" in outputs[3]
    # The directive in the markdown cell: a derivation table with the seed's numbers, its formulas as math.
    tables = [t for t in html.select("table") if not t.find_parent(class_="cell_output")]
    assert len(tables) == 1
    rows = [[td.get_text(" ", strip=True) for td in tr.select("td")] for tr in tables[0].select("tbody tr")]
    assert [(r[0], r[1]) for r in rows] == [("conv1", "448"), ("fc1", "131,104"), ("fc2", "66"), ("Total", "131,618")]
    assert tables[0].select(".math")
    assert [s.get_text() for s in html.select("span.paramcount")] == ["131,618"]
