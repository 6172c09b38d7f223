"""``sphinx-paramcount update``: its paths, its writes and Ctrl-C.

In process where the output is the point, in a subprocess where a signal is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sphinx_paramcount.cli import main
from tests.test_update import project

REPO = Path(__file__).resolve().parent.parent
STALE = ".. paramcount:: torch.nn.Linear(4, 2)\n   :total: 11\n"


def _err(capsys) -> list[str]:  # type: ignore[no-untyped-def]
    return capsys.readouterr().err.splitlines()


def test_a_missing_path_or_one_outside_any_project_is_an_error_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["update", "--check", "no/such/dir"]) == 2
    assert _err(capsys) == ["sphinx-paramcount: error: no/such/dir: no such file or folder"]
    (tmp_path / "loose.rst").write_text(STALE)
    assert main(["update", "--check", "loose.rst"]) == 2
    assert _err(capsys) == ["sphinx-paramcount: error: loose.rst: no Sphinx project here: no conf.py in it or above it"]
    project(tmp_path / "docs", {"index.rst": STALE})
    assert main(["update", "--check", "."]) == 2
    assert _err(capsys) == [
        "sphinx-paramcount: error: .: no Sphinx project here: no conf.py in it or above it (did you mean docs?)"
    ]
    (tmp_path / "docs" / "conf.py").write_text("extensions = []\n")
    assert main(["update", "--check", "docs"]) == 2
    assert _err(capsys) == [
        "sphinx-paramcount: error: docs: its conf.py does not list 'sphinx_paramcount' in extensions"
    ]
    (tmp_path / "docs" / "conf.py").write_text("extensions = ['sphinx_paramcount']\nraise ValueError('boom')\n")
    assert main(["update", "--check", "docs"]) == 2
    assert _err(capsys) == [
        "sphinx-paramcount: error: docs: Sphinx cannot read the project: There is a programmable error in your "
        "configuration file: ValueError: boom (docs/conf.py:2; --traceback shows the rest)"
    ]


def test_files_no_build_reads_are_reported_as_skipped_and_left_alone(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src = project(
        tmp_path / "docs",
        {"index.rst": "Index\n=====\n\n" + STALE, "notes.txt": STALE},
        conf='exclude_patterns = ["_build", "drafts"]\n',
    )
    (src / "drafts").mkdir()
    (src / "drafts" / "old.rst").write_text(STALE)
    # A file inside the project: only its numbers.  One no build reads: skipped, said so.
    assert main(["update", "--write", "docs/drafts/old.rst", "docs/notes.txt"]) == 0
    assert _err(capsys) == [
        "sphinx-paramcount: docs/drafts/old.rst: skipped: no build reads it (exclude_patterns, source_suffix)",
        "sphinx-paramcount: docs/notes.txt: skipped: no build reads it (exclude_patterns, source_suffix)",
        "sphinx-paramcount: 0 stated numbers updated",
    ]
    # The folder: every page the build reads; the excluded page (with a source suffix) is named.
    assert main(["update", "--write", "docs"]) == 0
    assert _err(capsys) == [
        "sphinx-paramcount: docs/drafts/old.rst: skipped: no build reads it (exclude_patterns, source_suffix)",
        "sphinx-paramcount: 1 stated number updated",
    ]
    assert (src / "index.rst").read_text().endswith(":total: 10\n")
    assert (src / "drafts" / "old.rst").read_text() == STALE
    assert (src / "notes.txt").read_text() == STALE


def test_a_symlinked_page_is_written_through_to_its_target(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "page.rst").write_text("Page\n====\n\n" + STALE)
    src = project(tmp_path / "docs", {"index.rst": "Index\n=====\n\n.. toctree::\n\n   page\n"})
    (src / "page.rst").symlink_to(shared / "page.rst")
    assert main(["update", "--write", str(src)]) == 0
    assert (src / "page.rst").is_symlink() and os.readlink(src / "page.rst") == str(shared / "page.rst")
    assert (shared / "page.rst").read_text() == "Page\n====\n\n.. paramcount:: torch.nn.Linear(4, 2)\n   :total: 10\n"
    assert sorted(p.name for p in shared.iterdir()) == ["page.rst"]


def test_a_file_that_cannot_be_written_is_one_line_and_the_others_are_still_written(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toc = "Index\n=====\n\n.. toctree::\n\n   a\n   b\n\n"
    src = project(tmp_path / "docs", {"index.rst": toc, "a.rst": "A\n=\n\n" + STALE, "b.rst": "B\n=\n\n" + STALE})
    (src / "a.rst").chmod(0o444)
    assert main(["update", "--write", "docs"]) == 1
    err = _err(capsys)
    assert err == [
        "sphinx-paramcount: docs/a.rst: cannot write: the file is read-only",
        "sphinx-paramcount: 1 stated number updated, 1 file could not be written",
    ]
    assert (src / "a.rst").read_text().endswith(":total: 11\n")
    assert (src / "b.rst").read_text().endswith(":total: 10\n")
    assert sorted(p.name for p in src.iterdir()) == ["a.rst", "b.rst", "conf.py", "index.rst"]


SLOW_MODEL = """
import os
import time

