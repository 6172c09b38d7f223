"""End-to-end builds of small Sphinx projects under tests/roots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sphinx
from bs4 import BeautifulSoup

from tests.test_reliability import table_rows

REPO = Path(__file__).resolve().parent.parent
# Sphinx 8 appends "[type.subtype]" to each warning line; older versions do not.
TYPES_SHOWN = sphinx.version_info >= (8,)


def _typed(subtype: str) -> str:
    return f" [{subtype}]" if TYPES_SHOWN else ""


ROOTS = REPO / "tests" / "roots"


def _table_rows(html: str) -> list[list[str]]:
    soup = BeautifulSoup(html, "html.parser")
    table = soup.select_one("table.paramcount-table")
    assert table is not None, "no paramcount table in the page"
    return table_rows(table)


@pytest.mark.sphinx("html", testroot="basic", freshenv=True)
def test_rst_table_has_the_seed_numbers(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    assert "paramcount" not in warning.getvalue()
    html = (app.outdir / "index.html").read_text()
    rows = _table_rows(html)
    assert rows[0] == ["Layer", "Parameters", "Share", "Type", "Formula", "Derivation"]
    body = {r[0]: r for r in rows[1:]}
    assert body["conv1"][3] == "Conv2d(3, 16, k=3)"
    assert body["conv1"][1] == "448"
    assert body["fc1"][1] == "131,104"
    assert body["fc2"][1] == "66"
    assert body["Total"][1] == "131,618"
    assert [body[n][2] for n in ("conv1", "fc1", "fc2", "Total")] == ["0.3%", "99.6%", "<0.1%", "100.0%"]
    assert "Size: 526.47 KB (float32)." in html
    # The share bar is CSS only: a span whose length comes from a custom property.
    assert 'class="paramcount-bar" style="--paramcount-share: 99.6%"' in html
    assert (app.outdir / "_static" / "paramcount.css").exists()
    assert "<script" not in html.split("paramcount-table")[1].split("</table>")[0]
    # Formulas are math for MathJax, not text.
    assert r"\(16 \times 3 \times 3 \times 3 + 16\)" in html
    assert r"\(4{,}096 \times 32 + 32\)" in html
    assert r"\(448 + 131{,}104 + 66\)" in html
    assert "mathjax" in html.lower()
    # :numref: resolves to the captioned table.
    assert 'href="#simplenet-table"' in html
    assert "Table 1" in html
    # Roles: the computed total and the author's checked text.
    soup = BeautifulSoup(html, "html.parser")
    assert [s.get_text() for s in soup.select("span.paramcount")] == ["131,618", "131,618"]
    # :format: derivation: the seed's example 2 prose, and :format: total.
    assert r"\(8 \times 16 \times 3 \times 3 + 8 = 1{,}160\)" in html
    assert "Channels per filter (input channels)" in html
    assert soup.select("p.paramcount")[0].get_text() == "131,618"


@pytest.mark.sphinx("html", testroot="myst", freshenv=True)
def test_myst_page_renders_and_checks(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    html = (app.outdir / "index.html").read_text()
    body = {r[0]: r for r in _table_rows(html)[1:]}
    assert body["Total"][1] == "131,618"
    assert body["fc1"][1] == "131,104"
    assert 'href="#simplenet-myst"' in html
    assert r"\(8 \times 16 \times 3 \times 3 + 8 = 1{,}160\)" in html
    soup = BeautifulSoup(html, "html.parser")
    assert [s.get_text() for s in soup.select("span.paramcount")] == ["131,618", "131,618"]


def _check_mismatch_messages(text: str) -> None:
    assert (
        "index.rst:8: ERROR: paramcount: stated total 131,586 for tests.models.seed:SimpleNet, "
        "but the model has 131,618: +32 (+0.02%) (run 'sphinx-paramcount update "
    ) in text
    assert "index.rst' to see and apply the new numbers)" + _typed("paramcount.mismatch") in text
    assert "index.rst:13: ERROR: paramcount: 'tests.models.seed' has no attribute 'SimpleNt'" in text
    assert "did you mean 'SimpleNet'?" in text
    assert "index.rst:15: ERROR: paramcount: stated total 6.74B" in text
    assert "row 'fc1' 131,000 for tests.models.seed:SimpleNet, but the model has 131,104: +104" in text
    assert "drift.md:3: ERROR: paramcount: stated trainable 131,600" in text
    assert "Traceback" not in text


@pytest.mark.sphinx("html", testroot="mismatch", freshenv=True)
def test_mismatch_fails_the_build_and_page_still_builds(app, warning):
    app.build()
    assert app.statuscode == 1
    text = warning.getvalue()
    _check_mismatch_messages(text)
    # Each problem reported once.
    assert text.count("131,586") == 1
    html = (app.outdir / "index.html").read_text()
    assert "Still built after the mismatch." in html
    assert "Text after the directive is kept." in (app.outdir / "drift.html").read_text()
    # The failing role keeps the author's text visible.
    assert "6.74B" in html


@pytest.mark.sphinx("html", testroot="mismatch", freshenv=True, parallel=2)
def test_mismatch_fails_under_parallel_build(app, warning):
    app.build()
    assert app.statuscode == 1
    _check_mismatch_messages(warning.getvalue())


@pytest.mark.sphinx("html", testroot="mismatch", freshenv=True, confoverrides={"paramcount_fail_on_mismatch": False})
def test_fail_on_mismatch_false_downgrades_to_warnings(app, warning):
    app.build()
    text = warning.getvalue()
    assert "WARNING: paramcount: stated total 131,586" in text
    # The import error still fails the build: only mismatches are downgraded.
    assert app.statuscode == 1


@pytest.mark.sphinx(
    "html",
    testroot="mismatch",
    freshenv=True,
    confoverrides={"paramcount_fail_on_mismatch": False, "suppress_warnings": ["paramcount.import"]},
)
def test_suppressed_and_downgraded_build_passes(app, warning):
    app.build()
    assert app.statuscode == 0
    assert "SimpleNt" not in warning.getvalue()


def _sphinx_build(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", *extra, str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_sphinx_build_exits_1_without_W_and_again_when_unchanged(tmp_path):
    out = tmp_path / "html"
    first = _sphinx_build(ROOTS / "test-mismatch", out, "-d", str(tmp_path / "doctrees"))
    assert first.returncode == 1, first.stderr
    _check_mismatch_messages(first.stderr)
    # Nothing changed: nothing is re-read, and the build still fails and says why.
    second = _sphinx_build(ROOTS / "test-mismatch", out, "-d", str(tmp_path / "doctrees"))
    assert second.returncode == 1
    assert "0 changed" in second.stdout or "no targets are out of date" in second.stdout
    assert "stated total 131,586" in second.stderr
    assert "paramcount: 5 problems in the docs:" in second.stdout


def test_editing_the_model_source_rereads_the_page(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\nextensions = ['sphinx_paramcount']\n"
    )
    model = src / "edited_model.py"
    model.write_text(
        textwrap.dedent(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(4, 2)
            """
        )
    )
    (src / "index.rst").write_text("Edit\n====\n\n.. paramcount:: edited_model:Net\n   :total: 10\n")
    out, doctrees = tmp_path / "out", str(tmp_path / "doctrees")
    first = _sphinx_build(src, out, "-d", doctrees)
    assert first.returncode == 0, first.stderr
    # The model grows a bias-free second layer: 10 + 2 * 3 = 16.
    model.write_text(model.read_text() + "        self.head = nn.Linear(2, 3, bias=False)\n")
    second = _sphinx_build(src, out, "-d", doctrees)
    assert second.returncode == 1
    assert "stated total 10 for edited_model:Net, but the model has 16: +6 (+60.00%)" in second.stderr
    assert "1 changed" in second.stdout or "reading sources... [100%] index" in second.stdout


