"""``paramcount_autodoc``: a derivation table under each model class autodoc documents.

In-process builds (``sphinx.testing``), so they run on the oldest Sphinx too:
problems are read from the build's own summary, which names the subtype on
every Sphinx version.
"""

from __future__ import annotations

import abc
import re

import pytest
from bs4 import BeautifulSoup
from torch import nn

from sphinx_paramcount.sphinxext.autodoc import option_lines, required_arguments, table_target

MODELS = "tests.models.autodoc_models"
# The build's summary: "  /path/file.py:18: [instantiate] message".
SUMMARY = re.compile(r"^\s+(?P<path>\S+?):(?P<line>\d+): \[(?P<subtype>\w+)\] (?P<message>.*)$")


def _tables(html: str) -> dict[str, list[tuple[list[str], str]]]:
    """Documented class (autodoc's id) -> its tables, each as (row names, total)."""
    soup = BeautifulSoup(html, "html.parser")
    out = {}
    for dl in soup.select("dl.py.class"):
        tables = []
        for table in dl.select("table.paramcount-table"):
            names = [code.get_text() for code in table.select("code.paramcount-name")]
            total = table.select_one("tr.paramcount-total td.paramcount-count").get_text(strip=True)
            tables.append((names, total))
        dt = dl.select_one("dt")
        out[dt.get("id") or "(no-index)"] = tables
    return out


def _summary(status: str) -> list[tuple[str, int, str, str]]:
    """(file name, line, subtype, message) of each problem in the build's summary."""
    out = []
    for line in re.sub(r"\x1b\[[0-9;]*m", "", status).splitlines():
        m = SUMMARY.match(line)
        if m:
            out.append((m["path"].rsplit("/", 1)[-1], int(m["line"]), m["subtype"], m["message"]))
    return out


