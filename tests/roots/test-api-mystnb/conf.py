extensions = ["myst_nb", "sphinx_paramcount"]
# dollarmath: MyST then tells MathJax to typeset only elements of its classes
# ("math", "output_area", ...), not the rest of the page.
myst_enable_extensions = ["dollarmath"]
# Executed at every build: the outputs are what explain() displays today.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
exclude_patterns = ["_build"]
