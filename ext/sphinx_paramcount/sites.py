"""Stated numbers as the build checked them, and where each one is written in its file.

The Sphinx layer records a ``Site`` for every number that a directive or a
role checks, with the place Sphinx's own parsers read it from
(``sphinxext/collect.py`` runs that build for ``update``).  This module finds
each site's number in the text that holds it and restates it: plain text
work, no Sphinx.  The search starts at the line the build reports and follows
the directive's ``block_text`` or the role's ``rawtext``, so an example of a
directive in a code block, a literal or a comment, which the build does not
check, is never taken for one it does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .stated import ClaimKey, StatedCount

# MyST-NB numbers a notebook's lines as cell * 10,000 + line in the cell (both from 1, plus one).
NOTEBOOK_CELL = 10_000


@dataclass(frozen=True)
class Site:
    """One stated number the build checked: what it claims, what the model has, where it is written."""

    path: str  # the file that holds it, absolute; for rst_prolog/epilog conf.py, for a translation the .po
    line: int  # its directive's or role's line there, as Sphinx gives it (MyST-NB: cell * 10,000 + line + 1)
    location: str  # "path:line", as the build reports a problem there
    editable: bool  # False where the text is not the file's own (rst_prolog/epilog, translations, docstrings)
    kind: str  # "directive" or "role"
    raw: str  # the directive's ``block_text`` or the role's ``rawtext``
    option: str  # "total", "trainable" or "expect"; "" for a role
    key: ClaimKey
    stated: StatedCount
    actual: int
    target: str
    nth: int = 0  # the nth site of the same file, line, text and claim (a repeated option, a repeated role)

    @property
    def stale(self) -> bool:
        return not self.stated.matches(self.actual)

    @property
    def restated(self) -> str:
        """The model's number in the author's style (``StatedCount.restate``)."""
        return self.stated.restate(self.actual)


class NotLocated(Exception):
    """The site's number is not where the build says it is: the file changed, or the text is unusual."""


_CHANGED = " (was the file changed after the build read it?)"


@dataclass(frozen=True)
class Edit:
    start: int  # character offsets in the text
    end: int
    new: str


# -- finding a site's number in a text --------------------------------------------------------

# Between two words of a directive or role: spaces, or a line break followed by the next
# line's indentation and blockquote markers (``>``), as the source wraps it.
_GAP = r"(?:[ \t]+|[ \t]*\r?\n[ \t>]*)+"


