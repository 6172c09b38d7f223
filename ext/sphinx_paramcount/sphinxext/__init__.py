"""The Sphinx layer: directive, role, config, problems.  No counting happens here."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .autodoc import setup_autodoc
from .config import setup_config
from .directive import ParamcountDirective
from .flopcount import setup_flopcount
from .links import setup_links
from .nodes import setup_nodes
from .notebook_outputs import setup_notebook_outputs
from .notebooks import setup_notebooks
from .problems import setup_problems
from .reading import setup_reading
from .role import ParamcountRole

# Bump when the records kept in the environment, or our nodes in the pickled
# doctrees, change shape: Sphinx then re-reads every page.
# 2: compact tables (``table_rows``); ``share_bar`` moved to ``sphinxext.table``.
# 3: problems kept in the ``paramcount`` domain, located by Sphinx's source mapping.
# 4: captions carry their source (gettext); sums grouped with paramcount_thousands_sep.
# 5: table rows carry a frozen/trainable state; Total derivations grouped.
# 6: the table's cell data (``RowSpec``, ``TableSpec``) moved to the engine's ``tablespec``.
# 7: rows carry their layer's class path (links to its documentation).
# 8: compute tables (``TableSpec.count_column``); the ``flopcount`` directive and role.
ENV_VERSION = 8


def setup(app: Any) -> dict[str, Any]:
    setup_config(app)
    # Before the tables' own post-transforms of its priority, which expand the rows it links.
    setup_links(app)
    setup_nodes(app)
    setup_problems(app)
    setup_reading(app)
    setup_notebooks(app)
    setup_notebook_outputs(app)
    app.add_directive("paramcount", ParamcountDirective)
    app.add_role("paramcount", ParamcountRole())
    setup_flopcount(app)
    setup_autodoc(app)
    return {
        "version": __version__,
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
