"""Reports as terminal text, Markdown and JSON (the command line's outputs).

LaTeX is turned into readable plain text here too (``C_{out} \\cdot k`` ->
``C_out·k``), which the Sphinx text builder reuses.
"""

from __future__ import annotations

import json
import re
import textwrap

from .count import compact_sum, latex_int
from .formulas.expr import latex_sep, unlatex_text
from .report import Report, Row, TableRow, counted, percent

_LATEX_TEXT = [
    (re.compile(r"\\sum_\{i=1\}\^\{(\d+)\} n_i"), r"Σ of \1 rows"),
    (re.compile(r"\\mathrm\{([^{}]*)\}"), r"\1"),
    (re.compile(r"_\{([^{}]*)\}"), r"_\1"),
    # After subscripts: \frac{C_{in}}{g} has braces inside until then.
    (re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}"), r"\1/\2"),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\cdot"), "·"),
    # sympy's LaTeX (``symbols``): thin spaces between factors, sized parentheses.
    (re.compile(r"\\,"), "·"),
    (re.compile(r"\\left\("), "("),
    (re.compile(r"\\right\)"), ")"),
    (re.compile(r"\^\{(\d+)\}"), r"^\1"),
    (re.compile(r"\\times"), "×"),
    (re.compile(r"\\_"), "_"),
    (re.compile(r" ?· ?"), "·"),
]

# A tensor's name (``TensorSize``), escaped by ``latex_text``: its characters
# are restored as written and kept from the rules above (``x_{k}`` stays).
_NAME = re.compile(r"(\|?\\mathtt\{(?:\\[a-zA-Z]+\{[^{}]*\}|\\[^a-zA-Z]|[^{}\\])*\}\|?)")
# Words in a formula (``\text{tied to }``): shown as written.
_WORDS = re.compile(r"\\text\{([^{}]*)\}")


def plain(latex: str, sep: str = ",") -> str:
    """A formula or derivation in plain text, for terminals and the text builder.

    ``sep`` is the ``paramcount_thousands_sep`` the LaTeX was grouped with
    (``regroup``): its digit groups are shown with ``sep`` itself.
    """
    out = []
    for i, part in enumerate(_NAME.split(latex)):
        if i % 2:
            bars = "|" if part.startswith("|") else ""
            out.append(bars + unlatex_text(part[len(bars + "\\mathtt{") : -len("}" + bars)]) + bars)
            continue
        if sep != "," and latex_sep(sep):
            part = re.sub(rf"(?<=\d){re.escape(latex_sep(sep))}(?=\d{{3}})", lambda _: sep, part)
        for pattern, repl in _LATEX_TEXT:
            part = pattern.sub(repl, part)
        out.append(_WORDS.sub(lambda m: m.group(1), part))
    return "".join(out)


def fmt(n: int, sep: str = ",") -> str:
    """A count with its digits grouped by ``sep`` (``paramcount_thousands_sep``)."""
    return f"{n:,}".replace(",", sep)


def plural(n: int, word: str, sep: str = ",") -> str:
    """``1 parameter``, ``2 rows``: a count and its noun, in the count's grouping."""
    return f"{fmt(n, sep)} {word}{'' if n == 1 else 's'}"


#: The most terms a Total derivation shows before its rows are summed by part.
TOTAL_TERMS = 8


def total_derivation(rows: list[Row]) -> str:
    r"""The Total row's derivation, short: the whole sum is the derivation format's.

    The counted rows, where they are few (``448 + 131{,}104 + 66``), a run of
    equal neighbours grouped (``2 \times 70{,}400``); otherwise
    the model's top-level parts, each summed (ResNet-50's ``9{,}408 + 128 +
    215{,}808 + ...``, seven terms for 161 rows), grouped the same way. It
    evaluates to the total either way.
    """
    counted_rows = [r for r in counted(rows) if r.params]
    if not counted_rows:
        return "0"
    runs = _runs([r.params for r in counted_rows])
    if len(runs) > TOTAL_TERMS:
        parts = _parts(counted_rows, 1)
        if len(parts) == 1:  # one wrapper holds everything (``model.``, ``backbone.``): a level down
            parts = _parts(counted_rows, 2)
        runs = _runs(parts)
    if len(runs) > TOTAL_TERMS:  # a flat model of many different layers: all equal terms grouped
        return compact_sum([r.params for r in counted_rows])
    # Only neighbours are grouped: equal layers apart (an embedding and its
    # untied head) are not a repeated block.
    return " + ".join(f"{k} \\times {latex_int(v)}" if k > 1 else latex_int(v) for k, v in runs)


