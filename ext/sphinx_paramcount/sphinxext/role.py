"""The ``paramcount`` role: ``:paramcount:`target``` or ``:paramcount:`131,618 <target>```.

Sphinx's ``ReferenceRole`` splits ``title <target>`` as every cross-reference
role does; here the title is the stated number, checked against the model.
``CountRole`` is what the ``paramcount`` and ``flopcount`` roles share.
"""

from __future__ import annotations

import sys
from typing import Any

from docutils import nodes
from sphinx.util.docutils import ReferenceRole

from ..errors import OptionError
from ..render import fmt
from ..stated import Check, Claim, ClaimKey, parse_stated
from ..views import check, view
from .locations import source_location, update_hint
from .problems import record_sites, report_problem
from .reading import report_for

FORMS = "write :paramcount:`pkg.mod:Model` for the total, or :paramcount:`131,618 <pkg.mod:Model>` to check it"


class CountRole(ReferenceRole):
    """A role that shows a model's number, or checks the number its title states.

    A subclass says what its target text asks for (``request``), what a title
    states (``claim``), how the model is built (``build``), what is shown
    without a title (``shown``) and how a claim is checked (``check``).
    """

    kind = "paramcount"
    forms = FORMS

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        source, line = self.get_source_info()
        myst = sys.modules.get("myst_parser.mocking")
        if line is None and myst is not None and isinstance(self.inliner, myst.MockInliner):
            # MyST: after an {eval-rst} block the page's reporter keeps that block's docutils
            # line lookup, which knows no later line.  MyST gives a role its page's own line.
            source, line = self.inliner.document.get("source") or source, self.lineno
        location = source_location(self.env, source, line, self.rawtext)
        target = " ".join(self.target.split())
        try:
            if not target:
                raise OptionError("the role names no model", hint=self.forms)
            if not self.has_explicit_title and ("<" in target or ">" in target):
                raise OptionError(f"{self.text!r} is not of the form 'count <target>'", hint=self.forms)
            request = self.request(target)
            claim = self.claim(self.title) if self.has_explicit_title else None
        except OptionError as exc:
            report_problem(self.env, location, "option", f"{target or self.text}: {exc.message}", hint=exc.hint)
            return [self._problematic()], []
        report = self.build(location, request)
        if report is None:
            return [self._problematic()], []
        if claim is None:
            text = self.shown(report)
        else:
            fails = bool(self.config.paramcount_fail_on_mismatch)
            result = self.check(report, claim)
            record_sites(self.env, source, line, location, self.rawtext, report.target, [("", claim)], result)
            for mismatch in result.mismatches:
                report_problem(
                    self.env, location, "mismatch", mismatch.message, hint=update_hint(location), fails=fails
                )
            text = self.title.strip()
        return [nodes.inline(self.rawtext, text, classes=[self.kind])], []

    def request(self, target: str) -> Any:
        """What the target text asks for; ``OptionError`` if it is malformed."""
        return target

    def claim(self, title: str) -> Claim:
        """The number a title states; ``OptionError`` if it is malformed."""
        return Claim(ClaimKey("total"), parse_stated(title, what="stated count"))

    def build(self, location: str, request: Any) -> Any:
        """The report, or ``None`` after reporting a located problem."""
        return report_for(self.env, location, request, self.config.paramcount_device)

    def shown(self, report: Any) -> str:
        return fmt(report.total, self.config.paramcount_thousands_sep)

    def check(self, report: Any, claim: Claim) -> Check:
        return check(report, view(report), [claim])

    def _problematic(self) -> nodes.Node:
        # Keep what the author wrote visible in the page, marked as a problem.
        return nodes.problematic(self.rawtext, self.rawtext)


class ParamcountRole(CountRole):
    """``:paramcount:`target``` shows the total; ``:paramcount:`131,618 <target>``` checks it."""
