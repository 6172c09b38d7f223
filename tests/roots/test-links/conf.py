import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
# The tests add "sphinx.ext.intersphinx" and a local PyTorch inventory, or build without them.
extensions = ["sphinx_paramcount"]
