"""The compact table: small doctrees, the same HTML as a docutils table, MathJax where needed.

Runs against the newest and the oldest Sphinx we declare (see ``.ci/run``).
"""

from __future__ import annotations

import gc
import re
import shutil
from pathlib import Path

import pytest
from docutils import nodes

from sphinx_paramcount.sphinxext import table

TABLE = re.compile(r'<table class="[^"]*paramcount-table.*?</table>', re.S)


def _build(make_app, rootdir: Path, tmp_path: Path, name: str, builder: str = "html", extra: int = 0, **kwargs):
    srcdir = tmp_path / name
    shutil.copytree(rootdir / "test-shared-tables", srcdir)
    # Sphinx reads in parallel only when more than five pages are to be read.
    for i in range(extra):
        (srcdir / f"extra{i}.rst").write_text(
            f":orphan:\n\nExtra {i}\n=======\n\n.. paramcount:: tests.models.seed:SimpleNet\n   :total: 131,618\n"
        )
    app = make_app(builder, srcdir=srcdir, freshenv=True, **kwargs)
    app.build()
    assert app.statuscode == 0
    return app


def _tables(app, page: str) -> list[str]:
    return TABLE.findall((Path(app.outdir) / f"{page}.html").read_text())


def test_html_is_what_sphinx_writes_for_the_expanded_table(make_app, rootdir, tmp_path, monkeypatch):
    compact = _build(make_app, rootdir, tmp_path, "compact")
    # The reference: the rows expanded into docutils nodes before writing, as
    # for LaTeX, so Sphinx's own translator writes every node.
    monkeypatch.setattr(table.ExpandTables, "compact_formats", ())
    expanded = _build(make_app, rootdir, tmp_path, "expanded")
    for page in ("first", "second"):
        ours, reference = _tables(compact, page), _tables(expanded, page)
        assert len(ours) == {"first": 2, "second": 1}[page]
        assert ours == reference
    first = _tables(compact, "first")
    assert "<caption>" in first[0] and "SimpleNet, first page" in first[0]
    assert r"\(4{,}096 \times 32 + 32\)" in first[0]
    assert "<td><p>131,618</p></td>" not in first[0]  # the count cell keeps its class
    assert '<td class="paramcount-count"><p><strong>131,618</strong></p></td>' in first[0]
    # Detail rows of the collapsed decoder blocks keep their class.
    assert 'class="paramcount-detail' in first[1]


def test_doctree_keeps_the_cells_as_data(make_app, rootdir, tmp_path):
    app = _build(make_app, rootdir, tmp_path, "doctree")
    doctree = app.env.get_doctree("first")
    tables = [t for t in doctree.findall(nodes.table) if "paramcount-table" in t["classes"]]
    assert len(tables) == 2
    captioned, plain = tables
    assert [type(n).__name__ for n in captioned.children] == ["title", "table_rows"]
    assert [type(n).__name__ for n in plain.children] == ["table_rows"]
    assert not any(True for _ in doctree.findall(nodes.tgroup))
    spec = captioned.children[1]["spec"]
    assert [(r.name, r.params) for r in spec.rows] == [
        ("conv1", "448"),
        ("fc1", "131,104"),
        ("fc2", "66"),
        ("Total", "131,618"),
    ]
    assert spec.rows[1].derivation == r"4{,}096 \times 32 + 32"
    assert spec.rows[1].share_text == "99.6%"


def test_a_table_written_from_the_cache_still_loads_mathjax(make_app, rootdir, tmp_path):
    app = _build(make_app, rootdir, tmp_path, "mathjax")
    # The second page's table is the first page's, written from the cache.
    body = [_tables(app, page)[0].split("</caption>")[1] for page in ("first", "second")]
    assert body[0] == body[1] and r"\(4{,}096 \times 32 + 32\)" in body[1]
    script = re.compile(r"<script[^>]*mathjax", re.I)
    for page in ("first", "second"):
        assert script.search((Path(app.outdir) / f"{page}.html").read_text()), page
    assert not script.search((Path(app.outdir) / "prose.html").read_text())


def test_numref_numbers_the_compact_tables(make_app, rootdir, tmp_path):
    app = _build(make_app, rootdir, tmp_path, "numref", confoverrides={"numfig": True})
    second = (Path(app.outdir) / "second.html").read_text()
    first = (Path(app.outdir) / "first.html").read_text()
    assert '<span class="caption-number">Table 1 </span>' in first
    assert '<span class="caption-number">Table 2 </span>' in second  # the uncaptioned table has no number
    assert '<span class="std std-numref">Table 1</span>' in second  # :numref:`first-table`