def _parts(rows: list[Row], level: int) -> list[int]:
    """The rows' counts summed by the first ``level`` parts of their names, in order."""
    sums: dict[str, int] = {}
    for r in rows:
        key = ".".join(r.name.split(".")[:level])
        sums[key] = sums.get(key, 0) + r.params
    return list(sums.values())


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """``[5, 7, 7, 5]`` -> ``[(1, 5), (2, 7), (1, 5)]``: consecutive equal values counted."""
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and runs[-1][1] == v:
            runs[-1] = (runs[-1][0] + 1, v)
        else:
            runs.append((1, v))
    return runs


def mixed(report: Report) -> bool:
    """Whether the model has both trainable and frozen parameters (then rows are marked)."""
    return 0 < report.trainable < report.total


def state(row: Row, report: Report) -> str:
    """``frozen`` or ``partly frozen`` where a model has both kinds; otherwise nothing to say."""
    if not mixed(report) or row.params == 0 or row.trainable == row.params:
        return ""
    return "frozen" if row.trainable == 0 else "partly frozen"


def trainable_line(report: Report, sep: str = ",") -> str:
    """The figures PEFT's ``print_trainable_parameters`` prints, in the same words."""
    share = percent(100 * report.trainable / report.total, decimals=4) if report.total else "0%"
    return (
        f"trainable params: {fmt(report.trainable, sep)} || all params: {fmt(report.total, sep)}"
        f" || trainable%: {share.rstrip('%')}"
    )


FROZEN_LEGEND = "Rows marked frozen hold parameters with requires_grad=False; partly frozen rows hold both kinds."


def root_line(report: Report, sep: str = ",") -> str:
    """What the total refers to when the table starts at a sub-module (``:root:``)."""
    if not report.root:
        return ""
    return f"The total counts {report.root} ({report.type_name}), not the whole model."


def params_cell(row: Row, sep: str = ",") -> str:
    """A detail row's count in parentheses: shown, already counted above."""
    text = fmt(row.params, sep)
    return f"({text})" if row.detail else text


def name_cell(row: TableRow, report: Report | None = None) -> str:
    mark = state(row, report) if isinstance(row, Row) and report is not None else ""
    return ("  " if row.detail else "") + (row.name or "(root)") + (f" ({mark})" if mark else "")


def type_cell(row: TableRow) -> str:
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


def whole_words(report: Report) -> str:
    """What the formula line's ``N`` counts: ``The whole model: ``, or the sub-module under ``:root:``."""
    return f"The sub-module {report.root}: " if report.root else "The whole model: "


def summary_lines(report: Report, formula: bool = True) -> list[str]:
    """Trainable, frozen, buffers and size: shown only where they say something.

    With ``formula`` (and symbols), the whole model's formula first, as plain
    text; an output that typesets it as math passes ``False`` and writes it itself.
    """
    lines = [root_line(report)] if report.root else []
    if report.symbolic is not None:
        whole = f"{whole_words(report)}N = {plain(report.symbolic.whole.latex)} = {fmt(report.total)}"
        lines += [whole] if formula else []
        lines += [f"Note: {n}" for n in report.symbolic.notes]
    lines += [f"Size: {size_text(report.bytes_by_dtype)}"] if report.bytes_by_dtype else []
    if report.frozen:
        lines.append(trainable_line(report))
        if mixed(report):
            lines.append(FROZEN_LEGEND)
    lines += report.explained
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
        lines.append(f"Not counted: {fmt(sizes[reason], sep)} in {plural(len(names), 'tensor')}, {reason}: {shown}")
    return lines


