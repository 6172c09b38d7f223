"""Reports as terminal text, Markdown and JSON (the command line's outputs).

LaTeX is turned into readable plain text here too (``C_{out} \\cdot k`` ->
``C_out·k``), which the Sphinx text builder reuses.
"""

from __future__ import annotations

import json
import re

from .formulas.expr import latex_sep, unlatex_text
from .report import Report, Row

_LATEX_TEXT = [
    (re.compile(r"\\sum_\{i=1\}\^\{(\d+)\} n_i"), r"Σ of \1 rows"),
    (re.compile(r"\\mathrm\{([^{}]*)\}"), r"\1"),
    (re.compile(r"_\{([^{}]*)\}"), r"_\1"),
    # After subscripts: \frac{C_{in}}{g} has braces inside until then.
    (re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}"), r"\1/\2"),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\cdot"), "·"),
    (re.compile(r"\\times"), "×"),
    (re.compile(r"\\_"), "_"),
    (re.compile(r" ?· ?"), "·"),
]

# A tensor's name (``TensorSize``), escaped by ``latex_text``: its characters
# are restored as written and kept from the rules above (``x_{k}`` stays).
_NAME = re.compile(r"(\|\\mathtt\{(?:\\[a-zA-Z]+\{[^{}]*\}|\\[^a-zA-Z]|[^{}\\])*\}\|)")


def plain(latex: str, sep: str = ",") -> str:
    """A formula or derivation in plain text, for terminals and the text builder.

    ``sep`` is the ``paramcount_thousands_sep`` the LaTeX was grouped with
    (``regroup``): its digit groups are shown with ``sep`` itself.
    """
    out = []
    for i, part in enumerate(_NAME.split(latex)):
        if i % 2:
            out.append("|" + unlatex_text(part[len("|\\mathtt{") : -len("}|")]) + "|")
            continue
        if sep != "," and latex_sep(sep):
            part = re.sub(rf"(?<=\d){re.escape(latex_sep(sep))}(?=\d{{3}})", lambda _: sep, part)
        for pattern, repl in _LATEX_TEXT:
            part = pattern.sub(repl, part)
        out.append(part)
    return "".join(out)


def fmt(n: int, sep: str = ",") -> str:
    """A count with its digits grouped by ``sep`` (``paramcount_thousands_sep``)."""
    return f"{n:,}".replace(",", sep)


def counted(rows: list[Row]) -> list[Row]:
    return [r for r in rows if not r.detail]


def params_cell(row: Row, sep: str = ",") -> str:
    """A detail row's count in parentheses: shown, already counted above."""
    text = fmt(row.params, sep)
    return f"({text})" if row.detail else text


def name_cell(row: Row) -> str:
    return ("  " if row.detail else "") + (row.name or "(root)")


def type_cell(row: Row) -> str:
    return f"{row.repeat} × {row.label}" if row.repeat > 1 else row.label


def size_text(by_dtype: dict[str, int]) -> str:
    """``1.05 MB (float32)``; several dtypes are listed each with its share."""

    def human(n: float) -> str:
        for unit in ("bytes", "KB", "MB", "GB", "TB"):
            if n < 1000 or unit == "TB":
                return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.2f} {unit}"
            n /= 1000
        return ""

    total = sum(by_dtype.values())
    if len(by_dtype) == 1:
        return f"{human(total)} ({next(iter(by_dtype))})"
    return f"{human(total)} (" + ", ".join(f"{d}: {human(b)}" for d, b in sorted(by_dtype.items())) + ")"


def summary_lines(report: Report) -> list[str]:
    """Trainable, frozen, buffers and size: shown only where they say something."""
    lines = [f"Size: {size_text(report.bytes_by_dtype)}"] if report.bytes_by_dtype else []
    if report.frozen:
        lines.append(f"Trainable: {fmt(report.trainable)}   Frozen: {fmt(report.frozen)}")
    if report.buffers:
        lines.append(f"Buffers (not parameters): {fmt(report.buffer_total)}")
    lines += not_counted_lines(report)
    return lines


def not_counted_lines(report: Report, sep: str = ",") -> list[str]:
    """Registered tensors left out of the total, one line per reason, with their names."""
    by_reason: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for t in report.not_counted:
        by_reason.setdefault(t.reason, []).append(f"{t.name} ({fmt(t.numel, sep)})")
        sizes[t.reason] = sizes.get(t.reason, 0) + t.numel
    lines = []
    for reason, names in by_reason.items():
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        lines.append(f"Not counted: {fmt(sizes[reason], sep)} in {len(names)} tensor(s), {reason}: {shown}")
    return lines


def to_text(report: Report, rows: list[Row] | None = None) -> str:
    rows = report.rows if rows is None else rows
    header = ["Layer", "Type", "Formula", "Derivation", "Parameters"]
    body = [[name_cell(r), type_cell(r), plain(r.formula), plain(r.derivation), params_cell(r)] for r in rows]
    total = ["Total", "", "", " + ".join(fmt(r.params) for r in counted(rows)), fmt(report.total)]
    table = [header, *body, total]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i == len(cells) - 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [f"{report.target}: {fmt(report.total)} parameters", "", line(header), rule]
    out += [line(b) for b in body]
    out += [rule, line(total)]
    notes = [f"  {r.name or '(root)'}: {r.note}" for r in rows if r.note]
    extra = summary_lines(report)
    if extra or notes:
        out.append("")
    out += extra
    if notes:
        out += ["Notes:", *notes]
    return "\n".join(out) + "\n"


def to_markdown(report: Report, rows: list[Row] | None = None) -> str:
    rows = report.rows if rows is None else rows

    def cell(text: str) -> str:
        return text.replace("|", r"\|")

    out = [
        "| Layer | Type | Formula | Derivation | Parameters |",
        "|---|---|---|---|---:|",
    ]
    for r in rows:
        out.append(
            f"| {cell(name_cell(r))} | {cell(type_cell(r))} | ${cell(r.formula)}$ | "
            f"${cell(r.derivation)}$ | {params_cell(r)} |"
        )
    sums = " + ".join(fmt(r.params) for r in counted(rows))
    out.append(f"| **Total** | | | {sums} | **{fmt(report.total)}** |")
    extra = summary_lines(report)
    return "\n".join(out + ([""] + extra if extra else [])) + "\n"


def to_derivation(report: Report, rows: list[Row] | None = None) -> str:
    """The seed notebook's prose, written from the model."""
    rows = report.rows if rows is None else rows
    out = []
    for i, r in enumerate(rows, 1):
        out.append(f"{i}. {r.name or '(root)'}: {type_cell(r)}" + (" (one block of the row above)" if r.detail else ""))
        out.append(f"    - Number of parameters = {plain(r.formula)}")
        for symbol, words, value in r.legend:
            out.append(f"    - {words} ({plain(symbol)}): {fmt(value)}")
        out.append(f"    - Total parameters: {plain(r.derivation)} = {fmt(r.params)}")
        if r.note:
            out.append(f"    - Note: {r.note}")
    out.append("")
    out.append(f"Total parameters: {' + '.join(fmt(r.params) for r in counted(rows))} = {fmt(report.total)}")
    return "\n".join(out) + "\n"


def to_json(report: Report, rows: list[Row] | None = None) -> str:
    return json.dumps(report.to_json(rows), indent=2) + "\n"
