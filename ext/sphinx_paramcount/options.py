"""The directive's options, read once for every front end.

The directive, the role, the command line and ``update`` all take depth,
device and stated numbers from text; each goes through the one parser here,
so they accept the same things and say the same thing when text is wrong.
Parsing never stops at the first problem: every usable option is kept, and
every problem is returned as an ``OptionError``, so a table with one bad
option still renders and its valid stated numbers are still checked.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .build import DEVICES
from .errors import OptionError
from .shapes import parse_input_shape
from .stated import Claim, ClaimKey, parse_stated, read_expect

FORMATS = ("table", "derivation", "total")

# Options that take a value, and flags (which take none).
VALUE_OPTIONS = (
    "total",
    "trainable",
    "expect",
    "depth",
    "root",
    "input-shape",
    "device",
    "format",
    "caption",
    "name",
    "class",
)
FLAG_OPTIONS = ("expand-repeats",)
OPTIONS = (*VALUE_OPTIONS, *FLAG_OPTIONS)


def parse_depth(text: str) -> int:
    """``"1"`` -> 1: a whole number of 0 or more, in ASCII digits."""
    value = text.strip() if isinstance(text, str) else ""
    if not (value.isascii() and value.isdigit()):
        raise OptionError(f"{value!r} is not a whole number of 0 or more", hint="e.g. ':depth: 1' or '--depth 1'")
    return int(value)


def parse_root(text: str) -> str:
    """``base_model.model``: a sub-module's dotted name, as ``named_modules()`` gives it."""
    value = text.strip() if isinstance(text, str) else ""
    if not value or any(c.isspace() for c in value) or "" in value.split("."):
        raise OptionError(
            f"{value!r} is not a sub-module name", hint="e.g. ':root: base_model.model' or '--root encoder.layer'"
        )
    return value


def parse_device(text: str) -> str:
    value = text.strip() if isinstance(text, str) else ""
    if value not in DEVICES:
        raise OptionError(f"{value!r} is not one of {', '.join(DEVICES)}")
    return value


def parse_format(text: str) -> str:
    value = text.strip() if isinstance(text, str) else ""
    if value not in FORMATS:
        raise OptionError(f"{value!r} is not one of {', '.join(FORMATS)}")
    return value


@dataclass(frozen=True)
class Options:
    """What a directive asks for, read from its raw ``:key: value`` lines."""

    claims: tuple[Claim, ...] = ()
    depth: int | None = None
    root: str = ""
    input_shape: tuple[int, ...] | None = None
    device: str = "meta"
    format: str = "table"
    expand_repeats: bool = False
    caption: str = ""
    name: str = ""
    classes: tuple[str, ...] = ()


@dataclass
class ParsedOptions:
    options: Options
    errors: list[OptionError] = field(default_factory=list)


def parse_options(items: Iterable[tuple[str, str | None]], *, device: str = "meta") -> ParsedOptions:
    """Read ``(name, raw value)`` pairs in source order into ``Options``.

    ``device`` is the default (``paramcount_device``).  Unknown, repeated and
    malformed options are errors; the rest are used.  A stated number given
    twice is checked twice (each is a claim the author made); any other
    repeated option keeps its first value.
    """
    errors: list[OptionError] = []
    seen: set[str] = set()
    values: dict[str, object] = {"device": device}
    claims: list[Claim] = []
    for name, raw in items:
        text = raw or ""
        if name not in OPTIONS:
            close = difflib.get_close_matches(name, OPTIONS, n=1)
            errors.append(
                OptionError(
                    f"unknown option :{name}:",
                    hint=f"did you mean :{close[0]}:?" if close else f"the options are {', '.join(OPTIONS)}",
                )
            )
            continue
        repeated = name in seen
        seen.add(name)
        if repeated:
            errors.append(
                OptionError(
                    f"option :{name}: is given twice",
                    hint="state each option once" + ("; both values were checked" if name in _CLAIMS else ""),
                )
            )
        if name in FLAG_OPTIONS:
            if text.strip():
                errors.append(OptionError(f":{name}: is a flag and takes no value, not {text.strip()!r}"))
            values[name] = True
            continue
        if name == "expect":
            pairs, problems = read_expect(text)
            claims += [Claim(ClaimKey("row", row), count) for row, count in pairs]
            errors += problems
            continue
        if name in _CLAIMS:
            try:
                claims.append(Claim(ClaimKey(name), parse_stated(text, what=f":{name}:")))
            except OptionError as exc:
                errors.append(exc)
            continue
        if repeated:
            continue
        try:
            values[name] = _VALUE_PARSERS[name](text)
        except OptionError as exc:
            # The input-shape parser names its option itself (the CLI uses it too).
            prefix = "" if name == "input-shape" else f":{name}: "
            errors.append(OptionError(prefix + exc.message, hint=exc.hint))
    return ParsedOptions(
        Options(
            claims=tuple(claims),
            depth=values.get("depth"),  # type: ignore[arg-type]
            root=values.get("root", ""),  # type: ignore[arg-type]
            input_shape=values.get("input-shape"),  # type: ignore[arg-type]
            device=values["device"],  # type: ignore[arg-type]
            format=values.get("format", "table"),  # type: ignore[arg-type]
            expand_repeats=bool(values.get("expand-repeats")),
            caption=values.get("caption", ""),  # type: ignore[arg-type]
            name=values.get("name", ""),  # type: ignore[arg-type]
            classes=values.get("class", ()),  # type: ignore[arg-type]
        ),
        errors,
    )


_CLAIMS = ("total", "trainable", "expect")


def _text(text: str) -> str:
    return " ".join(text.split())


def _classes(text: str) -> tuple[str, ...]:
    # docutils' own rule for class names (lower case, hyphens), as ``:class:`` has everywhere.
    from docutils.parsers.rst.directives import class_option

    try:
        return tuple(class_option(text))
    except ValueError as exc:
        raise OptionError(f"{text!r} is not a list of class names: {exc}") from None


_VALUE_PARSERS = {
    "depth": parse_depth,
    "root": parse_root,
    "input-shape": parse_input_shape,
    "device": parse_device,
    "format": parse_format,
    "caption": _text,
    "name": _text,
    "class": _classes,
}
