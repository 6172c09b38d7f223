"""Numbers stated in the docs, and checking them at their own precision.

``131618``, ``131,618`` and ``131_618`` are exact.  ``131.6K``, ``6.74B`` and
``7B`` are rounded: ``6.74B`` claims "6.74 billion to two decimals", so it
holds for 6,738,415,616 and fails for 6,748,000,000.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, localcontext

from .errors import OptionError
from .report import percent

UNITS = {"K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12}
# For each unit, the smaller ones, largest first, in the same family (B or G for billions).
_SMALLER_UNITS = {"K": [], "M": ["K"], "B": ["M", "K"], "G": ["M", "K"], "T": ["B", "M", "K"]}

# ASCII digits only (re.ASCII): "\d" alone would also take Arabic-Indic or
# full-width digits, which ``update`` would then rewrite in ASCII.
_EXACT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?:_\d{3})+|\d+)$", re.ASCII)
_ROUNDED = re.compile(r"^(?P<mantissa>\d+(?:\.(?P<decimals>\d+))?)\s?(?P<unit>[KkMBGT])$", re.ASCII)
_ROUNDED_UNIT = re.compile(r"^[KkMBGT]$")

_MAX_LENGTH = 200

FORMS_HINT = "write an exact count (131618, 131,618, 131_618) or a rounded one (131.6K, 6.74B, 7B)"


@dataclass(frozen=True)
class StatedCount:
    """A number as the author wrote it."""

    text: str
    value: int  # exact value, or the rounded value in units (6.74B -> 6_740_000_000)
    unit: str = ""  # "" for exact forms
    decimals: int = 0

    @property
    def exact(self) -> bool:
        return not self.unit

    def matches(self, actual: int) -> bool:
        return self.value == actual if self.exact else self.round(actual) == self.mantissa

    @property
    def mantissa(self) -> Decimal:
        return Decimal(self.text.strip()[:-1].strip())

    def at_precision(self, actual: int) -> str:
        """``actual`` in this count's unit and decimals, spaced as the author spaced them."""
        space = " " if self.text.strip()[-2:-1].isspace() else ""
        return f"{self.round(actual)}{space}{self.unit}"

    def round(self, actual: int) -> Decimal:
        """``actual`` as the author would have written it in this unit and precision."""
        scale = UNITS[self.unit.upper()]
        quantum = Decimal(1).scaleb(-self.decimals)
        # Enough digits for the quantized result: the default 28 would make
        # quantize raise InvalidOperation for a stated "131.618000...0K".
        with localcontext() as ctx:
            ctx.prec = max(ctx.prec, len(str(abs(actual))) + self.decimals + 2)
            return (Decimal(actual) / scale).quantize(quantum, rounding=ROUND_HALF_UP)

    def restate(self, actual: int) -> str:
        """``actual`` written in this count's style: grouping, unit and precision kept.

        A rounded count whose model shrank below one of its unit would read
        ``0.00B``, which says nothing: it moves to the largest unit the count
        reaches (``5.00M``), with the same decimals, or to the exact count
        below a thousand.
        """
        if not self.exact:
            if actual >= UNITS[self.unit.upper()]:
                return self.at_precision(actual)
            reached = [u for u in _SMALLER_UNITS[self.unit.upper()] if actual >= UNITS[u]]
            if not reached:
                return str(actual)
            unit = "k" if reached[0] == "K" and self.unit.islower() else reached[0]
            return replace(self, unit=unit).at_precision(actual)
        if "," in self.text:
            return f"{actual:,}"
        if "_" in self.text:
            return f"{actual:_}"
        return str(actual)


def parse_stated(text: str, *, what: str = "stated count") -> StatedCount:
    """Parse a stated number; ``OptionError`` with the accepted forms if malformed."""
    raw = text if isinstance(text, str) else ""
    s = raw.strip()
    if not s:
        raise OptionError(f"{what} is empty", hint=FORMS_HINT)
    if len(s) > _MAX_LENGTH:
        # int() refuses strings of over 4300 digits with a ValueError; no count is that long.
        raise OptionError(f"{what} {s[:20]!r}... is too long to be a count ({len(s)} characters)", hint=FORMS_HINT)
    if _EXACT.match(s):
        return StatedCount(s, int(s.replace(",", "").replace("_", "")))
    m = _ROUNDED.match(s)
    if m:
        unit = m.group("unit")
        decimals = len(m.group("decimals") or "")
        with localcontext() as ctx:
            ctx.prec = len(m.group("mantissa")) + 15  # exact: 6.74B is 6_740_000_000, not rounded to 28 digits
            value = int(Decimal(m.group("mantissa")) * UNITS[unit.upper()])
        return StatedCount(s, value, unit, decimals)
    reason = ""
    if s.startswith("-"):
        reason = ": a count cannot be negative"
    elif re.match(r"^\d+(\.\d+)?[eE][+-]?\d+$", s, re.ASCII):
        reason = ": scientific notation is not accepted"
    elif (unit := re.match(r"^[\d.,_]+\s?([A-Za-z]+)$", s, re.ASCII)) and not _ROUNDED_UNIT.match(unit.group(1)):
        # Only for letters that are no unit: in "1,00K" or ".5K" the number is what is wrong.
        reason = f": unknown unit {unit.group(1)!r} (use K, M, B or G, T)"
    raise OptionError(f"{what} {s!r} is not a number{reason}", hint=FORMS_HINT)


