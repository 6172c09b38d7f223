"""Where a directive or role is: the file and line that hold it, and what to run to fix it.

Sphinx's source mapping (``get_source_info()``) gives an included file's own
path; the rest is mapped here to a file an author can open:

- ``<rst_prologue>``/``<rst_epilogue>`` (Sphinx 7: ``<rst_prolog>``): the line
  of ``conf.py`` that holds that line of the setting;
- ``page.rst:12:<translated>``: the line of the page's ``.po`` catalog that
  holds the role in the translation;
- autodoc's ``mod.py:docstring of mod.Cls``: the line of ``mod.py``;
- a notebook's lines (MyST-NB's ``cell * 10,000 + line`` numbers, nbsphinx's
  lines of the reST it makes of the notebook): the cell and the line in the
  cell, ``nb.ipynb:cell 3:2`` (as ruff and nbQA name a place in a notebook).

docutils gives a role the line of its paragraph's first line (one more inside
tables, lists and admonitions), and an include with ``:start-line:`` numbers
from the cut; so the line is then confirmed in the file itself: the first
line at or after it that holds the directive's or role's own text.
"""

from __future__ import annotations

import ast
import functools
import os
import re
from typing import Any

from ..notebooks import NotebookCell, parse_cells

# The text Sphinx adds from conf.py, by the name Sphinx 9 and Sphinx 7 give it.
_CONF_STRINGS = {
    "<rst_prologue>": "rst_prolog",
    "<rst_prolog>": "rst_prolog",
    "<rst_epilogue>": "rst_epilog",
    "<rst_epilog>": "rst_epilog",
}
_TRANSLATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):<translated>$")
_DOCSTRING = re.compile(r"^(?P<file>.+?):docstring of (?P<name>[\w.]+)$")
# MyST-NB numbers a notebook's lines as cell * 10,000 + line in the cell + 1 (cells from 1).
_CELL = 10_000
# A place in a notebook: its cell (from 1, counting every cell) and the line in that cell.
_IN_CELL = re.compile(r"^(?P<file>.+):cell (?P<cell>\d+):(?P<line>\d+)$")
# How far below the line docutils gives the directive's or role's own text is looked for.
_LOOK_AHEAD = 60


def source_location(env: Any, source: str | None, line: int | None, text: str = "", *, directive: bool = False) -> str:
    """``/abs/path:line`` of the file that holds a directive or role.

    ``source`` and ``line`` are what ``get_source_info()`` gives; ``text`` is
    the directive's first line or the role's raw text, used to confirm the
    line in the file (and to find a translated role in its catalog).  A
    directive's line is never before the one docutils gives; a role's may be
    one before (inside tables and lists).
    """
    back = 1 if not directive or text in _MYST_FENCES else 0  # MyST 2 gives an include's directives one late
    if not source:
        source = str(env.doc2path(env.docname))
    setting = _CONF_STRINGS.get(source)
    if setting:
        conf, lines, assigned = _conf_string_lines(env, setting)
        index = (line or 1) - 1
        conf_line = lines[index] if index < len(lines) else assigned
        return f"{conf}:{conf_line}" if conf_line else conf
    translated = _TRANSLATED.match(source)
    if translated:
        return _catalog_line(env, text) or f"{os.path.abspath(translated['file'])}:{translated['line']}"
    docstring = _DOCSTRING.match(source)
    if docstring:
        found = _docstring_line(docstring["file"], docstring["name"], line or 1)
        if not found:
            return f"{source}:{line}"
        path, at, start = found
        # Text the file does not hold was added to the docstring (paramcount_autodoc's table): at the docstring.
        # autodoc's line may run past the text (``autoclass_content = "both"`` numbers the
        # __init__ docstring after the class's): then the text is looked for from the docstring on.
        return f"{path}:{_found_line(path, at, text, back) or _found_line(path, start, text, 0) or start}"
    if source.startswith("<"):
        return f"{source}:{line}" if line else source
    path = os.path.abspath(source)
    if path.endswith(".ipynb"):
        return _notebook_location(env, path, line, text, back, directive=directive)
    return _confirmed(path, line, text, back) if line else path


