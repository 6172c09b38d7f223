"""The derivation table as plain cell data: what every table writer reads.

One spec, written by the Sphinx layer (``sphinxext/table.py``, as docutils
nodes) and by the notebook display (``display.py``, as HTML and LaTeX), so a
table in the docs and one in a notebook have the same columns, order and cells.
Free of Sphinx and docutils.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .compute import ComputeReport, ComputeRow
from .compute_render import macs_cell
from .count import compact_sum
from .formulas.expr import regroup
from .render import fmt, params_cell, state, total_derivation, type_cell
from .report import Report, Row, counted, percent

# Each layer's count beside its name, so the two are read together at any width
# (a phone's too); then the type, whose arguments the formula and derivation use,
# which scroll in HTML when the table is wider than the page.
COLUMNS = ("Layer", "Parameters", "Share", "Type", "Formula", "Derivation")
# Relative column widths, used by LaTeX ("Parameters" and "100.0%" must fit unbroken).
WIDTHS = (16, 14, 10, 17, 18, 25)
# The output-shape column, when shown, comes after Type.
SHAPE_AT, SHAPE_WIDTH = 4, 12
# The count columns' classes on their headers too: the stylesheets align them right.
HEAD_CLASSES = {"Parameters": ["paramcount-count"], "MACs": ["paramcount-count"], "Share": ["paramcount-share"]}
# The count column's place: its header names what is counted ("Parameters", or "MACs" for ``flopcount``).
COUNT_AT = 1


@dataclass(frozen=True)
class RowSpec:
    """One row's cells as text and LaTeX: all the expansion needs."""

    kind: str  # "row", "detail" or "total"
    name: str
    type: str
    note: str
    formula: str
    derivation: str
    params: str  # the count cell: parameters, or MACs in a compute table
    output_shape: str
    share: float  # percent, rounded to 0.1 for the bar
    share_text: str
    state: str = ""  # "frozen" or "partly frozen" where a model has both kinds, else ""
    type_path: str = ""  # the layer class, ``torch.nn.modules.conv:Conv2d`` (``Row.class_path``)
    # A row whose every tensor is counted elsewhere: the tensors it is tied to. Its
    # formula and derivation cells are then words and names, not math: a long
    # name can wrap (math cannot, in LaTeX) and is copied as it reads.
    tied: tuple[str, ...] = ()
    # Its documentation, found when a page is written (``sphinxext.links.LinkTypes``): "" for none.
    type_uri: str = ""


@dataclass(frozen=True)
class TableSpec:
    shapes: bool  # whether the output-shape column is shown
    rows: tuple[RowSpec, ...]
    count_column: str = "Parameters"  # the count column's header: "MACs" for a compute table


def table_spec(report: Report, rows: list[Row], sep: str) -> TableSpec:
    specs = [
        _row_spec(
            r,
            r.params,
            report.total,
            params_cell(r, sep),
            r.note,
            sep,
            state=state(r, report),
            type_path=r.class_path,
            tied=tuple(t.shared_with or "" for t in r.shared) if r.family == "tied" else (),
        )
        for r in rows
    ]
    # Grouped where equal (``4 \times 70{,}400``): the full sum is the derivation format's.
    specs.append(_total_spec(total_derivation(rows), report.total, sep))
    return TableSpec(shapes=any(r.output_shape for r in rows), rows=tuple(specs))


def compute_table_spec(report: ComputeReport, rows: list[ComputeRow], sep: str) -> TableSpec:
    """The ``flopcount`` table: the same columns and cells, MACs in the count column.

    ``rows`` is a view of the report (``compute_views.compute_view``): a
    repeat row stands for its copies, its detail rows are shown, not added.
    A row whose MACs were measured (no formula applies) has no formula; the
    summary under the table says why (so its note is not in the Type cell).
    """
    specs = [_row_spec(r, r.macs, report.macs, macs_cell(r, sep), "", sep, type_path=r.class_path) for r in rows]
    specs.append(_total_spec(compact_sum([r.macs for r in counted(rows)]), report.macs, sep))
    return TableSpec(shapes=any(r.output_shape for r in rows), rows=tuple(specs), count_column="MACs")


def _row_spec(
    r: Row | ComputeRow, count: int, whole: int, count_text: str, note: str, sep: str, **extra: Any
) -> RowSpec:
    """A layer's cells, either table's: its count is ``count_text`` of ``whole`` (the share)."""
    share, share_text = _share(count, whole, r.detail)
    return RowSpec(
        kind="detail" if r.detail else "row",
        name=r.name or "(root)",
        type=type_cell(r),
        note=note,
        # Numbers in a formula (a constant) group as the counts do.
        formula=regroup(r.formula, sep),
        derivation=regroup(r.derivation, sep),
        params=count_text,
        output_shape=r.output_shape or "",
        share=share,
        share_text=share_text,
        **extra,
    )


def _total_spec(sum_latex: str, total: int, sep: str) -> RowSpec:
    share, share_text = _share(total, total, False)
    return RowSpec(
        kind="total",
        name="Total",
        type="",
        note="",
        formula="",
        derivation=regroup(sum_latex, sep),
        params=fmt(total, sep),
        output_shape="",
        share=share,
        share_text=share_text,
    )


def _share(part: int, whole: int, detail: bool) -> tuple[float, str]:
    """Percent of the total: rounded for the bar, and as the cell shows it."""
    pct = 100 * part / whole if whole else 0.0
    text = percent(pct, decimals=1, smallest=0.1)
    return round(pct, 1), f"({text})" if detail else text


def columns(spec: TableSpec) -> list[tuple[str, int]]:
    """The table's column headers in order, each with its relative width."""
    out = list(zip(COLUMNS, WIDTHS))
    out[COUNT_AT] = (spec.count_column, WIDTHS[COUNT_AT])
    if spec.shapes:
        out.insert(SHAPE_AT, ("Output shape", SHAPE_WIDTH))
    return out


# A name wraps only in pieces at least this long: short names never wrap, so
# their column stays as narrow as they are.
NAME_PIECE = 24


def name_pieces(name: str, width: int = NAME_PIECE) -> list[str]:
    """``name`` in pieces of up to ``width`` characters, each ending after a dot where possible."""
    pieces = [""]
    for part in name.split(".")[:-1]:
        if pieces[-1] and len(pieces[-1]) + len(part) + 1 > width:
            pieces.append("")
        pieces[-1] += part + "."
    last = name.rpartition(".")[2]
    if pieces[-1] and len(pieces[-1]) + len(last) > width:
        pieces.append("")
    pieces[-1] += last
    return pieces
