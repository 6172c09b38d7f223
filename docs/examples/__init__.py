"""Example models used by the sphinx-paramcount documentation."""