@pytest.mark.sphinx("latex", testroot="basic", freshenv=True)
def test_latex_output_has_inline_math(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    tex = next(Path(app.outdir).glob("*.tex")).read_text()
    assert r"\(16 \times 3 \times 3 \times 3 + 16\)" in tex
    assert r"\(C_{out} \cdot C_{in} \cdot k_h \cdot k_w + C_{out}\)" in tex
    assert "131,618" in tex
    assert r"\label{\detokenize{index:simplenet-table}}" in tex


@pytest.mark.sphinx("text", testroot="basic", freshenv=True)
def test_text_output_has_readable_formulas(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    text = (app.outdir / "index.txt").read_text()
    assert "16 × 3 × 3 × 3 + 16" in text
    assert "C_out·C_in·k_h·k_w" in text
    assert "131,618" in text
    assert "\\times" not in text


@pytest.mark.parametrize(
    "builder", ["dirhtml", "singlehtml", "man", "texinfo", "xml", "pseudoxml", "epub", "gettext", "dummy"]
)
def test_other_builders_do_not_crash(builder, make_app, rootdir, tmp_path):
    srcdir = tmp_path / "src"
    shutil.copytree(rootdir / "test-basic", srcdir)
    app = make_app(builder, srcdir=srcdir)
    app.build()
    assert app.statuscode == 0


@pytest.mark.sphinx("html", testroot="options", freshenv=True)
def test_options_depth_repeats_input_shape_class_and_user_formulas(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    html = (app.outdir / "index.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    tables = soup.select("table.paramcount-table")
    # A user's formula registered in conf.py: d_in·r + r·d_out = 64·4 + 4·32 = 384.
    adapter = {r[0]: r for r in table_rows(tables[0])}
    assert adapter["proj"][1] == "384"
    assert r"\(64 \times 4 + 4 \times 32\)" in html
    assert soup.select("div.adapter-table")
    # :depth: 1 sums the subtree into one row.
    depth = table_rows(tables[1])
    assert [r[0] for r in depth[1:]] == ["embed_tokens", "layers", "norm", "lm_head", "Total"]
    assert depth[2][1] == "147,968"
    # Repeated blocks collapse by default.
    repeated = table_rows(tables[2])
    assert repeated[2][::3] == ["layers.0–3", "4 × DecoderBlock"]
    assert repeated[2][1] == "147,968"
    assert r"\(4 \times 36{,}992\)" in html
    # :expand-repeats: with the derivation format lists every block.
    assert "layers.3.down_proj" in html
    # :input-shape: materialises lazy modules and adds an output-shape column.
    lazy = table_rows(tables[3])
    assert lazy[0] == ["Layer", "Parameters", "Share", "Type", "Output shape", "Formula", "Derivation"]
    assert lazy[1][:5] == ["features.0", "224", lazy[1][2], "Conv2d(3, 8, k=3)", "(1, 8, 6, 6)"]
    assert lazy[2][1] == "2,890" and lazy[2][4] == "(1, 10)"


@pytest.mark.sphinx("html", testroot="errors", freshenv=True)
def test_every_bad_input_is_a_located_error_and_the_page_builds(app, warning):
    app.build()
    assert app.statuscode == 1
    text = warning.getvalue()
    expected = [
        ("index.rst:4", "paramcount.formula", "no_such_formula"),
        ("index.rst:6", "paramcount.lazy", "features.0 (LazyConv2d), head (LazyLinear)"),
        ("index.rst:8", "paramcount.option", ":total: '12a' is not a number"),
        ("index.rst:8", "paramcount.option", ":depth: '-1' is not a whole number"),
        ("index.rst:8", "paramcount.option", ":format: 'tabel' is not one of table, derivation, total"),
        ("index.rst:8", "paramcount.option", "input shape '1, x' is not a list of whole numbers"),
        ("index.rst:14", "paramcount.option", ":expect: names row 'fc9', which the model does not have"),
        ("index.rst:17", "paramcount.target", "is a lambda"),
        ("index.rst:19", "paramcount.instantiate", "missing 1 required positional argument: 'out_features'"),
    ]
    lines = text.splitlines()
    for where, subtype, words in expected:
        assert any(where in line and _typed(subtype) in line and words in line for line in lines), (where, words, text)
    assert "Traceback" not in text
    assert "After all the errors the page is still here." in (app.outdir / "index.html").read_text()


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("paramcount_fail_on_mismatch = 'yes'", "paramcount_fail_on_mismatch must be a bool, not str"),
        ("paramcount_device = 'cuda'", "paramcount_device must be one of 'meta', 'cpu', not 'cuda'"),
        ("paramcount_formulas = ['x']", "paramcount_formulas must be a dict, not list"),
        ("paramcount_thousands_sep = 3", "paramcount_thousands_sep must be a str, not int"),
        ("paramcount_collapse_repeats = 1", "paramcount_collapse_repeats must be a bool, not int"),
    ],
)
def test_wrong_config_types_are_config_errors(override, words, tmp_path):
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-basic", srcdir)
    with (srcdir / "conf.py").open("a") as conf:
        conf.write(override + "\n")
    result = _sphinx_build(srcdir, tmp_path / "out")
    assert result.returncode == 1
    assert f"conf.py:7: ERROR: paramcount: {words}" in result.stderr
    # The build went on with the default: the page is there.
    assert (tmp_path / "out" / "index.html").exists()
    assert "Traceback" not in result.stderr


def test_importing_the_extension_does_not_import_torch():
    code = (
        "import sys, sphinx_paramcount, sphinx_paramcount.sphinxext, sphinx_paramcount.formulas; "
        "print('torch' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "ext"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


PROBE = """
import sys

def setup(app):
    def finished(app, exc):
        from sphinx_paramcount import cache
        with open(app.confdir + "/probe.log", "a") as f:
            f.write(f"{'torch' in sys.modules} {cache.stats['builds']}\\n")
    app.connect("build-finished", finished)
"""


@pytest.mark.parametrize("jobs", [[], ["-j", "2"]])
def test_builds_that_read_no_directive_page_import_no_torch(tmp_path, jobs):
    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-shared-tables", src)
    (src / "conf.py").write_text((src / "conf.py").read_text() + PROBE)
    out, doctrees = tmp_path / "out", ["-d", str(tmp_path / "doctrees")]

    def build() -> str:
        result = _sphinx_build(src, out, *doctrees, *jobs)
        assert result.returncode == 0, result.stderr
        return (src / "probe.log").read_text().splitlines()[-1]

    # Two distinct targets (SimpleNet on both pages, the decoder): two builds, in the main process.
    assert build() == "True 2"
    # Nothing changed: nothing read, torch never imported, nothing built.
    assert build() == "False 0"
    # Only the page without directives changed: it is read, torch still not imported.
    (src / "prose.rst").write_text((src / "prose.rst").read_text() + "\nOne more sentence.\n")
    assert build() == "False 0"
    # A page with a directive changed: torch is imported and only its models are built.
    (src / "second.rst").write_text((src / "second.rst").read_text() + "\nOne more sentence.\n")
    assert build() == "True 1"


def test_setup_declares_parallel_safety_and_versions():
    from sphinx_paramcount.sphinxext import ENV_VERSION

    class FakeApp:
        def __init__(self):
            self.calls = []

        def __getattr__(self, name):
            return lambda *a, **k: self.calls.append(name)

    import sphinx_paramcount

    meta = sphinx_paramcount.setup(FakeApp())
    assert meta == {
        "version": sphinx_paramcount.__version__,
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def test_verbose_build_shows_the_chained_traceback(tmp_path):
    srcdir = tmp_path / "src"
    shutil.copytree(ROOTS / "test-errors", srcdir)
    quiet = _sphinx_build(srcdir, tmp_path / "quiet")
    assert "Traceback" not in quiet.stderr
    verbose = _sphinx_build(srcdir, tmp_path / "verbose", "-v")
    assert verbose.returncode == 1
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "TypeError: Linear.__init__() missing 1 required positional argument" in verbose.stderr


@pytest.mark.sphinx("latex", testroot="options", freshenv=True)
def test_latex_long_tables_become_longtable(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    tex = next(Path(app.outdir).glob("*.tex")).read_text()
    # The expanded 4-block decoder has 39 rows: too long for one page's tabular.
    assert tex.count(r"\begin{longtable}") >= 1
    assert r"\(64 \times 4 + 4 \times 32\)" in tex
    assert "Every block" in tex