from torch import nn


def slow():
    open(os.environ["SLOW_MARKER"], "w").close()
    time.sleep(120)
    return nn.Linear(4, 2)
"""


def test_ctrl_c_stops_cleanly_with_one_line_and_exit_130(tmp_path):
    src = project(
        tmp_path / "docs",
        {
            "index.rst": "Index\n=====\n\n" + STALE + "\n.. toctree::\n\n   slow\n",
            "slow.rst": "Slow\n====\n\n.. paramcount:: slowmodel:slow\n   :total: 11\n",
            "slowmodel.py": SLOW_MODEL,
        },
        conf="sys.path.insert(0, __import__('os').path.dirname(__file__))\n",
    )
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    marker = tmp_path / "building"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "ext"), str(REPO)]), SLOW_MARKER=str(marker))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sphinx_paramcount", "update", "--write", str(src)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        while not marker.exists() and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err == "sphinx-paramcount: interrupted: every file is as it was or fully updated\n"
    assert out == ""
    assert {p.name: p.read_bytes() for p in src.iterdir() if p.name != "__pycache__"} == before


def test_a_number_not_where_the_build_read_it_is_left_alone_and_the_others_written(tmp_path, capsys, monkeypatch):
    """The page changed between the build's reading and the rewrite: nothing is guessed."""
    from sphinx_paramcount.sphinxext import collect

    monkeypatch.chdir(tmp_path)
    src = project(tmp_path / "docs", {"index.rst": STALE + "\n" + STALE})
    real = collect.collect

    def then_edited(srcdir: Path) -> collect.Collected:
        found = real(srcdir)
        (src / "index.rst").write_text(STALE.replace(":total:", ":trainable:") + "\n" + STALE)
        return found

    monkeypatch.setattr(collect, "collect", then_edited)
    assert main(["update", "--write", "docs"]) == 1
    assert _err(capsys) == [
        "sphinx-paramcount: docs/index.rst:1: not rewritten: :total: 11 is not in the directive at this line "
        "(was the file changed after the build read it?)",
        "sphinx-paramcount: 1 stated number updated, 1 problem (above)",
    ]
    assert (src / "index.rst").read_text() == (
        STALE.replace(":total:", ":trainable:") + "\n" + STALE.replace(":total: 11", ":total: 10")
    )


def test_an_include_from_a_start_line_is_found_though_docutils_numbers_it_from_the_slice(tmp_path, capsys):
    part = "Not included :paramcount:`11 <torch.nn.Linear(4, 2)>`.\n\n" + STALE + "\nAnd :paramcount:`12 <t>`.\n"
    part = part.replace("<t>", "<torch.nn.Linear(4, 2)>")
    src = project(
        tmp_path / "docs",
        {"index.rst": "Index\n=====\n\n.. include:: part.txt\n   :start-line: 2\n", "part.txt": part},
    )
    assert main(["update", "--write", str(src)]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == "sphinx-paramcount: 2 stated numbers updated"
    assert (src / "part.txt").read_text() == part.replace(":total: 11", ":total: 10").replace("`12 <", "`10 <")
