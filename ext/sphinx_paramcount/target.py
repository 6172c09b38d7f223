"""Target text -> the object it names.

A target is parsed with ``ast`` into plain data (``Ref``, ``Call``, literals)
and only then resolved by importing the dotted names it contains: nothing in
the text is ever evaluated, so the only code that runs is the code of the
modules it names and the callables it calls (as with autodoc).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Union

from .errors import ImportTargetError, TargetError

_COLON_FORM = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*:\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Ref:
    """A dotted name.  ``module`` is set when the author wrote ``pkg.mod:attr``."""

    parts: tuple[str, ...]
    module: str | None = None

    @property
    def text(self) -> str:
        attrs = ".".join(self.parts)
        return f"{self.module}:{attrs}" if self.module else attrs


@dataclass(frozen=True)
class Call:
    func: Ref
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Container:
    """A tuple, list or dict whose items may themselves be calls or names."""

    kind: str  # "tuple", "list", "dict"
    items: tuple[Value, ...]
    keys: tuple[Value, ...] = ()


Value = Union[Ref, Call, Literal, Container]


def parse_target(text: str) -> Ref | Call:
    """Parse target text into a ``Ref`` or ``Call``; ``TargetError`` if it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise TargetError(
            "empty target",
            hint="give a dotted path such as 'mypkg.models:SimpleNet' or a call such as 'torch.nn.Linear(4, 2)'",
        )
    source = " ".join(text.split())  # a target may wrap over lines in the source
    module = None
    match = _COLON_FORM.match(source)
    if match:
        module, source = match.group(1), match.group(2)
        if not source:
            raise TargetError(f"target {text.strip()!r} names no attribute after ':'")
    try:
        with warnings.catch_warnings():
            # "\d" in a string argument: a SyntaxWarning from the parser would be stray text in the build log.
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
        node = _convert(tree.body, source, module=module, top=True)
    except SyntaxError as exc:
        col = (exc.offset or 1) + (match.start(2) if match else 0)
        raise TargetError(
            f"target {text.strip()!r} is not valid syntax at column {col}: {exc.msg}",
            hint="write a dotted name or a call with literal arguments",
        ) from None
    except (RecursionError, MemoryError):
        # The parser and _convert recurse per level: "f(-----...1)" must not crash the build.
        raise TargetError(
            f"target {text.strip()[:40]!r}... is nested too deeply",
            hint="write a dotted name or a call with literal arguments",
        ) from None
    if not isinstance(node, (Ref, Call)):
        raise TargetError(
            f"target {text.strip()!r} is a literal, not a model",
            hint="name a class, a factory or a module instance",
        )
    return node


def _segment(node: ast.AST, source: str) -> str:
    return ast.get_source_segment(source, node) or type(node).__name__


def _dotted(node: ast.expr) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return None


def _convert(node: ast.expr, source: str, *, module: str | None = None, top: bool = False) -> Value:
    if isinstance(node, (ast.Name, ast.Attribute)):
        parts = _dotted(node)
        if parts is None:
            raise TargetError(
                f"{_segment(node, source)!r}: only dotted names may be used; an attribute of a call's result is not allowed",
                hint="name the object by its dotted path, or write a factory function that returns the model",
            )
        return Ref(parts, module)
    if isinstance(node, ast.Call):
        func = _convert(node.func, source, module=module, top=top)
        if not isinstance(func, Ref):
            raise TargetError(
                f"{_segment(node, source)!r}: only a dotted name may be called",
                hint="call a class or factory by its dotted path",
            )
        args = tuple(_convert(a, source) for a in node.args)
        kwargs: list[tuple[str, Any]] = []
        for kw in node.keywords:
            if kw.arg is None:
                raise TargetError(f"{_segment(node, source)!r}: '**' arguments are not allowed")
            if any(name == kw.arg for name, _ in kwargs):
                # ast accepts this (compile() would not); the last value must not win silently.
                raise TargetError(f"{_segment(node, source)!r}: keyword argument {kw.arg!r} is repeated")
            kwargs.append((kw.arg, _convert(kw.value, source)))
        return Call(func, args, tuple(kwargs))
    if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, type(...))):
        return Literal(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        if isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float, complex)):
            if not isinstance(node.operand.value, bool):
                sign = -1 if isinstance(node.op, ast.USub) else 1
                return Literal(sign * node.operand.value)
    if isinstance(node, (ast.Tuple, ast.List)) and not any(isinstance(e, ast.Starred) for e in node.elts):
        kind = "tuple" if isinstance(node, ast.Tuple) else "list"
        return Container(kind, tuple(_item(e, source) for e in node.elts))
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return Container(
            "dict",
            tuple(_item(v, source) for v in node.values),
            tuple(_item(k, source) for k in node.keys if k is not None),
        )
    what = {
        ast.Lambda: "a lambda",
        ast.BinOp: "an operator expression",
        ast.BoolOp: "a boolean operator",
        ast.Compare: "a comparison",
        ast.Subscript: "a subscript",
        ast.ListComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.JoinedStr: "an f-string",
        ast.IfExp: "a conditional expression",
    }.get(type(node), "an expression that is not a literal")
    raise TargetError(
        f"{_segment(node, source)!r} is {what}; targets allow only dotted names, calls and literals",
        hint="compute the value in a factory function in your package and name that function",
    )


