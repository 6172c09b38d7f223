"""The ``paramcount`` directive, and what it shares with ``flopcount`` (``CountDirective``).

docutils and MyST stop a directive at its first malformed option (an unknown
or repeated option, a body where none belongs) with an error of their own:
no table, the stated numbers never checked, and a build that passes.  So the
directive declares no ``option_spec`` and reads its own option block: every
problem is a located ``paramcount.option`` error that fails the build, and the
rest of the directive still renders and is still checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from docutils import nodes
from docutils.parsers.rst.states import Body
from sphinx.util.docutils import SphinxDirective

from ..errors import OptionError
from ..options import Options, parse_options
from ..render import fmt
from ..stated import Check
from ..tablespec import table_spec
from ..views import at_root, check, view
from . import nodes as pc_nodes
from . import table as pc_table
from .locations import source_location, update_hint
from .problems import record_sites, report_problem
from .reading import report_for

_FIELD_MARKER = re.compile(Body.patterns["field_marker"])
# ``:total:11``: an option meant, the space after the name forgotten.
_UNSPACED = re.compile(r"^:(?P<name>[a-z][a-z-]*):(?P<value>[^\s:].*)$")


@dataclass(frozen=True)
class Place:
    """Where a directive is: what ``get_source_info()`` gave, and the confirmed ``path:line``."""

    source: str | None
    line: int | None
    location: str


class CountDirective(SphinxDirective):
    """What ``paramcount`` and ``flopcount`` share: the option block, its problems, checking, the wrapper.

    A subclass names itself (``kind``, as registered) and says what it shows
    (``show``); the options it takes are ``options.parse_options``'s for that kind.
    """

    kind = "paramcount"
    required_arguments = 0  # a missing target is our error to report, not docutils'
    optional_arguments = 1
    final_argument_whitespace = True  # a call may contain spaces: Conv2d(16, 8, ...)
    has_content = True  # a body is our error to report, not docutils'
    option_spec = None  # read by ``_option_items``: see the module docstring

    def run(self) -> list[nodes.Node]:
        source, line = self.get_source_info()
        # The directive's own first line confirms its line in the file (MyST's block_text starts at the options).
        first = f"{{{self.kind}}}" if self._myst() else (self.block_text.splitlines() or [""])[0]
        place = Place(source, line, source_location(self.env, source, line, first, directive=True))
        target_lines, items, errors = self._read_block()
        target = " ".join(" ".join(target_lines).split())
        parsed = parse_options(items, device=self.config.paramcount_device, directive=self.kind)
        errors += parsed.errors
        if not target:
            errors.append(
                OptionError("the directive names no model", hint=f"write '.. {self.kind}:: pkg.module:Model'")
            )
        for err in errors:
            message = f"{target}: {err.message}" if target else err.message
            report_problem(self.env, place.location, "option", message, hint=err.hint)
        if not target:
            return []
        return self.show(target, parsed.options, place)

    def show(self, target: str, opts: Options, place: Place) -> list[nodes.Node]:
        """The nodes for ``target``; its problems reported at ``place``."""
        raise NotImplementedError

    def check_and_record(self, result: Check, opts: Options, target: str, place: Place) -> None:
        """Report unknown rows and mismatches (an engine ``Check``), and keep each checked number for ``update``."""
        for unknown in result.unknown:
            report_problem(self.env, place.location, "option", f"{target}: {unknown.message}", hint=unknown.hint)
        fails = bool(self.config.paramcount_fail_on_mismatch)
        for mismatch in result.mismatches:
            report_problem(
                self.env, place.location, "mismatch", mismatch.message, hint=update_hint(place.location), fails=fails
            )
        claims = [("expect" if c.key.what == "row" else c.key.what, c) for c in opts.claims]
        record_sites(self.env, place.source, place.line, place.location, self.block_text, target, claims, result)

    def wrap(
        self, opts: Options, total: str, table: Callable[[], nodes.Node], prose: Callable[[], list[nodes.Node]]
    ) -> list[nodes.Node]:
        """The ``:format:``'s nodes, named and classed: the bare ``total``, or ``table()`` or ``prose()``.

        The summary is the caller's to append to the container returned.
        """
        classes = [self.kind, *opts.classes]
        if opts.name:
            self.options["name"] = opts.name  # read by add_name
        if opts.format == "total":
            para = nodes.paragraph(total, total, classes=classes)
            self.add_name(para)
            return [para]
        container = nodes.container(classes=classes)
        if opts.format == "table":
            tbl = table()
            self.add_name(tbl)
            container += tbl
        else:
            if opts.caption:
                container += nodes.paragraph("", "", nodes.strong(opts.caption, opts.caption))
            self.add_name(container)
            container.extend(prose())
        self.set_source_info(container)
        return [container]

    def collapse(self, opts: Options) -> bool:
        return bool(self.config.paramcount_collapse_repeats) and not opts.expand_repeats

    # -- the option block --------------------------------------------------------------------

    def _read_block(self) -> tuple[list[str], list[tuple[str, str | None]], list[OptionError]]:
        """The target's lines, the ``(name, value)`` option pairs in order, and what was wrong.

        reST puts the option lines after the target in the argument (there is
        no ``option_spec`` to split them off); MyST puts them at the top of the
        content.  Option lines found in a body (after a blank line, a common
        slip) are read too, so their numbers are still checked, and reported.
        """
        errors: list[OptionError] = []
        lines = self.arguments[0].splitlines() if self.arguments else []
        split = next((i for i, text in enumerate(lines) if _is_option(text)), len(lines))
        target_lines, option_lines = lines[:split], lines[split:]
        body = list(self.content)
        if self._myst() and not option_lines:
            option_lines, body = _leading_options(body)
        items = self._option_items(option_lines, errors)
        if any(text.strip() for text in body):
            stray, rest = _leading_options([t for t in body if t.strip()])
            if stray:
                found = self._option_items(stray, errors)
                errors.append(
                    OptionError(
                        f"the options {', '.join(f':{name}:' for name, _ in found)} are not directly under the "
                        "target line, so they are read as a body (they were checked)",
                        hint="put the options directly under the target line, with no blank line between",
                    )
                )
                items += found
            if rest:
                errors.append(
                    OptionError(
                        f"the directive takes no body, but has one ({rest[0].strip()[:40]!r}...); it is not shown",
                        hint="write text after the directive, unindented, or in the :caption: option",
                    )
                )
        return target_lines, items, errors

    def _option_items(self, lines: list[str], errors: list[OptionError]) -> list[tuple[str, str | None]]:
        """``:name: value`` lines (a value may go on over indented lines) as pairs, in order."""
        if lines and lines[0].strip() == "---":
            return _yaml_items(lines, errors)
        items: list[tuple[str, str | None]] = []
        for text in lines:
            m = _FIELD_MARKER.match(text.strip())
            unspaced = None if m else _UNSPACED.match(text.strip())
            if unspaced:
                errors.append(
                    OptionError(
                        f"the option line {text.strip()!r} needs a space after ':{unspaced['name']}:' (it was read so)"
                    )
                )
                items.append((unspaced["name"], unspaced["value"]))
                continue
            if m and not text[:1].isspace() or m and not items:
                name = m.group(0).strip()[1:-1]
                items.append((name, text.strip()[m.end() :].strip() or None))
            elif items and text[:1].isspace() and text.strip():
                name, value = items[-1]
                items[-1] = (name, f"{value or ''} {text.strip()}".strip())
            elif text.strip():
                errors.append(
                    OptionError(
                        f"the option line {text.strip()!r} is not of the form ':name: value'",
                        hint="each option is ':name: value' on a line of its own",
                    )
                )
        return items

    def _myst(self) -> bool:
        return type(self.state).__module__.startswith("myst_parser")


class ParamcountDirective(CountDirective):
    """``.. paramcount:: TARGET``: the parameters' derivation table, its stated numbers checked."""

    kind = "paramcount"

    def show(self, target: str, opts: Options, place: Place) -> list[nodes.Node]:
        report = report_for(self.env, place.location, target, opts.device, opts.input_shape, opts.input_dtype)
        if report is None:
            return []
        try:
            report = at_root(report, opts.root)
        except OptionError as err:
            report_problem(self.env, place.location, "option", f"{target}: {err.message}", hint=err.hint)
            return []
        rows = view(report, opts.depth, self.collapse(opts))
        self.check_and_record(check(report, rows, opts.claims), opts, report.target, place)
        sep = self.config.paramcount_thousands_sep
        out = self.wrap(
            opts,
            fmt(report.total, sep),
            lambda: pc_table.table(table_spec(report, rows, sep), opts.caption),
            lambda: pc_nodes.derivation(report, rows, sep),
        )
        if opts.format != "total":
            out[0].extend(pc_nodes.summary(report, sep))
        return out


