"""The ``paramcount`` directive: a derivation of the model's count, checked.

All options arrive as raw text and are validated here, so a malformed value
is a located ``paramcount.option`` error with our wording, not docutils'.
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from ..errors import OptionError, ParamcountError
from ..render import fmt
from ..report import Report
from ..shapes import parse_input_shape
from ..stated import StatedCount, check_stated, parse_expect, parse_stated
from ..views import collapse_repeats, row_counts, rows_at_depth
from . import nodes as pc_nodes
from . import table as pc_table
from .models import report_for
from .problems import report_problem, update_hint

FORMATS = ("table", "derivation", "total")


def _raw(argument: str | None) -> str:
    return argument or ""


class ParamcountDirective(SphinxDirective):
    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = True  # a call may contain spaces: Conv2d(16, 8, ...)
    option_spec: ClassVar[dict[str, Any]] = {
        "total": _raw,
        "trainable": _raw,
        "expect": _raw,
        "depth": _raw,
        "input-shape": _raw,
        "device": _raw,
        "format": _raw,
        "caption": directives.unchanged,
        "name": directives.unchanged,
        "class": directives.class_option,
        "expand-repeats": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        target = " ".join(self.arguments[0].split())
        location = (self.env.docname, self.lineno)
        # Every malformed option is reported, not just the first.
        errors: list[ParamcountError] = []
        stated = self._stated(errors)
        depth = self._depth(errors)
        form = self._choice("format", FORMATS, "table", errors)
        device = self._choice("device", ("meta", "cpu"), self.config.paramcount_device, errors)
        expect = self._expect(errors)
        input_shape = self._input_shape(errors)
        for err in errors:
            report_problem(self.env, location, err.subtype, f"{target}: {err.message}", hint=err.hint)
        if errors:
            return []

        report = report_for(self.env, location, target, device, input_shape)
        if report is None:
            return []
        rows = rows_at_depth(report, depth)
        if self.config.paramcount_collapse_repeats and "expand-repeats" not in self.options:
            rows = collapse_repeats(report, rows)
        self._check(report, rows, target, stated, expect, location)
        return self._render(report, rows, form)

    # -- options -------------------------------------------------------------------

    def _stated(self, errors: list[ParamcountError]) -> list[tuple[str, StatedCount]]:
        out = []
        for key in ("total", "trainable"):
            if key in self.options:
                try:
                    out.append((key, parse_stated(self.options[key], what=f":{key}:")))
                except OptionError as exc:
                    errors.append(exc)
        return out

    def _expect(self, errors: list[ParamcountError]) -> list[tuple[str, StatedCount]]:
        if "expect" not in self.options:
            return []
        try:
            return parse_expect(self.options["expect"])
        except OptionError as exc:
            errors.append(exc)
            return []

    def _input_shape(self, errors: list[ParamcountError]) -> tuple[int, ...] | None:
        if "input-shape" not in self.options:
            return None
        try:
            return parse_input_shape(self.options["input-shape"])
        except OptionError as exc:
            errors.append(exc)
            return None

    def _depth(self, errors: list[ParamcountError]) -> int | None:
        if "depth" not in self.options:
            return None
        text = self.options["depth"].strip()
        if not (text.isascii() and text.isdigit()):
            errors.append(OptionError(f":depth: {text!r} is not a whole number of 0 or more", hint="e.g. ':depth: 1'"))
            return None
        return int(text)

    def _choice(self, key: str, choices: tuple[str, ...], default: str, errors: list[ParamcountError]) -> str:
        value = self.options.get(key, default).strip()
        if value not in choices:
            errors.append(OptionError(f":{key}: {value!r} is not one of {', '.join(choices)}"))
        return value

    # -- checking and rendering --------------------------------------------------------

    def _check(
        self,
        report: Report,
        rows: list[Any],
        target: str,
        stated: list[tuple[str, StatedCount]],
        expect: list[tuple[str, StatedCount]],
        location: tuple[str, int],
    ) -> None:
        actual: dict[str, int] = {"total": report.total, "trainable": report.trainable}
        counts = row_counts(report, rows)
        checks = list(stated)
        for name, count in expect:
            if name not in counts:
                close = difflib.get_close_matches(name, list(counts), n=3)
                report_problem(
                    self.env,
                    location,
                    "option",
                    f"{target}: :expect: names row {name!r}, which the model does not have",
                    hint=f"did you mean {', '.join(map(repr, close))}?"
                    if close
                    else f"rows are {', '.join(map(repr, list(counts)[:8]))}",
                )
                continue
            actual[f"row {name!r}"] = counts[name]
            checks.append((f"row {name!r}", count))
        fails = bool(self.config.paramcount_fail_on_mismatch)
        for mismatch in check_stated(target, actual, checks):
            report_problem(self.env, location, "mismatch", mismatch.message, hint=update_hint(self.env), fails=fails)

    def _render(self, report: Report, rows: list[Any], form: str) -> list[nodes.Node]:
        sep = self.config.paramcount_thousands_sep
        classes = ["paramcount", *self.options.get("class", [])]
        if form == "total":
            text = fmt(report.total, sep)
            para = nodes.paragraph(text, text, classes=classes)
            self.add_name(para)
            return [para]
        container = nodes.container(classes=classes)
        if form == "table":
            tbl = pc_table.table(report, rows, sep, self.options.get("caption", ""))
            self.add_name(tbl)
            container += tbl
        else:
            if "caption" in self.options:
                container += nodes.paragraph("", "", nodes.strong(self.options["caption"], self.options["caption"]))
            self.add_name(container)
            container.extend(pc_nodes.derivation(report, rows, sep))
        container.extend(pc_nodes.summary(report, sep))
        self.set_source_info(container)
        return [container]