def in_page_file(source: str | None) -> bool:
    """Whether text with this source is in a page's own file (not conf.py, a catalog or a docstring)."""
    return bool(source) and not (
        source in _CONF_STRINGS or _TRANSLATED.match(source or "") or _DOCSTRING.match(source or "")
    )


def _confirmed(path: str, line: int, text: str, back: int) -> str:
    """``path:N``, N the first line from ``line - back`` on that holds ``text``'s first line (else ``line``)."""
    return f"{path}:{_found_line(path, line, text, back) or line}"


def _holding_line(lines: list[str], line: int, text: str, back: int) -> int:
    """The first of ``lines`` (numbered from 1) from ``line - back`` on that holds ``text``'s first line; 0 if none.

    ``text`` ``{paramcount}`` stands for a MyST directive's opening fence.
    """
    first = _first_line(text)
    if first:
        fence = _MYST_FENCES.get(first)
        # MyST gives a role the raw text of its reST form: the file holds the MyST form.
        myst = _REST_ROLE.sub(r"{\1}`", first, count=1)
        for number in range(max(line - back, 1), min(line + _LOOK_AHEAD, len(lines)) + 1):
            held = lines[number - 1]
            if fence.search(held) if fence else first in held or myst in held:
                return number
    return 0


def _found_line(path: str, line: int, text: str, back: int) -> int:
    """The first line of ``path`` from ``line - back`` on that holds ``text``'s first line; ``line`` for no text, 0 if none does."""
    return _holding_line(_file_lines(path), line, text, back) if _first_line(text) else line


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""


# A MyST directive's opening fence (in a blockquote too).
_MYST_FENCES = {
    f"{{{name}}}": re.compile(rf"^[\s>]*(?:`{{3,}}|:{{3,}})\{{{name}\}}") for name in ("paramcount", "flopcount")
}
_REST_ROLE = re.compile(r"^:(paramcount|flopcount):`")


def _file_lines(path: str) -> list[str]:
    try:
        return _read_lines(path, os.stat(path).st_mtime_ns)
    except OSError:
        return []


