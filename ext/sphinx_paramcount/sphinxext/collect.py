"""The tool that drives Sphinx for ``sphinx-paramcount update``: the build's own reading, nothing written.

``update`` must find exactly the stated numbers that the build checks, so it
does not parse pages itself: it runs Sphinx, in this process, on the project
(its ``conf.py``, extensions, ``source_suffix``, includes, ``rst_prolog`` and
``rst_epilog``, ``exclude_patterns``, MyST, MyST-NB and any other parser),
with the ``dummy`` builder into a temporary folder.  The directive and the
role record a ``Site`` for every number they check (``problems.record_sites``);
this returns those, and the build's other problems.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..sites import Site
from .problems import ParamcountDomain, Problem


class NotAProject(Exception):
    """The folder's ``conf.py`` does not load this extension, or Sphinx cannot start on it."""


@dataclass(frozen=True)
class Collected:
    sites: tuple[Site, ...]  # each stated number once, in the order the build read them
    problems: tuple[Problem, ...]  # every problem other than a stale number (those are sites)
    read: frozenset[str]  # the real paths of every file the build read: pages, included files, notebooks
    suffixes: tuple[str, ...]  # the project's source suffixes


def collect(srcdir: Path) -> Collected:
    """Read the project in ``srcdir`` (the folder of its ``conf.py``) as ``sphinx-build`` does."""
    from sphinx.application import Sphinx
    from sphinx.errors import SphinxError
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    # As sphinx-build does: the nodes, directives and roles the project's extensions
    # register with docutils are taken back after, so nothing leaks into the process
    # that called update (a later Sphinx app there warns "already registered").
    with (
        tempfile.TemporaryDirectory(prefix="paramcount-update-") as tmp,
        patch_docutils(srcdir),
        docutils_namespace(),
    ):
        try:
            app = Sphinx(
                srcdir=str(srcdir),
                confdir=str(srcdir),
                outdir=tmp,
                doctreedir=os.path.join(tmp, ".doctrees"),
                buildername="dummy",
                status=None,
                warning=io.StringIO(),  # the build's own log: update reports from the domain instead
                freshenv=True,
                # Stated numbers are in cells' text, never in outputs: running the notebooks would only cost time.
                confoverrides={"nb_execution_mode": "off", "nbsphinx_execute": "never"},
            )
        except SphinxError as exc:
            raise NotAProject(f"Sphinx cannot read the project: {exc}") from None
        if "paramcount" not in app.env.domains:
            raise NotAProject("its conf.py does not list 'sphinx_paramcount' in extensions")
        # The dummy builder writes nothing, but still loads and resolves every page to do so.
        app.builder.write_documents = lambda docnames: None  # type: ignore[method-assign]
        app.build()
    env = app.env
    domain: ParamcountDomain = env.domains["paramcount"]  # type: ignore[assignment]
    sites: dict[Site, None] = {}
    for docname in sorted(domain.sites):
        sites.update(dict.fromkeys(domain.sites[docname]))
    problems: dict[tuple[str, str, str], Problem] = {}
    for docname in sorted(domain.problems):
        for p in domain.problems[docname]:
            if p.subtype != "mismatch" or not p.rewritable:
                problems.setdefault((p.location, p.subtype, p.message), p)
    conf = str(srcdir / "conf.py")
    for message in getattr(app, "paramcount_config_errors", None) or []:
        problems.setdefault((conf, "config", message), Problem("", conf, "config", message, "", True))
    read = {os.path.realpath(env.doc2path(docname)) for docname in env.found_docs}
    for deps in env.dependencies.values():
        read |= {os.path.realpath(srcdir / dep) for dep in deps}
    # conf.py (rst_prolog/epilog) and docstrings' modules hold sites too: the build reads them.
    read |= {os.path.realpath(srcdir / "conf.py")} | {os.path.realpath(s.path) for s in sites}
    suffixes = tuple(app.config.source_suffix)
    return Collected(tuple(sites), tuple(problems.values()), frozenset(read), suffixes)
