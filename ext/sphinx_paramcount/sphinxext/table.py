"""The derivation table: kept compact in the doctree, expanded when written.

A docutils table of a 60-row model is about 1,000 nodes, and every Sphinx
transform, the search indexer and the writer walk all of them.  With 200 tables
in a site that walking costs several times the counting.  So the directive puts
a real ``nodes.table`` (its ids, classes and caption, so ``:name:``,
``:numref:`` and numfig work as for any table) holding one ``table_rows``
node: plain, picklable cell data in place of the tgroup.

The rows become ordinary docutils nodes only where they are written:

- HTML builders (``visit_table_rows_html``) expand them and let the page's own
  translator write them, so the markup is exactly what Sphinx writes for any
  table, math renderer included.  The HTML is kept per builder: a table shown
  on twenty pages is written once.
- Every other builder (LaTeX, text, man, ...) gets them expanded in place by the
  ``ExpandTables`` post-transform, before its other post-transforms run.
- Builders that cannot write a table inside a table's cell (text, man,
  texinfo, LaTeX) get a table that sits in another table's cell as a list
  of its rows instead (``ListNestedTables``).

The table body is therefore not in the HTML search index: it holds numbers and
LaTeX, not words a reader searches for.  The caption is indexed.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

from ..tablespec import HEAD_CLASSES, RowSpec, TableSpec, columns, name_pieces


class table_rows(nodes.General, nodes.Element):  # noqa: N801 (docutils node classes are lower case)
    """Stands for a table's tgroup until it is written; ``spec`` holds the cells."""


def table(spec: TableSpec, caption: str = "") -> nodes.table:
    """A table node of either kind (``tablespec.table_spec``, ``tablespec.compute_table_spec``)."""
    tbl = nodes.table(classes=["paramcount-table"])
    if caption:
        tbl += nodes.title(caption, caption)
    tbl += table_rows(spec=spec)
    return tbl


# -- expansion into docutils nodes -----------------------------------------------------


def math(latex: str) -> nodes.math:
    return nodes.math(latex, latex, classes=["paramcount-math"])


def expand(spec: TableSpec) -> nodes.tgroup:
    heads = columns(spec)
    group = nodes.tgroup(cols=len(heads))
    for _, width in heads:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    head += nodes.row("", *(_entry(nodes.Text(c), classes=HEAD_CLASSES.get(c)) for c, _ in heads))
    group += head
    body = nodes.tbody()
    body.extend(_row(r, spec.shapes) for r in spec.rows)
    group += body
    return group


def _row(r: RowSpec, shapes: bool) -> nodes.row:
    share = _entry(share_bar("", r.share_text, share=r.share), classes=["paramcount-share"])
    if r.kind == "total":
        return nodes.row(
            "",
            _entry(nodes.strong(r.name, r.name)),
            _entry(nodes.strong(r.params, r.params), classes=["paramcount-count"]),
            share,
            _entry(),
            *([_entry()] if shapes else []),
            _entry(),
            _entry(math(r.derivation)),
            classes=["paramcount-total"],
        )
    label: list[nodes.Node] = [_type_text(r)]
    if r.note:
        label += [nodes.Text(" "), nodes.emphasis("", f"({r.note})", classes=["paramcount-note"])]
    name: list[nodes.Node] = [layer_name(r.name, r.name)]
    if r.state:
        name += [nodes.Text(" "), nodes.inline("", r.state, classes=["paramcount-state"])]
    cells = [
        _entry(*name),
        _entry(nodes.Text(r.params), classes=["paramcount-count"]),
        share,
        _entry(*label, classes=["paramcount-type"]),
        *(
            [
                _entry(
                    nodes.literal(r.output_shape, r.output_shape) if r.output_shape else nodes.Text(""),
                    classes=["paramcount-shape"],
                )
            ]
            if shapes
            else []
        ),
        # No formula: a compute row whose MACs were measured (its note says why).
        _entry(*(tied_to(r.tied) if r.tied else [math(r.formula)] if r.formula else [_measured()])),
        _entry(*(tied_to(r.tied) if r.tied else [math(r.derivation)])),
    ]
    classes = ["paramcount-detail"] if r.kind == "detail" else []
    if r.state:
        classes.append("paramcount-" + r.state.replace(" ", "-"))
    return nodes.row("", *cells, classes=classes)


