"""Problems found while reading, kept in a ``Domain`` and reported at the end of the build.

Logging alone cannot fail a build without ``-W``, and an incremental build
does not re-read an unchanged page, so each problem is kept per document in
the ``paramcount`` domain (purged when the page is re-read, merged from
parallel readers, as ``sphinx.ext.todo`` keeps its items), and every problem
of the site is logged once at the end of the build, which then sets the exit
status.  Logging at the end, not while reading, is what makes a serial and a
``-j`` build print the same lines in the same order, and a directive that
every page reads (``rst_prolog``) is reported once, at its own location.

The same domain keeps a ``Site`` for every stated number that was checked,
where the build read it (``record_sites``): ``sphinx-paramcount update``
rewrites exactly those (``sphinxext/collect.py``).
"""

from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from sphinx.domains import Domain
from sphinx.util import logging

from ..sites import Site
from ..stated import Check, Claim

logger = logging.getLogger("sphinx_paramcount")

WARNING_TYPE = "paramcount"


@dataclass(frozen=True)
class Problem:
    docname: str  # the page that was being read
    location: str  # "path/to/file.rst:12": the file and line that hold the directive or role
    subtype: str
    message: str
    hint: str  # what to do; in the log line, not the summary
    fails: bool  # whether it fails the build (a downgraded mismatch does not)
    traceback: str = ""  # shown under -v / -T only


class ParamcountDomain(Domain):
    """Holds each page's problems, and the stated numbers it checked (``Site``, for ``update``).

    No roles or directives of its own.
    """

    name = "paramcount"
    label = "sphinx-paramcount"
    # deep-copied per environment by Sphinx; "sites": every stated number checked, for ``update``
    initial_data: ClassVar[dict[str, Any]] = {"problems": {}, "sites": {}}
    data_version: ClassVar[int] = 2

    @property
    def problems(self) -> dict[str, list[Problem]]:
        return self.data.setdefault("problems", {})  # type: ignore[no-any-return]

    @property
    def sites(self) -> dict[str, list[Site]]:
        return self.data.setdefault("sites", {})  # type: ignore[no-any-return]

    def clear_doc(self, docname: str) -> None:
        self.problems.pop(docname, None)
        self.sites.pop(docname, None)

    def merge_domaindata(self, docnames: Any, otherdata: dict[str, Any]) -> None:
        for key in ("problems", "sites"):
            theirs, ours = otherdata.get(key, {}), self.data.setdefault(key, {})
            for docname in docnames:
                if docname in theirs:
                    ours[docname] = theirs[docname]

    def resolve_any_xref(self, *args: Any) -> list[Any]:
        return []


def _domain(env: Any) -> ParamcountDomain:
    return env.domains["paramcount"]  # type: ignore[no-any-return]


# -- where a directive or role is ---------------------------------------------------------


def source_location(env: Any, source: str | None, line: int | None, rawtext: str = "") -> str:
    """``path:line`` of the file that holds a directive or role, from Sphinx's source mapping.

    ``source`` and ``line`` are what ``get_source_info()`` gives: an included
    file's own path and line; ``<rst_prologue>``/``<rst_epilogue>`` for text
    from ``conf.py`` (mapped here to its line in ``conf.py``); ``page:12:<translated>``
    for a translated paragraph (mapped to the ``.po`` line holding ``rawtext``,
    the role as the translation writes it); autodoc's ``mod.py:docstring of
    mod.Cls`` (kept: that is how Sphinx names it).
    """
    if not source:
        source = str(env.doc2path(env.docname))
    setting = _CONF_STRINGS.get(source)
    if setting:
        conf, first = _conf_string_line(env, setting)
        return f"{conf}:{first + (line or 1) - 1}" if first else conf
    translated = _TRANSLATED.match(source)
    if translated:
        return _catalog_line(env, rawtext) or f"{os.path.abspath(translated['file'])}:{translated['line']}"
    docstring = _DOCSTRING.match(source)
    if docstring:
        return _docstring_line(docstring["file"], docstring["name"], line or 1) or f"{source}:{line}"
    if not source.startswith("<"):
        source = os.path.abspath(source)
    if source.endswith(".ipynb") and line and line >= _CELL:
        return _notebook_line(source, line) or f"{source}:{line}"
    return f"{source}:{line}" if line else source


# Sphinx 9 names the text it adds from conf.py "<rst_prologue>"; Sphinx 7 "<rst_prolog>".
_CONF_STRINGS = {
    "<rst_prologue>": "rst_prolog",
    "<rst_prolog>": "rst_prolog",
    "<rst_epilogue>": "rst_epilog",
    "<rst_epilog>": "rst_epilog",
}
_TRANSLATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):<translated>$")


