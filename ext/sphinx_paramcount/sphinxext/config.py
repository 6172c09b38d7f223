"""The ``paramcount_*`` config values, checked once at start-up.

A wrong type is a ``ConfigError`` naming the value and what it takes, before
any page is read.
"""

from __future__ import annotations

from typing import Any

from sphinx.errors import ConfigError

from ..build import DEVICES
from ..formulas.registry import REGISTRY, load_formula_spec

CONFIG_VALUES: dict[str, tuple[Any, type | tuple[type, ...]]] = {
    "paramcount_fail_on_mismatch": (True, bool),
    "paramcount_device": ("meta", str),
    # {"pkg.layers.MyLayer": "pkg.formulas:my_layer"}: formulas for the user's own layers.
    "paramcount_formulas": ({}, dict),
    # Digit grouping of displayed counts: ",", "_", " ", "" (none), "\u202f" ...
    "paramcount_thousands_sep": (",", str),
    # Identical numbered blocks (layers.0 ... layers.79) as one row; ``:expand-repeats:`` per table.
    "paramcount_collapse_repeats": (True, bool),
}


def setup_config(app: Any) -> None:
    for name, (default, types) in CONFIG_VALUES.items():
        app.add_config_value(name, default, "env", types=types if isinstance(types, tuple) else (types,))
    app.connect("config-inited", check_config)


def check_config(app: Any, config: Any) -> None:
    for name, (_, types) in CONFIG_VALUES.items():
        value = getattr(config, name)
        if not isinstance(value, types) or (types is not bool and isinstance(value, bool)):
            expected = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{name} must be a {expected}, not {type(value).__name__} ({value!r})")
    if config.paramcount_device not in DEVICES:
        raise ConfigError(
            f"paramcount_device must be one of {', '.join(map(repr, DEVICES))}, not {config.paramcount_device!r}"
        )
    if len(config.paramcount_thousands_sep) > 1:
        raise ConfigError(
            f"paramcount_thousands_sep must be one character or empty, not {config.paramcount_thousands_sep!r}"
        )
    for layer, spec in config.paramcount_formulas.items():
        if not isinstance(layer, str) or not isinstance(spec, str) and not callable(spec):
            raise ConfigError(
                "paramcount_formulas maps a layer class path to a formula function or its path, "
                f"e.g. {{'mypkg.layers.LowRank': 'mypkg.formulas:low_rank'}}; got {layer!r}: {spec!r}"
            )
        REGISTRY.add(layer, build=spec if callable(spec) else _LazyFormula(spec))


class _LazyFormula:
    """Imports the formula function on first use, so conf.py does not import torch.

    A missing function raises ``FormulaError``, reported at the directive that
    needed it.
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.__name__ = spec.rpartition(":")[2] or spec

    def __call__(self, module: Any) -> Any:
        fn = load_formula_spec(self.spec)
        return fn(module)
