"""Closed-form formulas in a model's hyperparameters (``:symbols:``), and stated ones checked (``:formula:``).

Papers write a model's size as a polynomial in its hyperparameters: about
``12 L d^2`` for GPT-style models, ``2Vd + L(4d^2 + 3d d_ff + 2d) + d`` for
Llama.  Given the values of those symbols (``d=4096, L=32``), each layer's
formula is rewritten in them wherever a number of the formula is one of
them and plays that symbol's part: a repeat count is written ``L`` only when
``L`` counts blocks, a head count ``h`` only where heads are counted.  A
block's rows add up to one polynomial, a stack of blocks is ``L`` times it,
and the whole model is the sum of its parts.  sympy does the algebra; every
formula is checked by substituting the values, as every derivation is.

A stated formula is read with ``ast`` (never ``eval``): numbers, bound
symbols, ``+ - * / **`` and parentheses.  It must equal the model's count
exactly, or, stated ``~ 12*L*d**2``, be within a relative tolerance.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .errors import OptionError
from .report import Report, Row
from .views import children_of, numbered_runs

if TYPE_CHECKING:
    import sympy

SYMBOLS_HINT = "write name=value pairs, e.g. ':symbols: d=4096, d_ff=11008, V=32000, L=32', or 'config'"

# Names that count blocks (a repeat count is written with them) and names that count heads; the config
# attributes' own names (num_hidden_layers, ...) and timm's depth too, as authors bind them by hand.
_BLOCK_NAMES = {
    "L", "N_L", "n_layer", "n_layers", "num_layers", "layers", "n_blocks", "blocks",
    "num_hidden_layers", "num_blocks", "depth",
}  # fmt: skip
_HEAD_NAMES = {
    "h", "H", "n_head", "n_heads", "heads", "num_heads", "h_kv", "n_kv", "n_kv_heads", "h_q",
    "num_attention_heads", "num_key_value_heads",
}  # fmt: skip
_KERNEL_NAMES = {"k", "K", "k_h", "k_w", "k_d", "kernel", "kernel_size"}
# A group count is never a width: 16 channels per group (64 / 4) are C/groups, not 4 groups.
_GROUP_NAMES = {"groups", "n_groups", "num_groups"}  # not G: authors also use it for a width

#: A transformers ``PretrainedConfig``'s usual attributes and the symbol each binds (``:symbols: config``).
CONFIG_SYMBOLS: tuple[tuple[str, str, str], ...] = (
    # (symbol, attribute, what it is)
    ("d", "hidden_size", "model width"),
    ("d", "n_embd", "model width (GPT-2)"),
    ("d", "d_model", "model width (T5, BART)"),
    ("d_ff", "intermediate_size", "feed-forward width"),
    ("d_ff", "n_inner", "feed-forward width (GPT-2; None is 4 d)"),
    ("d_ff", "d_ff", "feed-forward width (T5)"),
    ("V", "vocab_size", "vocabulary size"),
    ("L", "num_hidden_layers", "blocks"),
    ("L", "n_layer", "blocks (GPT-2)"),
    ("L", "num_layers", "blocks (T5)"),
    ("h", "num_attention_heads", "attention heads"),
    ("h", "n_head", "attention heads (GPT-2)"),
    ("h", "num_heads", "attention heads (T5)"),
    ("h_kv", "num_key_value_heads", "key/value heads (grouped-query attention; bound when fewer than h)"),
    ("d_h", "head_dim", "size per head"),
    ("d_kv", "", "key/value width, h_kv d_h (bound with grouped-query attention)"),
    ("P", "max_position_embeddings", "positions"),
    ("P", "n_positions", "positions (GPT-2)"),
)


@dataclass(frozen=True)
class Binding:
    """A symbol of the model's hyperparameters and its value: ``d_ff = 11008``."""

    name: str  # a Python identifier; its LaTeX is sympy's (``d_ff`` -> ``d_{ff}``)
    value: int
    source: str = ""  # the config attribute it was read from, if any

    @property
    def role(self) -> str:
        """``blocks`` (repeated blocks), ``heads`` (attention heads), ``kernel`` (a filter's size), ``groups`` or ``size``."""
        if self.name in _BLOCK_NAMES:
            return "blocks"
        if self.name in _HEAD_NAMES:
            return "heads"
        if self.name in _KERNEL_NAMES:
            return "kernel"
        if self.name in _GROUP_NAMES:
            return "groups"
        return "size"


