"""``sphinx-paramcount update PATH...``: bring the stated numbers the build checks up to date.

It reads the project the way the build does (``sphinxext/collect.py`` runs
Sphinx itself), so it finds every stated number the build checks, in every
source the build reads, and nothing else: an example in a code block, a
literal or a comment is left alone.  Each stale number is rewritten at its
place in its file (``sites.py``; in a notebook, inside the cell's JSON
string, ``notebooks.py``; in ``rst_prolog``/``rst_epilog`` or a docstring,
inside that Python string, ``pystrings.py``), in the author's style.  Every
other byte of the file is kept (text decoded with ``surrogateescape``,
newlines untranslated), and the file is replaced atomically, through a
symlink to its target.

Exit status: 0 nothing stale (or all written), 1 stale numbers with
``--check``, problems, or files that could not be written, 2 a bad PATH or a
project Sphinx cannot read, 130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from .sites import Edit, NotLocated, Site, apply, locate
from .stated import Mismatch

PROG = "sphinx-paramcount"


class UsageError(Exception):
    """A PATH that names no file, or no Sphinx project."""


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


# -- which project, which files ------------------------------------------------------------


def _projects(paths: Sequence[str]) -> dict[Path, list[Path]]:
    """The folder of the ``conf.py`` above each path, with the paths under it."""
    projects: dict[Path, list[Path]] = defaultdict(list)
    for given in paths:
        path = Path(os.path.abspath(given))
        if not os.path.lexists(path):
            raise UsageError(f"{given}: no such file or folder")
        conf = next((d for d in [path, *path.parents] if (d / "conf.py").is_file()), None)
        if conf is None:
            below = _confs_below(path) if path.is_dir() else []
            hint = f" (did you mean {', '.join(below)}?)" if below else ""
            raise UsageError(f"{given}: no Sphinx project here: no conf.py in it or above it{hint}")
        projects[conf].append(path)
    return projects


def _confs_below(folder: Path, depth: int = 3) -> list[str]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _ignored_dir(Path(root) / d))
        if len(Path(root).relative_to(folder).parts) >= depth:
            dirs[:] = []
        if "conf.py" in files and Path(root) != folder:
            found.append(os.path.relpath(root))
    return found[:3]


def _ignored_dir(path: Path) -> bool:
    # Hidden folders, virtual environments and build output hold no pages.
    return path.name.startswith((".", "_build")) or path.name == "node_modules" or (path / ".buildinfo").exists()


def _shown(location: str) -> str:
    """``docs/index.rst:12``: a location with its file relative to the current folder, if under it."""
    from .sphinxext.locations import holding_file

    path = holding_file(location)
    shown = os.path.relpath(path) if not os.path.relpath(path).startswith("..") else path
    return shown + location[len(path) :]


def _under(file: str, path: Path) -> bool:
    return file == str(path) or file.startswith(str(path).rstrip(os.sep) + os.sep)


def _candidates(path: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Source files the user named: the file itself, or those in the folder with a source suffix."""
    if not path.is_dir():
        yield path
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not _ignored_dir(Path(root) / d))
        for name in sorted(files):
            if name.endswith(suffixes):
                yield Path(root) / name


def _say_skipped(selected: list[Path], read: frozenset[str], suffixes: tuple[str, ...]) -> None:
    """Name each file the user gave, or source file in a folder given, that no build reads."""
    for path in selected:
        for file in _candidates(path, (*suffixes, ".ipynb")):
            if os.path.realpath(file) not in read:
                _say(f"{_shown(str(file))}: skipped: no build reads it (exclude_patterns, source_suffix)")


# -- rewriting ---------------------------------------------------------------------------


def _read(path: Path) -> str:
    # surrogateescape + newline="" keep every byte, whatever the encoding and line endings.
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return f.read()


