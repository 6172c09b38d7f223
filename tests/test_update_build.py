"""Issue 11: ``update`` finds exactly what the build checks, in every source the build reads.

Real ``sphinx-build`` runs of the root ``test-update-forms`` (every form the
issue lists: wrapped roles and targets, a value on the next line, a BOM, a
MyST blockquote and YAML block, ``.txt`` and ``.markdown`` pages, includes, a
MyST-NB notebook, and examples in code blocks, literals and comments that
the build does not check) before and after ``update``, compared both ways.
"""

from __future__ import annotations

import pickle
import shutil
from collections import Counter
from pathlib import Path

import pytest

from sphinx_paramcount.sphinxext.collect import collect
from sphinx_paramcount.stated import Mismatch
from tests.test_reliability import ROOTS, problems
from tests.test_trust_sphinx import run_update as update
from tests.test_trust_sphinx import sphinx_build

REPO = ROOTS.parent.parent
LINEAR = "torch.nn.Linear(4, 2)"

pytest.importorskip("myst_nb")
nbformat = pytest.importorskip("nbformat")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# Every line that --write changes, per file, as (old, new); no other line of the site changes.
CHANGED = {
    "bom.rst": [("   :total: 11", "   :total: 10")],
    "index.rst": [
        (
            "A role wrapped over two lines: the layer has :paramcount:`11",
            "A role wrapped over two lines: the layer has :paramcount:`10",
        ),
        ("   :total: 131,586", "   :total: 131,618"),
        ("      fc1=131_000, fc2=66", "      fc1=131_104, fc2=66"),
        ("   :trainable: 131.5K", "   :trainable: 131.6K"),
        ("   :total: 1,152", "   :total: 1,160"),
        (
            f"Write ``:paramcount:`13 <{LINEAR}>``` to state it: :paramcount:`13 <{LINEAR}>`,",
            f"Write ``:paramcount:`13 <{LINEAR}>``` to state it: :paramcount:`10 <{LINEAR}>`,",
        ),
        (f"and again :paramcount:`13 <{LINEAR}>`.", f"and again :paramcount:`10 <{LINEAR}>`."),
        ("      16", "      15"),
    ],
    "inc/part.rst": [("   :total: 9", "   :total: 8")],
    "inc/part.md": [
        (
            "Included in MyST, {paramcount}`9 <torch.nn.Linear(3, 3)>` parameters.",
            "Included in MyST, {paramcount}`12 <torch.nn.Linear(3, 3)>` parameters.",
        )
    ],
    "nb.ipynb": [
        ('    ":total: 11\\n",', '    ":total: 10\\n",'),
        (f'    "Role: {{paramcount}}`12 <{LINEAR}>`."', f'    "Role: {{paramcount}}`10 <{LINEAR}>`."'),
    ],
    "other.markdown": [(":total: 10", ":total: 9")],
    "page.txt": [("   :total: 7", "   :total: 6")],
    "tables.rst": [
        (f"Tables :paramcount:`11 <{LINEAR}>` and titles", f"Tables :paramcount:`10 <{LINEAR}>` and titles"),
        # A grid table's cells keep their width: the number takes from, or gives to, the padding.
        (f"| a    | :paramcount:`9 <{LINEAR}>`      |", f"| a    | :paramcount:`10 <{LINEAR}>`     |"),
        (f"|      | :paramcount:`100 <{LINEAR}>`    |", f"|      | :paramcount:`10 <{LINEAR}>`     |"),
        (f"   * - :paramcount:`14 <{LINEAR}>`", f"   * - :paramcount:`10 <{LINEAR}>`"),
        (f"   def :paramcount:`15 <{LINEAR}>`", f"   def :paramcount:`10 <{LINEAR}>`"),
        (f".. note:: :paramcount:`16 <{LINEAR}>`", f".. note:: :paramcount:`10 <{LINEAR}>`"),
    ],
    "mtables.md": [
        (f"# MyST tables {{paramcount}}`17 <{LINEAR}>`", f"# MyST tables {{paramcount}}`10 <{LINEAR}>`"),
        (f"| x | {{paramcount}}`18 <{LINEAR}>` |", f"| x | {{paramcount}}`10 <{LINEAR}>` |"),
    ],
    "quote.md": [
        ("> :total: 11", "> :total: 10"),
        (
            f"> Quoted {{paramcount}}`12 <{LINEAR}>` and {{paramcount}}`10 <{LINEAR}>`.",
            f"> Quoted {{paramcount}}`10 <{LINEAR}>` and {{paramcount}}`10 <{LINEAR}>`.",
        ),
        ("total: 19", "total: 18"),
    ],
}


