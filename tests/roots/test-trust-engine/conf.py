import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
extensions = ["myst_parser", "sphinx_paramcount"]

from sphinx_paramcount.formulas import register_formula  # noqa: E402
from tests.models import trust_engine  # noqa: E402

# A user's layer whose label function raises: the row keeps its count and shows the class name.
register_formula(trust_engine.Scale, label=trust_engine.raising_label)(trust_engine.scale_formula)
# A formula that raises a BaseException: a located formula error of that directive only.
paramcount_formulas = {"tests.models.trust_engine.BaseFormula": "tests.models.trust_engine:base_raising_formula"}