#: The width of the text table when it is not written to a terminal.
TEXT_WIDTH = 120
# The columns in the HTML and LaTeX tables' order: the count (right-aligned) beside
# the name, then the columns that wrap when the table is too wide (Type,
# Formula, Derivation), and their narrowest.
# An output-shape column (--input-shape) comes after Type, as in HTML; it does not wrap.
_COUNT, _WRAPPING, _NARROWEST = 1, (2, 3, 4), 12


def _with_shape(cells: list[str], shape: str | None) -> list[str]:
    """``cells`` (Layer, Parameters, Type, Formula, Derivation) with the output shape after Type."""
    return cells if shape is None else [*cells[:3], shape, *cells[3:]]


def to_text(report: Report, rows: list[Row] | None = None, width: int = TEXT_WIDTH) -> str:
    """The table for a terminal, no line wider than ``width``: long cells wrap in their column."""
    rows = report.rows if rows is None else rows
    shapes = any(r.output_shape for r in rows)

    def shape(text: str) -> str | None:
        return text if shapes else None

    header = _with_shape(["Layer", "Parameters", "Type", "Formula", "Derivation"], shape("Output shape"))
    body = [
        _with_shape(
            [name_cell(r, report), params_cell(r), type_cell(r), plain(r.formula), plain(r.derivation)],
            shape(r.output_shape),
        )
        for r in rows
    ]
    total = _with_shape(["Total", fmt(report.total), "", "", plain(total_derivation(rows))], shape(""))
    wrapping = (2, 4, 5) if shapes else _WRAPPING
    # With --root the count is the sub-module's: the heading must not credit it to the model.
    out = [f"{report.subject}: {plural(report.total, 'parameter')}", ""]
    out += text_table(header, body, total, width, wrapping, right={_COUNT})
    notes = [f"  {r.name or '(root)'}: {r.note}" for r in rows if r.note]
    extra = summary_lines(report)
    if extra or notes:
        out.append("")
    out += [w for line in extra for w in textwrap.wrap(line, width, subsequent_indent="  ") or [""]]
    if notes:
        out += ["Notes:", *(w for n in notes for w in textwrap.wrap(n, width, subsequent_indent="    "))]
    return "\n".join(out) + "\n"


# A formula wraps after a product's dot (``B·C_out·C_in``) as prose wraps at spaces.
_BREAKS = re.compile(r"\s+|(?<=·)")


class _Wrapper(textwrap.TextWrapper):
    wordsep_simple_re = re.compile(r"(\s+|(?<=·))")


def text_table(
    header: list[str], body: list[list[str]], total: list[str], width: int, wrapping: tuple[int, ...], right: set[int]
) -> list[str]:
    """A header, rows and a total row in columns, no line wider than ``width``.

    The ``wrapping`` columns wrap inside themselves when the table is too
    wide; the ``right`` columns (counts) are right-aligned.
    """
    table = [header, *body, total]
    natural = [max(len(line[i]) for line in table) for i in range(len(header))]
    # A column narrower than its longest word (plus a continuation line's indent) would
    # let that word run into the next column: shrink to it first, break words only if
    # the table cannot fit otherwise.
    whole = [
        min(natural[i], 2 + max(len(w) for line in table for w in _BREAKS.split(line[i]) or [""]))
        for i in range(len(header))
    ]
    widths = _fit(natural, width, wrapping, whole)

    def lines(cells: list[str]) -> list[str]:
        wrapped = [
            _Wrapper(w, subsequent_indent="  ", break_long_words=w < f, break_on_hyphens=False).wrap(c) or [""]
            for c, w, f in zip(cells, widths, whole)
        ]
        out = []
        for k in range(max(len(w) for w in wrapped)):
            parts = [(w[k] if k < len(w) else "") for w in wrapped]
            parts = [p.rjust(wd) if i in right else p.ljust(wd) for i, (p, wd) in enumerate(zip(parts, widths))]
            out.append("  ".join(parts).rstrip())
        return out

    rule = "  ".join("-" * w for w in widths)
    out = [*lines(header), rule]
    for cells in body:
        out += lines(cells)
    return [*out, rule, *lines(total)]


