import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
extensions = ["myst_parser", "sphinx_paramcount"]
myst_enable_extensions = ["colon_fence"]
numfig = True
