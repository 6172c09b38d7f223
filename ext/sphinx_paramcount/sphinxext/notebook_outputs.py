"""Pages showing a notebook's ``explain(...)`` output load MathJax.

MyST-NB and nbsphinx copy a cell's HTML output into the page as raw HTML.
Sphinx loads MathJax only on pages whose translator wrote a math node, so a
notebook page whose only math is in our output (``display.to_html``: spans of
class ``math``) would show its formulas as TeX source.  Before
``sphinx.ext.mathjax`` decides (``html-page-context``, at its default
priority 500), such a page is marked as having math.

In a LaTeX build, MyST-NB takes a cell's ``text/latex`` output for display
math and wraps it in ``equation*``, where our ``longtable`` cannot compile:
that output is passed to LaTeX as it is, as nbconvert passes it.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes

from ..display import LATEX_START, MATH_CLASS, OUTPUT_CLASS


def mark_math(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    body = context.get("body")
    if isinstance(body, str) and OUTPUT_CLASS in body and MATH_CLASS in body:
        context["has_maths_elements"] = True


def raw_latex_tables(app: Any, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "latex":
        return
    for node in list(doctree.findall(nodes.math_block)):
        text = node.astext()
        if "text_latex" in node["classes"] and text.startswith(LATEX_START):
            node.replace_self(nodes.raw("", text, format="latex"))


def setup_notebook_outputs(app: Any) -> None:
    app.connect("html-page-context", mark_math, priority=400)
    app.connect("doctree-resolved", raw_latex_tables)