# -- reading ``:symbols:`` ---------------------------------------------------------------------------------


def read_symbols(text: str) -> tuple[list[Binding], bool, list[OptionError]]:
    """``d=4096, L=32`` -> (bindings, whether ``config`` was asked for, problems).

    Every well-formed entry is kept, whatever is wrong with the others.
    Values are whole numbers of 1 or more (``4096``, ``4_096``).
    """
    bindings: list[Binding] = []
    errors: list[OptionError] = []
    from_config = False
    entries = [e.strip() for e in (text or "").split(",")]
    if not any(entries):
        return [], False, [OptionError(":symbols: is empty", hint=SYMBOLS_HINT)]
    seen: set[str] = set()
    for entry in entries:
        if not entry:  # "d=4096, L=32," : a trailing comma is no entry
            continue
        if entry == "config":
            from_config = True
            continue
        name, eq, value = (p.strip() for p in entry.partition("="))
        if not eq or not name:
            errors.append(OptionError(f":symbols: entry {entry!r} is not of the form name=value", hint=SYMBOLS_HINT))
            continue
        if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
            errors.append(
                OptionError(
                    f":symbols: name {name!r} is not an identifier",
                    hint="use letters, digits and underscores, as LaTeX subscripts: d_ff is written d_{ff}",
                )
            )
            continue
        digits = value.replace("_", "")
        if not (digits.isascii() and digits.isdigit()) or int(digits) < 1:
            errors.append(OptionError(f":symbols: value of {name} is {value!r}, not a whole number of 1 or more"))
            continue
        if name in seen:
            errors.append(OptionError(f":symbols: binds {name} twice", hint="bind each symbol once"))
            continue
        seen.add(name)
        bindings.append(Binding(name, int(digits)))
    return bindings, from_config, errors


def config_bindings(config: Mapping[str, int | None]) -> list[Binding]:
    """The symbols a model's config binds (``CONFIG_SYMBOLS``): its usual attributes that are set."""
    out: dict[str, Binding] = {}
    for symbol, attribute, _ in CONFIG_SYMBOLS:
        if symbol in out or not attribute:
            continue
        value = config.get(attribute)
        if symbol == "d_ff" and attribute == "n_inner" and "n_inner" in config and value is None:
            width = config.get("n_embd")
            value, attribute = (4 * width, "n_inner (None: 4 × n_embd)") if width else (None, attribute)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[symbol] = Binding(symbol, value, attribute)
    # Grouped-query attention: the key/value heads and width are symbols of their own; with as many
    # key/value heads as heads, h_kv would only be h again.
    if "h_kv" in out and "h" in out and out["h_kv"].value >= out["h"].value:
        del out["h_kv"]
    if "h_kv" in out:
        head = (
            out["d_h"].value if "d_h" in out else out["d"].value // out["h"].value if "d" in out and "h" in out else 0
        )
        if head:
            out["d_kv"] = Binding("d_kv", out["h_kv"].value * head, "num_key_value_heads × head_dim")
    return list(out.values())


def merge_bindings(given: list[Binding], from_config: list[Binding]) -> list[Binding]:
    """The config's bindings, each replaced by one given by name; given ones the config lacks after."""
    names = {b.name for b in given}
    return [b for b in from_config if b.name not in names] + given


