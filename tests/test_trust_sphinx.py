"""Trust in the Sphinx layer: no malformed directive or role passes, every problem at the file and line that hold it.

Real ``sphinx-build`` runs (serial and ``-j 2`` where order could matter) of the
roots ``test-trust-options`` and ``test-trust-locations``, and generated sites.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from sphinx_paramcount import update
from tests.test_reliability import ANSI, ROOTS

REPO = ROOTS.parent.parent

LINEAR = "torch.nn.Linear(4, 2)"

OPTION_PROBLEMS = [
    ("index.rst", 9, "option", f"{LINEAR}: unknown option :totl:"),
    ("index.rst", 9, "mismatch", f"stated total 11 for {LINEAR}, but the model has 10: -1 (-9.09%)"),
    ("index.rst", 15, "option", f"{LINEAR}: option :total: is given twice"),
    ("index.rst", 15, "mismatch", f"stated total 12 for {LINEAR}, but the model has 10: -2 (-16.67%)"),
    ("index.rst", 21, "option", f"{LINEAR}: the directive takes no body, but has one"),
    (
        "index.rst",
        26,
        "option",
        "torch.nn.Linear(4, 3): the options :total:, :caption: are not directly under the target line",
    ),
    ("index.rst", 26, "mismatch", "stated total 16 for torch.nn.Linear(4, 3), but the model has 15: -1 (-6.25%)"),
    ("index.rst", 31, "option", f"{LINEAR}: :expand-repeats: is a flag and takes no value, not 'yes'"),
    ("index.rst", 31, "option", f"{LINEAR}: :depth: 'one' is not a whole number of 0 or more"),
    ("index.rst", 36, "option", "the directive names no model"),
    ("index.rst", 39, "option", f"{LINEAR}: :expect: names row 'weight', which the model does not have"),
    ("index.rst", 51, "option", f"{LINEAR}: the option line ':total:11' needs a space after ':total:'"),
    ("index.rst", 51, "mismatch", f"stated total 11 for {LINEAR}, but the model has 10: -1 (-9.09%)"),
    ("index.rst", 55, "option", f"{LINEAR}: the options :total: are not directly under the target line"),
    ("index.rst", 55, "option", f"{LINEAR}: the directive takes no body, but has one ('Explains the count.'"),
    ("index.rst", 55, "mismatch", f"stated total 71 for {LINEAR}, but the model has 10: -61 (-85.92%)"),
    ("myst.md", 3, "option", f"{LINEAR}: unknown option :totl:"),
    ("myst.md", 3, "mismatch", f"stated total 11 for {LINEAR}, but the model has 10: -1 (-9.09%)"),
    ("myst.md", 8, "option", f"{LINEAR}: option :total: is given twice"),
    ("myst.md", 8, "mismatch", f"stated total 12 for {LINEAR}, but the model has 10: -2 (-16.67%)"),
    ("myst.md", 13, "option", f"{LINEAR}: the directive takes no body, but has one"),
    ("myst.md", 19, "mismatch", f"stated total 13 for {LINEAR}, but the model has 10: -3 (-23.08%)"),
    ("myst.md", 26, "option", f"{LINEAR}: unknown option :formt:"),
    ("myst.md", 32, "option", "the directive names no model"),
    ("myst.md", 36, "option", "10 <>: the role names no model"),
    # A YAML block: values as written (012 is not octal 10), a key given twice checked twice.
    ("myst.md", 38, "option", f"{LINEAR}: option :total: is given twice"),
    ("myst.md", 38, "mismatch", f"stated total 11 for {LINEAR}, but the model has 10: -1 (-9.09%)"),
    ("myst.md", 38, "mismatch", f"stated total 012 for {LINEAR}, but the model has 10: -2 (-16.67%)"),
    ("roles.rst", 4, "option", "10 <>: the role names no model"),
    ("roles.rst", 6, "option", f"10 <{LINEAR}: '10 <{LINEAR}' is not of the form 'count <target>'"),
    ("roles.rst", 8, "option", f"<{LINEAR}>: '<{LINEAR}>' is not of the form 'count <target>'"),
    ("roles.rst", 10, "mismatch", f"stated total 11 for {LINEAR}, but the model has 10: -1 (-9.09%)"),
]


def sphinx_build(
    src: Path,
    out: Path,
    *extra: str,
    keep_env: bool = False,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m sphinx -b html SRC OUT``: fresh (``-E``) unless ``keep_env``."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]), **(env or {}))
    args = [sys.executable, "-m", "sphinx", "-b", "html", *([] if keep_env else ["-E"])]
    return subprocess.run(
        [*args, "-d", str(out / ".doctrees"), *extra, str(src), str(out)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=300,
    )


def run_update(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``sphinx-paramcount update ARGS`` in a fresh process, from ``cwd``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]))
    return subprocess.run(
        [sys.executable, "-m", "sphinx_paramcount", "update", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


# Our end-of-build summary (the same under every Sphinx): "  /path/file.rst:12: [subtype] message";
# in a notebook, the cell and the line in it: "  /path/nb.ipynb:cell 3:2: [subtype] message".
SUMMARY_LINE = re.compile(r"^  (?P<path>\S+?(?::cell \d+)?):(?P<line>\d+): \[(?P<subtype>\w+)\] (?P<message>.*)$")
# Sphinx's log line; Sphinx 8+ appends "[paramcount.subtype]".
LOG_LINE = re.compile(
    r"^(?P<path>\S+?(?::cell \d+)?):(?P<line>\d+): (?:ERROR|WARNING): paramcount: (?P<message>.*?)"
    r"(?: \[paramcount\.\w+\])?$"
)


def problems(result: subprocess.CompletedProcess[str]) -> list[tuple[str, int, str, str]]:
    """(file name, line, subtype, message) of each problem in the summary, checked against the log lines."""
    out = ANSI.sub("", result.stdout).splitlines()
    start = next((i for i, line in enumerate(out) if re.match(r"^paramcount: \d+ problems? in the docs:$", line)), None)
    if start is None:
        return []
    found = []
    for line in out[start + 1 :]:
        m = SUMMARY_LINE.match(line)
        if m is None:
            break
        found.append((Path(m["path"]).name, int(m["line"]), m["subtype"], m["message"]))
    logged = [LOG_LINE.match(line) for line in ANSI.sub("", result.stderr).splitlines()]
    assert [(Path(m["path"]).name, int(m["line"])) for m in logged if m] == [(f, n) for f, n, _, _ in found]
    return found


def _matches(found: list[tuple[str, int, str, str]], expected: list[tuple[str, int, str, str]]) -> None:
    assert len(found) == len(expected), "\n".join(map(str, found))
    for got, want in zip(found, expected):
        assert got[:3] == want[:3] and got[3].startswith(want[3]), (got, want)


def _tables(out: Path, page: str) -> BeautifulSoup:
    return BeautifulSoup((out / f"{page}.html").read_text(), "html.parser")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_every_malformed_directive_and_role_fails_the_build_and_the_rest_still_renders(tmp_path, jobs):
    out = tmp_path / "out"
    result = sphinx_build(ROOTS / "test-trust-options", out, "-j", jobs)
    assert result.returncode == 1, result.stderr
    _matches(problems(result), OPTION_PROBLEMS)
    assert "[docutils]" not in ANSI.sub("", result.stderr)
    assert "unknown option :formt: (did you mean :format:?)" in result.stderr
    assert "Traceback" not in result.stderr
    assert f"paramcount: {len(OPTION_PROBLEMS)} problems in the docs:" in result.stdout

    index = _tables(out, "index")
    # Every directive with a target renders its table, bad options or not; the one without renders nothing.
    assert len(index.select("table.paramcount-table")) == 9
    captions = [c.get_text().rstrip("¶") for c in index.select("table.paramcount-table caption")]
    assert captions == [
        "Options after a blank line",
        "A flag with a value, a bad depth",
        "A target wrapped over two lines",
        "En-dash ranges after a comma",
        "No space after the option name",
    ]
    # The body the directive does not take is not shown as if it belonged to it.
    assert "A body the directive does not take." not in index.get_text()
    assert "The end of the page." in index.get_text()
    myst = _tables(out, "myst")
    assert len(myst.select("table.paramcount-table")) == 6
    assert [c.get_text().rstrip("¶") for c in myst.select("table.paramcount-table caption")] == [
        "A YAML option block",
        "no",  # YAML's "no" is the text the author wrote, not False
    ]
    # Malformed roles stay visible as written, marked as problems; good ones show their text.
    roles = _tables(out, "roles")
    assert [p.get_text() for p in roles.select(".problematic")] == [
        ":paramcount:`10 <>`",
        f":paramcount:`10 <{LINEAR}`",
        f":paramcount:`<{LINEAR}>`",
    ]
    assert [s.get_text() for s in roles.select("span.paramcount")] == ["11", "10"]


def test_unchanged_rebuild_repeats_every_option_problem_and_fails(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOTS / "test-trust-options", src)
    out = tmp_path / "out"
    first = sphinx_build(src, out)
    assert first.returncode == 1
    again = sphinx_build(src, out, "-j", "2", keep_env=True)
    assert again.returncode == 1
    _matches(problems(again), OPTION_PROBLEMS)
    logged = [line for line in ANSI.sub("", again.stderr).splitlines() if LOG_LINE.match(line)]
    assert len(logged) == len(OPTION_PROBLEMS)
    assert all("(from an earlier build of this page)" in line for line in logged)
    assert "0 changed" in ANSI.sub("", again.stdout) or "no targets are out of date" in again.stdout


LOCATION_PROBLEMS = [
    # (path relative to the repository, line, text the hint must hold)
    ("tests/models/documented.py", 9, "edit the number in the docstring in tests/models/documented.py"),
    ("tests/roots/test-trust-locations/conf.py", 14, "edit the number in rst_prolog or rst_epilog in"),
    (
        "tests/roots/test-trust-locations/inc/part.rst",
        3,
        "sphinx-paramcount update tests/roots/test-trust-locations/inc/part.rst",
    ),
    (
        "tests/roots/test-trust-locations/inc/part.md",
        3,
        "sphinx-paramcount update tests/roots/test-trust-locations/inc/part.md",
    ),
    (
        "tests/roots/test-trust-locations/locale/de/LC_MESSAGES/translated.po",
        6,
        "edit the number in the translation in tests/roots/test-trust-locations/locale/de/LC_MESSAGES/translated.po",
    ),
]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_problems_are_located_at_the_file_and_line_that_hold_them(tmp_path, jobs):
    repo = REPO
    result = sphinx_build(ROOTS / "test-trust-locations", tmp_path / "out", "-j", jobs, cwd=repo)
    assert result.returncode == 1, result.stderr
    lines = [ANSI.sub("", line) for line in result.stderr.splitlines() if "paramcount" in line]
    assert len(lines) == len(LOCATION_PROBLEMS), "\n".join(lines)  # the epilog's role, on 5 pages, once
    for line, (path, number, hint) in zip(lines, LOCATION_PROBLEMS):
        assert line.startswith(f"{repo / path}:{number}: ERROR: paramcount: stated total "), line
        assert hint in line, line
    # The translated page shows the translated text with the stated number checked.
    html = (tmp_path / "out" / "translated.html").read_text()
    assert "Die Schicht hat" in html


def test_targets_used_only_in_roles_are_built_once_under_parallel_reading(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    repo = REPO
    (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(repo)!r})\nextensions = ['sphinx_paramcount']\n")
    pages = [f"page{i}" for i in range(8)]
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n" + "".join(f"   {p}\n" for p in pages))
    for i, page in enumerate(pages):
        (src / f"{page}.rst").write_text(
            f"Page {i}\n======\n\nThe layer has :paramcount:`10 <tests.models.counted_builds:logged_linear>` "
            "parameters, or :paramcount:`tests.models.counted_builds:logged_linear` in all.\n"
        )
    log = tmp_path / "builds.log"
    result = sphinx_build(src, tmp_path / "out", "-j", "2", env={"PARAMCOUNT_BUILD_LOG": str(log)})
    assert result.returncode == 0, result.stderr
    assert len(log.read_text().splitlines()) == 1
    html = (tmp_path / "out" / "page3.html").read_text()
    assert "The layer has <span" in html and ">10</span> parameters, or <span" in html


def test_update_shows_what_the_build_shows_with_the_projects_device_and_repeats(tmp_path, monkeypatch, capsys):
    """``update`` reads ``paramcount_collapse_repeats`` from conf.py: the rows it checks are the build's."""
    src = tmp_path / "docs"
    src.mkdir()
    repo = REPO
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(repo)!r})\nextensions = ['sphinx_paramcount']\n"
        "paramcount_collapse_repeats = False\nparamcount_device = 'cpu'\n"
    )
    # With repeats collapsed the row 'stages.0.0–1' exists; this project shows every block instead.
    page = src / "index.rst"
    page.write_text(".. paramcount:: tests.models.zoo:Deep\n   :expect: stages.0.1.fc=21, stages.0.0-1=56\n")
    monkeypatch.chdir(tmp_path)
    assert update.main([str(src), "--check"]) == 1
    err = capsys.readouterr().err
    assert ":expect: names row 'stages.0.0-1', which the model does not have" in err
    assert "1 stated number stale" in err
    build = sphinx_build(src, tmp_path / "out")
    found = problems(build)
    assert [(f, sub) for f, _, sub, _ in found] == [("index.rst", "option"), ("index.rst", "mismatch")]
    assert "names row 'stages.0.0-1'" in found[0][3]
    assert found[1][3].startswith("stated row 'stages.0.1.fc' 21 for tests.models.zoo:Deep, but the model has 20")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_each_role_and_directive_is_located_at_its_own_line(tmp_path, jobs):
    """Where docutils gives a paragraph's first line, a cell's next line, or an include's cut-relative line."""
    result = sphinx_build(ROOTS / "test-trust-lines", tmp_path / "out", "-j", jobs)
    assert result.returncode == 1, result.stderr
    found = [(f, line, sub, msg.split(",")[0]) for f, line, sub, msg in problems(result)]
    assert found == [
        ("index.rst", 9, "mismatch", "stated total 21 for torch.nn.Linear(4"),  # a paragraph's second line
        ("index.rst", 14, "mismatch", "stated total 22 for torch.nn.Linear(4"),  # a list-table cell
        ("index.rst", 17, "mismatch", "stated total 23 for torch.nn.Linear(4"),  # a one-line note
        ("part.txt", 4, "mismatch", "stated total 24 for torch.nn.Linear(4"),  # included from :start-line: 2
        ("part.txt", 6, "mismatch", "stated total 25 for torch.nn.Linear(4"),
        ("conf.py", 16, "mismatch", "stated total 61 for torch.nn.Linear(4"),  # rst_epilog += ...
        ("translated.po", 9, "mismatch", "stated total 14 for torch.nn.Linear(4"),  # a msgstr over two lines
    ]