@functools.lru_cache(maxsize=64)
def _read_lines(path: str, mtime_ns: int) -> list[str]:
    """A file's lines, read once per modification (a page's directives and roles all look in it)."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        return f.read().splitlines()


def _conf_string_lines(env: Any, name: str) -> tuple[str, list[int], int]:
    """conf.py's path; for each line of the string setting ``name``, its line in conf.py; the assignment's line.

    The setting may be built over several statements (``rst_epilog = "..."``
    then ``rst_epilog += "..."``); each string literal's text starts on the
    line of its opening quote.  A value that is not a plain string (an
    f-string, a call) maps no lines: the last assignment's line stands for it.
    """
    conf = os.path.join(env.app.confdir, "conf.py") if getattr(env.app, "confdir", None) else "conf.py"
    try:
        with open(conf, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return conf, [], 0
    segments: list[tuple[int, str]] = []  # (line of the literal, its text)
    assigned, plain = 0, True
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if not isinstance(node, (ast.Assign, ast.AugAssign)) or not any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            continue
        assigned = node.lineno
        value = node.value
        if isinstance(node, ast.Assign):
            segments, plain = [], True
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            segments.append((value.lineno, value.value))
        else:
            plain = False
    if not plain:
        return conf, [], assigned
    # The conf.py line of each character of the whole setting, then of each of its lines.
    char_lines = [first + string.count("\n", 0, i) for first, string in segments for i in range(len(string))]
    text = "".join(string for _, string in segments)
    starts = [0, *(i + 1 for i, char in enumerate(text) if char == "\n" and i + 1 < len(text))]
    lines = [char_lines[start] for start in starts] if text else []
    return conf, lines, assigned


def _catalog_line(env: Any, rawtext: str) -> str:
    """``locale/de/LC_MESSAGES/page.po:7``: the catalog line whose ``msgstr`` holds ``rawtext``.

    A msgstr may run over several quoted lines; the line returned is the one
    on which ``rawtext`` starts.
    """
    from sphinx.util.i18n import docname_to_domain

    if not rawtext.strip() or not env.config.language:
        return ""
    wanted = " ".join(rawtext.split())
    domain = docname_to_domain(env.docname, env.config.gettext_compact)
    for folder in env.config.locale_dirs:
        po = os.path.abspath(os.path.join(env.srcdir, folder, env.config.language, "LC_MESSAGES", f"{domain}.po"))
        found = _msgstr_line(_file_lines(po), wanted)
        if found:
            return f"{po}:{found}"
    return ""


def _msgstr_line(lines: list[str], wanted: str) -> int:
    """The line of a ``.po`` file's msgstr on which the text ``wanted`` (spaces normalised) starts; 0 if none."""
    i = 0
    while i < len(lines):
        if not lines[i].startswith("msgstr"):
            i += 1
            continue
        # (line, text) of each quoted piece of this msgstr.
        pieces: list[tuple[int, str]] = []
        j = i
        while j < len(lines) and (j == i or lines[j].startswith('"')):
            quoted = lines[j][lines[j].find('"') :].strip()
            try:
                pieces.append((j + 1, ast.literal_eval(quoted)))
            except (ValueError, SyntaxError):
                pass
            j += 1
        joined, starts = "", []
        for number, piece in pieces:
            starts.append((len(joined), number))
            joined += piece
        at = " ".join(joined.split()).find(wanted)
        if at >= 0:
            # Map back through the normalised spaces: count characters up to the match.
            raw_at = _raw_offset(joined, at)
            return max(number for start, number in starts if start <= raw_at)
        i = j
    return 0


def _raw_offset(text: str, normalised_at: int) -> int:
    """The offset in ``text`` of character ``normalised_at`` of ``" ".join(text.split())``."""
    count = 0
    last_space = True  # leading spaces vanish
    for offset, char in enumerate(text):
        if char.isspace():
            if not last_space:
                count += 1
            last_space = True
            continue
        if count == normalised_at:
            return offset
        count += 1
        last_space = False
    return len(text)


def _docstring_line(path: str, name: str, line: int) -> tuple[str, int, int] | None:
    """``(mod.py, 12, 10)``: the lines of ``mod.py`` holding line ``line`` of ``name``'s docstring, and its first.

    ``name`` is autodoc's dotted name (``pkg.mod.Cls.method``); the module is
    the longest prefix of it whose file is ``path``.  An object without a
    docstring of its own (autodoc shows an inherited one) gives its ``class``
    or ``def`` line for both.
    """
    import sys

    parts = name.split(".")
    # From the whole name down: a module's own docstring names the module.
    for cut in range(len(parts), -1, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None and os.path.abspath(getattr(module, "__file__", "") or "") == os.path.abspath(path):
            break
    else:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            node: ast.AST = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return None
    for at, part in enumerate(parts[cut:], start=cut + 1):
        found = [
            child
            for child in getattr(node, "body", [])
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and child.name == part
        ]
        if not found:
            assigned = _assignment(path, node, part) if at == len(parts) else None
            return (os.path.abspath(path), assigned, assigned) if assigned else None
        node = found[0]
    body = getattr(node, "body", [])
    if not (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)):
        own = getattr(node, "lineno", 0)
        return (os.path.abspath(path), own, own) if own else None
    return os.path.abspath(path), body[0].lineno + line - 1, body[0].lineno