def _write_atomic(path: Path, text: str) -> None:
    """Replace the file ``path`` points to (through symlinks) with ``text``, in one rename."""
    real = Path(os.path.realpath(path))
    if not os.access(real, os.W_OK) or not real.stat().st_mode & 0o222:
        raise PermissionError("the file is read-only")
    fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
            f.write(text)
        os.chmod(tmp, real.stat().st_mode & 0o7777)
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _in_python(site: Site) -> bool:
    """A number in ``rst_prolog``/``rst_epilog`` or a docstring: in a string of a ``.py`` file, at a known line."""
    return site.path.endswith(".py") and site.location.rpartition(":")[2].isdigit()


def _edits(text: str, path: str, sites: list[Site]) -> tuple[list[Edit], list[str]]:
    """Where each site's number is in ``text``, and why those that are not found are not."""
    from .pystrings import locate_in_python
    from .sphinxext.locations import update_hint

    edits, missing = [], []
    same = Counter((site.raw.strip(), site.stated) for site in sites)
    located: set[Site] = set()
    for site in sites:
        if site.kind == "role" and site.nth and replace(site, nth=site.nth - 1) in located and _read_twice(site, sites):
            located.add(site)  # the same text read twice (a file included twice in a page): one number, one edit
            continue
        try:
            if path.endswith(".ipynb"):
                edits.append(_notebook_edit(text, site))
            elif _in_python(site):
                edits.append(locate_in_python(text, int(site.location.rpartition(":")[2]), site))
            else:
                edits.append(locate(text, site.line, site, alone=same[site.raw.strip(), site.stated] == 1))
            located.add(site)
        except NotLocated as exc:
            hint = f"; {update_hint(site.location)}" if _in_python(site) else ""
            missing.append(f"{_shown(site.location)}: not rewritten: {exc}{hint}")
    return edits, missing


def _read_twice(site: Site, sites: list[Site]) -> bool:
    """Whether the sites like ``site`` outnumber the times its text is written at its line (an include read twice)."""
    like = [s for s in sites if replace(s, nth=0) == replace(site, nth=0)]
    return len(like) > 1 and site.nth >= _occurrences(site)


def _occurrences(site: Site) -> int:
    try:
        with open(site.path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    line = lines[site.line - 1] if 0 < site.line <= len(lines) else ""
    return max(1, line.count(site.raw.strip().splitlines()[0])) if site.raw.strip() else 1


def _notebook_edit(text: str, site: Site) -> Edit:
    """The edit in the notebook's JSON text: found in the cell's source, made at its raw offsets."""
    from .notebooks import cell_source
    from .sites import NOTEBOOK_CELL

    cell, line = divmod(site.line, NOTEBOOK_CELL)
    if cell < 1 or line < 2:
        # nbsphinx, for one, numbers the lines of the reST it makes of the notebook.
        raise NotLocated("this notebook's lines are not MyST-NB's, the only ones update can follow; edit it by hand")
    source = cell_source(text, cell - 1)
    return source.raw_edit(text, locate(source.text, line - 1, site))


def _diff(path: str, old: str, new: str) -> None:
    diff = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), path, path)
    # Bytes that are not UTF-8 are kept in the file; in the diff they print as U+FFFD.
    sys.stdout.writelines(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for line in diff)