def test_an_instance_that_cannot_be_copied_for_the_forward_pass_is_a_located_error():
    from sphinx_paramcount.api import explain
    from sphinx_paramcount.errors import InstantiateError

    with pytest.raises(InstantiateError) as info:
        explain("tests.models.uncopyable:MODEL", input_shape=(1, 4))
    assert info.value.message == (
        "'tests.models.uncopyable:MODEL' is a module instance that cannot be copied for the forward pass: "
        "TypeError: cannot pickle 'SSLContext' object"
    )
    assert explain("tests.models.uncopyable:MODEL").total == 10  # without a forward pass it is counted as it is


def test_what_an_import_printed_is_in_the_error_when_the_first_build_of_its_module_fails():
    from sphinx_paramcount.build import build_model
    from sphinx_paramcount.errors import InstantiateError

    with pytest.raises(InstantiateError) as info:
        build_model("tests.models.noisy_then_broken:Bad")
    assert info.value.message == (
        "building 'tests.models.noisy_then_broken:Bad' raised ValueError: bad constructor; "
        "tests.models.noisy_then_broken:Bad printed while its modules were imported: "
        "NOISY IMPORT PRINT; UserWarning: noisy import warning"
    )


@pytest.mark.parametrize(
    ("factory", "words"),
    [
        ("hub_swallow", "tried to download https://download.pytorch.org/models/resnet18-f37072fd.pth"),
        ("hf_swallow", "tried to download files from the Hugging Face hub"),
    ],
)
def test_a_factory_that_catches_the_refused_download_still_fails(factory, words):
    from sphinx_paramcount.build import build_model
    from sphinx_paramcount.errors import WeightsError

    with pytest.raises(WeightsError) as info:
        build_model(f"tests.models.swallows_downloads:{factory}")
    assert words in info.value.message
    # And after the build nothing is left patched: the hub's own errors are as they were.
    if factory == "hf_swallow":
        from huggingface_hub import errors

        for cls in (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled):
            assert "_call" not in getattr(cls.__init__, "__code__", compile("", "", "exec")).co_varnames