def _fit(
    widths: list[int], width: int, wrapping: tuple[int, ...] = _WRAPPING, floors: list[int] | None = None
) -> list[int]:
    """Column widths whose line fits in ``width``: the widest wrapping column gives way first.

    Each gives way down to its floor (its longest word) first, then, if the line is
    still too wide, down to ``_NARROWEST``.
    """
    widths = list(widths)
    for floor in ([max(f, _NARROWEST) for f in floors] if floors else None, None):
        while sum(widths) + 2 * (len(widths) - 1) > width:
            open_ = [k for k in wrapping if widths[k] > (floor[k] if floor else _NARROWEST)]
            if not open_:
                break
            widths[max(open_, key=lambda k: widths[k])] -= 1
    return widths


def to_total(report: Report, rows: list[Row] | None = None) -> str:
    """``--format total``: just the number, as ``:format: total`` shows it."""
    return fmt(report.total) + "\n"


def to_markdown(report: Report, rows: list[Row] | None = None) -> str:
    rows = report.rows if rows is None else rows

    def cell(text: str) -> str:
        return text.replace("|", r"\|")

    shapes = any(r.output_shape for r in rows)

    def line(cells: list[str], shape: str) -> str:
        return "|" + "|".join(f" {c} " if c else " " for c in _with_shape(cells, shape if shapes else None)) + "|"

    out = [line(["Layer", "Parameters", "Type", "Formula", "Derivation"], "Output shape")]
    out.append(line(["---", "---:", "---", "---", "---"], "---").replace(" ", ""))
    for r in rows:
        cells = [cell(name_cell(r, report)), params_cell(r), cell(type_cell(r)), f"${cell(r.formula)}$"]
        out.append(line([*cells, f"${cell(r.derivation)}$"], r.output_shape))
    out.append(line(["**Total**", f"**{fmt(report.total)}**", "", "", f"${cell(total_derivation(rows))}$"], ""))
    extra = summary_lines(report)
    return "\n".join(out + ([""] + extra if extra else [])) + "\n"


def to_derivation(report: Report, rows: list[Row] | None = None) -> str:
    """The seed notebook's prose, written from the model."""
    rows = report.rows if rows is None else rows
    out = []
    for i, r in enumerate(rows, 1):
        out.append(
            f"{i}. {name_cell(r, report).strip()}: {type_cell(r)}"
            + (" (one block of the row above)" if r.detail else "")
        )
        out += derivation_steps(
            r.formula, r.legend, r.derivation, r.params, r.note, "Number of parameters", "Total parameters"
        )
    out.append("")
    out.append(f"Total parameters: {' + '.join(fmt(r.params) for r in counted(rows))} = {fmt(report.total)}")
    return "\n".join(out) + "\n"


def derivation_steps(
    formula: str,
    legend: tuple[tuple[str, str, int], ...],
    derivation: str,
    count: int,
    note: str,
    formula_words: str,
    count_words: str,
) -> list[str]:
    """One row of the seed's prose: its formula, each factor named with its value, the substitution."""
    out = [f"    - {formula_words} = {plain(formula)}"] if formula else []
    out += [f"    - {words} ({plain(symbol)}): {fmt(value)}" for symbol, words, value in legend]
    out.append(f"    - {count_words}: {plain(derivation)} = {fmt(count)}")
    return out + ([f"    - Note: {note}"] if note else [])


def to_json(report: Report, rows: list[Row] | None = None) -> str:
    return json.dumps(report.to_json(rows), indent=2) + "\n"
