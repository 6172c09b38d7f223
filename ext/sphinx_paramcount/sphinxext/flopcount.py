"""The ``flopcount`` directive and role: a model's MACs for one forward pass, derived and checked.

The directive reads its option block as ``paramcount`` does (``CountDirective``)
and writes the same table (``table.py``, from ``tablespec.compute_table_spec``):
MACs in the count column, each layer's MAC formula, and a summary that states
the FLOPs and the counting convention.  The role carries its input shape in
its text: ``:flopcount:`4.09 GMACs <pkg.mod:Model @ 1, 3, 224, 224>```.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes

from ..compute import CONVENTION, ComputeReport, ComputeRow
from ..compute_request import ROLE_FORMS, ComputeRequest, parse_request, parse_stated_compute
from ..compute_views import check_compute, compute_at_root, compute_view
from ..errors import OptionError
from ..options import Options
from ..render import fmt, type_cell
from ..stated import Check, Claim
from ..tablespec import compute_table_spec
from . import table as pc_table
from .directive import CountDirective, Place
from .nodes import Steps, derivation_prose, latex_count, math
from .problems import report_problem
from .reading import compute_for
from .role import CountRole


class FlopcountDirective(CountDirective):
    """``.. flopcount:: TARGET`` with ``:input-shape:``: the MACs' derivation table, its stated numbers checked."""

    kind = "flopcount"

    def show(self, target: str, opts: Options, place: Place) -> list[nodes.Node]:
        if opts.input_shape is None:
            return []  # required: ``parse_options`` reported it, located
        report = compute_for(self.env, place.location, target, opts.device, opts.input_shape, opts.input_dtype)
        if report is None:
            return []
        try:
            report = compute_at_root(report, opts.root)
        except OptionError as err:
            report_problem(self.env, place.location, "option", f"{target}: {err.message}", hint=err.hint)
            return []
        rows = compute_view(report, opts.depth, self.collapse(opts))
        self.check_and_record(check_compute(report, rows, opts.claims), opts, report.target, place)
        sep = self.config.paramcount_thousands_sep
        out = self.wrap(
            opts,
            fmt(report.macs, sep),
            lambda: pc_table.table(compute_table_spec(report, rows, sep), opts.caption),
            lambda: compute_prose(report, rows, sep),
        )
        if opts.format != "total":
            out[0].extend(compute_summary(report, rows, sep, symbols=opts.format == "table"))
        return out


def compute_prose(report: ComputeReport, rows: list[ComputeRow], sep: str) -> list[nodes.Node]:
    """Per row: the MAC formula, its named factors, the substitution; the total; the FLOPs."""
    steps = [Steps(r.name, type_cell(r), r.formula, r.legend, r.derivation, r.macs, r.note, r.detail) for r in rows]
    out = derivation_prose(steps, report.macs, sep, ("MACs", "MACs"))
    flops = nodes.paragraph()
    flops += [
        nodes.Text("FLOPs: "),
        math(rf"2 \times {latex_count(report.macs, sep)} = {latex_count(report.flops, sep)}"),
    ]
    return [*out, flops]


def compute_summary(report: ComputeReport, rows: list[ComputeRow], sep: str, *, symbols: bool) -> list[nodes.Node]:
    """The totals and the input, the convention, the table's symbols, and why a row's number was measured."""
    shape = "(" + ", ".join(str(d) for d in report.input_shape) + ")"
    head = (
        f"{fmt(report.macs, sep)} MACs = {fmt(report.flops, sep)} FLOPs for one forward pass "
        f"on an input of shape {shape}, {report.input_dtype}. {CONVENTION}"
    )
    out: list[nodes.Node] = [nodes.paragraph(head, head, classes=["paramcount-summary"])]
    legend = dict.fromkeys((symbol, meaning) for r in rows for symbol, meaning, _ in r.legend)
    if symbols and legend:
        para = nodes.paragraph(classes=["paramcount-summary", "paramcount-legend"])
        para += nodes.Text("Symbols: ")
        for i, (symbol, meaning) in enumerate(legend):
            para += [*([nodes.Text("; ")] if i else []), math(symbol), nodes.Text(f": {_lower_first(meaning)}")]
        para += nodes.Text(".")
        out.append(para)
    notes = [r for r in rows if r.note and not r.detail]
    if notes:
        items = nodes.bullet_list(classes=["paramcount-notes"])
        for r in notes:
            name = r.name or "(root)"
            items += nodes.list_item("", nodes.paragraph("", "", nodes.literal(name, name), nodes.Text(f": {r.note}.")))
        out += [nodes.paragraph("Measured, not derived:", "Measured, not derived:", classes=["paramcount-summary"])]
        out.append(items)
    return out


def _lower_first(text: str) -> str:
    """``Batch size`` -> ``batch size`` in a running list; ``MACs of ...`` keeps its acronym."""
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


class FlopcountRole(CountRole):
    """``:flopcount:`target @ shape``` shows the MACs; ``:flopcount:`4.09 GMACs <target @ shape>``` checks them."""

    kind = "flopcount"
    forms = ROLE_FORMS

    def request(self, target: str) -> ComputeRequest:
        return parse_request(target)

    def claim(self, title: str) -> Claim:
        return parse_stated_compute(title)

    def build(self, location: str, request: ComputeRequest) -> Any:
        device = self.config.paramcount_device
        return compute_for(self.env, location, request.target, device, request.input_shape, request.input_dtype)

    def shown(self, report: ComputeReport) -> str:
        return f"{fmt(report.macs, self.config.paramcount_thousands_sep)} MACs"

    def check(self, report: ComputeReport, claim: Claim) -> Check:
        # The role states its measure in its title: "did you mean MACs?", not an option's name.
        return check_compute(report, compute_view(report), [claim], names={"macs": "MACs", "flops": "FLOPs"})


def setup_flopcount(app: Any) -> None:
    app.add_directive("flopcount", FlopcountDirective)
    app.add_role("flopcount", FlopcountRole())