def test_a_myst_role_after_an_eval_rst_block_keeps_its_line(tmp_path):
    # MyST's {eval-rst} leaves docutils' line lookup on the page's reporter, and that lookup
    # knows no line after the block: the role must still name the page's own file and line.
    from tests.test_reliability import sphinx_build as build

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["myst_parser", "sphinx_paramcount"]\n', encoding="utf-8")
    (src / "index.md").write_text(
        "# Page\n\n```{eval-rst}\nSome *reST*.\n```\n\nStated: {paramcount}`131,586 <tests.models.seed:SimpleNet>`.\n",
        encoding="utf-8",
    )
    result = build(src, tmp_path / "out")
    assert result.returncode == 1, result.stderr
    # The end-of-build summary: Sphinx 7 prints no subtype in its log lines.
    ((name, line, subtype, message),) = problems(result)
    assert (name, line, subtype) == ("index.md", 7, "mismatch")
    assert message.startswith("stated total 131,586 for tests.models.seed:SimpleNet, but the model has 131,618")
    assert f"{src / 'index.md'}:7: ERROR: paramcount: stated total 131,586" in ANSI.sub("", result.stderr)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("tests.models.documented_places", 1),  # the module's docstring
        ("tests.models.documented_places.WIDTH", 5),  # a variable's #: comment
        ("tests.models.documented_places.DEPTH", 9),  # a variable's docstring, after it
        ("tests.models.documented_places.Holder.size", 13),  # a class attribute's #: comment
    ],
)
def test_a_role_in_a_module_or_variable_docstring_is_located_in_the_py_file(name, line):
    import tests.models.documented_places as module
    from sphinx_paramcount.sphinxext.locations import source_location

    path = module.__file__
    text = Path(path).read_text(encoding="utf-8").splitlines()[line - 1]
    role = text[text.index(":paramcount:") : text.index(">`") + 2]
    assert source_location(None, f"{path}:docstring of {name}", 1, role) == f"{path}:{line}"
