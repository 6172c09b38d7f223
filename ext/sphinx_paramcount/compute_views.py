"""Views of a compute report's rows (a sub-module, merged by depth, repeats collapsed), and its claims.

The compute table is viewed as the parameter table is (``views``): the same
depth rule, the same runs of numbered identical blocks, the same row names,
so ``:depth:``, ``:root:``, ``:expect:`` and repeats mean one thing in both
directives.  A merged or repeat row's MACs are the sum of the rows it
replaces, and its derivation shows that sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from .compute import ComputeReport, ComputeRow
from .formulas.expr import Const, Sym, legend
from .report import ModuleInfo
from .stated import Check, Claim, ClaimKey, Mismatch, StatedCount, check_claims, describe_difference
from .views import children_of, numbered_runs, parts_sum, range_name, row_keys, structure, sub_module

OUTSIDE = "(outside any module)"


def compute_at_root(report: ComputeReport, root: str) -> ComputeReport:
    """The sub-module ``root``'s rows, named and deepened from there; ``OptionError`` if it is no module.

    Its MACs are what its rows add: computation outside it is not its.
    """
    if not root:
        return report
    root_type = next((m.type for m in report.modules if m.name == ""), "")
    inside, rel = sub_module([m.name for m in report.modules], root, root_type or report.target)

    rows = [replace(r, name=rel(r.name), depth=r.depth - root.count(".") - 1) for r in report.rows if inside(r.name)]
    return replace(
        report,
        macs=sum(r.macs for r in rows),
        rows=rows,
        modules=[replace(m, name=rel(m.name)) for m in report.modules if inside(m.name)],
        output_shapes={rel(n): s for n, s in report.output_shapes.items() if inside(n)},
        root=root,
    )


def compute_view(report: ComputeReport, depth: int | None = None, collapse: bool = True) -> list[ComputeRow]:
    """The rows a compute table shows: merged below ``depth``, runs of identical blocks collapsed.

    The one view the ``flopcount`` directive, its role, the command line and
    ``update`` show and check.  Detail rows (a collapsed block's own rows,
    shown once) are not added again: ``report.counted`` leaves them out.
    """
    rows = _at_depth(report, depth)
    return _collapse_repeats(report, rows) if collapse else rows


def _at_depth(report: ComputeReport, depth: int | None) -> list[ComputeRow]:
    if depth is None:
        return list(report.rows)
    groups: dict[str, list[ComputeRow]] = {}  # insertion order = order of first appearance
    for row in report.rows:
        key = row.name if row.depth <= depth or row.name == OUTSIDE else ".".join(row.name.split(".")[:depth])
        groups.setdefault(key, []).append(row)
    info = {m.name: m for m in report.modules}
    out: list[ComputeRow] = []
    for key, members in groups.items():
        if len(members) == 1 and members[0].name == key:
            out.append(members[0])
        else:
            out.append(_group_row(key, depth, members, info, report.output_shapes.get(key, "")))
    return out


def _group_row(
    key: str, depth: int, members: list[ComputeRow], info: dict[str, ModuleInfo], output_shape: str
) -> ComputeRow:
    """One row for a sub-tree: its parts' MACs (equal neighbours grouped) as formula and derivation."""
    level = key.count(".") + 1 if key else 0
    sums: dict[str, int] = {}
    for r in members:
        part = r.name if r.name == key else ".".join(r.name.split(".")[: level + 1])
        sums[part] = sums.get(part, 0) + r.macs
    parts = [(p, "own computation" if p == key else info[p].type if p in info else "", n) for p, n in sums.items()]
    expr = parts_sum(key, parts, "m", "MACs")
    module = info.get(key)
    label = module.label if module else ""
    shape = structure(parts)
    return ComputeRow(
        name=key,
        type=module.type if module else "",
        label=f"{label}: {shape}" if label and shape else label or shape,
        depth=depth,
        macs=sum(r.macs for r in members),
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        family="group",
        output_shape=output_shape,
        class_path=module.class_path if module else "",
    )


