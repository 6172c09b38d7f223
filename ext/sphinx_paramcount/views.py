"""Views of a report's rows (collapsing by depth and by repeats), and checking claims against them.

Pure functions from rows to rows; the count of a collapsed row is the sum of
the rows it replaces, and its derivation shows that sum.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import replace

from .count import grouped_terms
from .errors import OptionError
from .formulas.expr import Const, Expr, Sym, latex_text, legend, total
from .report import ModuleInfo, Report, Row
from .report import counted as counted  # the rows that add up: views.counted for callers
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
        out.append(_group_row(key, depth, members, info))
    return out


def _group_row(key: str, depth: int, members: list[Row], info: dict[str, ModuleInfo]) -> Row:
    """One row for a sub-tree: its structure (children, equal ones grouped) as formula and derivation."""
    module = info.get(key)
    parts = _children(key, members, info)
    expr = parts_sum(key, parts, "n", "Parameters")
    shape = structure(parts)
    label = module.label if module else ""
    rows = f"{len(members)} row{'' if len(members) == 1 else 's'}"
    return Row(
        name=key,
        type=module.type if module else "",
        label=f"{label}: {shape}" if label and shape else label or shape,
        class_path=module.class_path if module else "",
        depth=depth,
        params=sum(r.params for r in members),
        trainable=sum(r.trainable for r in members),
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        family="group",
        note="" if shape else f"{rows} of its sub-modules merged here",
        tensors=tuple(t for r in members for t in r.tensors),
    )


def parts_sum(key: str, parts: list[tuple[str, str, int]], symbol: str, what: str) -> Expr:
    """``n_0 + 2 n_1``: a merged row's parts (name, kind, count) as a sum, equal neighbours grouped.

    ``symbol`` is ``n`` for parameters, ``m`` for MACs; ``what`` names the measure in the legend.
    """
    terms: list[Expr] = []
    for group in equal_runs(parts):
        first, kind, n = group[0]
        names = first if len(group) == 1 else f"each of {first} ... {group[-1][0]}"
        sym = Sym(rf"{symbol}_{{\mathrm{{{latex_text(short_name(key, first))}}}}}", f"{what} of {names} ({kind})", n)
        terms.append(sym if len(group) == 1 else Const(len(group)) * sym)
    return total(terms)


def _children(key: str, members: list[Row], info: dict[str, ModuleInfo]) -> list[tuple[str, str, int]]:
    """(name, type, parameters) of each direct part of ``key``: its own tensors, then each child."""
    parts: dict[str, list[int]] = {}
    depth = key.count(".") + 1 if key else 0
    for r in members:
        child = r.name if r.name == key else ".".join(r.name.split(".")[: depth + 1])
        parts.setdefault(child, []).append(r.params)
    out = []
    for child, counts in parts.items():
        kind = "own parameters" if child == key else (info[child].type if child in info else "")
        out.append((child, kind, sum(counts)))
    return out


def equal_runs(parts: list[tuple[str, str, int]]) -> list[list[tuple[str, str, int]]]:
    """Consecutive parts of one type and one count, as runs (``Bottleneck + 5 x Bottleneck``)."""
    runs: list[list[tuple[str, str, int]]] = []
    for part in parts:
        if runs and runs[-1][-1][1:] == part[1:] and part[0] != runs[-1][-1][0]:
            runs[-1].append(part)
        else:
            runs.append([part])
    return runs


def short_name(key: str, child: str) -> str:
    return child[len(key) + 1 :] if key and child.startswith(key + ".") else child or "own"


def structure(parts: list[tuple[str, str, int]], most: int = 4) -> str:
    """``Bottleneck + 5 × Bottleneck``: what a merged row is made of, in words."""
    runs = equal_runs(parts)
    words = [f"{len(r)} × {r[0][1]}" if len(r) > 1 else r[0][1] for r in runs]
    return " + ".join(words[:most]) + (f" + {len(words) - most} more" if len(words) > most else "")


def collapse_repeats(report: Report, rows: list[Row]) -> list[Row]:
    """Runs of identical sibling blocks as one row, with one block's rows beneath.

    ``layers.0`` ... ``layers.31`` with the same type and the same tensors
    become ``layers.0–31``, ``32 × Block``, derived as ``32 × n_block``; the
    first block's rows follow, marked ``detail`` (shown, not added again).
    """
    by_name = {r.name: r for r in rows}
    children = children_of(report.modules)
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
                # Not whether a tensor is shared: a block whose proj is block 0's
                # still has the same parts (``held`` and the derivation say the rest).
                tuple((t.name[len(name) :], t.shape, t.dtype, t.trainable) for t in own.tensors) if own else ()
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
        for run in numbered_runs(children.get(name, []), signature):
            if len(run) > 1 and _held(rows, run[0]) > 0:
                counts = [totals[k] for k in run]
                out.append(_repeat_row(run, types[run[0]], _held(rows, run[0]), counts, trainables, detail))
                emit(run[0], True)
            else:
                for kid in run:
                    emit(kid, detail)

    emit("", False)
    return out


def _held(rows: list[Row], block: str) -> int:
    """What one block holds: its own tensors, including those counted in an earlier block."""
    inside = [r for r in rows if r.name == block or r.name.startswith(block + ".")]
    outside = [
        t.numel for r in inside for t in r.tensors if t.shared_with and not t.shared_with.startswith(block + ".")
    ]
    return sum(r.params for r in inside) + sum(outside)


def _repeat_row(
    run: list[str], info: ModuleInfo, held: int, counts: list[int], trainables: dict[str, int], detail: bool
) -> Row:
    """``k x n_block``; where later blocks reuse a module of an earlier one, what each adds."""
    first = run[0]
    name = range_name(run)
    n = Sym(r"n_{\mathrm{block}}", f"Parameters one block holds ({first})", held)
    terms: list[Expr] = []
    for i, (k, value) in enumerate(grouped_terms(counts)):
        if value == held:
            sym = n
        else:
            mark = "'" * (i + 1) if i < 3 else f"_{i}"
            sym = Sym(
                rf"n{mark}_{{\mathrm{{block}}}}",
                "Parameters a block adds beyond the modules it shares with an earlier one (counted there)",
                value,
            )
        terms.append(Const(k) * sym if k > 1 else sym)
    expr = total(terms)
    shared = any(c != held for c in counts)
    return Row(
        name=name,
        type=info.type,
        label=info.label,
        class_path=info.class_path,
        depth=first.count(".") + 1,
        params=sum(counts),
        trainable=sum(trainables[k] for k in run),
        formula=expr.symbolic(),
        derivation=expr.substituted(),
        legend=tuple(legend(expr)),
        family="repeat",
        note=f"each block holds {held:,}; modules shared between blocks are counted once" if shared else "",
        repeat=len(run),
        detail=detail,
    )


def range_name(run: list[str]) -> str:
    """``layers.0–31``: the name of a run of numbered sibling blocks (an en dash; ``claim_counts`` takes a hyphen too)."""
    head, _, a = run[0].rpartition(".")
    b = run[-1].rpartition(".")[2]
    return f"{head}.{a}–{b}" if head else f"{a}–{b}"


def numbered_runs(kids: list[str], signature: Callable[[str], object]) -> list[list[str]]:
    """Siblings split into runs of equal ``signature``; a run of more than one is numbered blocks only.

    Only numbered siblings (ModuleList, Sequential) are "the same block
    repeated"; q/k/v that happen to match are different things.
    """
    runs: list[list[str]] = []
    for kid in kids:
        if runs and signature(kid) == signature(runs[-1][0]):
            runs[-1].append(kid)
        else:
            runs.append([kid])
    out: list[list[str]] = []
    for run in runs:
        numbered = all(k.rpartition(".")[2].isdigit() for k in run)
        out += [run] if numbered else [[k] for k in run]
    return out


def children_of(modules: Iterable[ModuleInfo]) -> dict[str, list[str]]:
    """Each module's direct children's names, in order."""
    out: dict[str, list[str]] = {}
    for m in modules:
        if m.name:
            out.setdefault(m.name.rpartition(".")[0], []).append(m.name)
    return out


def sub_module(names: list[str], root: str, model: str) -> tuple[Callable[[str], bool], Callable[[str], str]]:
    """``inside(name)`` and ``rel(name)`` (``layer1.0.conv1`` -> ``0.conv1``) for the sub-module ``root``.

    ``OptionError`` if no module of ``model`` has that name, with the closest one.
    """
    if root not in names:
        close = difflib.get_close_matches(root, names, n=1)
        raise OptionError(
            f":root: {root!r} is not a sub-module of {model}",
            hint=f"did you mean {close[0]!r}?" if close else "name a sub-module as model.named_modules() does",
        )
    cut = len(root) + 1

    def inside(name: str) -> bool:
        return name == root or name.startswith(root + ".")

    def rel(name: str) -> str:
        # A tensor tied to one outside the sub-module keeps its full name.
        return "" if name == root else name[cut:] if inside(name) else name

    return inside, rel


def at_root(report: Report, root: str) -> Report:
    """The report of the sub-module ``root`` (``base_model.model``): its rows, named and deepened from there.

    The total is what the sub-tree's rows add: a tensor tied to one outside
    it is counted there, not here.  ``OptionError`` if ``root`` is no module.
    """
    if not root:
        return report
    inside, rel = sub_module([m.name for m in report.modules], root, report.type_name or report.target)

    rows = [
        replace(
            r,
            name=rel(r.name),
            depth=r.depth - root.count(".") - 1,
            tensors=tuple(
                replace(t, name=rel(t.name), shared_with=rel(t.shared_with) if t.shared_with else None)
                for t in r.tensors
            ),
        )
        for r in report.rows
        if inside(r.name)
    ]
    return replace(
        report,
        total=sum(r.params for r in rows),
        trainable=sum(r.trainable for r in rows),
        rows=rows,
        modules=[replace(m, name=rel(m.name)) for m in report.modules if inside(m.name)],
        buffers=[replace(b, name=rel(b.name)) for b in report.buffers if inside(b.name)],
        bytes_by_dtype=_bytes(report, rows),
        not_counted=[t for t in report.not_counted if inside(t.name)],
        root=root,
        shown=None,  # a view of the whole model is no view of the sub-module
    )


def _bytes(report: Report, rows: list[Row]) -> dict[str, int]:
    """The sub-tree's bytes by dtype, at the bytes per element the whole model's figures give."""
    numel: dict[str, int] = {}
    for t in (t for r in report.rows for t in r.tensors if not t.shared_with):
        numel[t.dtype] = numel.get(t.dtype, 0) + t.numel
    out: dict[str, int] = {}
    for t in (t for r in rows for t in r.tensors if not t.shared_with):
        if numel.get(t.dtype) and t.dtype in report.bytes_by_dtype:
            out[t.dtype] = out.get(t.dtype, 0) + t.numel * report.bytes_by_dtype[t.dtype] // numel[t.dtype]
    return out


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
    return {
        ClaimKey("total"): report.total,
        ClaimKey("trainable"): report.trainable,
        **row_keys([(r.name, r.params) for r in [*report.rows, *rows]]),
    }


def row_keys(rows: Iterable[tuple[str, int]]) -> dict[ClaimKey, int]:
    """The key of each row name a claim may use: as printed, ``(root)`` for "", a hyphen for an en dash."""
    names = dict(rows)
    names |= {name.replace("–", "-"): n for name, n in names.items() if "–" in name}
    if "" in names:
        names["(root)"] = names.pop("")
    return {ClaimKey("row", name): n for name, n in names.items()}


def check(report: Report, rows: list[Row], claims: Iterable[Claim]) -> Check:
    """Check stated claims against the rows a table shows (``view``)."""
    return check_claims(report.subject, claim_counts(report, rows), claims)