def _changed_lines(old: bytes, new: bytes) -> list[tuple[str, str]]:
    a = old.decode("utf-8", "surrogateescape").splitlines()
    b = new.decode("utf-8", "surrogateescape").splitlines()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


def test_update_fixes_each_mismatch_the_build_reports_and_nothing_else(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-update-forms", src)
    before = _files(src)
    build = sphinx_build(src, tmp_path / "out")
    assert build.returncode == 1, build.stderr
    found = problems(build.stderr)
    mismatches = [(f, line, message) for f, line, sub, message in found if sub == "mismatch"]
    assert len(mismatches) == len(found) == 25

    # One way: each mismatch the build reports is a stale site there, and each stale site is one the
    # build reports.  Two identical roles in one paragraph are one message and two numbers: 26.
    stale = [s for s in collect(src).sites if s.stale]
    assert len(stale) == 26
    where = Counter(
        # A notebook's location names the cell too: "nb.ipynb:cell 3".
        (
            Path(s.location.rsplit(":", 1)[0]).name,
            int(s.location.rsplit(":", 1)[1]),
            Mismatch(s.key, s.stated, s.actual, s.target).message,
        )
        for s in stale
    )
    assert set(where) == {(f, line, message.split(" (run 'sphinx-paramcount")[0]) for f, line, message in mismatches}
    assert [(f, line, n) for (f, line, _), n in where.items() if n > 1] == [("index.rst", 29, 2)]
    check = update("--check", str(src), cwd=tmp_path)
    assert check.returncode == 1 and check.stderr == "sphinx-paramcount: 26 stated numbers stale\n"
    assert _files(src) == before  # --check writes nothing

    # The other way: after --write the build passes, and only the numbers changed.
    written = update("--write", str(src), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stderr == "sphinx-paramcount: 26 stated numbers updated\n"
    after = _files(src)
    assert after.keys() == before.keys()
    for name in before:
        assert _changed_lines(before[name], after[name]) == CHANGED.get(name, []), name
    rebuilt = sphinx_build(src, tmp_path / "out2")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert problems(rebuilt.stderr) == []
    # The examples the build does not check keep their wrong numbers.
    index = (src / "index.rst").read_text()
    assert f"``:paramcount:`11 <{LINEAR}>```" in index and f"   .. paramcount:: {LINEAR}\n      :total: 11" in index
    assert index.count(":total: 11") == 3 and index.count(f":paramcount:`11 <{LINEAR}>`") == 3
    assert f"`{{paramcount}}`11 <{LINEAR}>``" in (src / "quote.md").read_text()
    assert update("--check", str(src), cwd=tmp_path).returncode == 0


def test_a_notebook_is_edited_inside_its_json_and_still_loads(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["myst_nb", "sphinx_paramcount"]\nnb_execution_mode = "off"\n')
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   nb\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Notebook \u00e9\n\n```{{paramcount}} {LINEAR}\n:total: 10\n```"),
        nbformat.v4.new_code_cell("x = '11'"),
        nbformat.v4.new_markdown_cell(
            f'Intro "quoted" \\ \t.\n\n```{{paramcount}} {LINEAR}\n:total: 11\n```\n\nRole: {{paramcount}}`12 <{LINEAR}>`.'
        ),
    ]
    nbformat.write(nb, src / "nb.ipynb")
    before = (src / "nb.ipynb").read_bytes()
    # The build fails; so does update --check, on the folder and on the notebook.
    assert sphinx_build(src, tmp_path / "out").returncode == 1
    assert update("--check", str(src), cwd=tmp_path).returncode == 1
    # The command the build's message suggests fixes the directive and the role.
    result = update("--write", "src/nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "sphinx-paramcount: 2 stated numbers updated\n"
    after = (src / "nb.ipynb").read_bytes()
    assert after == before.replace(b'":total: 11\\n"', b'":total: 10\\n"').replace(b"`12 <", b"`10 <")
    assert after.endswith(b"}\n")
    cells = nbformat.read(src / "nb.ipynb", as_version=4).cells
    assert ":total: 10\n" in cells[2].source and f"{{paramcount}}`10 <{LINEAR}>`" in cells[2].source
    assert cells[1].source == "x = '11'" and cells[0].source == nb.cells[0].source
    assert sphinx_build(src, tmp_path / "out2").returncode == 0
    assert update("--check", str(src), cwd=tmp_path).returncode == 0


def test_numbers_in_conf_py_and_docstrings_are_rewritten_and_translations_reported(tmp_path):
    root = ROOTS / "test-trust-locations"
    result = update("--check", str(root.relative_to(REPO)))
    assert result.returncode == 1
    err = result.stderr.splitlines()
    assert err == [
        "sphinx-paramcount: tests/roots/test-trust-locations/locale/de/LC_MESSAGES/translated.po:6: stated total 14 "
        f"for {LINEAR}, but the model has 10: -4 (-28.57%); not rewritten: edit the number in the translation in "
        "tests/roots/test-trust-locations/locale/de/LC_MESSAGES/translated.po",
        "sphinx-paramcount: 4 stated numbers stale, 1 problem (above)",  # each once, not once a page
    ]
    # The included pages, rst_epilog in conf.py and the docstring autodoc shows: shown as a diff.
    for path in ("tests/models/documented.py", "tests/roots/test-trust-locations/conf.py", "inc/part.rst"):
        assert f"+++ {path}" in result.stdout or f"+++ tests/roots/test-trust-locations/{path}" in result.stdout
    assert f"+    It has :paramcount:`10 <{LINEAR}>` parameters." in result.stdout
    assert f"+Stated in the epilog: :paramcount:`10 <{LINEAR}>`." in result.stdout


PROLOG_CONF = """\
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
extensions = ["sphinx.ext.autodoc", "sphinx_paramcount"]
rst_epilog = \"\"\"

Stated in the epilog: :paramcount:`12 <torch.nn.Linear(4, 2)>`.
\"\"\"
rst_prolog = "\\n.. |x| replace:: :paramcount:`13 <torch.nn.Linear(4, 2)>`\\n"
EXAMPLE = "Not read by the build: :paramcount:`15 <torch.nn.Linear(4, 2)>`."
"""

DOCUMENTED = '''\
"""M\u00f3dulo."""

from torch import nn


class Tiny(nn.Linear):
    """A tiny layer, caf\u00e9.

    It has :paramcount:`15 <torch.nn.Linear(4, 2)>` parameters.

    .. paramcount:: torch.nn.Linear(4, 2)
       :total: 9
    """

    def __init__(self) -> None:
        super().__init__(4, 2)
        self.note = "It has :paramcount:`15 <torch.nn.Linear(4, 2)>` parameters."


def f() -> None:
    r"""Raw: :paramcount:`16 <torch.nn.Linear(4, 2)>`."""
'''


def test_rst_prolog_epilog_and_docstrings_are_edited_only_inside_the_strings_the_build_reads(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(PROLOG_CONF)
    (src / "mymod.py").write_text(DOCUMENTED)
    (src / "index.rst").write_text("Index\n=====\n\n.. automodule:: mymod\n   :members:\n\nUse |x|.\n")
    build = sphinx_build(src, tmp_path / "out")
    assert sorted((f, line) for f, line, _, _ in problems(build.stderr)) == [
        ("conf.py", 8),
        ("conf.py", 11),  # the prolog's second line: the string starts on line 10
        ("mymod.py", 9),
        ("mymod.py", 11),
        ("mymod.py", 21),
    ]
    result = update("--write", "src", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "sphinx-paramcount: 5 stated numbers updated\n"
    assert (src / "conf.py").read_text() == PROLOG_CONF.replace("`12 <", "`10 <").replace("`13 <", "`10 <")
    # The strings the build does not read (EXAMPLE, self.note) keep their numbers.
    assert (src / "mymod.py").read_text() == (
        DOCUMENTED.replace(
            "has :paramcount:`15 <torch.nn.Linear(4, 2)>` parameters.\n",
            "has :paramcount:`10 <torch.nn.Linear(4, 2)>` parameters.\n",
        )
        .replace(":total: 9", ":total: 10")
        .replace("`16 <", "`10 <")
    )
    assert sphinx_build(src, tmp_path / "out2").returncode == 0


def test_a_prolog_that_is_not_a_plain_string_is_reported_not_rewritten(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    conf = 'extensions = ["sphinx_paramcount"]\nN = "12"\nrst_epilog = f"\\nThe layer has :paramcount:`{N} <torch.nn.Linear(4, 2)>`.\\n"\n'
    (src / "conf.py").write_text(conf)
    (src / "index.rst").write_text("Index\n=====\n")
    result = update("--write", "src", cwd=tmp_path)
    assert result.returncode == 1
    assert (src / "conf.py").read_text() == conf
    assert result.stderr.splitlines() == [
        "sphinx-paramcount: src/conf.py:3: not rewritten: the number is not written plainly in rst_prolog, "
        "rst_epilog or a docstring of this file; edit the number in rst_prolog or rst_epilog in src/conf.py",
        "sphinx-paramcount: 0 stated numbers updated, 1 problem (above)",
    ]


def test_update_check_passes_on_this_projects_docs():
    result = update("--check", "docs")
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert result.stderr == "sphinx-paramcount: 0 stated numbers stale\n"


def test_a_parallel_build_keeps_the_same_sites_as_a_serial_one(tmp_path):
    """Sites are merged from parallel readers like problems: the environment of ``-j 2`` holds them all."""
    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-update-forms", src)
    out = tmp_path / "out"
    assert sphinx_build(src, out, "-j", "2").returncode == 1
    with open(out / ".doctrees" / "environment.pickle", "rb") as f:
        env = pickle.load(f)
    merged = {site for sites in env.domaindata["paramcount"]["sites"].values() for site in sites}
    assert merged == set(collect(src).sites) and len(merged) == 31


def test_a_raw_rest_cell_of_a_notebook_read_by_nbsphinx_is_rewritten_at_its_cell(tmp_path):
    """nbsphinx numbers the lines of the reST it makes of a notebook: the build maps them to the raw cell's own."""
    pytest.importorskip("nbsphinx")
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["nbsphinx", "sphinx_paramcount"]\nnbsphinx_execute = "never"\n')
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   nb\n")
    nb = nbformat.v4.new_notebook()
    rst = f"Title\n=====\n\n.. paramcount:: {LINEAR}\n   :total: 11\n\nRole :paramcount:`12 <{LINEAR}>`.\n"
    nb.cells = [
        nbformat.v4.new_code_cell("x = ':total: 11'"),
        nbformat.v4.new_raw_cell(rst, metadata={"raw_mimetype": "text/restructuredtext"}),
    ]
    nbformat.write(nb, src / "nb.ipynb")
    before = (src / "nb.ipynb").read_bytes()
    checked = update("--check", "src", cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stderr.splitlines()[-1] == "sphinx-paramcount: 2 stated numbers stale"
    result = update("--write", "src/nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "sphinx-paramcount: 2 stated numbers updated\n"
    after = (src / "nb.ipynb").read_bytes()
    assert after == before.replace(b'"   :total: 11\\n"', b'"   :total: 10\\n"').replace(b"`12 <", b"`10 <")
    assert nbformat.read(src / "nb.ipynb", as_version=4).cells[0].source == "x = ':total: 11'"
    assert update("--check", "src", cwd=tmp_path).returncode == 0


def _role(n: str) -> str:
    return f":paramcount:`{n} <torch.nn.Linear(4, 2)>`"


_WIDE = len(_role("131,618"))
LAYOUT = "\n".join(
    [
        "Layout",
        "======",
        "",
        f"Title {_role('9')}",
        "=" * len(f"Title {_role('9')}"),
        "",
        "+-----+" + "-" * (_WIDE + 2) + "+",
        "| a   | " + _role("9").ljust(_WIDE) + " |",  # room in the cell
        "+-----+" + "-" * (_WIDE + 2) + "+",
        "| b   | " + _role("131,618") + " |",  # one space before the border: it cannot give its last
        "+-----+" + "-" * (_WIDE + 2) + "+",
        "",
        "=" * len(_role("9")) + "  =====",
        "Simple".ljust(len(_role("9"))) + "  Last",
        "=" * len(_role("9")) + "  =====",
        _role("9") + "  x",  # the first column is full: 10 does not fit
        "y".ljust(len(_role("9"))) + "  " + _role("99"),  # the last column may run past its border
        "=" * len(_role("9")) + "  =====",
        "",
        "+---+" + "-" * (len(_role("9")) + 2) + "+",
        "| c | " + _role("9") + " |",  # one space before the border: 10 does not fit
        "+---+" + "-" * (len(_role("9")) + 2) + "+",
        "",
    ]
)


def test_a_number_that_changes_width_keeps_the_layout_or_is_refused(tmp_path):
    """Titles' underlines grow; grid and simple table cells take the difference from their spaces or refuse."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["sphinx_paramcount"]\n')
    (src / "index.rst").write_text(LAYOUT)
    result = update("--write", "src", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    text = (src / "index.rst").read_text()
    assert text.splitlines()[3:5] == [
        "Title :paramcount:`10 <torch.nn.Linear(4, 2)>`",
        "==============================================",  # one longer, as the title
    ]
    lines = text.splitlines()
    assert lines[7] == "| a   | " + _role("10").ljust(_WIDE) + " |"  # the cell's spaces took the difference
    assert lines[9] == "| b   | " + _role("10").ljust(_WIDE) + " |"  # shrinking gives them back
    assert lines[15] == _role("9") + "  x"  # refused, and said
    assert lines[16] == "y".ljust(len(_role("9"))) + "  " + _role("10")
    assert lines[20] == "| c | " + _role("9") + " |"
    refused = [line for line in result.stderr.splitlines() if "not rewritten" in line]
    assert refused == [
        "sphinx-paramcount: src/index.rst:21: not rewritten: the new number does not fit its grid-table cell; "
        "widen the column, then run update again",
        "sphinx-paramcount: src/index.rst:16: not rewritten: the new number does not fit its simple-table column; "
        "widen the column, then run update again",
    ]
    # What was written still reads as the same document: no malformed table, no short underline.
    build = sphinx_build(src, tmp_path / "out", "-W")
    assert "Malformed table" not in build.stderr and "underline too short" not in build.stderr, build.stderr


def test_a_file_included_twice_in_a_page_is_one_set_of_numbers(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["sphinx_paramcount"]\nexclude_patterns = ["inc.rst"]\n')
    (src / "index.rst").write_text("A\n=\n\n.. include:: inc.rst\n\n.. include:: inc.rst\n")
    (src / "inc.rst").write_text(f"inc {_role('31')} and {_role('31')}\n")
    result = update("--write", "src", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["sphinx-paramcount: 2 stated numbers updated"]
    assert (src / "inc.rst").read_text() == f"inc {_role('10')} and {_role('10')}\n"


def test_numbers_the_build_does_not_check_are_left_alone(tmp_path):
    """``suppress_warnings = ["paramcount.mismatch"]`` turns the check off: update finds nothing either."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["sphinx_paramcount"]\nsuppress_warnings = ["paramcount.mismatch"]\n')
    (src / "index.rst").write_text(f"A\n=\n\n{_role('31')}\n")
    result = update("--check", "src", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["sphinx-paramcount: 0 stated numbers stale"]


def test_a_root_table_is_updated_to_its_sub_module_count(tmp_path):
    """``:root: stages`` states what the sub-module holds (84 of Deep's 110): update writes that."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\nextensions = ['sphinx_paramcount']\n")
    (src / "index.rst").write_text("A\n=\n\n.. paramcount:: tests.models.zoo:Deep\n   :root: stages\n   :total: 5\n")
    assert update("--write", "src", cwd=tmp_path).returncode == 0
    assert (src / "index.rst").read_text().endswith("   :root: stages\n   :total: 84\n")


def test_update_leaves_no_docutils_registrations_behind(tmp_path):
    """Found by a tester: after update read a project in-process, the next Sphinx app in that
    process warned "node class 'toctree' is already registered" (autodoc's test failed after it)."""
    from sphinx import addnodes
    from sphinx.util.docutils import is_node_registered

    from sphinx_paramcount.sphinxext.collect import collect

    (tmp_path / "conf.py").write_text('extensions = ["sphinx_paramcount"]\n')
    (tmp_path / "index.rst").write_text("Page\n====\n\n.. paramcount:: torch.nn.Linear(4, 2)\n   :total: 10\n")
    assert not is_node_registered(addnodes.toctree)
    found = collect(tmp_path)
    assert [s.stated.text for s in found.sites] == ["10"]
    assert not is_node_registered(addnodes.toctree)
