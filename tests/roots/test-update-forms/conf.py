import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
extensions = ["myst_nb", "sphinx_paramcount"]
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence"]
source_suffix = {
    ".rst": "restructuredtext",
    ".txt": "restructuredtext",
    ".md": "myst-nb",
    ".markdown": "myst-nb",
    ".ipynb": "myst-nb",
}
exclude_patterns = ["_build", "inc"]
