"""A notebook's cells, and a cell's source inside the ``.ipynb`` JSON, for editing it byte for byte.

``parse_cells`` gives each cell's type and text, to say where in a notebook a
directive or role is (cell and line) and to find the ones a reader shows
without running them.

Rewriting a notebook through ``json``/``nbformat`` would change its
indentation, key order, escaping or final newline.  So ``cell_source`` reads
the raw JSON text once, decodes the ``source`` of one cell and keeps, for each
decoded character, its offset in the raw text.  An edit of a number (ASCII
digits, separators and a unit, never escaped in JSON) is then made at those
raw offsets and nothing else in the file moves.
"""

from __future__ import annotations

import json
import json.decoder
import re
from dataclasses import dataclass
from typing import Any

from .sites import Edit, NotLocated

_SPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


# The ``raw_mimetype`` values of a raw cell written in reST.
REST_MIMETYPES = ("text/restructuredtext", "text/x-rst")


@dataclass(frozen=True)
class NotebookCell:
    kind: str  # "markdown", "code" or "raw"
    mimetype: str  # a raw cell's ``raw_mimetype``, lower case; "" if none
    source: str

    @property
    def raw_rest(self) -> bool:
        """A raw cell in reST: nbsphinx parses it as reST, MyST-NB passes it on unparsed."""
        return self.kind == "raw" and self.mimetype in REST_MIMETYPES


def parse_cells(raw: str) -> list[NotebookCell]:
    """The cells of the notebook whose JSON text is ``raw`` (nbformat 4); none if it is not one."""
    try:
        cells = json.loads(raw)["cells"]
        return [
            NotebookCell(
                str(c.get("cell_type", "")),
                str((c.get("metadata") or {}).get("raw_mimetype", "")).lower(),
                "".join(c["source"]) if isinstance(c["source"], list) else str(c["source"]),
            )
            for c in cells
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


@dataclass(frozen=True)
class _String:
    text: str  # decoded
    offsets: tuple[int, ...]  # raw offset of each decoded character


@dataclass(frozen=True)
class CellSource:
    """The decoded source of one cell and where each of its characters is in the file."""

    text: str
    offsets: tuple[int, ...]

    def raw_edit(self, raw: str, edit: Edit) -> Edit:
        """``edit`` (offsets in ``text``) as offsets in the raw JSON; ``NotLocated`` if not one plain run."""
        start, end = self.offsets[edit.start], self.offsets[edit.end - 1] + 1
        if raw[start:end] != self.text[edit.start : edit.end]:
            raise NotLocated("the number is escaped or split in the notebook's JSON")
        return Edit(start, end, edit.new)


def cell_source(raw: str, cell: int) -> CellSource:
    """Cell ``cell`` (from 0) of the notebook whose JSON text is ``raw``."""
    try:
        notebook, _ = _value(raw, _SPACE.match(raw, 0).end())  # type: ignore[union-attr]
        source = notebook["cells"][cell]["source"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise NotLocated(f"cell {cell + 1} of the notebook cannot be read: {exc}") from None
    parts = source if isinstance(source, list) else [source]
    if not all(isinstance(p, _String) for p in parts):
        raise NotLocated(f"cell {cell + 1}'s source is not text")
    return CellSource("".join(p.text for p in parts), tuple(o for p in parts for o in p.offsets))


def _value(raw: str, i: int) -> tuple[Any, int]:
    """The JSON value at ``raw[i]`` (strings as ``_String``) and the offset after it."""
    c = raw[i : i + 1]
    if c == '"':
        return _string(raw, i)
    if c in "{[":
        closing = "}" if c == "{" else "]"
        items: list[Any] = []
        i = _SPACE.match(raw, i + 1).end()  # type: ignore[union-attr]
        while raw[i : i + 1] != closing:
            if items:
                i = _expect(raw, i, ",")
            if c == "{":
                key, i = _string(raw, i)
                i = _expect(raw, i, ":")
                value, i = _value(raw, i)
                items.append((key.text, value))
            else:
                value, i = _value(raw, i)
                items.append(value)
            i = _SPACE.match(raw, i).end()  # type: ignore[union-attr]
        return (dict(items) if c == "{" else items), _SPACE.match(raw, i + 1).end()  # type: ignore[union-attr]
    m = _SCALAR.match(raw, i)
    if m is None:
        raise ValueError(f"not JSON at offset {i}")
    return m.group(), _SPACE.match(raw, m.end()).end()  # type: ignore[union-attr]


def _expect(raw: str, i: int, char: str) -> int:
    i = _SPACE.match(raw, i).end()  # type: ignore[union-attr]
    if raw[i : i + 1] != char:
        raise ValueError(f"expected {char!r} at offset {i}")
    return _SPACE.match(raw, i + 1).end()  # type: ignore[union-attr]


def _string(raw: str, i: int) -> tuple[_String, int]:
    if raw[i : i + 1] != '"':
        raise ValueError(f"expected a string at offset {i}")
    text, end = json.decoder.scanstring(raw, i + 1)  # type: ignore[attr-defined]
    offsets: list[int] = []
    pos = i + 1
    while pos < end - 1:
        offsets.append(pos)
        if raw[pos] != "\\":
            pos += 1
        elif raw[pos + 1] != "u":
            pos += 2
        elif 0xD800 <= int(raw[pos + 2 : pos + 6], 16) < 0xDC00 and raw[pos + 6 : pos + 8] == "\\u":
            pos += 12  # a surrogate pair: one character
        else:
            pos += 6
    if len(offsets) != len(text):
        raise ValueError(f"string at offset {i} could not be mapped")
    return _String(text, tuple(offsets)), _SPACE.match(raw, end).end()  # type: ignore[union-attr]