# MyST-NB numbers a notebook's lines as cell * 10,000 + line in the cell (both from 1, plus one).
_CELL = 10_000


def _notebook_line(path: str, code: int) -> str:
    """``nb.ipynb:42``: the line of the notebook file that holds MyST-NB's line ``code``.

    Each line of a cell's source is one JSON string on a line of its own (as
    nbformat writes notebooks); the one wanted is the n-th occurrence of its
    text, n counted over the sources of the cells before it.  Empty if the
    file is not laid out that way.
    """
    import json

    cell, line = divmod(code, _CELL)
    try:
        with open(path, encoding="utf-8") as f:
            raw = f.read()
        cells = json.loads(raw)["cells"]
        sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
        lines = sources[cell - 1].splitlines(keepends=True)
        text = lines[line - 2]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return ""
    before = sum(src.splitlines(keepends=True).count(text) for src in sources[: cell - 1])
    before += lines[: line - 2].count(text)
    wanted = json.dumps(text, ensure_ascii=False)
    found = [n for n, file_line in enumerate(raw.splitlines(), 1) if file_line.strip().rstrip(",") == wanted]
    return f"{path}:{found[before]}" if before < len(found) else ""


def _conf_string_line(env: Any, name: str) -> tuple[str, int]:
    """conf.py's path and the line where the string ``name = "..."`` starts (0 if not found)."""
    conf = os.path.join(env.app.confdir, "conf.py") if getattr(env.app, "confdir", None) else "conf.py"
    try:
        with open(conf, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return conf, 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return conf, node.value.lineno
    return conf, 0


def _catalog_line(env: Any, rawtext: str) -> str:
    """``locale/de/LC_MESSAGES/page.po:7``: where the page's catalog holds ``rawtext``."""
    from sphinx.util.i18n import docname_to_domain

    first = rawtext.strip().splitlines()[0] if rawtext.strip() else ""
    if not first or not env.config.language:
        return ""
    domain = docname_to_domain(env.docname, env.config.gettext_compact)
    for folder in env.config.locale_dirs:
        po = os.path.join(env.srcdir, folder, env.config.language, "LC_MESSAGES", f"{domain}.po")
        try:
            with open(po, encoding="utf-8") as f:
                for number, text in enumerate(f, 1):
                    if first in text:
                        return f"{os.path.abspath(po)}:{number}"
        except OSError:
            continue
    return ""


_DOCSTRING = re.compile(r"^(?P<file>.+?):docstring of (?P<name>[\w.]+)$")


def _docstring_line(path: str, name: str, line: int) -> str:
    """``mod.py:12``: the line of ``mod.py`` that holds line ``line`` of ``name``'s docstring.

    ``name`` is autodoc's dotted name (``pkg.mod.Cls.method``); the module is
    the longest prefix of it whose file is ``path``.  Empty if not found.
    """
    parts = name.split(".")
    for cut in range(len(parts) - 1, -1, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None and os.path.abspath(getattr(module, "__file__", "") or "") == os.path.abspath(path):
            break
    else:
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            node: ast.AST = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return ""
    for part in parts[cut:]:
        found = [
            child
            for child in getattr(node, "body", [])
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and child.name == part
        ]
        if not found:
            return ""
        node = found[0]
    doc = (
        ast.get_docstring(node, clean=False)
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.Module))
        else None
    )
    if doc is None:
        return ""
    first = node.body[0].lineno  # type: ignore[attr-defined]
    return f"{os.path.abspath(path)}:{first + line - 1}"


def holding_file(location: str) -> str:
    """The file a location names: ``a/b.rst:3`` -> ``a/b.rst``; a docstring's ``mod.py``."""
    m = re.match(r"^(?P<file>.+?):docstring of ", location)
    if m:
        return m.group("file")
    return re.sub(r":\d+$", "", location)


def update_hint(location: str) -> str:
    """The command that rewrites the stale numbers where the directive or role is."""
    path = holding_file(location)
    try:
        shown = os.path.relpath(path, os.getcwd())
    except ValueError:  # another drive on Windows
        shown = path
    if os.path.basename(path) == "conf.py":
        return f"edit the number in rst_prolog or rst_epilog in {shown}"
    if path.endswith(".po"):
        return f"edit the number in the translation in {shown}"
    if path.endswith(".py") or _DOCSTRING.match(location):
        return f"edit the number in the docstring in {shown}"
    return f"run 'sphinx-paramcount update {shown}' to see and apply the new numbers"


# -- recording and reporting ----------------------------------------------------------------


