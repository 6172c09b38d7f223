"""Sphinx configuration of the sphinx-paramcount documentation."""

import os
import sys

# docs/examples/ holds the models the pages count: make ``examples`` importable.
sys.path.insert(0, os.path.abspath(os.path.dirname(__file__)))

project = "sphinx-paramcount"
author = "sphinx-paramcount contributors"
copyright = "2025, sphinx-paramcount contributors"

extensions = ["sphinx_paramcount", "myst_parser"]
extensions.append("sphinx.ext.autodoc")  # models.rst: a table under each model class (paramcount_autodoc)

source_suffix = {
    ".rst": "restructuredtext",
    ".md": "markdown",
}
myst_enable_extensions = ["colon_fence"]
exclude_patterns = ["_build"]

# Tables and code listings get numbers, so :numref: can point at a derivation table.
numfig = True

html_theme = "furo"
html_title = "sphinx-paramcount"

# The formula of our own example layer (see reference.rst, "Formulas for your own layers").
paramcount_formulas = {
    "examples.layers.LowRankLinear": "examples.formulas:low_rank_linear",
}

# models.rst: autodoc documents docs/examples/models.py, a derivation table under each model class.
paramcount_autodoc = True
