"""Problems found while reading, kept as plain records in the environment.

Logging alone cannot fail a build without ``-W``, and an incremental build
does not re-read an unchanged page, so each problem is also stored per
document: purged when the page is re-read, merged from parallel readers, and
summarised at the end of every build, which then sets the exit status.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from sphinx.util import logging

logger = logging.getLogger("sphinx_paramcount")

WARNING_TYPE = "paramcount"


@dataclass(frozen=True)
class Problem:
    docname: str
    location: str  # "path/to/page.rst:12"
    subtype: str
    message: str
    fails: bool  # whether it fails the build (a downgraded mismatch does not)


def _store(env: Any) -> dict[str, list[Problem]]:
    if not hasattr(env, "paramcount_problems"):
        env.paramcount_problems = {}
    return env.paramcount_problems  # type: ignore[no-any-return]


def update_hint(env: Any) -> str:
    """The command that rewrites this page's stale numbers."""
    path = os.path.relpath(env.doc2path(env.docname), os.getcwd())
    return f"run 'sphinx-paramcount update {path}' to see and apply the new numbers"


def is_suppressed(config: Any, subtype: str) -> bool:
    suppressed = set(getattr(config, "suppress_warnings", []) or [])
    return WARNING_TYPE in suppressed or f"{WARNING_TYPE}.{subtype}" in suppressed


def report_problem(
    env: Any,
    location: Any,
    subtype: str,
    message: str,
    *,
    hint: str = "",
    fails: bool = True,
    exc: BaseException | None = None,
) -> None:
    """Log a located problem and keep it for the end-of-build summary."""
    if is_suppressed(env.config, subtype):
        return
    text = f"paramcount: {message}" + (f" ({hint})" if hint else "")
    if exc is not None and _verbosity(env) > 0:
        import traceback

        text += "\n" + "".join(traceback.format_exception(exc))
    log = logger.error if fails else logger.warning
    log(text, type=WARNING_TYPE, subtype=subtype, location=location)
    docname, lineno = _doc_and_line(env, location)
    _store(env).setdefault(docname, []).append(
        Problem(
            docname,
            f"{env.doc2path(docname)}:{lineno}" if lineno else str(env.doc2path(docname)),
            subtype,
            message,
            fails,
        )
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


def _doc_and_line(env: Any, location: Any) -> tuple[str, int | None]:
    if isinstance(location, tuple):
        return location[0], location[1]
    if isinstance(location, str) and ":" in location:
        _, _, line = location.rpartition(":")
        return env.docname, int(line) if line.isdigit() else None
    return env.docname, None


def purge_doc(app: Any, env: Any, docname: str) -> None:
    _store(env).pop(docname, None)


def merge_info(app: Any, env: Any, docnames: set[str], other: Any) -> None:
    theirs = _store(other)
    mine = _store(env)
    for docname in docnames:
        if docname in theirs:
            mine[docname] = theirs[docname]


def before_read(app: Any, env: Any, docnames: list[str]) -> None:
    app.paramcount_read = set(docnames)
    from .models import prepare  # models imports this module

    prepare(app, env, docnames)


def build_finished(app: Any, exc: BaseException | None) -> None:
    """Summarise every problem of the site and fail the build if any must fail it."""
    from .models import thaw_gc

    thaw_gc(app)
    if exc is not None:
        return
    problems = [p for docname in sorted(_store(app.env)) for p in _store(app.env)[docname]]
    if getattr(app, "paramcount_config_errors", None):
        app.statuscode = 1  # already logged at start-up, located at conf.py
    if not problems:
        return
    failing = [p for p in problems if p.fails]
    # Pages not re-read this time logged nothing: repeat their problems, so an
    # unchanged rebuild that fails says why even under -q.
    read: set[str] = getattr(app, "paramcount_read", set())
    for p in problems:
        if p.docname not in read:
            log = logger.error if p.fails else logger.warning
            log(
                f"paramcount: {p.message} (from an earlier build of this page)",
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
    if failing:
        app.statuscode = 1
