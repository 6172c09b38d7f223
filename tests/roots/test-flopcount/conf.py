import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
extensions = ["sphinx_paramcount"]
numfig = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # flopmodels.py
