"""Problems found while reading, kept in a ``Domain`` and reported at the end of the build.

Logging alone cannot fail a build without ``-W``, and an incremental build
does not re-read an unchanged page, so each problem is kept per document in
the ``paramcount`` domain (purged when the page is re-read, merged from
parallel readers, as ``sphinx.ext.todo`` keeps its items), and every problem
of the site is logged once at the end of the build, which then sets the exit
status.  Logging at the end, not while reading, is what makes a serial and a
``-j`` build print the same lines in the same order, and a directive that
every page reads (``rst_prolog``) is reported once, at its own location.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

from sphinx.domains import Domain
from sphinx.util import logging

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
    """Holds the problems of each page; no roles or directives of its own."""

    name = "paramcount"
    label = "sphinx-paramcount"
    # docname -> problems; docname -> notices, (location, text): how a model was built, what it printed.
    initial_data: ClassVar[dict[str, Any]] = {"problems": {}, "notices": {}}  # deep-copied per env by Sphinx
    data_version: ClassVar[int] = 1

    @property
    def problems(self) -> dict[str, list[Problem]]:
        return self.data.setdefault("problems", {})  # type: ignore[no-any-return]

    @property
    def notices(self) -> dict[str, list[tuple[str, str]]]:
        return self.data.setdefault("notices", {})  # type: ignore[no-any-return]

    def clear_doc(self, docname: str) -> None:
        self.problems.pop(docname, None)
        self.notices.pop(docname, None)

    def merge_domaindata(self, docnames: Any, otherdata: dict[str, Any]) -> None:
        for key, mine in (("problems", self.problems), ("notices", self.notices)):
            theirs = otherdata.get(key, {})
            for docname in docnames:
                if docname in theirs:
                    mine[docname] = theirs[docname]

    def resolve_any_xref(self, *args: Any) -> list[Any]:
        return []


def _domain(env: Any) -> ParamcountDomain:
    return env.domains["paramcount"]  # type: ignore[no-any-return]


# -- recording and reporting ----------------------------------------------------------------


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


def note(env: Any, location: str, text: str) -> None:
    """Keep a notice (not a problem) for the end of the build, where each distinct one is logged once."""
    _domain(env).notices.setdefault(env.docname, []).append((location, text))


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


def _log_notices(by_doc: dict[str, list[tuple[str, str]]], read: set[str]) -> None:
    """Each distinct notice of the pages read in this build, once, at the first directive that caused it."""
    seen: set[str] = set()
    for docname in sorted(by_doc):
        if docname not in read:
            continue
        for location, text in by_doc[docname]:
            if text not in seen:
                seen.add(text)
                logger.info(f"paramcount: {text}", location=location)


def setup_problems(app: Any) -> None:
    app.add_domain(ParamcountDomain)
    app.connect("build-finished", build_finished)
