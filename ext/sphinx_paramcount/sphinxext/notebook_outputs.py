"""Pages showing a notebook's ``explain(...)`` output load MathJax.

MyST-NB and nbsphinx copy a cell's HTML output into the page as raw HTML.
Sphinx loads MathJax only on pages whose translator wrote a math node, so a
notebook page whose only math is in our output (``display.to_html``: spans of
class ``math``) would show its formulas as TeX source.  Before
``sphinx.ext.mathjax`` decides (``html-page-context``, at its default
priority 500), such a page is marked as having math.
"""

from __future__ import annotations

from typing import Any

from ..display import MATH_CLASS, OUTPUT_CLASS


def mark_math(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    body = context.get("body")
    if isinstance(body, str) and OUTPUT_CLASS in body and MATH_CLASS in body:
        context["has_maths_elements"] = True


def setup_notebook_outputs(app: Any) -> None:
    app.connect("html-page-context", mark_math, priority=400)
