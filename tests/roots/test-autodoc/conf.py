import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
extensions = ["sphinx_paramcount", "sphinx.ext.autodoc"]  # autodoc after us: the event is connected later
autoclass_content = "both"
paramcount_autodoc = True
paramcount_autodoc_options = {"depth": 1}
paramcount_autodoc_targets = {
    "tests.models.autodoc_models.Block": "tests.models.autodoc_models.Block(3)",
    "tests.models.autodoc_models:Excluded": None,
}