def _type_text(r: RowSpec) -> nodes.Node:
    """The Type cell's text; a link to the layer class's documentation where one was found."""
    if not r.type_uri:
        return nodes.Text(r.type)
    return nodes.reference(
        r.type,
        r.type,
        refuri=r.type_uri,
        reftitle=r.type_path.replace(":", "."),
        internal="://" not in r.type_uri,
        classes=["paramcount-type-link"],
    )


def tied_to(names: tuple[str, ...]) -> list[nodes.Node]:
    """``tied to`` and the tensors' names, as text: what a row that adds nothing uses."""
    out: list[nodes.Node] = [nodes.Text("tied to ")]
    for i, name in enumerate(names):
        out += [*([nodes.Text(", ")] if i else []), nodes.literal(name, name)]
    return out


def _entry(*children: nodes.Node, classes: list[str] | None = None) -> nodes.entry:
    para = nodes.paragraph()
    para.extend(children)
    return nodes.entry("", para, classes=classes or [])


def _measured() -> nodes.Node:
    """The formula cell of a row whose MACs were measured, not derived (the summary says why)."""
    return nodes.emphasis("measured", "measured", classes=["paramcount-note"])


class layer_name(nodes.literal):  # noqa: N801 (docutils node classes are lower case)
    """A layer's dotted name; HTML may break it after a dot.  Other builders see a literal."""


def visit_layer_name_html(self: Any, node: layer_name) -> None:
    # <wbr> between pieces: a long name (``model.layers.0.post_attention_layernorm``)
    # wraps after a dot rather than widen the column or break inside a word, and a
    # name copied from the page is still the name.
    self.body.append(self.starttag(node, "code", "", CLASS="docutils literal notranslate paramcount-name"))
    self.body.append("<wbr>".join(self.encode(p) for p in name_pieces(node.astext())))
    self.body.append("</code>")
    raise nodes.SkipNode


class share_bar(nodes.inline):  # noqa: N801 (docutils node classes are lower case)
    """A percentage; HTML draws it as a bar.  Other builders see a plain inline."""


def visit_share_bar_html(self: Any, node: share_bar) -> None:
    self.body.append(
        f'<span class="paramcount-bar" style="--paramcount-share: {node["share"]}%" aria-hidden="true"></span>'
    )
    self.visit_inline(node)


def depart_share_bar_html(self: Any, node: share_bar) -> None:
    self.depart_inline(node)


# -- writing -------------------------------------------------------------------------


def visit_table_rows_html(self: Any, node: table_rows) -> None:
    """Write the rows with the page's own HTML translator, once per distinct table."""
    table = node.parent
    # The image path is relative to the page (imgmath writes <img> tags), so
    # pages at different depths do not share their HTML.
    key = (node["spec"], tuple(table["classes"]), getattr(self.builder, "imgpath", ""))
    cache: dict[Any, tuple[str, bool]] = self.builder.__dict__.setdefault("_paramcount_table_html", {})
    if key not in cache:
        group = expand(node["spec"])
        # Attached by its parent link only: the translator looks up at the table
        # (for its column-width classes), and the doctree itself stays compact.
        group.parent = table
        start = len(self.body)
        group.walkabout(self)
        cache[key] = ("".join(self.body[start:]), any(True for _ in group.findall(nodes.math)))
        del self.body[start:]
    html, has_math = cache[key]
    self.body.append(html)
    if has_math:
        # Sphinx 8+ loads MathJax on pages whose translator saw math; on a cache
        # hit it saw none, so say so as visit_math would have.
        self._has_maths_elements = True
    raise nodes.SkipNode


def builder_format(transform: SphinxTransform) -> str:
    """The format of the builder a post-transform runs for."""
    # Sphinx 9 names the builder class on the env; older versions only on the app.
    return str((getattr(transform.env, "_builder_cls", None) or transform.app.builder).format)


class ExpandTables(SphinxPostTransform):
    """Non-HTML builders write the rows as ordinary table nodes."""

    default_priority = 1  # before PlainMath and the builders' own post-transforms
    # Builders whose translator writes the rows itself (``visit_table_rows_html``).
    compact_formats: tuple[str, ...] = ("html",)

    def is_supported(self) -> bool:
        return super().is_supported() and builder_format(self) not in self.compact_formats

    def run(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(table_rows)):
            group = expand(node["spec"])
            group.source, group.line = node.source, node.line
            node.replace_self(group)


