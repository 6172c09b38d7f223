"""A stated number inside a Python string: ``rst_prolog``/``rst_epilog`` in ``conf.py``, or a docstring.

The build reads these strings, not the file's text, so an edit of the file is
made only when it provably changes the string the build read in exactly that
number: the number must lie inside the plain string literal (no f-string, no
expression) assigned to ``rst_prolog``/``rst_epilog`` or written as a
docstring, and that literal, evaluated after the edit, must be the old value
with that one number restated.  Anything else is left for the author.
"""

from __future__ import annotations

import ast

from .sites import Edit, NotLocated, Site, locate

_NOT_PLAIN = "the number is not written plainly in rst_prolog, rst_epilog or a docstring of this file"


def locate_in_python(text: str, line: int, site: Site) -> Edit:
    """The edit of ``site``'s number at ``line`` of the Python source ``text``; ``NotLocated`` if unsafe."""
    try:
        edit = locate(text, line, site)
        tree = ast.parse(text)
    except (NotLocated, SyntaxError, ValueError):
        raise NotLocated(_NOT_PLAIN) from None
    starts = _line_starts(text)
    for value, (line0, col0, line1, col1) in _read_strings(tree):
        a, b = _offset(text, starts, line0, col0), _offset(text, starts, line1, col1)
        if a <= edit.start and edit.end <= b:
            if _restates(value, text[a : edit.start] + edit.new + text[edit.end : b], edit, text):
                return edit
            break
    raise NotLocated(_NOT_PLAIN)


def _read_strings(tree: ast.Module) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The strings the build reads from a file: ``rst_prolog``/``rst_epilog`` and docstrings."""
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in ("rst_prolog", "rst_epilog") for t in node.targets
        ):
            found.append(node.value)
        elif isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            found += [first.value] if isinstance(first, ast.Expr) else []
    return [
        (n.value, (n.lineno, n.col_offset, n.end_lineno, n.end_col_offset or 0))
        for n in found
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.end_lineno is not None
    ]


def _restates(old: str, literal: str, edit: Edit, text: str) -> bool:
    """Whether ``literal`` evaluates to ``old`` with one occurrence of the edited number replaced."""
    try:
        new = ast.literal_eval(literal)
    except (SyntaxError, ValueError):
        return False
    was = text[edit.start : edit.end]
    at = [p for p in range(len(old)) if old.startswith(was, p)]
    return any(old[:p] + edit.new + old[p + len(was) :] == new for p in at)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for number, char in enumerate(text):
        if char == "\n":
            starts.append(number + 1)
    return starts


def _offset(text: str, starts: list[int], line: int, col: int) -> int:
    """``ast``'s (line, UTF-8 byte column) as an offset in ``text``."""
    start = starts[line - 1]
    end = starts[line] if line < len(starts) else len(text)
    raw = text[start:end].encode("utf-8", "surrogateescape")
    return start + len(raw[:col].decode("utf-8", "surrogateescape"))
