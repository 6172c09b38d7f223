import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
language = "de"
locale_dirs = ["locale"]
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx_paramcount"]
exclude_patterns = ["_build", "inc"]
rst_prolog = """
.. |linear| replace:: a linear layer
"""
rst_epilog = """

Stated in the epilog: :paramcount:`12 <torch.nn.Linear(4, 2)>`.
"""
