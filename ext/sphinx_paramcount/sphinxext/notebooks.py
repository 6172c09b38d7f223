"""Notebooks: a ``paramcount`` their reader would not run, a ``check`` that failed in an executed cell.

nbsphinx turns a notebook into reST, its markdown cells through pandoc, which
knows no MyST: a ```` ```{paramcount} ```` fence becomes a literal block and
a ``{paramcount}`` role plain text, so the model is neither shown nor
checked, silently.  Each one is reported (subtype ``notebook``) at its cell
and line, when the page is read, with what to write instead.  Raw reST cells
need nothing here: nbsphinx parses them as reST, the directive and role run.
MyST-NB is the other way round: it runs MyST in markdown cells and passes
raw reST cells to the output unparsed, so a reST ``paramcount`` there is
reported the same way.

MyST-NB executes code cells; one whose ``Report.check`` raised
``MismatchError`` shows the traceback as its output (unless
``nb_execution_raise_on_error`` stops the build there).  That is a stale
number as much as a directive's: it is reported as a ``mismatch`` at the
cell and the line of the cell that raised, with the check's own message.
"""

from __future__ import annotations

import os
import re
from typing import Any

from docutils import nodes
from sphinx.util import get_filetype

from ..notebooks import parse_cells
from .problems import report_problem

# IPython's traceback of a cell: where in the cell (the outermost frame), then the exception.
_CELL_FRAME = re.compile(r"^Cell In\[\d*\], line (?P<line>\d+)", re.MULTILINE)
_MISMATCH = re.compile(r"^(?:[\w.]+\.)?MismatchError: (?P<message>.*)\Z", re.MULTILINE | re.DOTALL)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# A code fence (``` or ~~~, MyST's ::: too) opening or closing, with what follows the marker.
_FENCE = re.compile(r"^[ \t>]*(?P<marker>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_ROLE = re.compile(r"\{paramcount\}`[^`]*`")
# A code span that can hold a role: one in single backticks cannot.
_CODE_SPAN = re.compile(r"(`{2,}).+?\1")
# The markdown nbsphinx sends through pandoc: markdown cells, and raw cells marked as markdown.
_MARKDOWN = ("markdown", "raw:text/markdown")

_INSTEAD = (
    "use a raw cell of format reStructuredText (raw_mimetype text/restructuredtext) holding {form}, "
    "or build the notebook with MyST-NB ('myst_nb' in extensions), which runs MyST"
)
_INSTEAD_MYST = "write it as MyST in a markdown cell, which MyST-NB runs: {form}"
# What each reader does with the cells it does not run.
_SHOWS = {
    "nbsphinx": "nbsphinx shows it as text and does not check it",
    "myst_nb": "MyST-NB passes raw cells on unparsed: it is neither shown nor checked",
}
_REST_DIRECTIVE = re.compile(r"^[ \t]*\.\.[ \t]+paramcount::(?P<target>.*)$")
_REST_ROLE = re.compile(r":paramcount:`[^`]*`")


def check_notebook(app: Any, docname: str, source: list[str]) -> None:
    """``source-read``: report each ``paramcount`` in a cell that the notebook's reader shows without running it.

    nbsphinx: MyST in markdown cells.  MyST-NB: reST in raw cells, which it
    passes to the output as they are.
    """
    path = str(app.env.doc2path(docname))
    reader = _reader(app, path)
    if reader not in ("nbsphinx", "myst_nb"):
        return
    for number, cell in enumerate(parse_cells(source[0]), 1):
        kind = f"{cell.kind}:{cell.mimetype}" if cell.kind == "raw" else cell.kind
        if reader == "nbsphinx" and kind in _MARKDOWN:
            uses, where, instead = _myst_uses(cell.source), "MyST {{paramcount}} {} in a markdown cell", _INSTEAD
        elif reader == "myst_nb" and cell.raw_rest:
            uses, where, instead = _rest_uses(cell.source), "reST paramcount {} in a raw cell", _INSTEAD_MYST
        else:
            continue
        for line, what, form in uses:
            report_problem(
                app.env,
                f"{os.path.abspath(path)}:cell {number}:{line}",
                "notebook",
                f"a {where.format(what)}: {_SHOWS[reader]}",
                hint=instead.format(form=form),
            )


def _reader(app: Any, path: str) -> str:
    """The package whose parser reads the file ``path``: ``nbsphinx``, ``myst_nb``, ...; "" if none."""
    try:
        parser = app.registry.get_source_parser(get_filetype(app.config.source_suffix, path))
    except Exception:  # no parser for this file type: not ours to judge
        return ""
    return str(parser.__module__.split(".")[0])


def _rest_uses(text: str) -> list[tuple[int, str, str]]:
    """(line, "directive" or "role", the MyST to write instead) of each reST ``paramcount`` in ``text``."""
    found: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        directive = _REST_DIRECTIVE.match(line)
        if directive:
            target = directive["target"].strip() or "pkg.mod:Model"
            found.append((number, "directive", f"'```{{paramcount}} {target}' with its options and a closing '```'"))
            continue
        for role in _REST_ROLE.finditer(_CODE_SPAN.sub(" ", line)):
            found.append((number, "role", f"'{{paramcount}}{role.group()[len(':paramcount:') :]}'"))
    return found


def _myst_uses(text: str) -> list[tuple[int, str, str]]:
    """(line, "directive" or "role", the reST to write instead) of each MyST ``{paramcount}`` in ``text``.

    Examples in code fences and code spans are not uses.
    """
    found: list[tuple[int, str, str]] = []
    closing = ""  # the marker that closes the code fence we are in
    for number, line in enumerate(text.splitlines(), 1):
        fence = _FENCE.match(line)
        if closing:
            if fence and fence["marker"][0] == closing[0] and len(fence["marker"]) >= len(closing):
                closing = "" if not fence["info"].strip() else closing
            continue
        if fence:
            info = fence["info"].strip()
            if info.startswith("{paramcount}"):
                target = info[len("{paramcount}") :].strip() or "pkg.mod:Model"
                found.append((number, "directive", f"'.. paramcount:: {target}' and its options"))
            closing = fence["marker"]
            continue
        for role in _ROLE.finditer(_CODE_SPAN.sub(" ", line)):
            found.append((number, "role", f"':paramcount:{role.group()[len('{paramcount}') :]}'"))
    return found


def failed_checks(app: Any, doctree: nodes.document) -> None:
    """``doctree-read``: report each executed MyST-NB code cell whose output is a ``MismatchError``."""
    path = os.path.abspath(str(app.env.doc2path(app.env.docname)))
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code" or "cell_index" not in cell:
            continue
        for output in cell.findall(nodes.literal_block):
            if "traceback" not in output["classes"]:
                continue
            text = _ANSI.sub("", output.astext()).rstrip()
            raised = _MISMATCH.search(text)
            if raised is None:
                continue
            frame = _CELL_FRAME.search(text)
            report_problem(
                app.env,
                f"{path}:cell {int(cell['cell_index']) + 1}:{frame['line'] if frame else 1}",
                "mismatch",
                raised["message"].strip(),
                hint="the check in this cell no longer holds: correct its number, or the model",
                fails=bool(app.config.paramcount_fail_on_mismatch),
            )


def setup_notebooks(app: Any) -> None:
    app.connect("source-read", check_notebook)
    app.connect("doctree-read", failed_checks)
