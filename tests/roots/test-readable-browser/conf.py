extensions = ["sphinx_paramcount"]
project = "Readable tables"
