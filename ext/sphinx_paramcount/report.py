"""The result of counting: plain, picklable data, free of torch and Sphinx.

Everything downstream (Sphinx nodes, terminal, JSON, the environment records
of a parallel build) reads a ``Report``; nothing downstream sees a module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from .compute import ComputeReport


@dataclass(frozen=True)
class Tensor:
    """One parameter tensor as a row sees it."""

    name: str  # qualified: "layer1.0.conv1.weight"
    shape: tuple[int, ...]
    numel: int
    dtype: str
    trainable: bool
    # Qualified name of the earlier tensor this one is (tied weights): counted there.
    shared_with: str | None = None


@dataclass(frozen=True)
class Row:
    """One line of the derivation: a module and the parameters it owns."""

    name: str  # "" for the root module
    type: str  # class name
    label: str  # class name with key constructor numbers: "Conv2d(3, 16, k=3)"
    depth: int  # 0 for the root, 1 for its children, ...
    params: int  # what this row adds to the total (shared tensors excluded)
    trainable: int
    formula: str  # symbolic LaTeX
    derivation: str  # substituted LaTeX; evaluates to ``params``
    legend: tuple[tuple[str, str, int], ...] = ()  # (symbol LaTeX, meaning, value)
    family: str = "generic"  # the formula used, or "generic" for the shape product
    note: str = ""  # why the generic formula or a partial count was used
    tensors: tuple[Tensor, ...] = ()
    repeat: int = 1  # > 1 for a row that stands for identical siblings
    output_shape: str = ""
    # Part of a repeated block shown once for explanation: already counted by
    # the repeat row above it, so it is not added to the total again.
    detail: bool = False
    # The layer class as ``module:qualname`` (``torch.nn.modules.conv:Conv2d``):
    # what the Type cell links to; "" where the row is no one module's.
    class_path: str = ""

    @property
    def shared(self) -> tuple[Tensor, ...]:
        return tuple(t for t in self.tensors if t.shared_with)

    @property
    def frozen(self) -> int:
        return self.params - self.trainable


@dataclass(frozen=True)
class Buffer:
    name: str
    shape: tuple[int, ...]
    numel: int
    dtype: str


@dataclass(frozen=True)
class NotCounted:
    """A registered parameter tensor that ``model.parameters()`` does not yield, so not in the total."""

    name: str  # qualified, as registered: "teacher.fc.weight"
    shape: tuple[int, ...]
    numel: int
    reason: str  # "registered, but Distiller.parameters() does not yield it"


@dataclass(frozen=True)
class ModuleInfo:
    """Every module of the tree, for grouping rows by depth: name, type, label."""

    name: str
    type: str
    label: str
    class_path: str = ""  # ``module:qualname`` of its class, as ``Row.class_path``


@dataclass
class Report:
    target: str
    total: int
    trainable: int
    rows: list[Row]
    modules: list[ModuleInfo] = field(default_factory=list)
    buffers: list[Buffer] = field(default_factory=list)
    method: str = "meta"  # how the model was built: meta, meta-params, cpu, instance
    notices: list[str] = field(default_factory=list)
    # Bytes of the parameters by dtype, e.g. {"float32": 526472}.
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)
    # Source files (outside site-packages) defining the model's module classes:
    # editing one must make the pages that use the model re-read.
    sources: list[str] = field(default_factory=list)
    # Registered parameter tensors that model.parameters() does not yield (an
    # override, e.g. a distillation wrapper exposing only its student): shown apart.
    not_counted: list[NotCounted] = field(default_factory=list)
    # Notices the page itself shows (why a quantized layer counts 0), not only the build log.
    explained: list[str] = field(default_factory=list)
    # The sub-module the rows start at (``:root:``), "" for the whole model.
    root: str = ""
    # The rows the tables show (``views.view``: merged by depth, repeats
    # collapsed) when ``api.explain`` chose a view; ``None``: all the rows.
    shown: list[Row] | None = None
    # The MACs of one forward pass, when ``api.explain`` was given an input shape.
    compute: ComputeReport | None = None

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    @property
    def macs(self) -> int | None:
        """Multiply-accumulates of one forward pass on the input shape given, or ``None`` without one."""
        return self.compute.macs if self.compute is not None else None

    @property
    def flops(self) -> int | None:
        """FLOPs = 2 x MACs (``compute.CONVENTION``), or ``None`` without an input shape."""
        return self.compute.flops if self.compute is not None else None

    @property
    def buffer_total(self) -> int:
        return sum(b.numel for b in self.buffers)

    @property
    def subject(self) -> str:
        """What the total counts: the target, or ``target, sub-module root`` under ``:root:``."""
        return f"{self.target}, sub-module {self.root}" if self.root else self.target

    @property
    def type_name(self) -> str:
        root = next((m for m in self.modules if m.name == ""), None)
        return root.type if root else ""

    @property
    def not_counted_total(self) -> int:
        return sum(t.numel for t in self.not_counted)

    @property
    def shown_rows(self) -> list[Row]:
        """The rows the tables and ``check`` see: the chosen view, or every row."""
        return self.rows if self.shown is None else self.shown

    # -- the Python API: displays and checks (``api.explain`` returns a Report) ------

    def __repr__(self) -> str:
        # Short: a REPL or a terminal IPython shows this, not every row's tensors.
        rows = len(self.shown_rows)
        return f"<Report {self.target}: {self.total:,} parameters, {rows} row{'' if rows == 1 else 's'}>"

    def __str__(self) -> str:
        """The command line's text table (``sphinx-paramcount TARGET``)."""
        from .render import to_text

        return to_text(self, self.shown_rows)

    def derivation(self) -> str:
        """The seed notebook's prose, per row: formula, named factors, substitution, count; then the sum."""
        from .render import to_derivation

        return to_derivation(self, self.shown_rows)

    def _repr_markdown_(self) -> str:
        from .render import to_markdown

        return to_markdown(self, self.shown_rows)

    def _repr_html_(self) -> str:
        from .display import to_html

        return to_html(self, self.shown_rows)

    def _repr_latex_(self) -> str:
        from .display import to_latex

        return to_latex(self, self.shown_rows)

    def check(
        self,
        total: int | str | None = None,
        trainable: int | str | None = None,
        expect: Mapping[str, int | str] | str | None = None,
        macs: int | str | None = None,
        flops: int | str | None = None,
    ) -> Report:
        """Check stated numbers as the ``paramcount`` directive does; ``self`` if they all hold.

        ``total`` and ``trainable`` are ints or strings as the docs write them
        (``"131,618"``, ``"131.6K"``, checked at their precision); ``expect``
        maps row names, as the table prints them, to counts (or is the
        directive's text, ``"conv1=448, fc1=131,104"``).  ``macs`` and
        ``flops`` are checked as the ``flopcount`` directive checks them
        (the report needs an input shape).  Raises ``MismatchError`` (an
        ``AssertionError``) naming every number that does not hold and every
        row the table does not have, with the docs build's message;
        ``OptionError`` for a number that cannot be read.
        """
        __tracebackhide__ = True  # pytest shows the test's line that checked, not this one
        from .api import check_report

        return check_report(self, total, trainable, expect, macs, flops)

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

    def to_json(self, rows: list[Row] | None = None) -> dict[str, Any]:
        """The command line's JSON: the design's keys first, then details."""
        return {
            "target": self.target,
            **({"root": self.root} if self.root else {}),
            "total": self.total,
            "trainable": self.trainable,
            "frozen": self.frozen,
            "buffers": self.buffer_total,
            "method": self.method,
            "rows": [row_json(r) for r in (self.rows if rows is None else rows)],
            "bytes": dict(self.bytes_by_dtype),
            "notices": list(self.notices),
            "not_counted": [
                {"name": t.name, "shape": list(t.shape), "params": t.numel, "reason": t.reason}
                for t in self.not_counted
            ],
        }