def _flexible(text: str) -> str:
    """A pattern for ``text`` however its whitespace is wrapped and indented in the file."""
    return "".join(_GAP if part.isspace() else re.escape(part) for part in re.split(r"(\s+)", text) if part)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts += [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    return starts


def locate(text: str, line: int, site: Site, *, alone: bool = True) -> Edit:
    """The edit that restates ``site``, held at ``line`` (from 1) of ``text``.

    ``alone``: no other site of this text has the same directive or role.
    ``NotLocated`` if its number is not found where the build read it.
    """
    find = _locate_directive if site.kind == "directive" else _locate_role
    try:
        start, end = find(text, line, site)
    except NotLocated:
        # docutils numbers the lines of an ``include`` with ``:start-line:`` from the slice, not
        # the file.  The build read this very text from this file: where the file holds it only
        # once, and no other site has the same text, that is the one.
        only = _only_line(text, site) if alone else None
        if only is None:
            raise
        start, end = find(text, only, site)
    return Edit(start, end, site.restated)


def _only_line(text: str, site: Site) -> int | None:
    """The line of the one place ``text`` holds the site's directive or role, if it holds it once."""
    raw = site.raw.strip()
    pattern = (
        _flexible(raw)
        if site.kind == "directive"
        else _role_name(raw[: raw.find("`")]) + _flexible(raw[raw.find("`") :])
    )
    found = [m.start() for m in re.finditer(pattern, text)]
    if len(found) != 1:
        return None
    return len(_line_starts(text[: found[0]]))


def _region(text: str, line: int, lines: int) -> tuple[int, int]:
    starts = _line_starts(text)
    if not 1 <= line <= len(starts):
        raise NotLocated(f"line {line} is past the end of the file{_CHANGED}")
    first = starts[line - 1]
    last = starts[line - 1 + lines] if line - 1 + lines < len(starts) else len(text)
    return first, last


def _option_marker(option: str) -> re.Pattern[str]:
    # ``:total:`` (a field, reST and MyST), or ``total:`` at the start of a line (MyST's YAML block).
    name = re.escape(option)
    return re.compile(rf"(?:(?<![^\s>]):{name}:|^[ \t>]*{name}[ \t]*:)(?=\s|$)", re.MULTILINE)


_NEXT_OPTION = re.compile(r"\n[ \t>]*(?::[\w-]+:|[\w-]+[ \t]*:)(?=\s|$)|\n[ \t>]*(?:---|`{3,}|:{3,})")


def _locate_directive(text: str, line: int, site: Site) -> tuple[int, int]:
    start, end = _region(text, line, max(1, len(site.raw.splitlines())))
    number = re.compile(rf"(?P<n>{_flexible(site.stated.text)})(?![\w.])")
    # Where each of this directive's claims under the site's key starts, in order: the value
    # of each ``:total:`` (a repeated option is a second claim), or each ``:expect:``'s ``name=``.
    slots: list[int] = []
    for marker in _option_marker(site.option).finditer(text, start, end):
        nxt = _NEXT_OPTION.search(text, marker.end(), end)
        value_end = nxt.start() if nxt else end
        if site.option == "expect":
            entry = re.compile(rf"(?<![\w.\-–]){re.escape(site.key.row)}[\s>]*=[\s>]*")
            m = entry.search(text, marker.end(), value_end)
        else:
            m = re.compile(r"[\s>\"']*").match(text, marker.end(), value_end)
        if m:
            slots.append(m.end())
    found = number.match(text, slots[site.nth], end) if site.nth < len(slots) else None
    if found is None:
        raise NotLocated(f":{site.option}: {site.stated.text} is not in the directive at this line{_CHANGED}")
    return found.span("n")


def _locate_role(text: str, line: int, site: Site) -> tuple[int, int]:
    tick = site.raw.find("`")
    stated = re.compile(_flexible(site.stated.text)).search(site.raw, tick + 1) if tick >= 0 else None
    if stated is None:
        raise NotLocated(f"the role {site.raw!r} does not state {site.stated.text}")
    pattern = re.compile(
        _role_name(site.raw[: stated.start()])
        + f"(?P<n>{_flexible(site.stated.text)})"
        + _flexible(site.raw[stated.end() :])
    )
    # A role's line is that of its paragraph: the role is at or after it, but docutils numbers
    # a table cell's text one line late, so the search starts a line early.  (The line before
    # a paragraph is blank, or a table's border.)  One shown as an inline literal (``...``),
    # or escaped, is not a role.
    start, _ = _region(text, max(1, line - 1), 1)
    found = [m.span("n") for m in pattern.finditer(text, start) if text[m.start() - 1 : m.start()] not in ("`", "\\")]
    if site.nth >= len(found):
        raise NotLocated(f"the role {site.raw!r} is not at or after this line{_CHANGED}")
    return found[site.nth]


def _role_name(prefix: str) -> str:
    """The pattern of a role's opening: MyST gives its roles as ``:name:`...```, written ``{name}`...```."""
    m = re.match(r"^:(?P<name>[\w:.+-]+):(?P<rest>`.*)$", prefix, re.DOTALL)
    if m is None:
        return _flexible(prefix)
    name = re.escape(m["name"])
    return rf"(?::{name}:|\{{{name}\}})" + _flexible(m["rest"])


def apply(text: str, edits: Iterable[Edit]) -> tuple[str, list[tuple[Edit, str]]]:
    """``text`` with each edit made (edits do not overlap), and the edits refused, each with why.

    A number that changes width must not change how docutils reads the
    text around it: in a grid table's row the difference is taken from (or
    given to) the spaces before the cell's right border; a section title's
    underline (and overline) grows with its title; in a simple table a number
    must still fit its column.  An edit that cannot keep the layout is refused.
    """
    refused: list[tuple[Edit, str]] = []
    for e in sorted(set(edits), key=lambda e: e.start, reverse=True):
        grew = len(e.new) - (e.end - e.start)
        new = text[: e.start] + e.new + text[e.end :]
        if grew:
            kept = _keep_layout(new, e.start, e.start + len(e.new), grew)
            if isinstance(kept, str) and kept.startswith(_REFUSED):
                refused.append((e, kept[len(_REFUSED) :]))
                continue
            new = kept
        text = new
    return text, refused


_REFUSED = "\0refused: "
_CELL_REST = re.compile(r"[^|\r\n]*?( +)\|")
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+[ \t]*$")
_SIMPLE_BORDER = re.compile(r"^[ \t]*=+(?:[ \t]+=+)+[ \t]*$")


def _lines_around(text: str, pos: int) -> tuple[int, int]:
    start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return start, min(ends) if ends else len(text)


def _keep_layout(text: str, start: int, end: int, grew: int) -> str:
    """``text`` with the layout around an edit at ``start:end`` kept, or ``_REFUSED`` and why."""
    line_start, line_end = _lines_around(text, start)
    line = text[line_start:line_end]
    if line.lstrip(" \t>").startswith("|"):
        m = _CELL_REST.match(text, end)
        if m is None or len(m.group(1)) - grew < 1:
            return _REFUSED + "the new number does not fit its grid-table cell; widen the column, then run update again"
        return text[: m.start(1)] + " " * (len(m.group(1)) - grew) + text[m.end(1) :]
    lines = text.splitlines(keepends=True)
    index = text[:line_start].count("\n") if "\n" in text else text[:line_start].count("\r")
    border = _simple_table_border(lines, index)
    if border is not None:
        row = _simple_row(line, border, start - line_start, grew)
        if row is None:
            return (
                _REFUSED
                + "the new number does not fit its simple-table column; widen the column, then run update again"
            )
        return text[:line_start] + row + text[line_end:]
    return _title_adorned(text, lines, index, grew)


def _simple_row(line: str, border: str, at: int, grew: int) -> str | None:
    """A simple table's row with the columns after an edit at ``at`` put back where the border says, or None.

    The edit shifted the rest of the row by ``grew``: as many spaces are taken
    from (or given to) the end of the edited column, which must still end
    before the next column's start.
    """
    spans = [(m.start(), m.end()) for m in re.finditer(r"=+", border)]
    column = next(
        (i for i, (s, e) in enumerate(spans) if at < (spans[i + 1][0] if i + 1 < len(spans) else 10**9)), None
    )
    if column is None or column == len(spans) - 1:
        return line  # the last column may run past its border
    end, next_start = spans[column][1], spans[column + 1][0]
    if grew > 0:
        if line[next_start : next_start + grew].strip():
            return None
        fixed = line[:next_start] + line[next_start + grew :]
    else:
        fixed = line[: next_start + grew] + " " * -grew + line[next_start + grew :]
    return fixed if not fixed[end:next_start].strip() else None


def _simple_table_border(lines: list[str], index: int) -> str | None:
    """The border of the simple table whose row ``lines[index]`` is, if it is one."""
    for i in range(index - 1, -1, -1):
        if not lines[i].strip():
            return None
        if _SIMPLE_BORDER.match(lines[i].rstrip("\r\n")):
            return lines[i].rstrip("\r\n")
    return None


def _title_adorned(text: str, lines: list[str], index: int, grew: int) -> str:
    """A section title's underline and overline, lengthened if the title now runs past them."""
    if grew <= 0 or index + 1 >= len(lines):
        return text
    title = lines[index].rstrip("\r\n")
    under = lines[index + 1].rstrip("\r\n")
    m = _ADORNMENT.match(under)
    if m is None or len(under.rstrip()) >= len(title.rstrip()) or len(under.rstrip()) < len(title.rstrip()) - grew:
        return text
    width = len(title.rstrip())
    fixed = [*lines]
    for i in (index - 1, index + 1):
        if 0 <= i < len(lines) and lines[i].rstrip("\r\n").rstrip() == under.rstrip():
            ending = lines[i][len(lines[i].rstrip("\r\n")) :]
            fixed[i] = m.group(1) * width + ending
    return "".join(fixed)
