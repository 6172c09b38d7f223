"""``sphinx-paramcount update PATH...``: bring stated numbers up to date.

Finds every ``paramcount`` directive option (``:total:``, ``:trainable:``,
``:expect:``) and role with a stated number in ``.rst`` and ``.md`` files,
counts the models, and rewrites only the stale numbers, in the author's style
(``131,618`` stays grouped with commas, ``6.74B`` keeps two decimals in B).
Every other byte of a file is kept: the file is edited as text decoded with
``surrogateescape`` and newlines untranslated, so encodings and CRLF survive;
writes go to a temporary file that is renamed over the original.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import confpy
from .build import DEVICES
from .errors import OptionError, ParamcountError
from .stated import StatedCount, parse_expect, parse_stated

SUFFIXES = (".rst", ".md")

_RST_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\.[ \t]+paramcount::[ \t]*(?P<target>.*?)[ \t]*$")
_MYST_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{paramcount\}[ \t]*(?P<target>.*?)[ \t]*$")
_OPTION = re.compile(r"^[ \t]*:(?P<key>[\w-]+):(?:[ \t]+(?P<value>.*?))?[ \t]*$")
_ROLE = re.compile(r"(?::paramcount:|\{paramcount\})`(?P<stated>[^`<]+?)\s*<(?P<target>[^`>]+)>`")
_CHECKED = ("total", "trainable", "expect")


@dataclass
class Stated:
    """One stated number in a file: where it is and what it claims."""

    start: int  # character offsets of the number in the file's text
    end: int
    count: StatedCount
    what: str  # "total", "trainable", or a row name
    line: int


@dataclass
class Site:
    """A directive or role: its target, options and the numbers it states."""

    line: int
    target: str
    options: dict[str, str] = field(default_factory=dict)
    stated: list[Stated] = field(default_factory=list)


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(line number, offset of the line, line without its newline)."""
    offset = 0
    for number, raw in enumerate(text.splitlines(keepends=True), 1):
        yield number, offset, raw.rstrip("\r\n")
        offset += len(raw)


def find_sites(text: str, path: str = "") -> list[Site]:
    """Every paramcount directive and role with stated numbers; ``OptionError`` if unsafe."""
    sites: list[Site] = []
    lines = list(_lines(text))
    i = 0
    while i < len(lines):
        number, offset, line = lines[i]
        m = _RST_DIRECTIVE.match(line) or _MYST_DIRECTIVE.match(line)
        if m is None:
            i += 1
            continue
        site = Site(number, m.group("target"))
        fence = m.groupdict().get("fence")
        j = i + 1
        while j < len(lines):
            n2, off2, opt_line = lines[j]
            if fence and opt_line.strip().startswith(fence) and opt_line.strip().strip(fence[0]) == "":
                break
            om = _OPTION.match(opt_line)
            if om is None:
                if fence and opt_line.strip() == "---":
                    raise OptionError(f"{path}:{n2}: YAML option blocks are not rewritten; use ':key: value' lines")
                break
            key, value = om.group("key"), om.group("value") or ""
            site.options[key] = value
            if key in _CHECKED and value:
                site.stated += _stated_in_option(key, value, off2 + om.start("value"), n2)
            j += 1
        if fence and not any(
            lines[k][2].strip().startswith(fence) and lines[k][2].strip().strip(fence[0]) == ""
            for k in range(j, len(lines))
        ):
            raise OptionError(f"{path}:{number}: the {fence} fence of this directive is never closed")
        if site.stated:
            sites.append(site)
        i = j
    for number, offset, line in lines:
        for m in _ROLE.finditer(line):
            count = parse_stated(m.group("stated"), what=f"{path}:{number}: stated count")
            start = offset + m.start("stated")
            sites.append(
                Site(
                    number,
                    m.group("target").strip(),
                    {},
                    [Stated(start, start + len(count.text), count, "total", number)],
                )
            )
    return sites


def _stated_in_option(key: str, value: str, start: int, line: int) -> list[Stated]:
    if key != "expect":
        count = parse_stated(value, what=f":{key}:")
        lead = len(value) - len(value.lstrip())
        return [Stated(start + lead, start + lead + len(count.text), count, key, line)]
    out = []
    for name, count in parse_expect(value):
        # Locate "name = number" in the raw value, from the left, to get offsets.
        m = re.search(rf"(?<![\w.\-]){re.escape(name)}\s*=\s*{re.escape(count.text)}", value)
        if m is None:
            raise OptionError(f":expect: entry {name!r} could not be located for rewriting")
        num_start = start + m.end() - len(count.text)
        out.append(Stated(num_start, num_start + len(count.text), count, name, line))
    return out


