"""The Sphinx layer: directive, role, config, problems.  No counting happens here."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .config import setup_config
from .directive import ParamcountDirective
from .nodes import setup_nodes
from .problems import before_read, build_finished, merge_info, purge_doc
from .role import ParamcountRole

# Bump when the records kept in the environment, or our nodes in the pickled
# doctrees, change shape: Sphinx then re-reads every page.
# 2: compact tables (``table_rows``); ``share_bar`` moved to ``sphinxext.table``.
ENV_VERSION = 2


def setup(app: Any) -> dict[str, Any]:
    setup_config(app)
    setup_nodes(app)
    app.add_directive("paramcount", ParamcountDirective)
    app.add_role("paramcount", ParamcountRole())
    app.connect("env-before-read-docs", before_read)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("build-finished", build_finished)
    return {
        "version": __version__,
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
