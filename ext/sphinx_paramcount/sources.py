"""Which files of the user's own code a count depends on, and in what order to reload them.

A count depends on more than the files defining the model's classes: a
factory's module, a module-level instance, a constant or a config imported
from another module (``from cfg import H``, ``import cfg; cfg.H``,
``from .cfg import H``), and the user's formula functions.  The files are
found statically: the modules named by the target, by the model's classes and
by the formulas its layers use are the roots, and each user module's
``import`` statements, read with ``ast``, lead to the rest.  Only modules that
are loaded (in ``sys.modules``) count: an import that never ran (under
``if TYPE_CHECKING:``, in a function never called) cannot have changed the
model.  Library code (the standard library, site-packages, torch, this
package) is never followed.

Each file is parsed once per modification, so a rebuild adds a few stat calls.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

from .errors import ParamcountError
from .formulas.registry import FormulaRegistry, LazyFormula, split_formula_spec
from .target import Call, Container, Ref, Value, parse_target

Fingerprint = tuple[int, int]  # (st_mtime_ns, st_size); (-1, -1) for a file that is gone

# An import statement as written: (level, module, names); ``names`` is None for ``import a.b``.
_Import = tuple[int, str, tuple[str, ...] | None]
_parsed: dict[str, tuple[Fingerprint, list[_Import]]] = {}


def model_sources(model: Any, target: str = "", registry: FormulaRegistry | None = None) -> list[str]:
    """The files of user code the count of ``model`` depends on, sorted.

    ``model`` is the built ``nn.Module``; ``target`` the target text it was
    built from (its modules are roots too); ``registry`` the formulas used to
    count it.  Paths are the modules' ``__file__`` as Python loaded them.
    """
    roots = set(_target_modules(target))
    classes = {type(m) for m in model.modules()}
    roots.update(cls.__module__ for cls in classes)
    if registry is not None:
        roots.update(_formula_modules(classes, registry))
    modules = _closure(m for m in map(sys.modules.get, roots) if m is not None and _is_user_module(m))
    return sorted({m.__file__ for m in modules if m.__file__})


def target_sources(target: str) -> list[str]:
    """The files of user code a target names, and those they import: what a failed count depends on.

    A target that could not be imported or built has no model to walk, but
    the page must still be read again once its code is fixed: the modules the
    target names (found without running them: a module that failed to import
    is not loaded) and the loaded user modules they import.
    """
    files: set[str] = set()
    loaded: list[ModuleType] = []
    todo, seen = list(_named_modules(target)), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        module = sys.modules.get(name)
        if module is not None:
            if _is_user_module(module):
                loaded.append(module)
            continue
        origin = _unloaded_file(name)
        if origin is not None and origin not in files:
            files.add(origin)
            # Not loaded (its import failed): follow what its source imports, by absolute name.
            todo += [base for level, base, _ in _imports_in(origin) if not level and base]
    files.update(m.__file__ for m in _closure(loaded) if m.__file__)
    return sorted(files)


def _unloaded_file(name: str) -> str | None:
    """The user source file of a module not loaded, found without running any code (else None)."""
    parent = name.rpartition(".")[0]
    if parent and parent not in sys.modules:
        return None  # finding a submodule would import its package, running the user's code
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    if isinstance(origin, str) and origin.endswith(".py") and not _in_library(origin):
        return origin
    return None


def _named_modules(target: str) -> Iterator[str]:
    """Every module name a target's references could mean: ``a.b.C`` may be ``a``, ``a.b``."""
    for ref in _target_refs(target):
        if ref.module is not None:
            yield ref.module
        else:
            yield from (".".join(ref.parts[:cut]) for cut in range(1, len(ref.parts)))


def fingerprint(path: str) -> Fingerprint:
    """What tells an edited file from an unedited one (its size too: two edits may share an mtime)."""
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def _closure(modules: Iterable[ModuleType]) -> list[ModuleType]:
    """``modules`` and every user module they import, directly or not."""
    seen: dict[str, ModuleType] = {}
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module.__name__ in seen:
            continue
        seen[module.__name__] = module
        todo.extend(_user_imports(module))
    return list(seen.values())


