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
from decimal import Decimal, InvalidOperation

from .build import DEVICES
from .errors import OptionError
from .shapes import parse_input_dtype, parse_input_shape
from .stated import Claim, ClaimKey, parse_stated, read_expect

FORMATS = ("table", "derivation", "total")

# Options that take a value, and flags (which take none).
VALUE_OPTIONS = (
    "total",
    "trainable",
    "macs",
    "flops",
    "expect",
    "depth",
    "root",
    "input-shape",
    "input-dtype",
    "device",
    "format",
    "caption",
    "name",
    "class",
    "symbols",
    "formula",
    "tolerance",
)
FLAG_OPTIONS = ("expand-repeats",)
OPTIONS = (*VALUE_OPTIONS, *FLAG_OPTIONS)
# Each directive's options: the stated numbers differ (parameters, or MACs and FLOPs).
DIRECTIVE_OPTIONS = {
    "paramcount": tuple(o for o in OPTIONS if o not in ("macs", "flops")),
    "flopcount": tuple(o for o in OPTIONS if o not in ("total", "trainable", "symbols", "formula", "tolerance")),
}
# The option of the other directive that an author probably meant.
_OTHER_DIRECTIVE = {
    "macs": "the paramcount directive counts parameters: state MACs in a flopcount directive",
    "flops": "the paramcount directive counts parameters: state FLOPs in a flopcount directive",
    "total": "a flopcount directive states :macs: or :flops:",
    "trainable": "a flopcount directive states :macs: or :flops:",
}


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


def parse_tolerance(text: str) -> Decimal:
    """``5%`` or ``0.05`` -> Decimal("0.05"); ``OptionError`` otherwise."""
    raw = (text or "").strip()
    try:
        value = Decimal(raw[:-1].strip()) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise OptionError(f":tolerance: {raw!r} is not a share", hint="e.g. ':tolerance: 5%'") from None
    if not (0 <= value < 1):
        raise OptionError(f":tolerance: {raw!r} is not between 0% and 100%", hint="e.g. ':tolerance: 5%'")
    return value


@dataclass(frozen=True)
class Options:
    """What a directive asks for, read from its raw ``:key: value`` lines."""

    claims: tuple[Claim, ...] = ()
    depth: int | None = None
    root: str = ""
    input_shape: tuple[int, ...] | None = None
    input_dtype: str = "float32"  # of the input the forward pass gets: "int64" for token ids
    device: str = "meta"
    format: str = "table"
    expand_repeats: bool = False
    caption: str = ""
    name: str = ""
    classes: tuple[str, ...] = ()
    symbols: str | None = None  # ``d=4096, L=32`` or ``config``: read against the model (``symbols.bindings_for``)
    formula: str | None = None  # a stated closed form in the symbols, read once they are bound
    tolerance: Decimal = Decimal("0.1")  # how far an estimated ``:formula: ~ ...`` may be off


@dataclass
class ParsedOptions:
    options: Options
    errors: list[OptionError] = field(default_factory=list)


def parse_options(
    items: Iterable[tuple[str, str | None]], *, device: str = "meta", directive: str = "paramcount"
) -> ParsedOptions:
    """Read ``(name, raw value)`` pairs in source order into ``Options``.

    ``device`` is the default (``paramcount_device``); ``directive`` is
    ``paramcount`` or ``flopcount``, whose options differ in the numbers they
    state (``:total:``, or ``:macs:`` and ``:flops:``) and in ``flopcount``
    needing ``:input-shape:``.  Unknown, repeated and malformed options are
    errors; the rest are used.  A stated number given twice is checked twice
    (each is a claim the author made); any other repeated option keeps its
    first value.
    """
    allowed = DIRECTIVE_OPTIONS[directive]
    errors: list[OptionError] = []
    seen: set[str] = set()
    values: dict[str, object] = {"device": device}
    claims: list[Claim] = []
    for name, raw in items:
        text = raw or ""
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = _OTHER_DIRECTIVE.get(name) or (
                f"did you mean :{close[0]}:?" if close else f"the options are {', '.join(allowed)}"
            )
            errors.append(OptionError(f"unknown option :{name}:", hint=hint))
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
            # The input-shape and tolerance parsers name their option themselves (the CLI and the API use them too).
            prefix = "" if name in ("input-shape", "input-dtype", "tolerance") else f":{name}: "
            errors.append(OptionError(prefix + exc.message, hint=exc.hint))
    if "formula" in seen and "symbols" not in seen:
        errors.append(
            OptionError(":formula: needs :symbols:, the symbols it is written in", hint="e.g. ':symbols: d=4096, L=32'")
        )
    if "tolerance" in seen and "formula" not in seen:
        # Otherwise silently unused: the author meant an estimate and stated none.
        errors.append(
            OptionError(
                ":tolerance: applies to an estimated :formula:, and none is given",
                hint="e.g. ':formula: ~ 12*L*d**2' with ':tolerance: 5%', or leave :tolerance: out",
            )
        )
    if directive == "flopcount" and "input-shape" not in seen:
        errors.append(
            OptionError(
                "flopcount needs :input-shape:, the input the forward pass is counted on",
                hint="e.g. ':input-shape: 1, 3, 224, 224', or ':input-shape: 1, 1024' with ':input-dtype: int64' "
                "for token ids",
            )
        )
    elif "input-dtype" in values and "input-shape" not in seen:
        # A dtype with no forward pass to give it to would be ignored without a word.
        errors.append(
            OptionError(
                ":input-dtype: needs :input-shape:, the input it is the dtype of",
                hint="add ':input-shape: 1, 1024' (token ids) or leave out :input-dtype:",
            )
        )
    return ParsedOptions(
        Options(
            claims=tuple(claims),
            depth=values.get("depth"),  # type: ignore[arg-type]
            root=values.get("root", ""),  # type: ignore[arg-type]
            input_shape=values.get("input-shape"),  # type: ignore[arg-type]
            input_dtype=values.get("input-dtype", "float32"),  # type: ignore[arg-type]
            device=values["device"],  # type: ignore[arg-type]
            format=values.get("format", "table"),  # type: ignore[arg-type]
            expand_repeats=bool(values.get("expand-repeats")),
            caption=values.get("caption", ""),  # type: ignore[arg-type]
            name=values.get("name", ""),  # type: ignore[arg-type]
            classes=values.get("class", ()),  # type: ignore[arg-type]
            symbols=values.get("symbols"),  # type: ignore[arg-type]
            formula=values.get("formula"),  # type: ignore[arg-type]
            tolerance=values.get("tolerance", Decimal("0.1")),  # type: ignore[arg-type]
        ),
        errors,
    )


_CLAIMS = ("total", "trainable", "macs", "flops", "expect")


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
    "input-dtype": parse_input_dtype,
    "device": parse_device,
    "format": parse_format,
    "caption": _text,
    "name": _text,
    "class": _classes,
    "symbols": _text,
    "formula": _text,
    "tolerance": parse_tolerance,
}
