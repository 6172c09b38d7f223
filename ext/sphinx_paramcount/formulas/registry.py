"""The formula registry: layer type -> formula.

Built-in families are declared with the same decorator users call, so a
user's layer gets exactly the treatment ``nn.Conv2d`` gets::

    from sphinx_paramcount.formulas import register_formula, Sym

    @register_formula("mypkg.layers.LowRankLinear")
    def low_rank(m):
        r = Sym("r", "Rank", m.rank)
        ...
        return d_in * r + r * d_out

Keys may be classes or ``"pkg.mod.Class"`` / ``"pkg.mod:Class"`` strings; a
string key lets a ``conf.py`` register a formula without importing torch or
the model at start-up.  Lookup walks the module's MRO, so subclasses inherit
their parent's formula; the count module then checks the formula against the
real tensors and falls back to the generic one when a subclass adds tensors.

A string key may be a glob pattern (``fnmatch``: ``*``, ``?``, ``[...]``)
over ``module.qualname``: ``"transformers.*RMSNorm"`` gives every RMSNorm class
of transformers one formula without listing (or importing) each.  A class's
exact key, or its base's, wins over any pattern; a pattern match is treated
as an inherited formula (one that does not fit falls back, never fails).
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..errors import FormulaError
from .expr import Expr

FormulaFn = Callable[[Any], Expr]
F = TypeVar("F", bound=FormulaFn)


@dataclass(frozen=True)
class Formula:
    """One layer family's formula, as registered."""

    name: str
    build: FormulaFn
    # Short type label with the constructor's key numbers: ``Conv2d(3, 16, k=3)``.
    label: Callable[[Any], str] | None = None
    # True when the formula counts the module's children too (MultiheadAttention
    # owns its out_proj Linear): the children then get no rows of their own.
    covers_children: bool = False


def type_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _normalise_key(key: type | str) -> str:
    if isinstance(key, type):
        return type_key(key)
    if not isinstance(key, str) or not key.strip():
        raise FormulaError(f"formula key {key!r} is neither a class nor a 'pkg.mod.Class' string")
    return key.strip().replace(":", ".")


def _is_pattern(key: str) -> bool:
    return any(c in key for c in "*?[")


class FormulaRegistry:
    def __init__(self) -> None:
        self._by_key: dict[str, Formula] = {}
        # Glob keys, newest last; looked up only when no exact key matches.
        self._by_pattern: dict[str, Formula] = {}
        # Bumped on every change, so caches of counts made with older formulas expire.
        self.version = 0

    def register(
        self,
        *keys: type | str,
        label: Callable[[Any], str] | None = None,
        covers_children: bool = False,
        replace: bool = True,
    ) -> Callable[[F], F]:
        """Decorator: register ``fn(module) -> Expr`` for the given layer types."""
        if not keys:
            raise FormulaError("register_formula() needs at least one layer type")

        def decorate(fn: F) -> F:
            self.add(*keys, build=fn, label=label, covers_children=covers_children, replace=replace)
            return fn

        return decorate

    def add(
        self,
        *keys: type | str,
        build: FormulaFn,
        label: Callable[[Any], str] | None = None,
        covers_children: bool = False,
        replace: bool = True,
    ) -> None:
        if not callable(build):
            raise FormulaError(f"formula {build!r} is not callable")
        name = getattr(build, "__name__", "formula")
        formula = Formula(name=name, build=build, label=label, covers_children=covers_children)
        for key in keys:
            k = _normalise_key(key)
            table = self._by_pattern if _is_pattern(k) else self._by_key
            if replace or k not in table:
                table.pop(k, None)  # a replaced pattern moves to the end: the newest wins
                table[k] = formula
                self.version += 1

    def add_spec(self, key: type | str, spec: str | FormulaFn) -> None:
        """Register a formula given as a function or as ``"pkg.mod:function"`` (config values)."""
        self.add(key, build=spec if callable(spec) else LazyFormula(spec))

    def lookup(self, cls: type) -> tuple[Formula, bool] | None:
        """The formula for ``cls`` and whether it was registered for ``cls`` itself."""
        for i, base in enumerate(cls.__mro__):
            found = self._by_key.get(type_key(base))
            if found is not None:
                return found, i == 0
        for base in cls.__mro__:
            key = type_key(base)
            for pattern, formula in reversed(self._by_pattern.items()):
                if fnmatch.fnmatchcase(key, pattern):
                    return formula, False
        return None

    def copy(self) -> FormulaRegistry:
        new = FormulaRegistry()
        new._by_key = dict(self._by_key)
        new._by_pattern = dict(self._by_pattern)
        return new

    def __contains__(self, key: type | str) -> bool:
        k = _normalise_key(key)
        return k in self._by_key or k in self._by_pattern


#: The registry users extend.  Built-ins are added on first use (``default_registry``).
REGISTRY = FormulaRegistry()
register_formula = REGISTRY.register

_builtins_loaded = False


def default_registry() -> FormulaRegistry:
    """The global registry with the built-in families loaded (imports torch)."""
    global _builtins_loaded
    if not _builtins_loaded:
        from . import builtin, libraries

        # Built-ins never override what a user registered before first use.
        builtin.register_all(REGISTRY)
        libraries.register_all(REGISTRY)
        _builtins_loaded = True
    return REGISTRY


def split_formula_spec(spec: str) -> tuple[str, str]:
    """``"pkg.mod:fn"`` or ``"pkg.mod.fn"`` -> ``("pkg.mod", "fn")``; a part is empty when missing."""
    text = spec.strip()
    if ":" in text:
        mod_name, _, attr_path = text.partition(":")
    else:
        mod_name, _, attr_path = text.rpartition(".")
    return mod_name, attr_path


def load_formula_spec(spec: str) -> FormulaFn:
    """Resolve ``"pkg.mod:function"`` (or dotted) to a callable, for config values."""
    mod_name, attr_path = split_formula_spec(spec)
    if not mod_name or not attr_path:
        raise FormulaError(
            f"formula {spec!r} is not of the form 'pkg.module:function'",
            hint="name the function that builds the formula, e.g. 'mypkg.formulas:low_rank'",
        )
    try:
        obj: Any = importlib.import_module(mod_name)
    except Exception as exc:
        raise FormulaError(f"formula module {mod_name!r} cannot be imported: {type(exc).__name__}: {exc}") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise FormulaError(f"formula {spec!r}: {mod_name!r} has no attribute {part!r}") from None
    if not callable(obj):
        raise FormulaError(f"formula {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


class LazyFormula:
    """A formula named by ``"pkg.mod:function"``, imported on first use.

    So a ``conf.py`` can register formulas without importing torch or the
    model; a missing function raises ``FormulaError`` at the first directive
    that needs it, located there.
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.__name__ = spec.rpartition(":")[2] or spec

    def __call__(self, module: Any) -> Expr:
        return load_formula_spec(self.spec)(module)