@pytest.mark.sphinx("html", testroot="autodoc", freshenv=True, confoverrides={"nitpicky": True})
def test_automodule_members_get_a_table_each_unless_skipped(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    assert warning.getvalue() == ""
    tables = _tables((app.outdir / "index.html").read_text())
    assert tables == {
        # Builds without arguments: 4 x 8 + 8 + 8 x 2 + 2.
        f"{MODELS}.Small": [(["fc1", "fc2"], "58")],
        # paramcount_autodoc_options = {"depth": 1}: the body's two layers in one row.
        f"{MODELS}.Deep": [(["body", "head"], "45")],
        # Needs its width; conf.py gives "Block(3)": 3 x 3 + 3.
        f"{MODELS}.Block": [(["proj"], "12")],
        # Needs arguments, no target: skipped. Its target is None: skipped.
        f"{MODELS}.NeedsArgs": [],
        f"{MODELS}.Excluded": [],
        # Its docstring's own table only (checked: :total: 3).
        f"{MODELS}.OwnTable": [(["proj"], "3")],
        # autoclass_content = "both": two docstrings, one table.
        f"{MODELS}.WithInit": [(["proj"], "12")],
        # Abstract: no table.
        f"{MODELS}.Base": [],
    }
    # The table comes after the docstring's text.
    soup = BeautifulSoup((app.outdir / "index.html").read_text(), "html.parser")
    small = soup.find("dt", id=f"{MODELS}.Small").find_next_sibling("dd")
    assert [child.name for child in small.find_all(recursive=False)][:2] == ["p", "div"]
    # The same class documented again (:no-index:) on another page has its table there too.
    assert _tables((app.outdir / "again.html").read_text()) == {"(no-index)": [(["fc1", "fc2"], "58")]}


@pytest.mark.sphinx(
    "html",
    testroot="autodoc",
    freshenv=True,
    confoverrides={"paramcount_autodoc_options": {}, "paramcount_autodoc_targets": {}},
)
def test_without_options_or_targets(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    tables = _tables((app.outdir / "index.html").read_text())
    # Every row: the two equal body layers as one repeat row, the first shown beneath it.
    assert tables[f"{MODELS}.Deep"] == [(["body.0–1", "body.0", "head"], "45")]
    assert tables[f"{MODELS}.Block"] == []  # needs its width, now without a target
    assert tables[f"{MODELS}.Excluded"] == [(["proj"], "6")]  # no longer excluded


@pytest.mark.sphinx("html", testroot="autodoc", freshenv=True, confoverrides={"paramcount_autodoc": False})
def test_off_by_default_value(app, warning):
    app.build()
    assert app.statuscode == 0, warning.getvalue()
    tables = _tables((app.outdir / "index.html").read_text())
    assert {name: t for name, t in tables.items() if t} == {f"{MODELS}.OwnTable": [(["proj"], "3")]}


@pytest.mark.sphinx("html", testroot="autodoc-drift", freshenv=True)
def test_drift_in_a_docstring_and_a_failing_class_are_located_in_the_py_file(app, status, warning):
    app.build()
    assert app.statuscode == 1
    assert _summary(status.getvalue()) == [
        # The generated table of a class that takes no arguments but fails: at its docstring.
        (
            "autodoc_drift.py",
            18,
            "instantiate",
            "building 'tests.models.autodoc_drift:Broken' raised RuntimeError: the weights file is missing",
        ),
        # A role in a docstring: at its own line of the .py file.
        (
            "autodoc_drift.py",
            9,
            "mismatch",
            "stated total 99 for tests.models.autodoc_drift:Stale, but the model has 10: -89 (-89.90%)",
        ),
        # No docstring of its own (autodoc shows nn.Module's): at its class line.
        (
            "autodoc_drift.py",
            25,
            "instantiate",
            "building 'tests.models.autodoc_drift:Undocumented' raised ValueError: no width given",
        ),
    ]
    assert "edit the number in the docstring in tests/models/autodoc_drift.py" in warning.getvalue()
    # The failing class's docstring still shows; the stale one's table still shows the real count.
    tables = _tables((app.outdir / "index.html").read_text())
    assert tables["tests.models.autodoc_drift.Stale"] == [(["fc"], "10")]
    assert tables["tests.models.autodoc_drift.Broken"] == []


@pytest.mark.sphinx("html", testroot="autodoc-drift", freshenv=True, confoverrides={"autoclass_content": "both"})
def test_a_role_in_an_init_docstring_is_located_at_its_line(app, status, warning):
    # autodoc numbers the __init__ docstring's lines after the class's, past the role's own line.
    app.build()
    assert (
        "autodoc_drift.py",
        37,
        "mismatch",
        "stated total 11 for tests.models.autodoc_drift:InitDoc, but the model has 10: -1 (-9.09%)",
    ) in _summary(status.getvalue())


@pytest.mark.sphinx(
    "html",
    testroot="autodoc",
    freshenv=True,
    confoverrides={
        "paramcount_autodoc_options": {"total": "10", "depht": 1, "depth": "one", "format": "total"},
        "paramcount_autodoc_targets": {f"{MODELS}.Block": "Block(3"},
    },
)
def test_bad_autodoc_config_fails_the_build_located_at_conf_py(app, status, warning):
    app.build()
    assert app.statuscode == 1
    text = re.sub(r"\x1b\[[0-9;]*m", "", warning.getvalue())
    assert "paramcount_autodoc_options: 'total' is not an option every table can share" in text
    assert "paramcount_autodoc_options: 'depht' is not an option every table can share" in text
    assert "paramcount_autodoc_options: 'depth': :depth: 'one' is not a whole number of 0 or more" in text
    assert f"paramcount_autodoc_targets: '{MODELS}.Block':" in text
    assert all("conf.py:" in line for line in text.splitlines() if "paramcount_autodoc" in line)
    # The bad entries are left out, so no class reports them again; the good one is used.
    assert _summary(status.getvalue()) == []
    soup = BeautifulSoup((app.outdir / "index.html").read_text(), "html.parser")
    small = soup.find("dt", id=f"{MODELS}.Small").find_next_sibling("dd")
    assert small.select_one("p.paramcount").get_text() == "58"


# -- which classes get a table ---------------------------------------------------------------


class _Abstract(nn.Module, abc.ABC):
    @abc.abstractmethod
    def step(self) -> None: ...


class _Args(nn.Module):
    def __init__(self, width: int, *layers: int, depth: int = 2, bias: bool, **extra: int) -> None:
        super().__init__()


class _NoArgs(nn.Module):
    def __init__(self, width: int = 3) -> None:
        super().__init__()


def test_which_classes_get_a_table():
    here = __name__
    assert table_target(f"{here}._NoArgs", _NoArgs, {}) == f"{here}:_NoArgs"
    # Keyword-only without a default is required too; *args and **kwargs are not.
    assert required_arguments(_Args) == ["width", "bias"]
    assert table_target(f"{here}._Args", _Args, {}) is None
    assert table_target(f"{here}._Args", _Args, {f"{here}._Args": f"{here}._Args(3, bias=True)"}) == (
        f"{here}._Args(3, bias=True)"
    )
    # Keys may name the class where autodoc documents it, or where it is defined, with a colon or a dot.
    assert table_target("pkg._NoArgs", _NoArgs, {f"{here}:_NoArgs": None}) is None
    assert table_target("pkg._NoArgs", _NoArgs, {"pkg:_NoArgs": f"{here}._NoArgs(4)"}) == f"{here}._NoArgs(4)"
    assert table_target("pkg._NoArgs", _NoArgs, {}) == f"{here}:_NoArgs"
    assert table_target(f"{here}._Abstract", _Abstract, {}) is None
    assert table_target(f"{here}.Alias", _NoArgs, {}) is None  # autodoc shows "alias of _NoArgs"
    assert table_target("torch.nn.Sequential", nn.Sequential, {}) is None  # PyTorch's own
    assert table_target("torch.nn.Module", nn.Module, {}) is None
    assert table_target(f"{here}.int", int, {}) is None  # not a module


def test_option_lines():
    assert option_lines({"depth": 1, "expand-repeats": True, "caption": "Parameters", "input-shape": False}) == [
        "   :depth: 1",
        "   :expand-repeats:",
        "   :caption: Parameters",
    ]


@pytest.mark.sphinx("html", testroot="links", freshenv=True, confoverrides={"paramcount_autodoc": True})
def test_paramcount_autodoc_without_autodoc_is_a_config_error(app, warning):
    app.build()
    assert app.statuscode == 1
    text = re.sub(r"\x1b\[[0-9;]*m", "", warning.getvalue())
    assert re.search(
        r"links/conf\.py:1: ERROR: paramcount: paramcount_autodoc adds tables to what autodoc documents: "
        r"add 'sphinx.ext.autodoc' to extensions",
        text,
    ), text
