"""A report's table as HTML and LaTeX for notebooks: ``Report._repr_html_`` and ``_repr_latex_``.

Both are written from the same ``tablespec.TableSpec`` as the docs' table
(``sphinxext/table.py``), so a notebook shows the columns, order and cells a
built page shows.  The HTML carries its own stylesheet, scoped to the output,
and colours that follow JupyterLab's theme (light or dark); its math is
``<span class="math notranslate nohighlight">\\(...\\)</span>``, as Sphinx
writes it, which the MathJax of JupyterLab, Notebook, and of Sphinx pages
built by MyST-NB or nbsphinx typesets.  The LaTeX is a ``longtable`` that
nbconvert's PDF template (and Sphinx's LaTeX, for nbsphinx) can compile.
"""

from __future__ import annotations

import html

from .formulas.expr import latex_int
from .render import summary_lines, whole_words
from .report import Report, Row
from .tablespec import HEAD_CLASSES, RowSpec, TableSpec, columns, name_pieces, table_spec

# Scoped to the output's own box, so it styles no other table of the page or
# notebook.  Colours are JupyterLab's theme variables with fallbacks that
# read in light and dark themes alike (mid greys, translucent rules).
STYLE = """
.paramcount-nb { overflow-x: auto; max-width: 100%; }
.paramcount-nb table.paramcount-table { border-collapse: collapse; margin: 0.25em 0; }
.paramcount-nb table.paramcount-table th,
.paramcount-nb table.paramcount-table td {
  text-align: left; vertical-align: top; padding: 0.3em 0.7em;
  border: none; border-bottom: 1px solid var(--jp-border-color2, rgba(127, 127, 127, 0.35));
}
.paramcount-nb table.paramcount-table th { font-weight: bold; }
.paramcount-nb table.paramcount-table .paramcount-count,
.paramcount-nb table.paramcount-table .paramcount-share {
  text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums;
}
.paramcount-nb tr.paramcount-detail td,
.paramcount-nb tr.paramcount-frozen td,
.paramcount-nb tr.paramcount-partly-frozen td { color: var(--jp-ui-font-color2, inherit); opacity: 0.8; }
.paramcount-nb tr.paramcount-detail td:first-child { padding-left: 1.7em; }
.paramcount-nb tr.paramcount-total td {
  border-top: 2px solid var(--jp-border-color1, rgba(127, 127, 127, 0.7));
}
.paramcount-nb code.paramcount-name { white-space: normal; background: none; }
.paramcount-nb .paramcount-bar {
  display: inline-block; width: 3.5em; height: 0.55em; margin-right: 0.4em;
  vertical-align: middle; border-radius: 2px;
  background: linear-gradient(to right,
    var(--jp-brand-color1, #2962ff) var(--paramcount-share, 0%),
    var(--jp-border-color2, rgba(127, 127, 127, 0.35)) var(--paramcount-share, 0%));
}
.paramcount-nb .paramcount-note { font-size: 0.85em; }
.paramcount-nb .paramcount-state { font-size: 0.8em; font-style: italic; white-space: nowrap; }
.paramcount-nb p.paramcount-summary { margin: 0.4em 0 0; }
"""


# Marks that ``sphinxext/notebook_outputs.py`` looks for in a page's HTML.
OUTPUT_CLASS = "paramcount-nb"
MATH_CLASS = "math notranslate nohighlight"
# The first line of our LaTeX output: how a docs build tells it from a cell's LaTeX math.
LATEX_START = r"{\small\setlength{\tabcolsep}{3pt}"


def to_html(report: Report, rows: list[Row], sep: str = ",") -> str:
    """The docs' table as one HTML fragment, with its scoped stylesheet and the summary below it."""
    spec = table_spec(report, rows, sep)
    head = "".join(
        f"<th{_classes(['head', *HEAD_CLASSES.get(name, [])])}>{html.escape(name)}</th>" for name, _ in columns(spec)
    )
    body = "\n".join(_html_row(r, spec) for r in spec.rows)
    summary = " ".join(f"{line}." if not line.endswith(".") else line for line in summary_lines(report, formula=False))
    whole = ""
    if report.symbolic is not None:
        latex = f"N = {report.symbolic.whole.latex} = {latex_int(report.total, sep)}"
        whole = f'<p class="paramcount-formula">{html.escape(whole_words(report))}<span class="{MATH_CLASS}">\\({html.escape(latex)}\\)</span></p>\n'
    return (
        f'<div class="paramcount {OUTPUT_CLASS}">\n'
        f"<style>{STYLE}</style>\n"
        '<table class="docutils align-default paramcount-table">\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
        + whole
        + (f'<p class="paramcount-summary">{html.escape(summary)}</p>\n' if summary else "")
        + "</div>\n"
    )


