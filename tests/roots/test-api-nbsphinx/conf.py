extensions = ["nbsphinx", "sphinx_paramcount"]
# Executed at every build: the outputs are what explain() displays today.
nbsphinx_execute = "always"
nbsphinx_allow_errors = False
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