def _is_option(text: str) -> bool:
    stripped = text.strip()
    return bool(_FIELD_MARKER.match(stripped) or _UNSPACED.match(stripped)) and not stripped.startswith(":::")


def _leading_options(lines: list[str]) -> tuple[list[str], list[str]]:
    """MyST's rule: ``:key: value`` lines, or a ``---`` YAML block, at the top of the content are options."""
    i = 0
    if lines and lines[0].strip() == "---":
        i = next((k + 1 for k in range(1, len(lines)) if lines[k].strip() == "---"), len(lines))
    while i < len(lines) and _is_option(lines[i]):
        i += 1
    rest = lines[i:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return lines[:i], rest


def _yaml_items(lines: list[str], errors: list[OptionError]) -> list[tuple[str, str | None]]:
    """A MyST ``---`` YAML option block (the first ``---`` to the next), values as the author wrote them.

    Composed, not loaded: ``total: 012`` stays ``012`` (not octal 10), and a
    key given twice is kept twice, so both are checked and reported.
    """
    import yaml

    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        errors.append(OptionError("the YAML option block is never closed with '---'"))
        return []
    try:
        node = yaml.compose("\n".join(lines[1:end]), Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        errors.append(OptionError(f"the YAML option block cannot be read: {str(exc).splitlines()[0]}"))
        return []
    if node is None:
        return []
    if not isinstance(node, yaml.MappingNode) or not all(
        isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode) for k, v in node.value
    ):
        errors.append(OptionError("the YAML option block is not a list of 'name: value' lines"))
        return []
    return [(k.value, v.value or None) for k, v in node.value]