def _collapse_repeats(report: ComputeReport, rows: list[ComputeRow]) -> list[ComputeRow]:
    """``layers.0`` ... ``layers.31`` that compute alike as ``layers.0–31``, ``32 × m_block``, one block beneath."""
    by_name = {r.name: r for r in rows}
    children = children_of(report.modules)
    types = {m.name: m for m in report.modules}
    signatures: dict[str, tuple] = {}
    totals: dict[str, int] = {}

    def signature(name: str) -> tuple:
        # Two blocks compute alike when their types and each row's formula and numbers agree.
        if name not in signatures:
            own = by_name.get(name)
            kids = children.get(name, [])
            own_sig = (own.label, own.macs, own.formula, own.derivation) if own else ()
            signatures[name] = (types[name].type, own_sig, tuple(signature(c) for c in kids))
            totals[name] = (own.macs if own else 0) + sum(totals[c] for c in kids)
        return signatures[name]

    out: list[ComputeRow] = []

    def emit(name: str, detail: bool) -> None:
        own = by_name.get(name)
        if own is not None:
            out.append(replace(own, detail=detail) if detail else own)
        for run in numbered_runs(children.get(name, []), signature):
            if len(run) > 1 and totals[run[0]] > 0:
                shape = report.output_shapes.get(run[-1], "")
                out.append(_repeat_row(run, types[run[0]], totals[run[0]], detail, shape))
                emit(run[0], True)
            else:
                for kid in run:
                    emit(kid, detail)

    emit("", False)
    named = {m.name for m in report.modules}
    out += [r for r in rows if r.name not in named]  # merged rows and work done outside every module
    return out


def _repeat_row(run: list[str], info: ModuleInfo, each: int, detail: bool, output_shape: str) -> ComputeRow:
    m = Sym(r"m_{\mathrm{block}}", f"MACs of one block ({run[0]})", each)
    expr = Const(len(run)) * m
    return ComputeRow(
        name=range_name(run),
        type=info.type,
        label=info.label,
        depth=run[0].count(".") + 1,
        macs=each * len(run),
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        family="repeat",
        repeat=len(run),
        detail=detail,
        class_path=info.class_path,
        output_shape=output_shape,
    )


# -- stated MACs and FLOPs -------------------------------------------------------------------------------


def claim_counts(report: ComputeReport, rows: list[ComputeRow]) -> dict[ClaimKey, int]:
    """The number under every key a claim may name: MACs, FLOPs, and each row's MACs (as ``views.claim_counts``)."""
    return {
        ClaimKey("macs"): report.macs,
        ClaimKey("flops"): report.flops,
        **row_keys([(r.name, r.macs) for r in [*report.rows, *rows]]),
    }


#: How the directive names the two measures, in "did you mean ...?".
OPTION_NAMES = {"macs": ":macs:", "flops": ":flops:"}


def check_compute(
    report: ComputeReport, rows: list[ComputeRow], claims: Iterable[Claim], names: Mapping[str, str] = OPTION_NAMES
) -> Check:
    """Check stated ``:macs:``, ``:flops:`` and row MACs against the rows a compute table shows.

    A stated number that is the other measure (FLOPs stated as MACs, or the
    reverse: off by exactly 2x at its precision) says so, naming the other
    measure as the caller's author writes it (``names``: an option, a role's
    unit word, a keyword).
    """
    result = check_claims(report.subject, claim_counts(report, rows), claims)
    return replace(result, mismatches=tuple(replace(m, text=_message(m, report, names)) for m in result.mismatches))


_UNIT = {"macs": "MACs", "flops": "FLOPs", "row": "MACs"}


def _message(m: Mismatch, report: ComputeReport, names: Mapping[str, str]) -> str:
    unit = _UNIT[m.key.what]
    row = f" for row {m.key.row!r}" if m.key.what == "row" else ""
    # A role's '4.09 GFLOPs' is stated as '4.09 G': echo it as written, not '4.09 G FLOPs'.
    text = m.stated.text.strip()
    space = "" if text[-1:].isalpha() and text[-2:-1].isspace() else " "
    stated = f"stated {text}{space}{unit}{row} for {report.subject}"
    macs, flops = _amount(m.stated, report.macs, "MACs"), _amount(m.stated, report.flops, "FLOPs")
    if m.key.what == "flops" and m.stated.matches(report.macs):
        return f"{stated}, but the model does {macs} = {flops}: did you mean {names['macs']}?"
    if m.key.what == "macs" and m.stated.matches(report.flops):
        return f"{stated}, but the model does {macs} = {flops}: did you mean {names['flops']}?"
    real = f"{m.actual:,} {unit}"
    if not m.stated.exact:
        real += f" ({_amount(m.stated, m.actual, unit)} at the stated precision)"
    return f"{stated}, but the model does {real}: {describe_difference(m.stated, m.actual)}"


def _amount(stated: StatedCount, n: int, unit: str) -> str:
    """``4.09 GMACs`` at a rounded stated number's precision, ``4,089,184,256 MACs`` for an exact one."""
    if stated.exact:
        return f"{n:,} {unit}"
    return f"{stated.round(n)} {stated.unit}{unit}"