_EXPECT_HINT = "write row=count pairs, e.g. 'conv1=448, fc1=131104'"
# A comma separates entries unless it groups digits: followed by exactly three
# digits and then the end, another comma or a space ("131,104, fc2=66").
_ENTRY_SEPARATOR = re.compile(r",(?!\d{3}(?:[,\s]|$))\s*")


def read_expect(text: str) -> tuple[list[tuple[str, StatedCount]], list[OptionError]]:
    """``conv1=448, fc1=131,104`` -> ([("conv1", 448), ("fc1", 131104)], problems).

    Every well-formed entry is returned, whatever is wrong with the others,
    so one typo does not hide the drift of the rest.  A row named twice is
    returned twice (both are checked) and reported.  Names are split from
    counts at the last ``=``, so a row may be ``(root)``, a range of blocks
    (``blocks.1–3``) or a ``ModuleDict`` key with spaces.
    """
    s = (text or "").strip()
    if not s:
        return [], [OptionError(":expect: is empty", hint=_EXPECT_HINT)]
    out: list[tuple[str, StatedCount]] = []
    errors: list[OptionError] = []
    seen: set[str] = set()
    for entry in _ENTRY_SEPARATOR.split(s):
        name, eq, number = entry.rpartition("=")
        name = name.strip()
        if not eq or not name:
            errors.append(
                OptionError(f":expect: entry {entry.strip()!r} is not of the form row=count", hint=_EXPECT_HINT)
            )
            continue
        if name in seen:
            errors.append(OptionError(f":expect: names row {name!r} twice", hint="state each row once"))
        seen.add(name)
        try:
            out.append((name, parse_stated(number, what=f":expect: count for {name!r}")))
        except OptionError as exc:
            errors.append(exc)
    return out, errors


def parse_expect(text: str) -> list[tuple[str, StatedCount]]:
    """``read_expect``, raising its first problem: for callers that need every entry right."""
    pairs, errors = read_expect(text)
    if errors:
        raise errors[0]
    return pairs


def describe_difference(stated: StatedCount, actual: int) -> str:
    """``+32 (+0.02%)``: how far the model moved from what the docs say."""
    base = stated.value
    diff = actual - base
    sign = "+" if diff >= 0 else "-"
    share = abs(diff) / base * 100 if base else 0.0
    pct = f" ({sign}{percent(share)})" if base else ""
    return f"{sign}{abs(diff):,}{pct}"


@dataclass(frozen=True)
class ClaimKey:
    """What a stated number is about: the total, the trainable count, or one row."""

    what: str  # "total", "trainable", "macs", "flops" or "row"
    row: str = ""  # the row's name as the table prints it, for "row"

    def __str__(self) -> str:
        return f"row {self.row!r}" if self.what == "row" else self.what


@dataclass(frozen=True)
class Claim:
    key: ClaimKey
    count: StatedCount


@dataclass(frozen=True)
class Mismatch:
    """A stated number the model no longer has."""

    key: ClaimKey
    stated: StatedCount
    actual: int
    target: str
    # The whole message where the general one does not fit (compute: MACs, FLOPs, the 2x slip).
    text: str = ""

    @property
    def message(self) -> str:
        if self.text:
            return self.text
        real = f"{self.actual:,}"
        if not self.stated.exact:
            real += f" ({self.stated.at_precision(self.actual)} at the stated precision)"
        return (
            f"stated {self.key} {self.stated.text} for {self.target}, but the model has {real}: "
            f"{describe_difference(self.stated, self.actual)}"
        )


@dataclass(frozen=True)
class UnknownRow:
    """An ``:expect:`` row the table does not have, with the names closest to it."""

    key: ClaimKey
    suggestions: tuple[str, ...]
    rows: tuple[str, ...]  # the first few rows there are, when nothing is close

    @property
    def message(self) -> str:
        return f":expect: names row {self.key.row!r}, which the model does not have"

    @property
    def hint(self) -> str:
        if self.suggestions:
            return f"did you mean {', '.join(map(repr, self.suggestions))}?"
        return f"rows are {', '.join(map(repr, self.rows))}"


@dataclass(frozen=True)
class Check:
    """The outcome of checking a directive's, role's or caller's claims against a model."""

    mismatches: tuple[Mismatch, ...] = ()
    unknown: tuple[UnknownRow, ...] = ()
    # The model's number under every key that was checked (for ``update``).
    actual: tuple[tuple[ClaimKey, int], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.unknown


def check_claims(target: str, counts: dict[ClaimKey, int], claims: Iterable[Claim]) -> Check:
    """Compare each claim with the model's number under its key.

    ``counts`` holds the total, the trainable count and every row name the
    table prints (``views.claim_counts``).  A row not there is an
    ``UnknownRow`` with suggestions, not an exception.
    """
    import difflib

    mismatches: list[Mismatch] = []
    unknown: list[UnknownRow] = []
    actual: list[tuple[ClaimKey, int]] = []
    rows = [k.row for k in counts if k.what == "row"]
    for claim in claims:
        if claim.key not in counts:
            close = difflib.get_close_matches(claim.key.row, rows, n=3)
            unknown.append(UnknownRow(claim.key, tuple(close), tuple(rows[:8])))
            continue
        value = counts[claim.key]
        actual.append((claim.key, value))
        if not claim.count.matches(value):
            mismatches.append(Mismatch(claim.key, claim.count, value, target))
    return Check(tuple(mismatches), tuple(unknown), tuple(actual))