def record_sites(
    env: Any,
    source: str | None,
    line: int | None,
    location: str,
    raw: str,
    target: str,
    claims: list[tuple[str, Claim]],
    result: Check,
) -> None:
    """Keep a ``Site`` for each claim that was checked: ``update`` rewrites what the build checked.

    ``source`` and ``line`` are what ``get_source_info()`` gave; ``raw`` is the
    directive's ``block_text`` or the role's ``rawtext``; each claim comes with
    the option that states it (``""`` for a role).
    """
    actual = dict(result.actual)
    # Text from conf.py, a translation or a docstring is not written in the page's own file.
    src = source or ""
    editable = bool(src) and not (src in _CONF_STRINGS or _TRANSLATED.match(src) or _DOCSTRING.match(src))
    kept = _domain(env).sites.setdefault(env.docname, [])
    for option, claim in claims:
        if claim.key not in actual:
            continue  # an unknown row: an option problem, not a number to rewrite
        site = Site(
            path=holding_file(location),
            line=(line or 0) if editable else 0,  # epilog lines count from each page: one site, not one a page
            location=location,
            editable=editable,
            kind="directive" if option else "role",
            raw=raw,
            option=option,
            key=claim.key,
            stated=claim.count,
            actual=actual[claim.key],
            target=target,
        )
        # Text read twice (a translated paragraph is parsed again) is still one site where it is not the file's own.
        kept.append(replace(site, nth=sum(_same_place(s, site) for s in kept)) if editable else site)


def _same_place(a: Site, b: Site) -> bool:
    return (a.path, a.line, a.raw, a.option, a.key) == (b.path, b.line, b.raw, b.option, b.key)


def is_suppressed(config: Any, subtype: str) -> bool:
    return logging.is_suppressed_warning(WARNING_TYPE, subtype, config.suppress_warnings or [])


def report_problem(
    env: Any,
    location: str,
    subtype: str,
    message: str,
    *,
    hint: str = "",
    fails: bool = True,
    exc: BaseException | None = None,
) -> None:
    """Keep a located problem for the end of the build, where it is logged and fails the build."""
    if is_suppressed(env.config, subtype):
        return
    trace = ""
    if exc is not None and _verbosity(env) > 0:
        import traceback

        trace = "".join(traceback.format_exception(exc))
    _domain(env).problems.setdefault(env.docname, []).append(
        Problem(env.docname, location, subtype, message, hint, fails, trace)
    )


def _verbosity(env: Any) -> int:
    """How much the user asked to see: -v levels, or -T (full tracebacks) as one."""
    # Sphinx 9 keeps verbosity on the config; older versions on the app.
    value = getattr(env.config, "verbosity", None)
    level = int(value) if isinstance(value, int) else int(env.app.verbosity)
    # Sphinx gives extensions no handle on -T; read it from sphinx-build's own arguments.
    if any(
        a == "--show-traceback" or (a.startswith("-") and not a.startswith("--") and "T" in a) for a in sys.argv[1:]
    ):
        level = max(level, 1)
    return level


def build_finished(app: Any, exc: BaseException | None) -> None:
    """Log every problem of the site once, summarise, and fail the build if any must fail it."""
    if exc is not None:
        return
    if getattr(app, "paramcount_config_errors", None):
        app.statuscode = 1  # already logged at start-up, located at conf.py
    by_doc = _domain(app.env).problems
    read: set[str] = getattr(app, "paramcount_read", set())
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for docname in sorted(by_doc):
        for p in by_doc[docname]:
            # A directive every page reads (rst_prolog, an include) is one problem.
            if (p.location, p.subtype, p.message) not in seen:
                seen.add((p.location, p.subtype, p.message))
                problems.append(p)
    if not problems:
        return
    for p in problems:
        # Pages not re-read this time: say so, so an unchanged rebuild that fails says why.
        earlier = "" if p.docname in read else " (from an earlier build of this page)"
        log = logger.error if p.fails else logger.warning
        log(
            f"paramcount: {p.message}"
            + (f" ({p.hint})" if p.hint else "")
            + earlier
            + (f"\n{p.traceback}" if p.traceback else ""),
            type=WARNING_TYPE,
            subtype=p.subtype,
            location=p.location,
        )
    lines = [f"paramcount: {len(problems)} problem{'s' if len(problems) != 1 else ''} in the docs:"]
    lines += [f"  {p.location}: [{p.subtype}] {p.message}" for p in problems]
    if any(p.subtype == "mismatch" for p in problems):
        lines.append(
            f"  (a mismatch means the model changed: 'sphinx-paramcount update {app.srcdir}' shows the new "
            "numbers and --write applies them; or fix the model)"
        )
    logger.info("\n".join(lines))
    if any(p.fails for p in problems):
        app.statuscode = 1


def setup_problems(app: Any) -> None:
    app.add_domain(ParamcountDomain)
    app.connect("build-finished", build_finished)
