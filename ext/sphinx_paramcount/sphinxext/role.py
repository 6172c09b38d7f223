"""The ``paramcount`` role: ``:paramcount:`target``` or ``:paramcount:`131,618 <target>```.

Sphinx's ``ReferenceRole`` splits ``title <target>`` as every cross-reference
role does; here the title is the stated total, checked against the model.
"""

from __future__ import annotations

import sys

from docutils import nodes
from sphinx.util.docutils import ReferenceRole

from ..errors import OptionError
from ..render import fmt
from ..stated import Claim, ClaimKey, parse_stated
from ..views import check, view
from .locations import source_location, update_hint
from .problems import record_sites, report_problem
from .reading import report_for

FORMS = "write :paramcount:`pkg.mod:Model` for the total, or :paramcount:`131,618 <pkg.mod:Model>` to check it"


class ParamcountRole(ReferenceRole):
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
            claim = self._claim(target)
        except OptionError as exc:
            report_problem(self.env, location, "option", f"{target or self.text}: {exc.message}", hint=exc.hint)
            return [self._problematic()], []
        report = report_for(self.env, location, target, self.config.paramcount_device)
        if report is None:
            return [self._problematic()], []
        if claim is None:
            text = fmt(report.total, self.config.paramcount_thousands_sep)
        else:
            fails = bool(self.config.paramcount_fail_on_mismatch)
            result = check(report, view(report), [claim])
            record_sites(self.env, source, line, location, self.rawtext, report.target, [("", claim)], result)
            for mismatch in result.mismatches:
                report_problem(
                    self.env, location, "mismatch", mismatch.message, hint=update_hint(location), fails=fails
                )
            text = self.title.strip()
        return [nodes.inline(self.rawtext, text, classes=["paramcount"])], []

    def _claim(self, target: str) -> Claim | None:
        """The stated total, if the role states one; ``OptionError`` if the text is malformed."""
        if not target:
            raise OptionError("the role names no model", hint=FORMS)
        if not self.has_explicit_title:
            if "<" in target or ">" in target:
                raise OptionError(f"{self.text!r} is not of the form 'count <target>'", hint=FORMS)
            return None
        return Claim(ClaimKey("total"), parse_stated(self.title, what="stated count"))

    def _problematic(self) -> nodes.Node:
        # Keep what the author wrote visible in the page, marked as a problem.
        return nodes.problematic(self.rawtext, self.rawtext)