def reload_order(changed: Iterable[str], tracked: Iterable[str]) -> list[ModuleType]:
    """The loaded user modules to reload after the files ``changed`` were edited, dependencies first.

    ``tracked`` are the files whose modules may hold stale names: besides the
    changed modules themselves, every tracked module that imports one of them,
    directly or through others, is reloaded after it, so that ``from cfg
    import H`` binds the new ``H``.  An import cycle is broken where it was
    entered.
    """
    wanted = {_real(p) for p in changed}
    by_file = {_real(m.__file__): m for m in list(sys.modules.values()) if _is_user_module(m) and m.__file__}
    candidates = {by_file[f].__name__: by_file[f] for f in {*wanted, *map(_real, tracked)} if f in by_file}
    imports = {
        name: [i.__name__ for i in _user_imports(m) if i.__name__ in candidates] for name, m in candidates.items()
    }
    stale: set[str] = {m.__name__ for f, m in by_file.items() if f in wanted}

    # A module is stale when one it imports is: repeat until nothing new turns stale.
    grew = True
    while grew:
        grew = False
        for name, deps in imports.items():
            if name not in stale and any(d in stale for d in deps):
                stale.add(name)
                grew = True

    order: list[ModuleType] = []
    visited: set[str] = set()

    def visit(name: str) -> None:
        if name in visited:
            return
        visited.add(name)
        for dep in imports.get(name, ()):
            visit(dep)
        if name in stale:
            order.append(candidates[name])

    for name in sorted(stale):
        visit(name)
    return order


def _is_user_module(module: Any) -> bool:
    """A module loaded from a source file outside the libraries."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    return not _in_library(path)


def _user_imports(module: ModuleType) -> Iterator[ModuleType]:
    """The loaded user modules that ``module``'s import statements name (anywhere in its source)."""
    assert module.__file__ is not None
    package = module.__package__ or ""
    for level, base, names in _imports_in(module.__file__):
        if level:
            try:
                base = importlib.util.resolve_name("." * level + base, package)
            except (ImportError, ValueError):
                continue  # a relative import beyond the top package never ran
        # ``from pkg import name`` imports pkg, and pkg.name when that is a submodule.
        for name in [base, *(f"{base}.{n}" for n in names or ())]:
            found = sys.modules.get(name)
            if found is not None and found is not module and _is_user_module(found):
                yield found


def _imports_in(path: str) -> list[_Import]:
    stamp = fingerprint(path)
    cached = _parsed.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        found: list[_Import] = []  # the import of this module reports it; nothing to follow here
    else:
        found = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend((0, alias.name, None) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.append((node.level, node.module or "", tuple(a.name for a in node.names if a.name != "*")))
    _parsed[path] = (stamp, found)
    return found


def _target_modules(target: str) -> Iterator[str]:
    """The modules the target text names: ``f:make`` names ``f``; a dotted name its longest loaded prefix."""
    for ref in _target_refs(target):
        if ref.module is not None:
            yield ref.module
            continue
        for cut in range(len(ref.parts), 0, -1):
            name = ".".join(ref.parts[:cut])
            if name in sys.modules:
                yield name
                break


def _target_refs(target: str) -> Iterator[Ref]:
    """The dotted names a target's text holds (none if it does not parse: the build says why)."""
    if not target:
        return
    try:
        spec = parse_target(target)
    except ParamcountError:
        return
    yield from _refs(spec)


def _refs(value: Value) -> Iterator[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, Call):
        yield value.func
        for item in (*value.args, *(v for _, v in value.kwargs)):
            yield from _refs(item)
    elif isinstance(value, Container):
        for item in (*value.keys, *value.items):
            yield from _refs(item)


def _formula_modules(classes: Iterable[type], registry: FormulaRegistry) -> Iterator[str]:
    """Modules of the formula and label functions the model's layers are counted with."""
    for cls in classes:
        found = registry.lookup(cls)
        if found is None:
            continue
        for fn in (found[0].build, found[0].label):
            if isinstance(fn, LazyFormula):
                yield split_formula_spec(fn.spec)[0]
            elif fn is not None and isinstance(getattr(fn, "__module__", None), str):
                yield fn.__module__


@functools.cache
def _in_library(path: str) -> bool:
    real = _real(path)
    return any(real.startswith(root) for root in _library_roots()) or any(
        part in ("site-packages", "dist-packages") for part in real.split(os.sep)
    )


@functools.cache
def _library_roots() -> tuple[str, ...]:
    here = os.path.dirname(os.path.abspath(__file__))  # this package: a model may import it for formulas
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("purelib", "platlib", "stdlib", "platstdlib") if k in paths} | {here}
    return tuple(os.path.join(_real(r), "") for r in roots)


def _real(path: str) -> str:
    return os.path.realpath(path)
