"""Sphinx configuration of the sphinx-paramcount documentation."""

import os
import sys

# docs/examples/ holds the models the pages count: make ``examples`` importable.
sys.path.insert(0, os.path.abspath(os.path.dirname(__file__)))

project = "sphinx-paramcount"
author = "sphinx-paramcount contributors"
copyright = "2025, sphinx-paramcount contributors"

# MyST-NB reads .md pages as myst_parser does (it includes it) and runs .ipynb notebooks.
extensions = ["sphinx_paramcount", "myst_nb"]
extensions.append("sphinx.ext.autodoc")  # models.rst: a table under each model class (paramcount_autodoc)

source_suffix = {
    ".rst": "restructuredtext",
    ".md": "myst-nb",  # MyST-NB's MyST parser (myst_parser's "markdown" is not registered without it)
    ".ipynb": "myst-nb",
}
myst_enable_extensions = ["colon_fence"]
# notebook.ipynb is executed on every build (its cells call explain and check),
# and a cell that raises (a stale number) fails the build.  .md pages without
# notebook top-matter stay plain MyST pages: they are not executed.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
# In the PDF, a report's output is its text table: MyST-NB would set its
# _repr_latex_ (a longtable) inside a math block, which LaTeX cannot compile.
nb_mime_priority_overrides = [("latex", "text/latex", None), ("latex", "text/markdown", None)]
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