class TableRow(Protocol):
    """What the cell writers read of a row: a parameter ``Row`` or a ``ComputeRow``."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def repeat(self) -> int: ...
    @property
    def detail(self) -> bool: ...


R = TypeVar("R", bound=TableRow)


def counted(rows: list[R]) -> list[R]:
    """The rows that add up to the total (a collapsed block's own rows explain; they are not added again)."""
    return [r for r in rows if not r.detail]


def percent(pct: float, decimals: int = 2, smallest: float = 1e-9) -> str:
    """``0.02%``, ``0.00061%``, ``<0.1%``: the one way every output writes a percentage.

    ``decimals`` places down to ``10**-decimals``; below, two significant
    digits in fixed notation (never ``8e-07%``) down to ``smallest``, under
    which it is ``<smallest%``.
    """
    size = abs(pct)
    if size == 0 or size >= 10**-decimals:
        return f"{pct:.{decimals}f}%"
    if size < smallest:
        return "<" + f"{smallest:.{max(decimals, -math.floor(math.log10(smallest)))}f}".rstrip("0") + "%"
    places = decimals
    while size * 10**places < 10:
        places += 1
    return f"{pct:.{places}f}%"


def row_json(r: Row) -> dict[str, Any]:
    return {
        "name": r.name,
        "type": r.label,
        "params": r.params,
        "formula": r.formula,
        "derivation": r.derivation,
        "trainable": r.trainable,
        "family": r.family,
        "note": r.note,
        "legend": [{"symbol": s, "meaning": w, "value": v} for s, w, v in r.legend],
        "shared": {t.name: t.shared_with for t in r.shared},
        "repeat": r.repeat,
        "detail": r.detail,
        **({"output_shape": r.output_shape} if r.output_shape else {}),
    }