def test_parallel_html_equals_serial(make_app, rootdir, tmp_path):
    serial = _build(make_app, rootdir, tmp_path, "serial", extra=4)
    parallel = _build(make_app, rootdir, tmp_path, "parallel", extra=4, parallel=2)
    script = re.compile(r"<script[^>]*mathjax", re.I)
    for page in ("first", "second", "extra0", "extra3"):
        assert _tables(parallel, page) == _tables(serial, page)
        # Sphinx < 8 decides this from the readers' merged domain data.
        assert script.search((Path(parallel.outdir) / f"{page}.html").read_text()), page


@pytest.mark.parametrize("builder", ["latex", "text", "singlehtml", "epub"])
def test_other_builders_get_every_row(make_app, rootdir, tmp_path, builder):
    app = _build(make_app, rootdir, tmp_path, builder, builder=builder)
    out = Path(app.outdir)
    text = "\n".join(
        p.read_text(errors="replace") for p in out.rglob("*") if p.suffix in {".tex", ".txt", ".html", ".xhtml"}
    )
    for count in ("131,104", "131,618", "160,832"):
        assert count in text, (builder, count)
    if builder == "latex":
        assert r"\(4{,}096 \times 32 + 32\)" in text
    if builder == "text":
        assert "4,096 × 32 + 32" in text


def test_gc_is_frozen_while_reading_and_thawed_after(make_app, rootdir, tmp_path):
    srcdir = tmp_path / "gc"
    shutil.copytree(rootdir / "test-shared-tables", srcdir)
    app = make_app("html", srcdir=srcdir, freshenv=True)
    seen: list[int] = []
    app.connect("doctree-read", lambda app, doctree: seen.append(gc.get_freeze_count()))
    before = gc.get_freeze_count()
    app.build()
    assert app.statuscode == 0
    assert min(seen) > before  # torch's objects are out of the GC's sight while reading
    assert gc.get_freeze_count() == before == 0  # and back in it after the build


PATH_RENDERER = """
from docutils import nodes

def visit_math(self, node):
    # Like sphinx.ext.imgmath: an image whose path is relative to the page.
    self.body.append(f'<img class="math" src="{self.builder.imgpath}/math/x.png" alt="{self.encode(node.astext())}"/>')
    raise nodes.SkipNode

def setup(app):
    app.add_html_math_renderer("pathmath", (visit_math, None), (visit_math, None))

html_math_renderer = "pathmath"
"""


def test_pages_at_different_depths_do_not_share_relative_paths(make_app, tmp_path):
    srcdir = tmp_path / "depths"
    (srcdir / "sub").mkdir(parents=True)
    conf = (Path(__file__).parent / "roots" / "test-shared-tables" / "conf.py").read_text()
    (srcdir / "conf.py").write_text(conf + PATH_RENDERER)
    directive = ".. paramcount:: tests.models.seed:SimpleNet\n   :total: 131,618\n"
    (srcdir / "index.rst").write_text(f"Top\n===\n\n.. toctree::\n\n   sub/deep\n\n{directive}")
    (srcdir / "sub" / "deep.rst").write_text(f"Deep\n====\n\n{directive}")
    app = make_app("html", srcdir=srcdir, freshenv=True)
    app.build()
    assert app.statuscode == 0
    top = TABLE.findall((Path(app.outdir) / "index.html").read_text())[0]
    deep = TABLE.findall((Path(app.outdir) / "sub" / "deep.html").read_text())[0]
    assert 'src="_images/math/x.png"' in top and "../_images" not in top
    assert 'src="../_images/math/x.png"' in deep
    assert top.count("<img") == deep.count("<img") == 7  # 3 layers x 2 formulas + the total's sum


def test_latex_tables_have_our_widths_and_may_break_across_pages(make_app, rootdir, tmp_path):
    app = _build(make_app, rootdir, tmp_path, "latex-widths", builder="latex")
    tex = next(Path(app.outdir).glob("*.tex")).read_text()
    # Three tables, each a longtable with the given widths, not tabulary's guess.
    assert tex.count(r"\begin{longtable}") == 3
    assert "tabulary" not in tex
    widths = r"{\X{16}{100}\X{14}{100}\X{10}{100}\X{17}{100}\X{18}{100}\X{25}{100}}"
    assert tex.count(widths) == 3, tex[tex.index(r"\begin{longtable}") :][:300]


def test_long_names_wrap_after_a_dot_in_pieces_and_short_names_never():
    from sphinx_paramcount.tablespec import name_pieces

    assert name_pieces("conv1") == ["conv1"]
    assert name_pieces("transformer.h.0.attn") == ["transformer.h.0.attn"]
    assert name_pieces("model.layers.0.post_attention_layernorm") == ["model.layers.0.", "post_attention_layernorm"]
    assert name_pieces("base_model.model.transformer.h.0.attn.c_attn.lora_A.default") == [
        "base_model.model.",
        "transformer.h.0.attn.",
        "c_attn.lora_A.default",
    ]
    # A part longer than a piece stays whole; the pieces are the name, dots and all.
    assert name_pieces("x" * 30 + ".y") == ["x" * 30 + ".", "y"]
    assert name_pieces("a..b") == ["a..b"]
