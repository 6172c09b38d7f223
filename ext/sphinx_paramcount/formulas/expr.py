"""Formula expressions: one tree gives the symbolic LaTeX, the substituted
LaTeX and the value, so the three can never disagree.

A formula is written once, with named symbols (``C_{out}``) bound to the
module's numbers; rendering it twice (symbols, then numbers) is what the seed
notebook does by hand.  Only sums and products of non-negative integers are
needed for parameter counts, which keeps the substituted text plain arithmetic
that a test (or a reader) can evaluate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# Characters LaTeX treats specially, written as literal characters inside math
# in forms that pdflatex and MathJax both accept: MathJax has no text-mode
# \textasciitilde or \textbackslash, and a bare ``%`` ends the formula in both.
_MATH_CHARS = {
    "\\": r"\backslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "#": r"\#",
    "&": r"\&",
    "$": r"\$",
    "_": r"\_",
    "~": r"\sim{}",
    "^": r"\hat{}",
    " ": r"\ ",
    # In math a bare ' is a prime: \text gives the apostrophe itself.
    "'": r"\text{'}",
}


def latex_text(text: str) -> str:
    r"""``text`` (a parameter name, a separator) shown as written, inside LaTeX math.

    ASCII specials get the escapes above; other non-ASCII characters go in
    ``\text{...}``, where pdflatex takes them from the text font (inputenc).
    """
    return "".join(_MATH_CHARS.get(c) or (rf"\text{{{c}}}" if not c.isascii() else c) for c in text)


_ESCAPED = re.compile(
    "|".join(re.escape(v) for v in sorted(_MATH_CHARS.values(), key=len, reverse=True)) + r"|\\text\{(.)\}"
)
_CHARS = {v: k for k, v in _MATH_CHARS.items()}


def unlatex_text(latex: str) -> str:
    """The inverse of ``latex_text``: the characters as written."""
    return _ESCAPED.sub(lambda m: m.group(1) or _CHARS[m.group(0)], latex)


# Digit grouping inside math.  A comma is braced, else TeX adds the space
# that follows punctuation; spaces become a thin space, as SI writes groups.
_MATH_SEPS = {",": "{,}", ".": "{.}", "": ""}


def latex_sep(sep: str) -> str:
    """``paramcount_thousands_sep`` as it is written between digit groups in math."""
    if sep in _MATH_SEPS:
        return _MATH_SEPS[sep]
    if sep.isspace():
        return r"\,"
    return "{" + latex_text(sep) + "}"


def latex_int(value: int, sep: str = ",", group_from: int = 1000) -> str:
    r"""An integer for LaTeX math, its digits grouped by ``sep`` from ``group_from`` up.

    One rule in every output (formulas, derivations, counts; HTML, LaTeX,
    text, Markdown): digits are grouped from 1,000 up (``4{,}096 \times 32``).
    """
    if abs(value) < group_from:
        return str(value)
    return f"{value:,}".replace(",", latex_sep(sep))


# The grouping ``latex_int`` writes by default, where a formula's LaTeX holds it.
_GROUPED = re.compile(r"(?<=\d)\{,\}(?=\d{3}(?!\d))")


def regroup(latex: str, sep: str) -> str:
    """A formula's LaTeX with its digit groups separated by ``sep`` instead of ``{,}``."""
    if sep == ",":
        return latex
    math_sep = latex_sep(sep)
    return _GROUPED.sub(lambda _: math_sep, latex)


class Expr:
    """A node of a formula.  Subclasses are immutable value objects."""

    # Binding strength, for parentheses: sums bind weaker than products.
    precedence = 3

    @property
    def value(self) -> int:
        raise NotImplementedError

    def symbolic(self) -> str:
        raise NotImplementedError

    def substituted(self) -> str:
        raise NotImplementedError

    def symbols(self) -> Iterator[Sym]:
        yield from ()

    def text(self, names: Mapping[str, str]) -> str:
        """Plain arithmetic (``s0*s1 + s0``) that sympy and ``ast`` read, each symbol under ``names[latex]``."""
        raise NotImplementedError

    # Operators make formulas read like the maths: ``C_out * k_h * k_w + C_out``.
    def __add__(self, other: Expr | int) -> Sum:
        return Sum((self, _expr(other)))

    def __radd__(self, other: int) -> Sum:
        return Sum((_expr(other), self))

    def __mul__(self, other: Expr | int) -> Prod:
        return Prod((self, _expr(other)))

    def __rmul__(self, other: int) -> Prod:
        return Prod((_expr(other), self))


def _expr(x: Expr | int) -> Expr:
    return x if isinstance(x, Expr) else Const(int(x))


def _wrap(child: Expr, parent: Expr, text: str) -> str:
    return f"({text})" if child.precedence < parent.precedence else text


@dataclass(frozen=True)
class Const(Expr):
    """A fixed number of the formula itself (the 4 gates of an LSTM)."""

    n: int

    @property
    def value(self) -> int:
        return self.n

    def symbolic(self) -> str:
        return latex_int(self.n)

    def substituted(self) -> str:
        return latex_int(self.n)

    def text(self, names: Mapping[str, str]) -> str:
        return str(self.n)


