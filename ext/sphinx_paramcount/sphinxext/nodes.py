"""Report -> docutils nodes: the table, the derivation prose, the total.

Formulas are real ``math`` nodes, so HTML loads MathJax and LaTeX gets
``\\(...\\)``; builders without math get plain text (see ``setup_nodes``).
"""

from __future__ import annotations

import os
from typing import Any

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from ..count import latex_sum
from ..render import counted, fmt, params_cell, plain, size_text, type_cell
from ..report import Report, Row

COLUMNS = ("Layer", "Type", "Formula", "Derivation", "Parameters")
MATH_BUILDER_FORMATS = ("html", "latex")


def math(latex: str) -> nodes.math:
    return nodes.math(latex, latex, classes=["paramcount-math"])


def _entry(*children: nodes.Node, classes: list[str] | None = None) -> nodes.entry:
    para = nodes.paragraph()
    para.extend(children)
    return nodes.entry("", para, classes=classes or [])


def table(report: Report, rows: list[Row], sep: str, caption: str = "") -> nodes.table:
    shapes = any(r.output_shape for r in rows)
    columns = [*COLUMNS, *(["Output shape"] if shapes else []), "Share"]
    tbl = nodes.table(classes=["paramcount-table"])
    if caption:
        tbl += nodes.title(caption, caption)
    group = nodes.tgroup(cols=len(columns))
    tbl += group
    for width in (14, 22, 22, 30, 12, *([12] if shapes else []), 8):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += nodes.row("", *(_entry(nodes.Text(c)) for c in columns))
    group += head
    body = nodes.tbody()
    for r in rows:
        name = nodes.literal(r.name or "(root)", r.name or "(root)")
        label: list[nodes.Node] = [nodes.Text(type_cell(r))]
        if r.note:
            label += [nodes.Text(" "), nodes.emphasis("", f"({r.note})", classes=["paramcount-note"])]
        cells = [
            _entry(name),
            _entry(*label),
            _entry(math(r.formula)),
            _entry(math(r.derivation)),
            _entry(nodes.Text(params_cell(r, sep)), classes=["paramcount-count"]),
        ]
        if shapes:
            cells.append(_entry(nodes.literal(r.output_shape, r.output_shape) if r.output_shape else nodes.Text("")))
        cells.append(_share(r.params, report.total, r.detail))
        body += nodes.row("", *cells, classes=["paramcount-detail"] if r.detail else [])
    total_sum = latex_sum([r.params for r in counted(rows)])
    total = fmt(report.total, sep)
    body += nodes.row(
        "",
        _entry(nodes.strong("Total", "Total")),
        _entry(),
        _entry(),
        _entry(math(total_sum)),
        _entry(nodes.strong(total, total), classes=["paramcount-count"]),
        *([_entry()] if shapes else []),
        _share(report.total, report.total, False),
        classes=["paramcount-total"],
    )
    group += body
    return tbl


def _share(part: int, whole: int, detail: bool) -> nodes.entry:
    """Percent of the total; the HTML draws a bar from the ``--share`` value (CSS only)."""
    pct = 100 * part / whole if whole else 0.0
    text = f"{pct:.1f}%" if pct >= 0.1 or pct == 0 else "<0.1%"
    if detail:
        text = f"({text})"
    bar = share_bar("", text, share=round(pct, 1))
    return _entry(bar, classes=["paramcount-share"])


class share_bar(nodes.inline):  # noqa: N801 (docutils node classes are lower case)
    """A percentage; HTML draws it as a bar.  Other builders see a plain inline."""


def visit_share_bar_html(self: Any, node: share_bar) -> None:
    self.body.append(
        f'<span class="paramcount-bar" style="--paramcount-share: {node["share"]}%" aria-hidden="true"></span>'
    )
    self.visit_inline(node)


def depart_share_bar_html(self: Any, node: share_bar) -> None:
    self.depart_inline(node)


def summary(report: Report, sep: str) -> list[nodes.Node]:
    """Trainable, frozen and buffer lines, shown where they are non-zero."""
    parts = [f"Size: {size_text(report.bytes_by_dtype)}."] if report.bytes_by_dtype else []
    if report.frozen:
        parts.append(f"Trainable: {fmt(report.trainable, sep)}. Frozen: {fmt(report.frozen, sep)}.")
    if report.buffers:
        parts.append(f"Buffers (not parameters, not in the total): {fmt(report.buffer_total, sep)}.")
    if not parts:
        return []
    return [nodes.paragraph(" ".join(parts), " ".join(parts), classes=["paramcount-summary"])]


def derivation(report: Report, rows: list[Row], sep: str) -> list[nodes.Node]:
    """The seed notebook's prose: factors, formula, substitution, result; then the sum."""
    items = nodes.enumerated_list(enumtype="arabic", prefix="", suffix=".")
    for r in rows:
        item = nodes.list_item()
        head = nodes.paragraph()
        head += nodes.strong(r.name or "(root)", r.name or "(root)")
        head += nodes.Text(f": {type_cell(r)}")
        item += head
        facts = nodes.bullet_list()
        facts += _bullet(nodes.Text("Number of parameters = "), math(r.formula))
        for symbol, words, value in r.legend:
            facts += _bullet(nodes.Text(f"{words} "), math(symbol), nodes.Text(f": {fmt(value, sep)}"))
        facts += _bullet(nodes.Text("Total parameters: "), math(f"{r.derivation} = {_latex_n(r.params, sep)}"))
        if r.note:
            facts += _bullet(nodes.emphasis("", f"Note: {r.note}"))
        item += facts
        items += item
    final = nodes.paragraph()
    final += nodes.Text("Total parameters: ")
    if len(counted(rows)) > 1:
        final += math(f"{latex_sum([r.params for r in counted(rows)])} = {_latex_n(report.total, sep)}")
    else:
        final += nodes.strong(fmt(report.total, sep), fmt(report.total, sep))
    return [items, final]


def _latex_n(n: int, sep: str) -> str:
    return fmt(n, "{" + sep + "}" if sep else "")


def _bullet(*children: nodes.Node) -> nodes.list_item:
    para = nodes.paragraph()
    para.extend(children)
    return nodes.list_item("", para)


class PlainMath(SphinxPostTransform):
    """Our formulas as readable text for builders that cannot show math."""

    default_priority = 5

    def run(self, **kwargs: Any) -> None:
        # Sphinx 9 names the builder class on the env; older versions only on the app.
        builder = getattr(self.env, "_builder_cls", None) or self.app.builder
        if builder.format in MATH_BUILDER_FORMATS:
            return
        for node in list(self.document.findall(nodes.math)):
            if "paramcount-math" in node["classes"]:
                text = plain(node.astext())
                node.replace_self(nodes.inline(text, text, classes=node["classes"]))


def _add_static(app: Any) -> None:
    static = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")
    if hasattr(app.config, "html_static_path"):
        app.config.html_static_path.append(static)
    app.add_css_file("paramcount.css")


def setup_nodes(app: Any) -> None:
    app.add_post_transform(PlainMath)
    # Builders other than HTML render it as a plain inline (Sphinx dispatches by MRO).
    app.add_node(share_bar, html=(visit_share_bar_html, depart_share_bar_html))
    app.connect("builder-inited", _add_static)