# -- a model's formulas in its symbols ---------------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    """One formula in the model's symbols: LaTeX, plain text sympy reads, and the count it gives."""

    latex: str
    text: str
    value: int
    names: tuple[str, ...] = ()  # the symbols it uses, in name order


@dataclass
class Symbolic:
    """The formulas of a report's rows, and of the whole model, in the bound symbols."""

    bindings: list[Binding]
    rows: dict[str, Form]  # by the row's name as a table prints it
    whole: Form
    notes: list[str] = field(default_factory=list)
    unused: list[Binding] = field(default_factory=list)
    expr: Any = None  # the whole model's sympy expression, for checking a stated formula

    def to_json(self) -> dict[str, Any]:
        return {
            "symbols": {b.name: b.value for b in self.bindings},
            "formula": {"latex": self.whole.latex, "text": self.whole.text},
            "formula_notes": list(self.notes),
        }


def symbol_of(name: str) -> Any:
    """A bound symbol as sympy holds it: one set of assumptions everywhere, so equal names are equal symbols."""
    import sympy

    return sympy.Symbol(name, positive=True, integer=True)


def latex_of(expr: sympy.Expr) -> str:
    r"""sympy's LaTeX with a thin space between factors (``3\,d\,d_{ff}``), as papers set them."""
    import sympy

    return sympy.latex(expr, mul_symbol=r"\,")


def symbolic(report: Report, rows: list[Row], bindings: list[Binding]) -> Symbolic:
    """Each shown row's formula (layer, merged, repeated) and the whole model's, in ``bindings``.

    ``rows`` is the view shown (``views.view``).  A formula that does not give
    its row's count when the values are substituted is not used: the row keeps
    its count as a number, with a note (it should not happen; it is checked).
    """

    writer = _Writer(report, bindings)
    out: dict[str, Form] = {}
    for row in rows:
        if row.family == "repeat":
            head, _, span = row.name.rpartition(".")
            first = f"{head}.{span.split('–')[0]}" if head else span.split("–")[0]
            expr = writer.times(row.repeat, writer.subtree(first))
        elif row.family == "group":
            expr = writer.subtree(row.name)
        else:
            expr = writer.row(row)
        out[row.name] = writer.form(expr, row.params, row.name or "(root)")
    # Every row is in the module tree, tensors no module registers too (``count`` gives them a module entry).
    whole_expr = writer.subtree("")
    whole = writer.form(whole_expr, report.total, "the whole model")
    used = writer.used
    return Symbolic(
        bindings=bindings,
        rows=out,
        whole=whole,
        notes=list(dict.fromkeys(writer.notes)),
        unused=[b for b in bindings if b.name not in used],
        expr=whole_expr,
    )


