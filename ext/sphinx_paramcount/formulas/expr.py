"""Formula expressions: one tree gives the symbolic LaTeX, the substituted
LaTeX and the value, so the three can never disagree.

A formula is written once, with named symbols (``C_{out}``) bound to the
module's numbers; rendering it twice (symbols, then numbers) is what the seed
notebook does by hand.  Only sums and products of non-negative integers are
needed for parameter counts, which keeps the substituted text plain arithmetic
that a test (or a reader) can evaluate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


def latex_int(value: int) -> str:
    """An integer for LaTeX math, grouped with thin ``{,}`` from 10,000 up."""
    if abs(value) < 10_000:
        return str(value)
    return f"{value:,}".replace(",", "{,}")


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


def legend(expr: Expr) -> list[tuple[str, str, int]]:
    """Each distinct symbol once, in order of appearance: (LaTeX, words, value)."""
    seen: dict[str, tuple[str, str, int]] = {}
    for s in expr.symbols():
        seen.setdefault(s.latex, (s.latex, s.words, s.n))
    return list(seen.values())


@dataclass(frozen=True)
class TensorSize(Expr):
    """The generic term: one parameter tensor's size, the product of its shape."""

    name: str
    shape: tuple[int, ...]
    precedence = 2

    @property
    def value(self) -> int:
        out = 1
        for d in self.shape:
            out *= d
        return out

    def symbolic(self) -> str:
        escaped = self.name.replace("_", r"\_")
        return rf"|\mathtt{{{escaped}}}|"

    def substituted(self) -> str:
        if not self.shape:
            return "1"
        return r" \times ".join(latex_int(d) for d in self.shape)