class LongTables(SphinxPostTransform):
    """LaTeX: our column widths, in a longtable.

    Our widths, not tabulary's: it squeezes the formula and count columns
    until "Parameters" breaks into syllables.  And a longtable, which may
    break across pages: a tabular that does not fit moves whole to the next
    page and leaves a gap.  (A table in another table's cell is a list by
    now, see ``ListNestedTables``: a longtable cannot be nested.)
    """

    default_priority = 0  # before ExpandTables replaces the table_rows it looks for
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        for node in self.document.findall(table_rows):
            if isinstance(node.parent, nodes.table):
                node.parent["classes"] += ["colwidths-given", "longtable"]


class ListNestedTables(SphinxPostTransform):
    """A table inside another table's cell, as a list, where tables cannot nest.

    The text writer raises ``NotImplementedError``, LaTeX cannot put a
    longtable in a tabular (nor a six-column table in a narrow cell), man's
    tbl and Texinfo's multitable have no nesting either.  The list keeps
    every row's formula, derivation and count, and the caption.
    """

    default_priority = 0  # before ExpandTables and LongTables
    formats = ("text", "man", "texinfo", "latex")

    def run(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(table_rows)):
            table = node.parent
            if isinstance(table, nodes.table) and _inside_table(table):
                table.replace_self(rows_as_list(node["spec"], table))


def _inside_table(node: nodes.Element) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.table):
            return True
        parent = parent.parent
    return False


def rows_as_list(spec: TableSpec, table: nodes.table) -> nodes.container:
    """The table as a caption and a bullet list, one item per row."""
    box = nodes.container(classes=["paramcount-table-list"])
    box.source, box.line = table.source, table.line
    if table["ids"]:
        # A target, which every writer anchors (LaTeX ignores a container's ids).
        box += nodes.target("", "", ids=list(table["ids"]))
    title = table.next_node(nodes.title)
    if title is not None:
        # The caption as read, translated if the page is.
        box += nodes.paragraph("", "", nodes.strong("", "", *(c.deepcopy() for c in title.children)))
    items = nodes.bullet_list(bullet="-")
    for r in spec.rows:
        para = nodes.paragraph()
        if r.kind == "total":
            para += [nodes.strong(r.name, r.name), nodes.Text(": ")]
        else:
            para += [nodes.literal(r.name, r.name), nodes.Text(f" ({r.type}{', ' + r.state if r.state else ''}): ")]
            para += [math(r.formula), nodes.Text(" = ")] if r.formula else []
        para += [math(r.derivation), nodes.Text(" = ")]
        para += nodes.strong(r.params, r.params) if r.kind == "total" else nodes.Text(r.params)
        if r.output_shape:
            para += [nodes.Text(", output "), nodes.literal(r.output_shape, r.output_shape)]
        if r.note:
            para += [nodes.Text(" "), nodes.emphasis("", f"({r.note})", classes=["paramcount-note"])]
        items += nodes.list_item("", para)
    box += items
    return box


class CaptionSource(SphinxTransform):
    """Gives a table's caption the directive's source and line.

    Sphinx extracts (gettext) and translates (``locale_dirs``) only text
    that knows where it was written.
    """

    default_priority = 10  # before Sphinx's Locale transform (20)

    def apply(self, **kwargs: Any) -> None:
        for node in self.document.findall(table_rows):
            title = node.parent.next_node(nodes.title) if isinstance(node.parent, nodes.table) else None
            if title is None or title.source:
                continue
            origin = node.parent
            while origin is not None and not origin.source:
                origin = origin.parent
            if origin is not None:
                title.source, title.line = origin.source, origin.line


def note_math(app: Any, doctree: nodes.document) -> None:
    """Sphinx < 8 decides at read time whether a page loads MathJax, from its math nodes."""
    domain = app.env.domains.get("math")
    has_equations = domain.data.get("has_equations") if domain is not None else None
    if isinstance(has_equations, dict) and any(True for _ in doctree.findall(table_rows)):
        has_equations[app.env.docname] = True


def setup_table(app: Any) -> None:
    app.add_transform(CaptionSource)
    app.add_post_transform(ListNestedTables)
    app.add_post_transform(ExpandTables)
    app.add_post_transform(LongTables)
    app.add_node(table_rows, html=(visit_table_rows_html, None))
    # Builders other than HTML render it as a plain inline (Sphinx dispatches by MRO).
    app.add_node(share_bar, html=(visit_share_bar_html, depart_share_bar_html))
    app.add_node(layer_name, html=(visit_layer_name_html, None))
    app.connect("doctree-read", note_math)
