"""``paramcount_autodoc``: a derivation table under every model class autodoc documents.

autodoc's ``autodoc-process-docstring`` event (the same on Sphinx 7.2 to 9,
class-based documenters or not) lets us append lines to a class's docstring:
a ``.. paramcount:: module:Class`` directive with ``paramcount_autodoc_options``.
The directive then does what it does on any page, and its problems are
located in the docstring's ``.py`` file (``locations.py``).

Which classes get one, decided without building anything (the directive
builds the model, once, as for any page):

- an ``nn.Module`` subclass, documented under its own name (an alias, which
  autodoc shows as "alias of", does not), not defined in torch itself
  (``nn.Module``, ``nn.Sequential`` re-exported), not abstract;
- whose constructor takes no required argument, read from its signature;
  a class that needs arguments gets one only through
  ``paramcount_autodoc_targets`` (``{"pkg.Cls": "pkg.Cls(3, 16)"}``; ``None``
  for no table).  A class that takes none but fails to build is the
  directive's located error, like any target: never silently skipped;
- whose docstring holds no ``paramcount`` directive already (the author's
  own table wins).
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

from sphinx.util import logging

from ..count import class_path
from ..errors import TargetError
from ..options import OPTIONS, parse_options
from ..target import parse_target
from .reading import _DIRECTIVE

logger = logging.getLogger("sphinx_paramcount")

# Options that would mean the same claim, or the same label, on every class's table.
_PER_TABLE = ("total", "trainable", "expect", "name")
_LAST = "paramcount_autodoc_last"


def add_table(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """``autodoc-process-docstring``: append the table's directive to a model class's docstring."""
    config = app.config
    if not config.paramcount_autodoc or what != "class" or not isinstance(obj, type):
        return
    env = app.env
    # With ``autoclass_content = "both"`` the class and its __init__ docstrings
    # come one after the other, for the same object and options: one table.
    last = env.temp_data.get(_LAST)
    if last is not None and last[0] == name and last[1] is options:
        return
    target = table_target(name, obj, config.paramcount_autodoc_targets)
    if target is None or _has_directive(obj, lines):
        return
    lines.extend(["", f".. paramcount:: {target}", *option_lines(config.paramcount_autodoc_options), ""])
    # ``options`` is kept alive with the name, so a later directive's options cannot take its id.
    env.temp_data[_LAST] = (name, options)


def table_target(name: str, cls: type, targets: dict[str, str | None]) -> str | None:
    """The target of ``cls``'s table, or ``None`` for none (with the reason under ``-v``).

    ``name`` is the dotted name autodoc documents it under.
    """
    nn = sys.modules.get("torch.nn")  # a Module subclass was imported, so torch was too
    if nn is None or not issubclass(cls, nn.Module):
        return None
    given = {key.replace(":", "."): value for key, value in targets.items()}
    for key in (name, class_path(cls).replace(":", ".")):
        if key in given:
            return given[key]
    why = _no_table(name, cls)
    if why:
        logger.verbose(f"paramcount: no table for {name} under autodoc: {why}")
        return None
    return f"{cls.__module__}:{cls.__qualname__}"


def _no_table(name: str, cls: type) -> str:
    """Why a Module subclass gets no table by itself ("" if it does)."""
    if name.rpartition(".")[2] != cls.__name__:
        return "autodoc documents it as an alias"
    if cls.__module__ == "torch" or cls.__module__.startswith("torch."):
        return "it is PyTorch's own class"
    if "<locals>" in cls.__qualname__ or inspect.isabstract(cls):
        return "it cannot be imported by name, or is abstract"
    required = required_arguments(cls)
    if required:
        return (
            f"it needs the argument{'s' if len(required) > 1 else ''} {', '.join(required)}; give it a target in "
            f'paramcount_autodoc_targets, e.g. {{"{name}": "{name}(...)"}}'
        )
    return ""


def required_arguments(cls: type) -> list[str]:
    """The constructor's parameters without a default (``*args``/``**kwargs`` are not required).

    A signature that cannot be read requires nothing: the class is built, and
    fails, if it does, as a located error rather than a silent omission.
    """
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return []
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in signature.parameters.values() if p.default is p.empty and p.kind not in variadic]


def option_lines(options: dict[str, Any]) -> list[str]:
    """``{"depth": 1, "expand-repeats": True}`` -> ``["   :depth: 1", "   :expand-repeats:"]``."""
    lines = []
    for key, value in options.items():
        if value is False:
            continue
        lines.append(f"   :{key}:" if value is True or value is None else f"   :{key}: {value}")
    return lines


def _has_directive(cls: type, lines: list[str]) -> bool:
    """Whether the docstring (as autodoc shows it, or the class's or __init__'s own) holds a table already."""
    init = vars(cls).get("__init__")
    texts = ["\n".join(lines), cls.__doc__ or "", getattr(init, "__doc__", None) or ""]
    return any(_DIRECTIVE.search(text) for text in texts)


def config_errors(app: Any, config: Any) -> list[str]:
    """What is wrong in ``paramcount_autodoc_options`` and ``paramcount_autodoc_targets`` (types are checked already).

    Each message starts with the value's name (``config.check_config`` locates
    it in conf.py); a bad entry is left out, so it is not reported again at
    every class.
    """
    errors = []
    if config.paramcount_autodoc and "sphinx.ext.autodoc" not in app.extensions:
        errors.append(
            "paramcount_autodoc adds tables to what autodoc documents: add 'sphinx.ext.autodoc' to extensions"
        )
    shared = ", ".join(o for o in OPTIONS if o not in _PER_TABLE)
    options = {}
    for key, value in config.paramcount_autodoc_options.items():
        if key not in OPTIONS or key in _PER_TABLE:
            errors.append(f"paramcount_autodoc_options: {key!r} is not an option every table can share ({shared})")
        elif not isinstance(value, (str, int)):
            errors.append(f"paramcount_autodoc_options: {key!r} must be a string, a number or True, not {value!r}")
        else:
            lines = option_lines({key: value})
            parsed = parse_options([(key, line.split(":", 2)[2].strip() or None) for line in lines])
            errors += [f"paramcount_autodoc_options: {key!r}: {e.message}" for e in parsed.errors]
            if not parsed.errors:
                options[key] = value
    config.paramcount_autodoc_options = options
    targets = {}
    for key, target in config.paramcount_autodoc_targets.items():
        if not isinstance(key, str) or not (target is None or isinstance(target, str)):
            errors.append(
                "paramcount_autodoc_targets maps a class's dotted name to a target or None, "
                f'e.g. {{"pkg.models.Net": "pkg.models.Net(3, 16)"}}; got {key!r}: {target!r}'
            )
            continue
        try:
            if target is not None:
                parse_target(target)
        except TargetError as exc:
            errors.append(f"paramcount_autodoc_targets: {key!r}: {exc.message}")
            continue
        targets[key] = target
    config.paramcount_autodoc_targets = targets
    return errors


def _connect(app: Any, config: Any) -> None:
    # autodoc's event exists once autodoc is loaded, which may be after us in ``extensions``.
    if "sphinx.ext.autodoc" in app.extensions:
        app.connect("autodoc-process-docstring", add_table)


def setup_autodoc(app: Any) -> None:
    app.connect("config-inited", _connect)
