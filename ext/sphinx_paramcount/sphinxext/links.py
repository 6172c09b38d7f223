"""The Type cell as a link to the layer class's documentation.

A row knows its layer's class by where it is defined
(``torch.nn.modules.conv:Conv2d``); documentation names it where it is
documented (``torch.nn.Conv2d``).  So each shorter name is tried too
(``torch.nn.modules.Conv2d``, ``torch.nn.Conv2d``, ``torch.Conv2d``): the first
that this project's own ``py:class`` objects or an intersphinx inventory hold
is the link.  Nothing is found, and nothing warns, without intersphinx or
under ``-n``: a layer without documentation is plain text, as before.

Resolved when a page is written (a post-transform), not when it is read: this
project's classes are only all known then, a link from a page in a sub-folder
must be relative to that page, and an inventory fetched again changes no
pickled doctree.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

from .table import table_rows


def candidate_names(class_path: str) -> list[str]:
    """``a.b.c:Cls`` -> ``a.b.c.Cls``, ``a.b.Cls``, ``a.Cls``: the dotted names a class may be documented under.

    Only module parts are dropped: a nested class (``mod:Outer.Inner``) keeps its outer class.
    """
    module, _, qualname = class_path.rpartition(":")
    if not qualname:
        return []
    parts = module.split(".") if module else []
    return [".".join([*parts[:cut], qualname]) for cut in range(len(parts), -1, -1) if cut or not parts]


class LinkTypes(SphinxPostTransform):
    """Fills each table row's ``type_uri``: before the tables are expanded or written."""

    # Equal priorities run in the order they were added: ``sphinxext.setup`` adds
    # this one before ``setup_table``'s, which expand or list the rows.
    default_priority = 0

    def run(self, **kwargs: Any) -> None:
        found: dict[str, str] = {}
        for node in self.document.findall(table_rows):
            spec = node["spec"]
            rows = tuple(replace(r, type_uri=self._uri(r.type_path, found)) if r.type_path else r for r in spec.rows)
            if rows != spec.rows:
                node["spec"] = replace(spec, rows=rows)

    def _uri(self, class_path: str, found: dict[str, str]) -> str:
        if class_path not in found:
            found[class_path] = next(filter(None, map(self._lookup, candidate_names(class_path))), "")
        return found[class_path]

    def _lookup(self, name: str) -> str:
        """The URI of ``name``'s ``py:class`` documentation, here or in an inventory; "" if none."""
        xref = addnodes.pending_xref(
            "", refdomain="py", reftype="class", reftarget=name, refdoc=self.env.docname, refexplicit=True
        )
        contnode = nodes.literal(name, name)
        # Sphinx 9 deprecates a transform's ``app``; older versions have no ``env._app``.
        app = getattr(self.env, "_app", None) or self.app
        python = self.env.domains["py"]
        ref = python.resolve_xref(self.env, self.env.docname, app.builder, "class", name, xref, contnode)
        if ref is None and "sphinx.ext.intersphinx" in app.extensions:
            from sphinx.ext.intersphinx import resolve_reference_detect_inventory

            ref = resolve_reference_detect_inventory(self.env, xref, contnode)
        if not isinstance(ref, nodes.reference):
            return ""
        # A class documented on the same page is a ``refid``, not a ``refuri``.
        return str(ref["refuri"]) if "refuri" in ref else f"#{ref['refid']}" if "refid" in ref else ""


def setup_links(app: Any) -> None:
    app.add_post_transform(LinkTypes)