class _Writer:
    """Rewrites rows and sub-trees in the bound symbols, remembering which were used and what was ambiguous."""

    def __init__(self, report: Report, bindings: list[Binding]) -> None:
        import sympy

        self.sympy = sympy
        self.bindings = bindings
        self.symbols = {b.name: symbol_of(b.name) for b in bindings}
        self.values = {self.symbols[b.name]: b.value for b in bindings}
        self.by_name = {r.name: r for r in report.rows}
        self.modules = {m.name: m for m in report.modules}
        self.children = children_of(report.modules)
        self.used: set[str] = set()
        self.notes: list[str] = []
        self._subtrees: dict[str, Any] = {}

    def number(self, value: int, role: str, multiples: bool = True) -> Any:
        """``value`` as the symbol bound to it that plays ``role``, else as the number.

        ``multiples``: a size may be written as a small multiple of a width
        (not a group's share of channels, ``C_in / g``: 16 of 64 in 4 groups
        is not ``4 G``).
        """
        matches = [b for b in self.bindings if b.value == value and b.role == role]
        if not matches and role == "size" and multiples:
            # GPT-2's fused q/k/v projection is 3d wide: a small multiple of a width is written so.
            whole = [(value // b.value, b) for b in self.bindings if b.role == "size" and value % b.value == 0]
            k, width = min(((k, b) for k, b in whole if 2 <= k <= _MULTIPLES), default=(0, None), key=lambda m: m[0])
            if width is not None:
                self.used.add(width.name)
                return k * self.symbols[width.name]
        if not matches:
            return self.sympy.Integer(value)
        if len(matches) > 1:
            names = " and ".join(b.name for b in matches)
            self.notes.append(
                f"{value:,} is both {names}, and the role it plays does not decide between them: it is "
                f"written {matches[0].name} (bind only one of them to choose)"
            )
            # The others match too: the note says why they are not written, so none "matches no number".
            self.used.update(b.name for b in matches)
        self.used.add(matches[0].name)
        return self.symbols[matches[0].name]

    def row(self, row: Row) -> Any:
        """One layer's formula, its numbers written as the symbols they are."""
        if not row.params:
            return self.sympy.Integer(0)  # a tied row: counted where its tensors are
        if not row.form:
            return self.sympy.Integer(row.params)
        names = {
            f"s{i}": self.number(value, _role(words), multiples=not latex.startswith("\\frac"))
            for i, (latex, words, value) in enumerate(row.legend)
        }
        expr = _arithmetic(ast.parse(row.form, mode="eval").body, names, self.sympy, row.form)
        return self.sympy.expand(expr)

    def subtree(self, name: str) -> Any:
        """A module's own row and its children's formulas, runs of equal numbered blocks as ``k`` times one."""
        if name in self._subtrees:
            return self._subtrees[name]
        own = self.row(self.by_name[name]) if name in self.by_name else self.sympy.Integer(0)
        kids = self.children.get(name, [])

        def signature(kid: str) -> tuple[str, Any]:
            return (self.modules[kid].type, self.subtree(kid))

        total = own
        for run in numbered_runs(kids, signature):
            one = self.subtree(run[0])
            total = total + (self.times(len(run), one) if len(run) > 1 else one)
        self._subtrees[name] = total
        return total

    def times(self, k: int, expr: Any) -> Any:
        """``L (…)`` where ``k`` is a bound block count, else the product multiplied out."""
        factor = self.number(k, "blocks")
        if isinstance(factor, self.sympy.Integer):
            return self.sympy.expand(factor * expr)
        return factor * self.sympy.expand(expr)

    def form(self, expr: Any, count: int, what: str) -> Form:
        value = expr.subs(self.values)
        if value != count:  # never shown: the count itself is, with the reason
            self.notes.append(f"the formula of {what} gives {value}, not its count {count:,}: its count is shown")
            expr = self.sympy.Integer(count)
        names = tuple(sorted(str(s) for s in expr.free_symbols))
        return Form(latex_of(expr), str(expr), count, names)


# The largest multiple of a bound width a number is written as (3d, not 2304; 4096 is not 128 F).
_MULTIPLES = 8


def _role(words: str) -> str:
    """The part a formula's number plays, from its legend words: a head count, a filter's size, or a size."""
    lowered = words.lower()
    if re.search(r"\bheads\b", lowered) and "per head" not in lowered:
        return "heads"
    if re.match(r"(filter|kernel) (height|width|depth|size)", lowered):
        return "kernel"
    return "size"


# -- stated formulas ---------------------------------------------------------------------------------------

FORMULA_HINT = (
    "write arithmetic in the bound symbols, e.g. ':formula: 12*L*d**2 + 2*V*d' (or '~ 12*L*d**2' for an estimate)"
)


@dataclass(frozen=True)
class StatedFormula:
    """A closed form the author states: exact, or an estimate (``~``) checked within ``tolerance``."""

    text: str  # as written, without the ``~``
    expr: Any  # sympy
    approximate: bool = False


def parse_formula(text: str, bindings: Iterable[Binding]) -> StatedFormula:
    """``12*L*d**2 + 2*V*d`` (or ``~ 12*L*d**2``) in the bound symbols; ``OptionError`` if it is not that.

    Read with ``ast`` into sympy, never evaluated as Python: numbers, bound
    names, ``+ - * /``, ``**`` (or ``^``) to a whole power, parentheses.
    """
    import sympy

    raw = (text or "").strip()
    approximate = raw.startswith(("~", "≈"))
    # d^2 as LaTeX writes it: Python would read ^ as xor, binding looser than *.
    body = (raw[1:].strip() if approximate else raw).replace("^", "**")
    if not body:
        raise OptionError(":formula: is empty", hint=FORMULA_HINT)
    names = {b.name: symbol_of(b.name) for b in bindings}
    try:
        tree = ast.parse(body, mode="eval").body
    except SyntaxError as exc:
        raise OptionError(f":formula: {body!r} is not arithmetic: {exc.msg}", hint=FORMULA_HINT) from None
    except (RecursionError, MemoryError):
        # Thousands of terms or parentheses: Python's parser gives up before any arithmetic is read.
        raise OptionError(":formula: is nested too deeply to read", hint=FORMULA_HINT) from None
    try:
        expr = _arithmetic(tree, names, sympy, body)
    except RecursionError:
        raise OptionError(":formula: is nested too deeply to read", hint=FORMULA_HINT) from None
    return StatedFormula(body, expr, approximate)


# A stated formula's powers stay small: (((d**16)**16)**16)**16 would otherwise be d**65536, and a few more
# levels a number sympy spends hours and gigabytes writing out when the values are substituted.
MAX_POWER = 16
MAX_DIGITS = 1000


def _arithmetic(node: ast.AST, names: Mapping[str, Any], sympy: Any, source: str) -> Any:
    """The sympy expression of an ``ast`` arithmetic tree; ``OptionError`` for anything else."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if isinstance(node.value, int):
            return sympy.Integer(node.value)
        # 1.5 is 3/2 exactly: a stated formula is checked exactly, not in binary floating point, so the
        # literal is read as written (9.99999999999999999 is not 10.0, 1e400 is not inf).
        written = ast.get_source_segment(source, node) or repr(node.value)
        exact = Fraction(written.replace("_", ""))
        return sympy.Rational(exact.numerator, exact.denominator)
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        bound = ", ".join(sorted(n for n in names if not re.fullmatch(r"s\d+", n)))
        raise OptionError(
            f":formula: uses {node.id!r}, which :symbols: does not bind",
            hint=f"the bound symbols are {bound}" if bound else "bind it in :symbols:, e.g. ':symbols: d=4096'",
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _arithmetic(node.operand, names, sympy, source)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left = _arithmetic(node.left, names, sympy, source)
        right = _arithmetic(node.right, names, sympy, source)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right.is_zero:
                raise OptionError(f":formula: divides by zero in {ast.unparse(node)!r}", hint=FORMULA_HINT)
            return left / right
        if isinstance(node.op, ast.Pow):
            if not (right.is_Integer and 0 <= int(right) <= MAX_POWER):
                raise OptionError(":formula: raises to a power that is not a whole number up to 16", hint=FORMULA_HINT)
            if left.is_Rational and left != 0 and int(right) * math.log10(max(abs(left.p), left.q)) > MAX_DIGITS:
                raise OptionError(f":formula: {ast.unparse(node)!r} is a number too large to check", hint=FORMULA_HINT)
            power = left**right
            if any(p.exp.is_Number and abs(p.exp) > MAX_POWER for p in power.atoms(sympy.Pow)):
                raise OptionError(
                    f":formula: {ast.unparse(node)!r} raises to a power above {MAX_POWER} in all", hint=FORMULA_HINT
                )
            return power
    what = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
    raise OptionError(f":formula: cannot use {what!r}: only numbers, bound symbols and + - * / **", hint=FORMULA_HINT)


@dataclass(frozen=True)
class FormulaMismatch:
    """A stated formula that does not give the model's count."""

    message: str


def check_formula(
    stated: StatedFormula, model: Symbolic, count: int, subject: str, tolerance: Decimal = Decimal("0.1")
) -> FormulaMismatch | None:
    """``None`` if ``stated`` gives ``count`` (within ``tolerance`` for an estimate), else why not.

    An exact formula that is off says by how much, as a polynomial in the
    symbols: the model's formula less the stated one.
    """
    import sympy

    values = {symbol_of(b.name): b.value for b in model.bindings}
    stated_value = stated.expr.subs(values)
    shown = str(stated.expr)  # as an author types it: 2*L*d + d
    if not stated_value.is_Rational:
        # 1/(d - 32) with d=32: sympy's complex infinity, which no count equals or compares with.
        return FormulaMismatch(
            f"stated formula {shown} has no value for {subject}: it divides by zero at the bound symbols' values"
        )
    if stated.approximate:
        off = abs(Decimal(str(sympy.Rational(stated_value))) - count) / count if count else Decimal(0)
        if off <= tolerance:
            return None
        return FormulaMismatch(
            f"stated formula ~ {shown} gives {_number(stated_value)} for {subject}, {_pct(off)} off the model's "
            f"{count:,}, beyond the stated tolerance of {_pct(tolerance)}"
        )
    if stated_value == count:
        return None
    difference = sympy.expand(model.expr - stated.expr)
    amount = difference.subs(values)
    more = "the model has" if amount > 0 else "the stated formula has"
    terms = difference if amount > 0 else -difference
    return FormulaMismatch(
        f"stated formula {shown} gives {_number(stated_value)} for {subject}, but the model has {count:,}: "
        f"{more} {terms} more than the {'stated formula' if amount > 0 else 'model'} "
        f"({_number(abs(amount))})"
    )


def _number(value: Any) -> str:
    try:
        return f"{int(value):,}" if value == int(value) else str(value)
    except (TypeError, ValueError):
        return str(value)


def _pct(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.1'))}%"


# -- rows written in the symbols -----------------------------------------------------------------------------


def bindings_for(report: Report, text: str | Mapping[str, int]) -> tuple[list[Binding], list[OptionError]]:
    """The bindings ``:symbols:`` (text, or a mapping from the Python API) asks for, ``config`` read from ``report``."""
    if isinstance(text, Mapping):
        given, from_config, errors = read_symbols(", ".join(f"{k}={v}" for k, v in text.items()))
    else:
        given, from_config, errors = read_symbols(text)
    if from_config:
        found = config_bindings(report.config)
        if not found:
            errors.append(
                OptionError(
                    f":symbols: config: {report.type_name or report.target} has no config with the usual "
                    "hyperparameters (hidden_size, num_hidden_layers, ...)",
                    hint="bind the symbols by name instead, e.g. ':symbols: d=768, L=12'",
                )
            )
        given = merge_bindings(given, found)
    return given, errors


def in_symbols(rows: list[Row], model: Symbolic) -> list[Row]:
    """The rows with their formulas written in the symbols; derivations (the numbers) stay as they are.

    Each row's legend names the symbols its formula uses, with their values.
    """
    meaning = {b.name: _meaning(b) for b in model.bindings}
    value = {b.name: b.value for b in model.bindings}
    out = []
    for row in rows:
        form = model.rows.get(row.name)
        if form is None or not row.params or not form.names:
            out.append(row)
            continue
        legend = tuple((latex_of(symbol_of(n)), meaning[n], value[n]) for n in form.names if n in meaning)
        out.append(replace(row, formula=form.latex, legend=legend or row.legend))
    return out


_DESCRIBED = {attribute: what for _, attribute, what in CONFIG_SYMBOLS if attribute}


def _meaning(b: Binding) -> str:
    if b.source:
        what = _DESCRIBED.get(b.source.split(" ")[0], "")
        return f"{what[:1].upper()}{what[1:]} (config {b.source})" if what else f"config {b.source}"
    return "Bound in :symbols:"
