"""Report -> docutils nodes: the derivation prose and the summary line (the table is in ``table``).

Formulas are real ``math`` nodes, so HTML loads MathJax and LaTeX gets
``\\(...\\)``; builders without math get plain text (see ``setup_nodes``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from ..count import latex_sum
from ..formulas.expr import latex_int, regroup
from ..render import (
    FROZEN_LEGEND,
    fmt,
    mixed,
    not_counted_lines,
    plain,
    root_line,
    size_text,
    trainable_line,
    type_cell,
    whole_words,
)
from ..report import Report, Row
from .table import builder_format, math, setup_table


def summary(report: Report, sep: str) -> list[nodes.Node]:
    """Trainable, frozen and buffer lines, shown where they are non-zero."""
    parts = [root_line(report, sep)] if report.root else []
    parts += [f"Size: {size_text(report.bytes_by_dtype)}."] if report.bytes_by_dtype else []
    if report.frozen:
        parts.append(f"{trainable_line(report, sep)}.")
        if mixed(report):
            parts.append(FROZEN_LEGEND)
    parts += [f"{line[0].upper()}{line[1:]}." for line in report.explained]
    if report.buffers:
        parts.append(f"Buffers (not parameters, not in the total): {fmt(report.buffer_total, sep)}.")
    parts += [f"{line}." for line in not_counted_lines(report, sep)]
    out = [whole_formula(report, sep)] if report.symbolic is not None else []
    if not parts:
        return out
    return [*out, nodes.paragraph(" ".join(parts), " ".join(parts), classes=["paramcount-summary"])]


def whole_formula(report: Report, sep: str) -> nodes.paragraph:
    """``The whole model: N = 2Vd + L(...) + d = 6,738,415,616`` (or the sub-module's), with a note where two symbols share a value."""
    assert report.symbolic is not None
    latex = f"N = {report.symbolic.whole.latex} = {latex_count(report.total, sep)}"
    para = nodes.paragraph("", "", classes=["paramcount-formula"])
    para += nodes.Text(whole_words(report))
    para += math(latex)
    for note in report.symbolic.notes:
        para += nodes.Text(f" Note: {note}.")
    return para


def derivation(report: Report, rows: list[Row], sep: str) -> list[nodes.Node]:
    """The seed notebook's prose: factors, formula, substitution, result; then the sum."""
    steps = [Steps(r.name, type_cell(r), r.formula, r.legend, r.derivation, r.params, r.note, r.detail) for r in rows]
    return derivation_prose(steps, report.total, sep, ("Number of parameters", "Total parameters"))


@dataclass(frozen=True)
class Steps:
    """One row of the prose, of either table: what ``derivation_prose`` writes out."""

    name: str
    label: str
    formula: str  # symbolic LaTeX; "" for a measured number
    legend: tuple[tuple[str, str, int], ...]
    derivation: str
    count: int
    note: str
    detail: bool  # shown, already counted by the row above


def derivation_prose(steps: list[Steps], total: int, sep: str, words: tuple[str, str]) -> list[nodes.Node]:
    """Each row's formula, named factors and substitution; then the total as their sum.

    ``words``: how the formula and the count are introduced (``Number of
    parameters``, ``Total parameters``; ``MACs`` twice for compute).
    """
    formula_words, count_words = words
    items = nodes.enumerated_list(enumtype="arabic", prefix="", suffix=".")
    for r in steps:
        item = nodes.list_item()
        head = nodes.paragraph()
        head += nodes.strong(r.name or "(root)", r.name or "(root)")
        head += nodes.Text(f": {r.label}")
        item += head
        facts = nodes.bullet_list()
        if r.formula:
            facts += _bullet(nodes.Text(f"{formula_words} = "), math(regroup(r.formula, sep)))
        for symbol, meaning, value in r.legend:
            facts += _bullet(nodes.Text(f"{meaning} "), math(symbol), nodes.Text(f": {fmt(value, sep)}"))
        facts += _bullet(
            nodes.Text(f"{count_words}: "), math(f"{regroup(r.derivation, sep)} = {latex_count(r.count, sep)}")
        )
        if r.note:
            facts += _bullet(nodes.emphasis("", f"Note: {r.note}"))
        item += facts
        items += item
    final = nodes.paragraph()
    final += nodes.Text(f"{count_words if count_words.startswith('Total') else 'Total ' + count_words}: ")
    counted_steps = [r.count for r in steps if not r.detail]
    if len(counted_steps) > 1:
        final += math(f"{regroup(latex_sum(counted_steps), sep)} = {latex_count(total, sep)}")
    else:
        final += nodes.strong(fmt(total, sep), fmt(total, sep))
    return [items, final]


def latex_count(n: int, sep: str) -> str:
    """A count in math, grouped as ``fmt`` groups it in text (from 1,000)."""
    return latex_int(n, sep, group_from=1000)


def _bullet(*children: nodes.Node) -> nodes.list_item:
    para = nodes.paragraph()
    para.extend(children)
    return nodes.list_item("", para)


class PlainMath(SphinxPostTransform):
    """Our formulas as readable text for builders that cannot show math."""

    default_priority = 5
    # Builders that write math nodes as math (MathJax, imgmath, \(...\)).
    math_formats: tuple[str, ...] = ("html", "latex")

    def is_supported(self) -> bool:
        return super().is_supported() and builder_format(self) not in self.math_formats

    def run(self, **kwargs: Any) -> None:
        sep = self.config.paramcount_thousands_sep
        for node in list(self.document.findall(nodes.math)):
            if "paramcount-math" in node["classes"]:
                text = plain(node.astext(), sep)
                node.replace_self(nodes.inline(text, text, classes=node["classes"]))


# Unicode's spaces (category Zs) that inputenc does not know; Sphinx declares U+00A0 itself.
_UNICODE_SPACES = (0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)


def _declare_spaces(app: Any) -> None:
    """pdflatex: Unicode spaces, in a digit separator (narrow no-break space) or a parameter's name.

    inputenc knows no U+202F or U+2009, and the LaTeX writer passes them
    through; each is declared as the thin space that math uses (``latex_sep``).
    """
    if app.builder.format != "latex" or app.config.latex_engine != "pdflatex":
        return
    app.builder.context["utf8extra"] += "".join(
        f"\n\\ifdefined\\DeclareUnicodeCharacter\\DeclareUnicodeCharacter{{{code:04X}}}{{\\,}}\\fi"
        for code in _UNICODE_SPACES
    )


def _add_static(app: Any) -> None:
    static = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")
    if hasattr(app.config, "html_static_path"):
        app.config.html_static_path.append(static)
    app.add_css_file("paramcount.css")


def setup_nodes(app: Any) -> None:
    setup_table(app)
    app.add_post_transform(PlainMath)
    app.connect("builder-inited", _add_static)
    app.connect("builder-inited", _declare_spaces)
