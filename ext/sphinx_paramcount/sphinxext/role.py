"""The ``paramcount`` role: ``:paramcount:`target``` or ``:paramcount:`131,618 <target>```."""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.util.docutils import SphinxRole

from ..errors import OptionError
from ..render import fmt
from ..stated import check_stated, parse_stated
from .models import report_for
from .problems import report_problem, update_hint

_EXPLICIT = re.compile(r"^(?P<stated>.+?)\s*<(?P<target>.+)>$", re.DOTALL)


class ParamcountRole(SphinxRole):
    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        location = (self.env.docname, self.lineno)
        match = _EXPLICIT.match(self.text.strip())
        target = " ".join((match.group("target") if match else self.text).split())
        stated = None
        if match:
            try:
                stated = parse_stated(match.group("stated"), what="stated count")
            except OptionError as exc:
                report_problem(self.env, location, exc.subtype, f"{target}: {exc.message}", hint=exc.hint)
                return [self._problematic()], []
        report = report_for(self.env, location, target, self.config.paramcount_device)
        if report is None:
            return [self._problematic()], []
        if stated is not None:
            fails = bool(self.config.paramcount_fail_on_mismatch)
            for mismatch in check_stated(target, {"total": report.total}, [("total", stated)]):
                report_problem(
                    self.env, location, "mismatch", mismatch.message, hint=update_hint(self.env), fails=fails
                )
            text = match.group("stated").strip() if match else ""
        else:
            text = fmt(report.total, self.config.paramcount_thousands_sep)
        return [nodes.inline(self.rawtext, text, classes=["paramcount"])], []

    def _problematic(self) -> nodes.Node:
        # Keep what the author wrote visible in the page, marked as a problem.
        return nodes.problematic(self.rawtext, self.rawtext)
