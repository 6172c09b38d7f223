"""A ``ComputeReport`` as terminal text, Markdown, prose, JSON or the bare total (``--compute``)."""

from __future__ import annotations

import json
import textwrap

from .compute import CONVENTION, ComputeReport, ComputeRow
from .count import compact_sum
from .render import TEXT_WIDTH, counted, derivation_steps, fmt, name_cell, plain, text_table, type_cell
from .report import percent

_HEADER = ["Layer", "MACs", "Share", "Type", "Output shape", "Formula", "Derivation"]
_WRAPPING = (3, 5, 6)  # Type, Formula, Derivation wrap; names, counts and shapes do not


def heading(report: ComputeReport) -> str:
    """``SimpleNet: 573,504 MACs (1,147,008 FLOPs) for input (1, 3, 32, 32) float32``."""
    shape = "(" + ", ".join(str(d) for d in report.input_shape) + ")"
    where = f", sub-module {report.root}" if report.root else ""
    return (
        f"{report.target}{where}: {fmt(report.macs)} MACs ({fmt(report.flops)} FLOPs) "
        f"for input {shape} {report.input_dtype}"
    )


def total_derivation(report: ComputeReport) -> str:
    """The Total row's sum of the shown rows' MACs (a collapsed block's own rows are not added again), LaTeX."""
    return compact_sum([r.macs for r in counted(report.shown_rows)])


def macs_cell(r: ComputeRow, sep: str = ",") -> str:
    """A detail row's MACs in parentheses: shown, already counted by the repeat row above."""
    return f"({fmt(r.macs, sep)})" if r.detail else fmt(r.macs, sep)


def _formula(r: ComputeRow) -> str:
    return plain(r.formula) if r.formula else "(measured)"


def _share(r: ComputeRow, report: ComputeReport) -> str:
    return percent(100 * r.macs / report.macs) if report.macs and not r.detail else ""


def to_text(report: ComputeReport, width: int = TEXT_WIDTH) -> str:
    """The compute table for a terminal, no line wider than ``width``."""
    body = [
        [name_cell(r), macs_cell(r), _share(r, report), type_cell(r), r.output_shape, _formula(r), plain(r.derivation)]
        for r in report.shown_rows
    ]
    last = ["Total", fmt(report.macs), "100.00%" if report.macs else "", "", "", "", plain(total_derivation(report))]
    out = [heading(report), "", *text_table(_HEADER, body, last, width, _WRAPPING, right={1, 2})]
    out += ["", *textwrap.wrap(CONVENTION, width)]
    notes = [f"  {r.name or '(root)'}: {r.note}" for r in report.shown_rows if r.note and not r.detail]
    if notes:
        out += ["Notes:", *(w for n in notes for w in textwrap.wrap(n, width, subsequent_indent="    "))]
    return "\n".join(out) + "\n"


def to_markdown(report: ComputeReport) -> str:
    def cell(text: str) -> str:
        return text.replace("|", r"\|")

    def math(latex: str) -> str:
        return f"${cell(latex)}$" if latex else ""

    out = ["| " + " | ".join(_HEADER) + " |", "|---|---:|---:|---|---|---|---|"]
    for r in report.shown_rows:
        cells = [cell(name_cell(r)), macs_cell(r), _share(r, report), cell(type_cell(r))]
        cells += [r.output_shape, math(r.formula) or "(measured)", math(r.derivation)]
        out.append("| " + " | ".join(cells) + " |")
    out.append(f"| **Total** | **{fmt(report.macs)}** | | | | | {math(total_derivation(report))} |")
    out += ["", heading(report) + ".", "", CONVENTION]
    out += [f"- {r.name or '(root)'}: {r.note}" for r in report.shown_rows if r.note and not r.detail]
    return "\n".join(out) + "\n"


def to_derivation(report: ComputeReport) -> str:
    """Per row: formula, named factors, substitution, MACs; then the sum."""
    out = []
    for i, r in enumerate(report.shown_rows, 1):
        out.append(
            f"{i}. {name_cell(r).strip()}: {type_cell(r)}" + (" (one block of the row above)" if r.detail else "")
        )
        out += derivation_steps(r.formula, r.legend, r.derivation, r.macs, r.note, "MACs", "MACs")
    out += ["", f"Total MACs: {plain(total_derivation(report))} = {fmt(report.macs)}"]
    out += [f"FLOPs: 2 × {fmt(report.macs)} = {fmt(report.flops)}", CONVENTION]
    return "\n".join(out) + "\n"


def to_json(report: ComputeReport) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def to_total(report: ComputeReport) -> str:
    """``--format total``: the MACs, as ``:format: total`` shows a count."""
    return fmt(report.macs) + "\n"


WRITERS = {"text": to_text, "markdown": to_markdown, "derivation": to_derivation, "json": to_json, "total": to_total}