def _assignment(path: str, node: ast.AST, name: str) -> int:
    """The first line of the ``#:`` comments above ``name = ...`` in ``node``'s body, else its own line (0: none).

    autodoc documents a variable by those comments or by a string after it;
    the role's text is looked for from here on.
    """
    lines = _file_lines(path)
    for child in getattr(node, "body", []):
        targets = [child.target] if isinstance(child, ast.AnnAssign) else getattr(child, "targets", [])
        if isinstance(child, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Name) and t.id == name for t in targets
        ):
            start = child.lineno
            while start > 1 and start - 2 < len(lines) and lines[start - 2].lstrip().startswith("#:"):
                start -= 1
            return start
    return 0


def _notebook_location(env: Any, path: str, line: int | None, text: str, back: int, *, directive: bool) -> str:
    """``nb.ipynb:cell 3:2``: the cell (from 1) and the line in it that hold a directive or role.

    MyST-NB numbers lines ``cell * 10,000 + line + 1``.  nbsphinx numbers the
    lines of the reST it makes of the whole notebook (a role's not at all),
    in which a raw reST cell's text is copied as it is: the directive or role
    is then the next one of its text in the raw reST cells, in the order the
    page is read (counted per page in ``env.temp_data``).
    """
    cells = notebook_cells(path)
    # nbsphinx notes each notebook it parses, before parsing it; its reST may run past 10,000 lines.
    read_by_nbsphinx = env.docname in (getattr(env, "nbsphinx_notebooks", None) or {})
    if line and line >= _CELL and cells and not read_by_nbsphinx:
        cell, rest = divmod(line, _CELL)
        lines = cells[cell - 1].source.splitlines() if cell <= len(cells) else []
        in_cell = _holding_line(lines, rest - 1, text, back) or rest - 1
        return f"{path}:cell {cell}:{in_cell}"
    first = _first_line(text)
    places = [
        (number, at)
        for number, cell in enumerate(cells, 1)
        if cell.raw_rest
        for at, held in enumerate(cell.source.splitlines(), 1)
        for _ in range((held.strip() == first) if directive else held.count(first))
    ]
    if first and places:
        seen = env.temp_data.setdefault("paramcount_notebook_seen", {})
        nth = seen[path, first] = seen.get((path, first), -1) + 1
        cell, at = places[min(nth, len(places) - 1)]
        return f"{path}:cell {cell}:{at}"
    return f"{path}:{line}" if line else path


def notebook_cells(path: str) -> list[NotebookCell]:
    """The cells of the notebook file ``path``, read once per modification; none if it cannot be read."""
    try:
        return _read_cells(path, os.stat(path).st_mtime_ns)
    except OSError:
        return []


@functools.lru_cache(maxsize=16)
def _read_cells(path: str, mtime_ns: int) -> list[NotebookCell]:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        return parse_cells(f.read())


def holding_file(location: str) -> str:
    """The file a location names: ``a/b.rst:3`` -> ``a/b.rst``; ``nb.ipynb:cell 3:2`` -> ``nb.ipynb``; a docstring's ``mod.py``."""
    m = re.match(r"^(?P<file>.+?):docstring of ", location) or _IN_CELL.match(location)
    if m:
        return m.group("file")
    return re.sub(r":\d+$", "", location)


def notebook_line(location: str) -> int:
    """MyST-NB's number (``cell * 10,000 + line + 1``) of a place in a notebook, whoever read it; 0 if not one."""
    m = _IN_CELL.match(location)
    return int(m["cell"]) * _CELL + int(m["line"]) + 1 if m else 0


def update_hint(location: str) -> str:
    """What to do about a stale number where the directive or role is."""
    path = holding_file(location)
    try:
        shown = os.path.relpath(path, os.getcwd())
    except ValueError:  # another drive on Windows
        shown = path
    if os.path.basename(path) == "conf.py":
        return f"edit the number in rst_prolog or rst_epilog in {shown}"
    if path.endswith(".po"):
        return f"edit the number in the translation in {shown}"
    if path.endswith(".py"):
        return f"edit the number in the docstring in {shown}"
    return f"run 'sphinx-paramcount update {shown}' to see and apply the new numbers"