@dataclass(frozen=True)
class Sym(Expr):
    """A named quantity of the module: its LaTeX, its meaning in words, its value."""

    latex: str
    words: str
    n: int

    @property
    def value(self) -> int:
        return self.n

    def symbolic(self) -> str:
        return self.latex

    def substituted(self) -> str:
        return latex_int(self.n)

    def symbols(self) -> Iterator[Sym]:
        yield self

    def text(self, names: Mapping[str, str]) -> str:
        return names[self.latex]


@dataclass(frozen=True)
class Sum(Expr):
    terms: tuple[Expr, ...]
    precedence = 1

    @property
    def value(self) -> int:
        return sum(t.value for t in self.terms)

    def symbolic(self) -> str:
        return " + ".join(_wrap(t, self, t.symbolic()) for t in self._flat())

    def substituted(self) -> str:
        return " + ".join(_wrap(t, self, t.substituted()) for t in self._flat())

    def text(self, names: Mapping[str, str]) -> str:
        return "(" + " + ".join(t.text(names) for t in self._flat()) + ")"

    def symbols(self) -> Iterator[Sym]:
        for t in self.terms:
            yield from t.symbols()

    def _flat(self) -> Iterator[Expr]:
        # (a + b) + c prints as a + b + c: addition is associative.
        for t in self.terms:
            if isinstance(t, Sum):
                yield from t._flat()
            else:
                yield t


@dataclass(frozen=True)
class Prod(Expr):
    factors: tuple[Expr, ...]
    precedence = 2

    @property
    def value(self) -> int:
        out = 1
        for f in self.factors:
            out *= f.value
        return out

    def symbolic(self) -> str:
        return r" \cdot ".join(_wrap(f, self, f.symbolic()) for f in self._flat())

    def substituted(self) -> str:
        return r" \times ".join(_wrap(f, self, f.substituted()) for f in self._flat())

    def text(self, names: Mapping[str, str]) -> str:
        return "*".join(f.text(names) for f in self._flat())

    def symbols(self) -> Iterator[Sym]:
        for f in self.factors:
            yield from f.symbols()

    def _flat(self) -> Iterator[Expr]:
        for f in self.factors:
            if isinstance(f, Prod):
                yield from f._flat()
            else:
                yield f


def total(terms: list[Expr]) -> Expr:
    """The sum of ``terms``; a single term stays itself, none is ``0``."""
    if not terms:
        return Const(0)
    if len(terms) == 1:
        return terms[0]
    return Sum(tuple(terms))


def plain_form(expr: Expr) -> str:
    """``expr`` as plain arithmetic whose symbol ``s<i>`` is entry ``i`` of ``legend(expr)`` (``Row.form``)."""
    names = {latex: f"s{i}" for i, (latex, _, _) in enumerate(legend(expr))}
    try:
        return expr.text(names)
    except NotImplementedError:  # a user's own Expr subclass: its row keeps its numbers
        return ""


def legend(expr: Expr) -> list[tuple[str, str, int]]:
    """Each distinct symbol once, in order of appearance: (LaTeX, words, value)."""
    seen: dict[str, tuple[str, str, int]] = {}
    for s in expr.symbols():
        seen.setdefault(s.latex, (s.latex, s.words, s.n))
    return list(seen.values())


@dataclass(frozen=True)
class TensorSize(Expr):
    """The generic term: one parameter tensor's size, the product of its shape.

    With ``words`` (a class token, a position embedding: see ``owned``) the
    term has a legend entry too, its symbol being the tensor's name.
    """

    name: str
    shape: tuple[int, ...]
    words: str = ""
    precedence = 2

    def symbols(self) -> Iterator[Sym]:
        if self.words:
            yield Sym(self.symbolic(), self.words, self.value)

    @property
    def value(self) -> int:
        out = 1
        for d in self.shape:
            out *= d
        return out

    def symbolic(self) -> str:
        return rf"|\mathtt{{{latex_text(self.name)}}}|"

    def substituted(self) -> str:
        if not self.shape:
            return "1"
        return r" \times ".join(latex_int(d) for d in self.shape)

    def text(self, names: Mapping[str, str]) -> str:
        if self.words:
            return names[self.symbolic()]
        return "*".join(str(d) for d in self.shape) or "1"


@dataclass(frozen=True)
class Pow(Expr):
    """A symbol to a fixed power (``T^2``, attention's sequence length squared): the base shown substituted."""

    base: Expr
    exponent: int
    precedence = 4

    @property
    def value(self) -> int:
        return int(self.base.value**self.exponent)

    def symbolic(self) -> str:
        return self._power(self.base.symbolic())

    def substituted(self) -> str:
        return self._power(self.base.substituted())

    def _power(self, base: str) -> str:
        # A sum or product base needs parentheses; a symbol or number (``T``, ``1{,}024``) does not.
        if isinstance(self.base, (Sum, Prod)):
            base = f"({base})"
        exponent = str(self.exponent) if 0 <= self.exponent < 10 else f"{{{self.exponent}}}"
        return f"{base}^{exponent}"

    def symbols(self) -> Iterator[Sym]:
        yield from self.base.symbols()

    def text(self, names: Mapping[str, str]) -> str:
        return f"({self.base.text(names)})**{self.exponent}"
