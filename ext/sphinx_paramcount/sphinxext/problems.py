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

import sys
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from sphinx.domains import Domain
from sphinx.util import logging

from ..sites import Site
from ..stated import Check, Claim
from .locations import holding_file, in_page_file, notebook_line

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
    # A mismatch ``update`` rewrites (a stated number, kept as a ``Site``), not one
    # only the author can fix (a stated formula): ``update`` lists the others as problems.
    rewritable: bool = True


class ParamcountDomain(Domain):
    """Holds each page's problems, and the stated numbers it checked (``Site``, for ``update``).

    No roles or directives of its own.
    """

    name = "paramcount"
    label = "sphinx-paramcount"
    # Per docname, deep-copied per environment by Sphinx: "problems"; "notices" (location, text, build):
    # how a model was built, what it printed; "sites": every stated number checked, for ``update``.
    initial_data: ClassVar[dict[str, Any]] = {"problems": {}, "notices": {}, "sites": {}}
    data_version: ClassVar[int] = 2

    @property
    def problems(self) -> dict[str, list[Problem]]:
        return self.data.setdefault("problems", {})  # type: ignore[no-any-return]

    @property
    def notices(self) -> dict[str, list[tuple[str, str, str]]]:
        return self.data.setdefault("notices", {})  # type: ignore[no-any-return]

    @property
    def sites(self) -> dict[str, list[Site]]:
        return self.data.setdefault("sites", {})  # type: ignore[no-any-return]

    def clear_doc(self, docname: str) -> None:
        for key in ("problems", "notices", "sites"):
            self.data.setdefault(key, {}).pop(docname, None)

    def merge_domaindata(self, docnames: Any, otherdata: dict[str, Any]) -> None:
        for key in ("problems", "notices", "sites"):
            theirs, ours = otherdata.get(key, {}), self.data.setdefault(key, {})
            for docname in docnames:
                if docname in theirs:
                    ours[docname] = theirs[docname]

    def resolve_any_xref(self, *args: Any) -> list[Any]:
        return []


def _domain(env: Any) -> ParamcountDomain:
    return env.domains["paramcount"]  # type: ignore[no-any-return]


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
    if is_suppressed(env.config, "mismatch"):
        return  # the build does not check these numbers: update leaves them alone too
    actual = dict(result.actual)
    # Text from conf.py, a translation or a docstring is not written in the page's own file.
    editable = in_page_file(source) or bool(notebook_line(location))  # nbsphinx gives a role no source
    kept = _domain(env).sites.setdefault(env.docname, [])
    for option, claim in claims:
        if claim.key not in actual:
            continue  # an unknown row: an option problem, not a number to rewrite
        site = Site(
            path=holding_file(location),
            # Epilog lines count from each page: one site, not one a page.  A notebook's: its cell and line.
            line=(notebook_line(location) or line or 0) if editable else 0,
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
    rewritable: bool = True,
) -> None:
    """Keep a located problem for the end of the build, where it is logged and fails the build."""
    if is_suppressed(env.config, subtype):
        return
    trace = ""
    if exc is not None and _verbosity(env) > 0:
        import traceback

        trace = "".join(traceback.format_exception(exc))
    _domain(env).problems.setdefault(env.docname, []).append(
        Problem(env.docname, location, subtype, message, hint, fails, trace, rewritable)
    )


def note(env: Any, location: str, text: str, build: str) -> None:
    """Keep a notice (not a problem) for the end of the build, where each is logged once per ``build`` of a model."""
    _domain(env).notices.setdefault(env.docname, []).append((location, text, build))


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
    _log_notices(_domain(app.env).notices, getattr(app, "paramcount_read", set()))
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


def _log_notices(by_doc: dict[str, list[tuple[str, str, str]]], read: set[str]) -> None:
    """The notices of the pages read in this build: each build's once, at the first directive that used it."""
    seen: set[tuple[str, str]] = set()
    for docname in sorted(by_doc):
        if docname not in read:
            continue
        for location, text, build in by_doc[docname]:
            if (build, text) not in seen:
                seen.add((build, text))
                logger.info(f"paramcount: {text}", location=location)


def setup_problems(app: Any) -> None:
    app.add_domain(ParamcountDomain)
    app.connect("build-finished", build_finished)