def _html_row(r: RowSpec, spec: TableSpec) -> str:
    share = (
        f'<span class="paramcount-bar" style="--paramcount-share: {r.share}%" aria-hidden="true"></span>'
        f"<span>{html.escape(r.share_text)}</span>"
    )
    shape = [f"<code>{html.escape(r.output_shape)}</code>" if r.output_shape else ""] if spec.shapes else []
    if r.kind == "total":
        cells = [
            (f"<strong>{html.escape(r.name)}</strong>", []),
            (f"<strong>{html.escape(r.params)}</strong>", ["paramcount-count"]),
            (share, ["paramcount-share"]),
            ("", []),
            *((c, []) for c in shape),
            ("", []),
            (_math(r.derivation), []),
        ]
        classes = ["paramcount-total"]
    else:
        name = '<code class="docutils literal notranslate paramcount-name">'
        name += "<wbr>".join(html.escape(p) for p in name_pieces(r.name)) + "</code>"
        if r.state:
            name += f' <span class="paramcount-state">{html.escape(r.state)}</span>'
        label = html.escape(r.type)
        if r.note:
            label += f' <em class="paramcount-note">({html.escape(r.note)})</em>'
        cells = [
            (name, []),
            (html.escape(r.params), ["paramcount-count"]),
            (share, ["paramcount-share"]),
            (label, ["paramcount-type"]),
            *((c, []) for c in shape),
            *([(_tied_html(r.tied), [])] * 2 if r.tied else [(_math(r.formula), []), (_math(r.derivation), [])]),
        ]
        classes = ["paramcount-detail"] if r.kind == "detail" else []
        if r.state:
            classes.append("paramcount-" + r.state.replace(" ", "-"))
    return f"<tr{_classes(classes)}>" + "".join(f"<td{_classes(c)}>{text}</td>" for text, c in cells) + "</tr>"


def _math(latex: str) -> str:
    """Inline math as Sphinx's HTML writer marks it: the class Sphinx's MathJax setup processes."""
    return f'<span class="{MATH_CLASS}">\\({html.escape(latex, quote=False)}\\)</span>' if latex else ""


def _tied_html(names: tuple[str, ...]) -> str:
    return "tied to " + ", ".join(f"<code>{html.escape(n)}</code>" for n in names)


def _classes(classes: list[str]) -> str:
    return f' class="{" ".join(classes)}"' if classes else ""


# -- LaTeX -----------------------------------------------------------------------------

_TEX_CHARS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "×": r"$\times$",
    "\u202f": r"\,",
}


def tex_text(text: str) -> str:
    """``text`` as LaTeX text (not math): its special characters escaped."""
    return "".join(_TEX_CHARS.get(c, c) for c in text)


def to_latex(report: Report, rows: list[Row], sep: str = ",") -> str:
    r"""The docs' table as a ``longtable`` (the packages nbconvert's template loads: longtable, array, amsmath).

    Names, types and the wrapping columns are ragged-right paragraph columns
    as wide as the docs' LaTeX table makes them; formulas are inline math.
    The summary follows as a paragraph.
    """
    spec = table_spec(report, rows, sep)
    heads = columns(spec)
    # The counts take their natural width, unbroken; the other columns share
    # what is left of the line (after the column gaps) as the docs' widths do.
    wrapping = sum(w for name, w in heads if name not in HEAD_CLASSES)
    colspec = "".join(
        "r"
        if name in HEAD_CLASSES
        else rf">{{\raggedright\arraybackslash\hspace{{0pt}}}}p{{{0.62 * w / wrapping:.3f}\linewidth}}"
        for name, w in heads
    )
    head = " & ".join(rf"\textbf{{{name}}}" for name, _ in heads) + r" \\"
    # Smaller type and column gaps (in a group, so only here): seven columns must fit a page.
    lines = [
        LATEX_START,
        rf"\begin{{longtable}}{{{colspec}}}",
        r"\hline",
        head,
        r"\hline",
        r"\endhead",
    ]
    lines += [_latex_row(r, spec) for r in spec.rows if r.kind != "total"]
    lines += [r"\hline", *(_latex_row(r, spec) for r in spec.rows if r.kind == "total"), r"\hline"]
    lines.append(r"\end{longtable}}")
    if report.symbolic is not None:
        lines.append(
            rf"\noindent {tex_text(whole_words(report))}$N = {report.symbolic.whole.latex} = {latex_int(report.total)}$\par"
        )
    summary = summary_lines(report, formula=False)
    if summary:
        lines.append(r"\noindent " + tex_text(" ".join(f"{x}." if not x.endswith(".") else x for x in summary)))
    return "\n".join(lines) + "\n"


def _latex_row(r: RowSpec, spec: TableSpec) -> str:
    share = tex_text(r.share_text)
    shape = [tex_text(r.output_shape)] if spec.shapes else []
    if r.kind == "total":
        cells = [r"\textbf{Total}", rf"\textbf{{{tex_text(r.params)}}}", share, "", *shape, "", _tex_math(r.derivation)]
    else:
        name = r"\texttt{" + r".\allowbreak{}".join(_tex_name(p) for p in r.name.split(".")) + "}"
        if r.kind == "detail":
            name = r"\quad " + name
        if r.state:
            name += rf" \emph{{{tex_text(r.state)}}}"
        # A type may break after its class name, before it is hyphenated.
        label = tex_text(r.type).replace("(", r"(\allowbreak{}", 1)
        label += rf" \emph{{({tex_text(r.note)})}}" if r.note else ""
        if r.tied:
            tied = "tied to " + ", ".join(r"\texttt{" + tex_text(n) + "}" for n in r.tied)
            formulas = [tied, tied]
        else:
            formulas = [_tex_math(r.formula), _tex_math(r.derivation)]
        cells = [name, tex_text(r.params), share, label, *shape, *formulas]
    return " & ".join(cells) + r" \\"


def _tex_name(part: str) -> str:
    # A typewriter font never hyphenates: a long snake_case name (Hugging
    # Face's ``token_type_embeddings``) may break after its underscores instead.
    return r"\_\allowbreak{}".join(tex_text(w) for w in part.split("_"))


def _tex_math(latex: str) -> str:
    return f"${latex}$" if latex else ""
