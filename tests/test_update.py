"""``sphinx-paramcount update``: only stale numbers change, in the author's style, atomically.

Small projects written into ``tmp_path`` (a ``conf.py`` and a page), run in
process; the locating of numbers (``sites.locate``) and notebook JSON
(``notebooks.cell_source``) on their own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sphinx_paramcount.cli import main
from sphinx_paramcount.notebooks import cell_source
from sphinx_paramcount.sites import Edit, NotLocated, Site, apply, locate
from sphinx_paramcount.stated import ClaimKey, parse_stated

REPO = Path(__file__).resolve().parent.parent

RST = (
    "T\r\n=\r\n\r\n"
    ".. paramcount:: tests.models.seed:SimpleNet\r\n"
    "   :total: 131,586\r\n"
    "   :expect: conv1=448, fc1=131_000\r\n"
    "   :trainable: 131.5K   \r\n"
    "\r\n"
    "Caf\xe9 role :paramcount:`131.5K <tests.models.seed:SimpleNet>` and "
    ":paramcount:`131618 <tests.models.seed:SimpleNet>`.\r\n"
)

MYST = """# B

:::{paramcount} torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)
:total: 1,152
:format: derivation
:::

```{paramcount} tests.models.scale:llama2_70b
:total: 6.73B
:expect: layers.0-79=68.45B
```

