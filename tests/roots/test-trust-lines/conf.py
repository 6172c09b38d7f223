import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
extensions = ["sphinx_paramcount"]
exclude_patterns = ["_build", "part.txt"]
language = "de"
locale_dirs = ["locale"]

rst_epilog = """
.. |a| replace:: A
"""

# More settings between the two parts of the epilog.
rst_epilog += """
.. |b| replace:: :paramcount:`61 <torch.nn.Linear(4, 2)>`
"""