def _item(node: ast.expr, source: str) -> Value:
    """An element of a tuple, list or dict: literals and names only, no calls.

    Calls are allowed as arguments (a config object built for a factory) but
    not hidden inside data, where a reader would not expect code to run.
    """
    value = _convert(node, source)
    if isinstance(value, Call):
        raise TargetError(
            f"{_segment(node, source)!r} is a call inside a literal; only literals and dotted names may appear there",
            hint="pass the call as an argument of its own, or compute it in a factory function",
        )
    return value


# -- resolution ----------------------------------------------------------------


def resolve_ref(ref: Ref) -> Any:
    """Import the module part of ``ref`` and follow its attributes."""
    if ref.module is not None:
        obj = _import(ref.module, ref.text)
        return _follow(obj, ref.parts, ref.module, ref.text)
    # Dotted form: the longest importable prefix is the module.
    parts = ref.parts
    for cut in range(len(parts), 0, -1):
        mod_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            # Only "this very module does not exist" means try a shorter prefix;
            # a missing dependency inside an existing module is the real error.
            if exc.name is not None and (mod_name == exc.name or mod_name.startswith(exc.name + ".")):
                continue
            raise _import_error(_failed_module(parts[:cut]), ref.text, exc) from exc
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # sys.exit(), CancelledError ... at import must not end the build
            raise _import_error(_failed_module(parts[:cut]), ref.text, exc) from exc
        return _follow(obj, parts[cut:], mod_name, ref.text)
    raise ImportTargetError(
        f"no module named {parts[0]!r} (target {ref.text!r})",
        hint="check the spelling, and that the package is installed or on sys.path (conf.py)",
    )


def _failed_module(parts: tuple[str, ...]) -> str:
    """The module whose import raised: Python drops it (not its parents) from sys.modules.

    ``import_module("pkg.models.Net")`` fails inside ``pkg.models`` when that
    module raises; the error must name ``pkg.models``, not ``pkg.models.Net``.
    """
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            return name
    return ".".join(parts)


def _import(mod_name: str, text: str) -> Any:
    try:
        return importlib.import_module(mod_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise _import_error(mod_name, text, exc) from exc


def _import_error(mod_name: str, text: str, exc: BaseException) -> ImportTargetError:
    if isinstance(exc, SystemExit):
        return ImportTargetError(
            f"importing {mod_name!r} called sys.exit({exc.code!r})",
            hint="a module that defines a model must not exit when imported; guard script code with "
            "'if __name__ == \"__main__\":'",
        )
    if isinstance(exc, ModuleNotFoundError) and exc.name == mod_name:
        return ImportTargetError(
            f"no module named {mod_name!r} (target {text!r})",
            hint="check the spelling, and that the package is installed or on sys.path (conf.py)",
        )
    return ImportTargetError(
        f"importing {mod_name!r} failed: {type(exc).__name__}: {exc}",
        hint="fix the error in that module, or install what it imports",
    )


def _follow(obj: Any, attrs: tuple[str, ...], where: str, text: str) -> Any:
    for attr in attrs:
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            close = difflib.get_close_matches(attr, [n for n in dir(obj) if not n.startswith("__")], n=3)
            hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "check the name"
            raise ImportTargetError(f"{where!r} has no attribute {attr!r} (target {text!r})", hint=hint) from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a property or lazy module that raises on access
            raise ImportTargetError(f"reading {where}.{attr} failed: {type(exc).__name__}: {exc}") from exc
        where = f"{where}.{attr}"
    return obj


def materialise(value: Value) -> Any:
    """Turn an argument into a Python value; nested calls are called here."""
    if isinstance(value, Literal):
        return value.value
    if isinstance(value, Ref):
        return resolve_ref(value)
    if isinstance(value, Call):
        func = resolve_ref(value.func)
        return call(func, value)
    items = [materialise(v) for v in value.items]
    if value.kind == "dict":
        return dict(zip((materialise(k) for k in value.keys), items))
    return tuple(items) if value.kind == "tuple" else items


def call(func: Any, spec: Call) -> Any:
    if not callable(func):
        raise TargetError(f"{spec.func.text!r} is not callable")
    args = [materialise(a) for a in spec.args]
    kwargs = {k: materialise(v) for k, v in spec.kwargs}
    return func(*args, **kwargs)
