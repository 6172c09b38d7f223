"""Views of a report's rows (collapsing by depth and by repeats), and checking claims against them.

Pure functions from rows to rows; the count of a collapsed row is the sum of
the rows it replaces, and its derivation shows that sum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .count import latex_sum
from .formulas.expr import Sym, legend
from .report import ModuleInfo, Report, Row
from .stated import Check, Claim, ClaimKey, check_claims


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


def collapse_repeats(report: Report, rows: list[Row]) -> list[Row]:
    """Runs of identical sibling blocks as one row, with one block's rows beneath.

    ``layers.0`` ... ``layers.31`` with the same type and the same tensors
    become ``layers.0–31``, ``32 × Block``, derived as ``32 × n_block``; the
    first block's rows follow, marked ``detail`` (shown, not added again).
    """
    by_name = {r.name: r for r in rows}
    children: dict[str, list[str]] = {}
    for m in report.modules:
        if m.name:
            children.setdefault(m.name.rpartition(".")[0], []).append(m.name)
    types = {m.name: m for m in report.modules}
    signatures: dict[str, tuple] = {}
    totals: dict[str, int] = {}
    trainables: dict[str, int] = {}

    def signature(name: str) -> tuple:
        # What makes two blocks interchangeable: their type and, row by row,
        # the shapes, dtypes and trainability of their tensors (relative names).
        if name not in signatures:
            own = by_name.get(name)
            own_sig = (
                tuple((t.name[len(name) :], t.shape, t.dtype, t.trainable, bool(t.shared_with)) for t in own.tensors)
                if own
                else ()
            )
            kids = children.get(name, [])
            signatures[name] = (types[name].type, own_sig, tuple(signature(c) for c in kids))
            totals[name] = (own.params if own else 0) + sum(totals[c] for c in kids)
            trainables[name] = (own.trainable if own else 0) + sum(trainables[c] for c in kids)
        return signatures[name]

    out: list[Row] = []

    def emit(name: str, detail: bool) -> None:
        own = by_name.get(name)
        if own is not None:
            out.append(replace(own, detail=detail) if detail else own)
        kids = children.get(name, [])
        i = 0
        while i < len(kids):
            j = i + 1
            while j < len(kids) and signature(kids[j]) == signature(kids[i]):
                j += 1
            run = kids[i:j]
            # Only numbered siblings (ModuleList, Sequential) are "the same block
            # repeated"; q/k/v that happen to match are different things.
            numbered = all(k.rpartition(".")[2].isdigit() for k in run)
            if len(run) > 1 and numbered and totals[run[0]] > 0:
                out.append(_repeat_row(run, types[run[0]], totals[run[0]], trainables[run[0]], detail))
                emit(run[0], True)
            else:
                for kid in run:
                    emit(kid, detail)
            i = j

    emit("", False)
    return out


def _repeat_row(run: list[str], info: ModuleInfo, block: int, trainable: int, detail: bool) -> Row:
    first, last = run[0], run[-1]
    head, _, a = first.rpartition(".")
    b = last.rpartition(".")[2]
    name = f"{head}.{a}–{b}" if head else f"{a}–{b}"
    k = Sym("k", "Identical blocks", len(run))
    n = Sym(r"n_{\mathrm{block}}", f"Parameters of one block ({first})", block)
    expr = k * n
    return Row(
        name=name,
        type=info.type,
        label=info.label,
        depth=first.count(".") + 1,
        params=len(run) * block,
        trainable=len(run) * trainable,
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        family="repeat",
        repeat=len(run),
        detail=detail,
    )


def counted(rows: list[Row]) -> list[Row]:
    """The rows that add up to the total (detail rows explain, they do not add)."""
    return [r for r in rows if not r.detail]


def view(report: Report, depth: int | None = None, collapse: bool = True) -> list[Row]:
    """The rows a table shows: merged below ``depth``, identical blocks collapsed.

    The one view of a report that the directive, the role, the command line,
    ``update`` and the Python API all show and check.
    """
    rows = rows_at_depth(report, depth)
    return collapse_repeats(report, rows) if collapse else rows


def claim_counts(report: Report, rows: list[Row]) -> dict[ClaimKey, int]:
    """The number under every key a stated claim may name.

    The total, the trainable count, and each row name the table prints: the
    report's own rows, the shown (merged or collapsed) ones, ``(root)`` for the
    root module's row, and a repeat row ``layers.0–79`` (en dash) also as
    ``layers.0-79``, the hyphen authors can type.
    """
    names = {r.name: r.params for r in report.rows} | {r.name: r.params for r in rows}
    names |= {name.replace("–", "-"): n for name, n in names.items() if "–" in name}
    if "" in names:
        names["(root)"] = names.pop("")
    return {
        ClaimKey("total"): report.total,
        ClaimKey("trainable"): report.trainable,
        **{ClaimKey("row", name): n for name, n in names.items()},
    }


def check(report: Report, rows: list[Row], claims: Iterable[Claim]) -> Check:
    """Check stated claims against the rows a table shows (``view``)."""
    return check_claims(report.target, claim_counts(report, rows), claims)
