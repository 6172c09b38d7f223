"""The ``paramcount_*`` config values, checked once at start-up.

A wrong type is a ``ConfigError`` naming the value and what it takes, before
any page is read.
"""

from __future__ import annotations

import os
from typing import Any

from sphinx.util import logging

from ..build import DEVICES
from ..formulas.registry import REGISTRY
from .autodoc import config_errors as autodoc_config_errors

logger = logging.getLogger("sphinx_paramcount")

CONFIG_VALUES: dict[str, tuple[Any, type | tuple[type, ...]]] = {
    "paramcount_fail_on_mismatch": (True, bool),
    "paramcount_device": ("meta", str),
    # {"pkg.layers.MyLayer": "pkg.formulas:my_layer"}: formulas for the user's own layers.
    "paramcount_formulas": ({}, dict),
    # Digit grouping of displayed counts: ",", "_", " ", "" (none), "\u202f" ...
    # (in math as ``formulas.expr.latex_sep`` writes it).
    "paramcount_thousands_sep": (",", str),
    # Identical numbered blocks (layers.0 ... layers.79) as one row; ``:expand-repeats:`` per table.
    "paramcount_collapse_repeats": (True, bool),
    # autodoc: a table under every nn.Module class it documents that builds without arguments (autodoc.py).
    "paramcount_autodoc": (False, bool),
    # The directive options of those tables: {"depth": 1}.
    "paramcount_autodoc_options": ({}, dict),
    # Targets for classes that need arguments, or None for no table: {"pkg.Cls": "pkg.Cls(3, 16)"}.
    "paramcount_autodoc_targets": ({}, dict),
}


def setup_config(app: Any) -> None:
    for name, (default, types) in CONFIG_VALUES.items():
        app.add_config_value(name, default, "env", types=types if isinstance(types, tuple) else (types,))
    app.connect("config-inited", check_config)


def check_config(app: Any, config: Any) -> None:
    """Report each bad value (located at conf.py), use the default, fail at the end.

    Not a ``ConfigError``: Sphinx prints those with a traceback, and one bad
    value should not hide the others.
    """
    errors: list[str] = []
    for name, (default, types) in CONFIG_VALUES.items():
        value = getattr(config, name)
        if not isinstance(value, types) or (types is not bool and isinstance(value, bool)):
            expected = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
            errors.append(f"{name} must be a {expected}, not {type(value).__name__} ({value!r})")
            setattr(config, name, default)
    if config.paramcount_device not in DEVICES:
        errors.append(
            f"paramcount_device must be one of {', '.join(map(repr, DEVICES))}, not {config.paramcount_device!r}"
        )
        config.paramcount_device = "meta"
    sep = config.paramcount_thousands_sep
    # A digit or letter between digit groups would read as part of the number.
    if len(sep) > 1 or sep.isalnum():
        errors.append(
            "paramcount_thousands_sep must be one character other than a digit or letter, or empty "
            f"(such as ',', '_', ' ', '\\u202f' or ''), not {sep!r}"
        )
        config.paramcount_thousands_sep = ","
    for layer, spec in config.paramcount_formulas.items():
        if not isinstance(layer, str) or not isinstance(spec, str) and not callable(spec):
            errors.append(
                "paramcount_formulas maps a layer class path to a formula function or its path, "
                f"e.g. {{'mypkg.layers.LowRank': 'mypkg.formulas:low_rank'}}; got {layer!r}: {spec!r}"
            )
            continue
        REGISTRY.add_spec(layer, spec)
    errors += autodoc_config_errors(app, config)
    for message in errors:
        name = message.split()[0].rstrip(":")
        logger.error(f"paramcount: {message}", type="paramcount", subtype="config", location=_conf_line(app, name))
    app.paramcount_config_errors = errors


def _conf_line(app: Any, name: str) -> str | None:
    """``/path/conf.py:12``: where conf.py sets ``name`` (or line 1 of conf.py)."""
    if not app.confdir:
        return None
    path = os.path.join(app.confdir, "conf.py")
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if line.lstrip().startswith(name):
                    return f"{path}:{lineno}"
    except OSError:
        pass
    return f"{path}:1"
