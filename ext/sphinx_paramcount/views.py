"""Views of a report's rows: collapsing by depth.

Pure functions from rows to rows; the count of a collapsed row is the sum of
the rows it replaces, and its derivation shows that sum.
"""

from __future__ import annotations

from .count import latex_sum
from .report import Report, Row


def rows_at_depth(report: Report, depth: int | None) -> list[Row]:
    """Rows deeper than ``depth`` merged into their ancestor at ``depth``."""
    if depth is None:
        return list(report.rows)
    groups: dict[str, list[Row]] = {}  # insertion order = order of first appearance
    for row in report.rows:
        key = row.name if row.depth <= depth else ".".join(row.name.split(".")[:depth])
        groups.setdefault(key, []).append(row)
    info = {m.name: m for m in report.modules}
    out: list[Row] = []
    for key, members in groups.items():
        if len(members) == 1 and members[0].name == key:
            out.append(members[0])
            continue
        module = info.get(key)
        counts = [r.params for r in members]
        out.append(
            Row(
                name=key,
                type=module.type if module else "",
                label=module.label if module else "",
                depth=depth,
                params=sum(counts),
                trainable=sum(r.trainable for r in members),
                formula=rf"\sum_{{i=1}}^{{{len(members)}}} n_i",
                derivation=latex_sum(counts),
                family="sum",
                note=f"sum of {len(members)} rows below",
                tensors=tuple(t for r in members for t in r.tensors),
            )
        )
    return out