class Run:
    """The tallies of one ``update`` run, for the summary and the exit status."""

    def __init__(self, write: bool) -> None:
        self.write = write
        self.stale = self.problems = self.unwritable = 0

    def project(self, srcdir: Path, selected: list[Path]) -> None:
        """Check (and with ``--write`` rewrite) the numbers under ``selected`` of the project in ``srcdir``."""
        from .sphinxext.collect import collect
        from .sphinxext.locations import holding_file, update_hint

        found = collect(srcdir)
        _say_skipped(selected, found.read, found.suffixes)
        # The whole project: every site the build checks, docstrings outside the folder included.
        whole = srcdir in selected

        def mine(file: str) -> bool:
            return whole or any(_under(file, p) for p in selected)

        for problem in found.problems:
            if mine(holding_file(problem.location)):
                self.problems += problem.fails  # as in the build: a warning is shown, and does not fail
                hint = f" ({problem.hint})" if problem.hint else ""
                _say(f"{_shown(problem.location)}: [{problem.subtype}] {problem.message}{hint}")
        by_file: dict[str, list[Site]] = defaultdict(list)
        for site in found.sites:
            if not site.stale or not mine(site.path):
                continue
            if (site.editable and site.line) or _in_python(site):
                by_file[os.path.realpath(site.path)].append(site)
                continue
            self.problems += 1
            message = Mismatch(site.key, site.stated, site.actual, site.target).message
            hint = update_hint(site.location) if site.line or not site.editable else ""
            if not hint or hint.startswith("run "):  # Sphinx gave no line: nothing to follow
                hint = f"the build does not say where in {_shown(site.path)} it is; edit it by hand"
            _say(f"{_shown(site.location)}: {message}; not rewritten: {hint}")
        for held, sites in by_file.items():
            self.file(Path(held), sites)

    def file(self, path: Path, sites: list[Site]) -> None:
        shown = _shown(str(path))
        try:
            old = _read(path)
        except OSError as exc:
            self.unwritable += 1
            _say(f"{shown}: cannot read: {exc.strerror or exc}")
            return
        edits, missing = _edits(old, str(path), sites)
        for line in missing:
            self.problems += 1
            _say(line)
        if not edits:
            return
        new, refused = apply(old, edits)
        for edit, why in refused:
            self.problems += 1
            _say(f"{shown}:{old.count(chr(10), 0, edit.start) + 1}: not rewritten: {why}")
        edits = [e for e in edits if all(e != r for r, _ in refused)]
        if not edits:
            return
        _diff(shown, old, new)
        if self.write:
            try:
                _write_atomic(path, new)
            except OSError as exc:
                self.unwritable += 1
                _say(f"{shown}: cannot write: {exc.strerror or exc}")
                return
        self.stale += len(set(edits))

    def summary(self, check: bool) -> int:
        verb = "updated" if self.write else "stale"
        line = f"{self.stale} stated number{'s' if self.stale != 1 else ''} {verb}"
        if self.unwritable:
            line += f", {self.unwritable} file{'s' if self.unwritable != 1 else ''} could not be written"
        if self.problems:
            line += f", {self.problems} problem{'s' if self.problems != 1 else ''} (above)"
        _say(line)
        return 1 if self.problems or self.unwritable or (check and self.stale) else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} update",
        description="Show (and with --write apply) the stated parameter counts that no longer match their "
        "models: every number the docs build checks, found by reading the project as the build does.",
    )
    parser.add_argument("paths", nargs="+", help="the docs' source folder (with conf.py), or files in it")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the stale numbers in place")
    group.add_argument("--check", action="store_true", help="exit 1 if anything is stale (for CI, pre-commit)")
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        _say("interrupted: every file is as it was or fully updated")
        return 130


def _one_line(message: str) -> str:
    """Sphinx's message about a failing conf.py holds a traceback: its first line, the error and where."""
    lines = [line for line in message.splitlines() if line.strip()]
    if not any(line.startswith("Traceback") for line in lines):
        return message
    where = re.findall(r'File "([^"]+)", line (\d+)', message)
    at = f" ({_shown(where[-1][0])}:{where[-1][1]}; --traceback shows the rest)" if where else ""
    return f"{lines[0].rstrip(': ')}: {lines[-1].strip()}{at}"


def _run(args: argparse.Namespace) -> int:
    from .sphinxext.collect import NotAProject

    try:
        projects = _projects(args.paths)
    except UsageError as exc:
        _say(f"error: {exc}")
        return 2
    run = Run(args.write)
    for srcdir, selected in projects.items():
        try:
            run.project(srcdir, selected)
        except NotAProject as exc:
            _say(f"error: {os.path.relpath(srcdir)}: {exc if args.traceback else _one_line(str(exc))}")
            return 2
        except Exception as exc:  # the project's own code (conf.py, an extension) failed
            if args.traceback:
                traceback.print_exc()
            _say(f"error: {os.path.relpath(srcdir)}: the build failed: {type(exc).__name__}: {exc}")
            return 2
    return run.summary(args.check)
