extensions = ["sphinx_paramcount"]