@dataclass(frozen=True)
class Settings:
    """The ``conf.py`` values that change what a directive shows and checks."""

    device: str = "meta"  # paramcount_device
    collapse_repeats: bool = True  # paramcount_collapse_repeats


def actual_counts(site: Site, settings: Settings = Settings()) -> dict[str, int]:
    """The model's numbers under the keys a site states (total, trainable, rows), as the build sees them."""
    from .cache import cached_explain
    from .options import parse_options
    from .views import claim_counts, view

    opts = parse_options(site.options.items(), device=settings.device).options
    report = cached_explain(site.target, opts.device, opts.input_shape)
    rows = view(report, opts.depth, collapse=settings.collapse_repeats and not opts.expand_repeats)
    counts = claim_counts(report, rows)
    return {(key.row if key.what == "row" else key.what): n for key, n in counts.items()}


def update_text(text: str, path: str = "", settings: Settings = Settings()) -> tuple[str, list[str], int]:
    """The text with stale numbers restated; problems; how many were stale."""
    try:
        sites = find_sites(text, path)
    except ParamcountError as exc:
        return text, [f"{path}: not parsed safely, left untouched: {exc}"], 0
    edits: list[tuple[int, int, str]] = []
    problems: list[str] = []
    for site in sites:
        try:
            actual = actual_counts(site, settings)
        except ParamcountError as exc:
            problems.append(f"{path}:{site.line}: {site.target}: [{exc.subtype}] {exc}; left untouched")
            continue
        for s in site.stated:
            if s.what not in actual:
                problems.append(f"{path}:{s.line}: {site.target}: no row {s.what!r}; left untouched")
            elif not s.count.matches(actual[s.what]):
                edits.append((s.start, s.end, s.count.restate(actual[s.what])))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text, problems, len(edits)


def _read(path: Path) -> str:
    # surrogateescape + newline="" keep every byte, whatever the encoding and line endings.
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return f.read()


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
            f.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _files(paths: Sequence[str]) -> Iterator[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.suffix in SUFFIXES and f.is_file() and "_build" not in f.parts:
                    yield f
        elif p.is_file():
            yield p


def _load_conf(paths: Sequence[str]) -> Settings:
    """Run the nearest conf.py as Sphinx would, for its sys.path, formulas and settings."""
    settings = Settings()
    for conf in confpy.nearest(paths):
        try:
            namespace = confpy.run(conf)
        except Exception as exc:
            print(f"sphinx-paramcount: {conf}: not loaded: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        device = namespace.get("paramcount_device", settings.device)
        collapse = namespace.get("paramcount_collapse_repeats", settings.collapse_repeats)
        settings = Settings(
            device if device in DEVICES else settings.device,
            collapse if isinstance(collapse, bool) else settings.collapse_repeats,
        )
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sphinx-paramcount update",
        description="Show (and with --write apply) the stated parameter counts that no longer match their models.",
    )
    parser.add_argument("paths", nargs="+", help=".rst/.md files or directories")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the stale numbers in place")
    group.add_argument("--check", action="store_true", help="exit 1 if anything is stale (for CI, pre-commit)")
    args = parser.parse_args(argv)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    settings = _load_conf(args.paths)
    stale = problems = 0
    for path in _files(args.paths):
        old = _read(path)
        new, found, count = update_text(old, str(path), settings)
        for line in found:
            print(f"sphinx-paramcount: {line}", file=sys.stderr)
        problems += len(found)
        if new == old:
            continue
        stale += count
        diff = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), str(path), str(path))
        # Bytes that are not UTF-8 are kept in the file; in the diff they print as U+FFFD.
        sys.stdout.writelines(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for line in diff)
        if args.write:
            _write_atomic(path, new)
    verb = "updated" if args.write else "stale"
    print(f"sphinx-paramcount: {stale} stated number{'s' if stale != 1 else ''} {verb}", file=sys.stderr)
    if problems or (args.check and stale):
        return 1
    return 0