Role {paramcount}`131_000 <tests.models.seed:SimpleNet>` here.
"""


def project(folder: Path, pages: dict[str, str | bytes], *, conf: str = "") -> Path:
    """A Sphinx project: ``conf.py`` (MyST and this extension) and the pages, in a toctree."""
    folder.mkdir(exist_ok=True)
    (folder / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        'extensions = ["myst_parser", "sphinx_paramcount"]\n'
        'myst_enable_extensions = ["colon_fence"]\nexclude_patterns = ["_build"]\n' + conf
    )
    for name, text in pages.items():
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


def test_rst_with_crlf_and_latin1_keeps_every_other_byte(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Sphinx reads latin-1 only when told so; update keeps every byte whatever the encoding.
    src = project(tmp_path / "docs", {"index.rst": RST.encode("latin-1")}, conf='source_encoding = "latin-1"\n')
    before = (src / "index.rst").read_bytes()
    assert main(["update", str(src), "--write"]) == 0
    after = (src / "index.rst").read_bytes()
    expected = (
        before.replace(b":total: 131,586", b":total: 131,618")
        .replace(b"fc1=131_000", b"fc1=131_104")
        .replace(b":trainable: 131.5K   ", b":trainable: 131.6K   ")
        .replace(b"`131.5K <", b"`131.6K <")
    )
    assert after == expected
    out = capsys.readouterr()
    assert "-   :total: 131,586" in out.out and "+   :total: 131,618" in out.out
    assert out.err.splitlines()[-1] == "sphinx-paramcount: 4 stated numbers updated"
    assert sorted(p.name for p in src.iterdir()) == ["conf.py", "index.rst"]  # no temporary file left


def test_myst_colon_and_backtick_fences_and_rounded_precision(tmp_path):
    src = project(tmp_path / "docs", {"index.md": MYST})
    assert main(["update", str(src), "--write"]) == 0
    text = (src / "index.md").read_text()
    assert ":total: 1,160\n:format: derivation" in text
    # Rounded forms keep their unit and precision: 68,976,648,192 is 68.98B to two decimals.
    assert ":total: 68.98B" in text
    assert ":expect: layers.0-79=68.45B" in text  # 80 x 855,654,400 = 68.45B: still right, untouched
    assert "{paramcount}`131,618 <" not in text and "{paramcount}`131_618 <" in text


def test_check_exits_1_when_stale_and_0_when_current(tmp_path):
    src = project(tmp_path / "docs", {"index.md": MYST})
    assert main(["update", str(src / "index.md"), "--check"]) == 1
    assert (src / "index.md").read_text() == MYST  # --check never writes
    assert main(["update", str(src / "index.md"), "--write"]) == 0
    assert main(["update", str(src / "index.md"), "--check"]) == 0


def test_the_builds_other_problems_are_reported_and_the_rest_is_still_updated(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = project(
        tmp_path / "docs",
        {
            "index.rst": ".. toctree::\n\n   b\n   c\n\n"
            ".. paramcount:: tests.models.seed:SimpleNt\n   :total: 5\n\n"
            ".. paramcount:: tests.models.seed:SimpleNet\n   :total: 5\n",
            "b.md": "# B\n\n```{paramcount} tests.models.seed:SimpleNet\n:total: 5\n",
            "c.rst": "C\n=\n\n.. paramcount:: tests.models.seed:SimpleNet\n   :total: 12a\n",
        },
    )
    assert main(["update", str(src), "--write"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("sphinx-paramcount: docs/c.rst:4: [option] tests.models.seed:SimpleNet: :total: '12a'")
    assert err[1].startswith("sphinx-paramcount: docs/index.rst:6: [import] ")
    assert err[-1] == "sphinx-paramcount: 2 stated numbers updated, 2 problems (above)"
    # The good directive in index.rst is updated; so is the unclosed fence, which MyST reads to
    # the end of the page, as the build does; the malformed number is left as it is.
    assert (
        (src / "index.rst")
        .read_text()
        .endswith("SimpleNt\n   :total: 5\n\n.. paramcount:: tests.models.seed:SimpleNet\n   :total: 131618\n")
    )
    assert (src / "b.md").read_text().endswith(":total: 131618\n")
    assert (src / "c.rst").read_text().endswith(":total: 12a\n")


def test_interrupted_write_leaves_the_original_whole(tmp_path, monkeypatch, capsys):
    src = project(tmp_path / "docs", {"index.rst": RST})
    before = (src / "index.rst").read_bytes()

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    assert main(["update", str(src), "--write"]) == 130
    assert (src / "index.rst").read_bytes() == before
    assert sorted(p.name for p in src.iterdir()) == ["conf.py", "index.rst"]
    assert capsys.readouterr().err.splitlines()[-1] == (
        "sphinx-paramcount: interrupted: every file is as it was or fully updated"
    )


def test_a_model_that_shrank_below_the_unit_gets_a_smaller_unit(tmp_path):
    # The page still says 6.74B, but the target is now SimpleNet (131,618): not "0.00B".
    src = project(
        tmp_path / "docs",
        {"index.rst": ".. paramcount:: tests.models.seed:SimpleNet\n   :total: 6.74B\n   :expect: fc2=1.5K\n"},
    )
    assert main(["update", str(src), "--write"]) == 0
    assert (src / "index.rst").read_text() == (
        ".. paramcount:: tests.models.seed:SimpleNet\n   :total: 131.62K\n   :expect: fc2=66\n"
    )
    assert main(["update", str(src), "--check"]) == 0


# -- locating a site's number --------------------------------------------------------------


def _site(kind: str, raw: str, stated: str, *, option: str = "", row: str = "", nth: int = 0, line: int = 1) -> Site:
    key = ClaimKey("row", row) if row else ClaimKey(option or "total")
    return Site("p.rst", line, f"p.rst:{line}", True, kind, raw, option, key, parse_stated(stated), 10, "t", nth)


def test_a_role_is_found_wrapped_quoted_and_never_in_an_inline_literal():
    text = "Use ``:paramcount:`11 <t>``` as :paramcount:`11\n> <t>` and :paramcount:`11 <t>`.\n"
    first = locate(text, 1, _site("role", ":paramcount:`11 <t>`", "11"))
    second = locate(text, 1, _site("role", ":paramcount:`11 <t>`", "11", nth=1))
    assert text[first.start - 13 : first.end] == ":paramcount:`11" and first.start > text.index(" as ")
    assert text[second.start - 13 : second.end] == ":paramcount:`11" and second.start > text.index(" and ")
    assert apply(text, [first, second])[0] == text.replace("11\n>", "10\n>").replace("`11 <t>`.", "`10 <t>`.")
    # MyST writes {name}`...`; Sphinx gives the role as :name:`...`.
    myst = "Role {paramcount}`11 <t>` here.\n"
    edit = locate(myst, 1, _site("role", ":paramcount:`11 <t>`", "11"))
    assert myst[edit.start : edit.end] == "11"
    with pytest.raises(NotLocated):
        locate(text, 2, _site("role", ":paramcount:`11 <t>`", "11", nth=2))


def test_directive_options_are_found_wrapped_repeated_and_in_yaml():
    text = ".. paramcount:: t\n   :total:\n      11\n   :total: 12\n   :expect: a=1,\n      b = 2_000\n"
    raw = text  # the block the build read
    assert text[slice(*_span(locate(text, 1, _site("directive", raw, "11", option="total"))))] == "11"
    assert text[slice(*_span(locate(text, 1, _site("directive", raw, "12", option="total", nth=1))))] == "12"
    edit = locate(text, 1, _site("directive", raw, "2_000", option="expect", row="b"))
    assert text[edit.start : edit.end] == "2_000" and edit.new == "10"
    yaml = "> :::{paramcount} t\n> ---\n> total: 11\n> ---\n> :::\n"
    edit = locate(yaml, 1, _site("directive", ":::{paramcount} t\n---\ntotal: 11\n---\n:::\n", "11", option="total"))
    assert yaml[: edit.start].endswith("> total: ") and yaml[edit.end :] == "\n> ---\n> :::\n"
    # The same text in another directive further down is not this directive's.
    with pytest.raises(NotLocated):
        locate(text + "\n.. paramcount:: t\n   :trainable: 5\n", 1, _site("directive", raw, "5", option="trainable"))


def _span(edit: Edit) -> tuple[int, int]:
    return edit.start, edit.end


def test_a_notebook_cell_is_mapped_to_its_json_bytes_with_escapes():
    source = ['Caf\u00e9 "q" \\ \U0001f600 tab\t\n', ":total: 11\n"]
    cells = [{"cell_type": "code", "source": "x"}, {"cell_type": "markdown", "source": source}]
    raw = json.dumps({"cells": cells, "nbformat": 4}, indent=2, ensure_ascii=True) + "\n"
    cell = cell_source(raw, 1)
    assert cell.text == "".join(source)
    start = cell.text.index("11")
    edit = cell.raw_edit(raw, Edit(start, start + 2, "10"))
    assert raw[edit.start : edit.end] == "11"
    assert apply(raw, [edit])[0] == raw.replace(":total: 11", ":total: 10")
    with pytest.raises(NotLocated):
        cell_source(raw, 2)


def test_a_grid_table_cell_keeps_its_width_where_it_has_room():
    row = "| a | :paramcount:`9 <t>`   | b |\n| c | :paramcount:`9 <t>`| d |\n"
    first = locate(row, 1, _site("role", ":paramcount:`9 <t>`", "9"))
    second = locate(row, 1, _site("role", ":paramcount:`9 <t>`", "9", nth=1))
    # Room: the padding gives one space; none: the edit is refused, with why, rather than break the table.
    text, refused = apply(row, [first, second])
    assert text == "| a | :paramcount:`10 <t>`  | b |\n| c | :paramcount:`9 <t>`| d |\n"
    assert refused == [
        (second, "the new number does not fit its grid-table cell; widen the column, then run update again")
    ]
    # Outside a table, only the number changes.
    prose = "It has :paramcount:`9 <t>`   parameters |\n"
    assert apply(prose, [locate(prose, 1, _site("role", ":paramcount:`9 <t>`", "9"))])[0] == prose.replace("`9", "`10")
