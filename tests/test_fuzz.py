"""Fuzzing the parsers and the counter (issue 5).

- The target parser raises only ``ParamcountError``s, emits no warnings, and runs no
  code: it only parses (an audit hook sees every import, exec and process start).
- The stated-number, ``:expect:`` and ``:input-shape:`` parsers raise only ``OptionError``.
- Random module trees built on meta: the total is ``sum(p.numel() for p in
  model.parameters())``, rows (and every view of them) add up to it, and every
  derivation shown evaluates to its row's count.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import string
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.utils.parametrize
import torch.nn.utils.prune
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

from sphinx_paramcount.count import count_model
from sphinx_paramcount.errors import OptionError, ParamcountError
from sphinx_paramcount.shapes import parse_input_shape
from sphinx_paramcount.stated import StatedCount, parse_expect, parse_stated
from sphinx_paramcount.target import Call, Container, Literal, Ref, Value, parse_target
from sphinx_paramcount.views import collapse_repeats, counted, rows_at_depth
from tests.arith import latex_value

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the target parser runs nothing -----------------------------------------------------------------

_events: list[tuple[str, Any]] | None = None


# Audit events that mean code ran, a module was imported, or the outside world was touched.
# ("compile" is not among them: ast.parse raises it to build a tree.)
RUNNING = {"import", "exec", "open", "builtins.input", "code.__new__", "function.__new__", "sys.setprofile"}
RUNNING_PREFIXES = (
    "os.",
    "subprocess.",
    "shutil.",
    "socket.",
    "ctypes.",
    "urllib.",
    "pickle.",
    "marshal.",
    "importlib",
)


def _audit(event: str, args: Any) -> None:
    if _events is not None and (event in RUNNING or event.startswith(RUNNING_PREFIXES)):
        _events.append((event, args))


_hooked = False


@contextlib.contextmanager
def watched() -> Iterator[list[tuple[str, Any]]]:
    """Record every audit event (imports, exec, open, subprocess, ...) raised in the block."""
    global _events, _hooked
    if not _hooked:  # an audit hook cannot be removed; it records only inside this block
        sys.addaudithook(_audit)
        _hooked = True
    events: list[tuple[str, Any]] = []
    # A module already in sys.modules raises no audit event when imported again: watch the calls too.
    import_module, dunder_import = importlib.import_module, builtins.__import__

    def recording_import_module(name: str, package: str | None = None) -> Any:
        events.append(("importlib.import_module", name))
        return import_module(name, package)

    def recording_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name != "unicodedata":  # Python's own parser, to normalise a non-ASCII identifier
            events.append(("__import__", name))
        return dunder_import(name, *args, **kwargs)

    importlib.import_module, builtins.__import__ = recording_import_module, recording_import
    _events = events
    try:
        yield events
    finally:
        _events = None
        importlib.import_module, builtins.__import__ = import_module, dunder_import


def parse_only(text: str) -> Ref | Call | ParamcountError:
    """``parse_target(text)``, checking that it ran nothing, warned nothing, raised only our errors."""
    with watched() as events, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Ref | Call | ParamcountError = parse_target(text)
        except ParamcountError as exc:
            result = exc
    assert events == [], events
    assert [str(w.message) for w in caught] == []
    return result


def test_the_watcher_sees_code_run_and_modules_imported() -> None:
    """The property above means something: the same watcher catches what parsing must never do."""
    with watched() as events:
        eval("1 + 1")  # noqa: S307 (the point of the test)
        importlib.import_module("os")  # already imported: no audit event, but the call is seen
        import json  # noqa: F401
    assert {"exec", "importlib.import_module", "__import__"} <= {event for event, _ in events}
    assert ("importlib.import_module", "os") in events and ("__import__", "json") in events


def check_value(value: Value) -> None:
    """A parsed target holds only plain data: names, calls, literals of the allowed types."""
    if isinstance(value, Ref):
        assert value.parts and all(isinstance(p, str) and p for p in value.parts)
    elif isinstance(value, Call):
        check_value(value.func)
        for item in (*value.args, *(v for _, v in value.kwargs)):
            check_value(item)
        names = [k for k, _ in value.kwargs]
        assert len(names) == len(set(names))
    elif isinstance(value, Literal):
        assert value.value is None or type(value.value) in (int, float, complex, str, bool)
    else:
        assert isinstance(value, Container) and value.kind in ("tuple", "list", "dict")
        for item in (*value.items, *value.keys):
            assert not isinstance(item, Call)  # calls are not hidden inside data
            check_value(item)


@SETTINGS
@given(st.text())
def test_parse_target_on_any_text_runs_nothing_and_raises_only_typed_errors(text: str) -> None:
    result = parse_only(text)
    if not isinstance(result, ParamcountError):
        check_value(result)


identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: (
        s not in {"None", "True", "False", "lambda", "if", "else", "or", "and", "not", "in", "is", "for"}
        and not __import__("keyword").iskeyword(s)
    )
)
dotted = st.lists(identifier, min_size=1, max_size=4).map(".".join)
# Names that would do harm if anything were evaluated or imported.
harmful = st.sampled_from(
    [
        "os.system",
        "__import__",
        "eval",
        "exec",
        "subprocess.run",
        "shutil.rmtree",
        "builtins.open",
        "tests.models.broken_import.Net",
        "tests.models.exits_on_import.Net",
        "tests.models.reliability.Interrupts",
    ]
)
names = st.one_of(dotted, harmful)
literal_text = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    # An imaginary literal; "1+2j" is an operator expression in Python, and not allowed.
    st.floats(0, 1e6).map(lambda x: f"{x!r}j"),
    st.text(max_size=8).map(repr),
    st.sampled_from(["None", "True", "False", "-1", "+2", "-0.5", "1j", r'"\d+"', "'''x'''", "0x1F", "1_000"]),
)
# What a target may not contain, each a located TargetError.
forbidden = st.sampled_from(
    [
        "lambda: 1",
        "lambda *a, **k: os.system('x')",
        "os.getcwd().x",
        "f()()",
        "f().g",
        "1 + 2",
        "2 ** 100000",
        "not 1",
        "a if b else c",
        "a and b",
        "a < b",
        "x[0]",
        "[i for i in range(3)]",
        "(i for i in x)",
        "{1, 2}",
        "f'{x}'",
        "*args",
        "(y := 3)",
        "-True",
        "-(-1)",
        "b'bytes'",
        "...",
        "yield",
        "await x",
        "[os.getcwd()]",
        "{'k': f(1)}",
        "(1, f())",
        "__import__('os').system('echo pwned')",
    ]
)


@st.composite
def argument(draw: st.DrawFn, depth: int = 2, allow_call: bool = True) -> str:
    """Argument text built from what targets allow: literals, names, containers, nested calls."""
    kinds = (
        ["literal", "name"] + (["tuple", "list", "dict"] if depth else []) + (["call"] if depth and allow_call else [])
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "literal":
        return draw(literal_text)
    if kind == "name":
        return draw(names)
    if kind == "call":
        return draw(call_text(depth - 1))
    items = draw(st.lists(argument(depth - 1, allow_call=False), max_size=3))
    if kind == "tuple":
        return "(" + "".join(f"{i}, " for i in items) + ")"
    if kind == "list":
        return "[" + ", ".join(items) + "]"
    keys = draw(st.lists(literal_text, min_size=len(items), max_size=len(items)))
    return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items)) + "}"


@st.composite
def call_text(draw: st.DrawFn, depth: int = 2) -> str:
    args = draw(st.lists(argument(depth), max_size=3))
    keywords = draw(st.lists(identifier, max_size=3, unique=True))
    kwargs = [f"{k}={draw(argument(depth))}" for k in keywords]
    space = draw(st.sampled_from(["", " ", "\n   "]))
    return f"{draw(names)}({space}{', '.join([*args, *kwargs])})"


@st.composite
def valid_target(draw: st.DrawFn) -> str:
    body = draw(st.one_of(names, call_text()))
    if draw(st.booleans()):
        return f"{draw(dotted)}:{body}"
    return body


@SETTINGS
@given(valid_target())
@example(r'pkg.tokenizers:Tokenizer(pattern="\d+")')  # the parser warns about "\d": no stray text in the log
@example("pkg.módulo:Red(ñ=1)")
def test_allowed_targets_parse_into_plain_data_without_running_anything(text: str) -> None:
    result = parse_only(text)
    assert isinstance(result, (Ref, Call)), (text, result)
    check_value(result)


@st.composite
def target_with_a_forbidden_part(draw: st.DrawFn) -> str:
    """A valid call with one argument (or one keyword value) replaced by something forbidden."""
    bad = draw(forbidden)
    before = draw(st.lists(argument(1), max_size=2))
    where = draw(st.sampled_from(["arg", "kwarg", "nested"]))
    if where == "arg":
        inner = ", ".join([*before, bad])
    elif where == "kwarg":
        inner = ", ".join([*before, f"x={bad}"])
    else:
        inner = f"{draw(dotted)}(({bad},))" if not bad.startswith("*") else f"{draw(dotted)}({bad})"
    return f"{draw(names)}({inner})"


@SETTINGS
@given(target_with_a_forbidden_part())
def test_forbidden_parts_are_target_errors_and_nothing_runs(text: str) -> None:
    result = parse_only(text)
    assert isinstance(result, ParamcountError) and result.subtype == "target", (text, result)
    assert result.message


python_like = st.text(
    alphabet=string.ascii_letters[:6] + string.digits[:4] + "._:()[]{},=-+*/%'\"\\ \n\tλ", max_size=60
)


@SETTINGS
@given(python_like)
def test_python_like_text_runs_nothing_and_raises_only_typed_errors(text: str) -> None:
    result = parse_only(text)
    if not isinstance(result, ParamcountError):
        check_value(result)


# -- stated numbers, :expect:, :input-shape: ----------------------------------------------------------

unicode_digit = st.characters(categories=["Nd"])
number_piece = st.one_of(
    st.integers(0, 10**16).map(str),
    st.integers(0, 10**16).map(lambda n: f"{n:,}"),
    st.integers(0, 10**16).map(lambda n: f"{n:_}"),
    st.text(unicode_digit, min_size=1, max_size=5),
    st.sampled_from(
        ["", ".", ",", "_", "-", "+", "e3", "E-2", ".5", "..", ",,", " ", "\u202f", "\xa0", "0x10", "NaN", "inf"]
    ),
)
unit = st.one_of(
    st.sampled_from(["", "K", "k", "M", "B", "G", "T", "Q", "m", "b", "KB", " K", "\u212a"]), st.characters()
)


@st.composite
def stated_like(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(number_piece, min_size=1, max_size=3))
    return (
        draw(st.sampled_from(["", " ", "-", "~"]))
        + "".join(pieces)
        + draw(unit)
        + draw(st.sampled_from(["", " ", "\n"]))
    )


@SETTINGS
@given(st.one_of(st.text(), stated_like()), st.integers(0, 10**14))
def test_parse_stated_raises_only_option_error(text: str, actual: int) -> None:
    try:
        stated = parse_stated(text)
    except OptionError as exc:
        assert exc.subtype == "option" and exc.message
        return
    assert isinstance(stated, StatedCount)
    assert stated.value >= 0
    assert isinstance(stated.matches(actual), bool)
    # What we would tell the author to write parses, and matches.
    assert parse_stated(stated.restate(actual)).matches(actual)
    if stated.exact:
        assert stated.matches(stated.value) and not stated.matches(stated.value + 1)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.one_of(identifier, st.text(max_size=5)), st.one_of(stated_like(), st.text(max_size=5))), max_size=4
    ),
    st.sampled_from([", ", ",", " , ", "; "]),
)
def test_parse_expect_raises_only_option_error(entries: list[tuple[str, str]], sep: str) -> None:
    text = sep.join(f"{name}={number}" for name, number in entries)
    try:
        pairs = parse_expect(text)
    except OptionError:
        return
    assert pairs and all(name and isinstance(count, StatedCount) for name, count in pairs)
    assert len({name for name, _ in pairs}) == len(pairs)


@SETTINGS
@given(
    st.one_of(
        st.text(),
        st.lists(st.one_of(st.integers(-3, 10**20).map(str), st.text(unicode_digit, max_size=3)), max_size=5).map(
            ", ".join
        ),
    )
)
def test_parse_input_shape_raises_only_option_error(text: str) -> None:
    try:
        shape = parse_input_shape(text)
    except OptionError:
        return
    assert shape and all(isinstance(d, int) and d >= 1 for d in shape)


# -- random module trees ----------------------------------------------------------------------------------

small = st.integers(1, 6)
LEAF = st.one_of(
    st.tuples(st.just("Linear"), small, small, st.booleans()),
    st.tuples(st.just("Conv"), st.sampled_from([1, 2, 3]), st.integers(1, 3), small, small, st.integers(1, 3), st.booleans(), st.booleans()),
    st.tuples(st.just("Embedding"), st.integers(1, 20), small, st.booleans()),
    st.tuples(st.just("LayerNorm"), st.lists(small, min_size=1, max_size=2).map(tuple), st.booleans(), st.booleans()),
    st.tuples(st.just("RMSNorm"), small, st.booleans()),
    st.tuples(st.just("BatchNorm"), st.sampled_from([1, 2, 3]), small, st.booleans(), st.booleans()),
    st.tuples(st.just("InstanceNorm"), small, st.booleans(), st.booleans()),
    st.tuples(st.just("GroupNorm"), st.integers(1, 3), small, st.booleans()),
    st.tuples(st.just("PReLU"), small),
    st.tuples(st.just("RNN"), st.sampled_from(["RNN", "LSTM", "GRU"]), small, st.integers(2, 6), st.integers(1, 3), st.booleans(), st.booleans(), st.integers(0, 1)),
    st.tuples(st.just("Cell"), st.sampled_from(["RNNCell", "LSTMCell", "GRUCell"]), small, small, st.booleans()),
    st.tuples(st.just("MHA"), st.integers(1, 3), st.integers(1, 3), st.booleans(), st.booleans(), st.one_of(st.none(), small), st.one_of(st.none(), small)),
    st.tuples(st.just("Bilinear"), small, small, small, st.booleans()),
    st.tuples(st.just("NoParams"), st.sampled_from(["ReLU", "Dropout", "Identity", "Flatten"])),
    st.tuples(st.just("Custom"), st.lists(st.lists(st.integers(0, 4), max_size=3).map(tuple), min_size=1, max_size=3).map(tuple), st.lists(small, max_size=2).map(tuple), st.sampled_from(["float32", "float16", "bfloat16"])),
    st.tuples(st.just("Tie"), st.integers(0, 50)),
    st.tuples(st.just("TieLinear"), small, small, st.integers(0, 50)),
    st.tuples(st.just("Reuse"), st.integers(0, 50)),
    st.tuples(st.just("Reparametrized"), st.sampled_from(["weight_norm", "spectral_norm", "prune", "lowrank", "subclass"]), small, small),
)  # fmt: skip


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    kids = st.lists(children, min_size=1, max_size=4).map(tuple)
    return st.one_of(
        st.tuples(st.just("Sequential"), kids),
        st.tuples(st.just("ModuleList"), kids),
        st.tuples(st.just("ModuleDict"), kids),
        st.tuples(st.just("Block"), kids, st.lists(st.lists(small, max_size=2).map(tuple), max_size=2).map(tuple)),
        st.tuples(st.just("Frozen"), children),
    )


TREES = st.recursive(LEAF, _extend, max_leaves=10)


class Holder(nn.Module):
    """A user's module holding parameters (and buffers) of its own."""


class ScaledLinear(nn.Linear):
    """A subclass with one more parameter than Linear's formula knows."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__(d_in, d_out)
        self.scale = nn.Parameter(torch.ones(1))


class LowRankDelta(nn.Module):
    """A parametrization with parameters of its own: W + A B."""

    def __init__(self, d_out: int, d_in: int) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.zeros(d_out, 1))
        self.b = nn.Parameter(torch.zeros(1, d_in))

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + self.a @ self.b


class Built:
    """What a tree built so far offers for ties and reuse."""

    def __init__(self) -> None:
        self.params: list[nn.Parameter] = []
        self.modules: list[nn.Module] = []

    def add(self, module: nn.Module) -> nn.Module:
        self.params.extend(module.parameters())
        self.modules.extend(module.modules())
        return module


def build(spec: tuple[Any, ...], pool: Built) -> nn.Module:
    kind = spec[0]
    if kind == "Linear":
        return pool.add(nn.Linear(spec[1], spec[2], bias=spec[3]))
    if kind == "Conv":
        _, dim, groups, a, b, k, bias, transpose = spec
        cls = (
            [nn.Conv1d, nn.Conv2d, nn.Conv3d][dim - 1]
            if not transpose
            else [nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d][dim - 1]
        )
        return pool.add(cls(groups * a, groups * b, k, groups=groups, bias=bias))
    if kind == "Embedding":
        return pool.add((nn.EmbeddingBag if spec[3] else nn.Embedding)(spec[1], spec[2]))
    if kind == "LayerNorm":
        return pool.add(nn.LayerNorm(spec[1], elementwise_affine=spec[2], bias=spec[3]))
    if kind == "RMSNorm":
        return pool.add(nn.RMSNorm(spec[1], elementwise_affine=spec[2]))
    if kind == "BatchNorm":
        cls = [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d][spec[1] - 1]
        return pool.add(cls(spec[2], affine=spec[3], track_running_stats=spec[4]))
    if kind == "InstanceNorm":
        return pool.add(nn.InstanceNorm2d(spec[1], affine=spec[2], track_running_stats=spec[3]))
    if kind == "GroupNorm":
        return pool.add(nn.GroupNorm(spec[1], spec[1] * spec[2], affine=spec[3]))
    if kind == "PReLU":
        return pool.add(nn.PReLU(spec[1]))
    if kind == "RNN":
        _, name, d_in, hidden, layers, bias, bidirectional, proj = spec
        extra = {"proj_size": hidden - 1} if name == "LSTM" and proj else {}
        return pool.add(
            getattr(nn, name)(d_in, hidden, num_layers=layers, bias=bias, bidirectional=bidirectional, **extra)
        )
    if kind == "Cell":
        return pool.add(getattr(nn, spec[1])(spec[2], spec[3], bias=spec[4]))
    if kind == "MHA":
        _, heads, head_dim, bias, bias_kv, kdim, vdim = spec
        return pool.add(
            nn.MultiheadAttention(heads * head_dim, heads, bias=bias, add_bias_kv=bias_kv, kdim=kdim, vdim=vdim)
        )
    if kind == "Bilinear":
        return pool.add(nn.Bilinear(spec[1], spec[2], spec[3], bias=spec[4]))
    if kind == "NoParams":
        return pool.add(getattr(nn, spec[1])())
    if kind == "Custom":
        holder = Holder()
        dtype = getattr(torch, spec[3])
        for i, shape in enumerate(spec[1]):
            holder.register_parameter(f"p{i}", nn.Parameter(torch.empty(shape, dtype=dtype)))
        for i, size in enumerate(spec[2]):
            holder.register_buffer(f"b{i}", torch.zeros(size))
        return pool.add(holder)
    if kind == "Tie":  # the same Parameter object in a second (or third...) module
        holder = Holder()
        holder.tied = pool.params[spec[1] % len(pool.params)] if pool.params else nn.Parameter(torch.empty(2))
        return pool.add(holder)
    if kind == "TieLinear":  # a Linear whose weight is an earlier tensor (shape may not even fit the formula)
        linear = nn.Linear(spec[1], spec[2])
        if pool.params:
            linear.weight = pool.params[spec[3] % len(pool.params)]
        return pool.add(linear)
    if kind == "Reuse":  # one module object in two places of the tree
        return pool.modules[spec[1] % len(pool.modules)] if pool.modules else pool.add(nn.Linear(2, 2))
    if kind == "Reparametrized":  # the Linear formula no longer fits (or still does): rows must say so and add up
        _, how, d_in, d_out = spec
        linear = ScaledLinear(d_in, d_out) if how == "subclass" else nn.Linear(d_in, d_out)
        if how == "weight_norm":
            torch.nn.utils.parametrizations.weight_norm(linear)
        elif how == "spectral_norm":
            torch.nn.utils.parametrizations.spectral_norm(linear)
        elif how == "prune":
            torch.nn.utils.prune.l1_unstructured(linear, "weight", amount=0.5)
        elif how == "lowrank":
            torch.nn.utils.parametrize.register_parametrization(linear, "weight", LowRankDelta(d_out, d_in))
        return pool.add(linear)
    if kind == "Sequential":
        return nn.Sequential(*(build(child, pool) for child in spec[1]))
    if kind == "ModuleList":
        return nn.ModuleList([build(child, pool) for child in spec[1]])
    if kind == "ModuleDict":
        return nn.ModuleDict({f"m{i}": build(child, pool) for i, child in enumerate(spec[1])})
    if kind == "Block":
        block = Holder()
        for i, shape in enumerate(spec[2]):
            block.register_parameter(f"own{i}", nn.Parameter(torch.empty(shape)))
        for i, child in enumerate(spec[1]):
            block.add_module(f"c{i}", build(child, pool))
        # Offered for reuse only once complete: a module inside itself would be a cycle.
        pool.params.extend(block.parameters(recurse=False))
        pool.modules.append(block)
        return block
    if kind == "Frozen":
        return build(spec[1], pool).requires_grad_(False)
    raise AssertionError(spec)


def build_tree(spec: tuple[Any, ...]) -> nn.Module:
    with torch.device("meta"):
        pool = Built()
        if spec[0] == "Sequential":
            return nn.Sequential(*(build(child, pool) for child in spec[1]))
        return build(spec, pool)


def check_rows(rows: list[Any], total: int) -> None:
    for row in rows:
        assert latex_value(row.derivation) == row.params, row
    assert sum(r.params for r in counted(rows)) == total


@SETTINGS
@given(st.one_of(TREES, st.tuples(st.just("Sequential"), st.lists(TREES, min_size=1, max_size=4).map(tuple))))
def test_random_trees_count_exactly_and_every_derivation_adds_up(spec: tuple[Any, ...]) -> None:
    model = build_tree(spec)
    params = list(model.parameters())  # deduplicated, as the design's rule counts
    assert all(p.device.type == "meta" for p in params)
    report = count_model(model)

    assert report.total == sum(p.numel() for p in params)
    assert report.trainable == sum(p.numel() for p in params if p.requires_grad)
    assert report.total == sum(r.params for r in report.rows)
    assert report.trainable == sum(r.trainable for r in report.rows)
    assert report.buffer_total == sum(b.numel() for b in model.buffers())
    by_dtype: dict[str, int] = {}
    for p in params:
        key = str(p.dtype).replace("torch.", "")
        by_dtype[key] = by_dtype.get(key, 0) + p.numel() * p.element_size()
    assert report.bytes_by_dtype == {k: v for k, v in by_dtype.items()}

    # Every tensor once: each parameter is counted in exactly one row, tied copies name where.
    fresh = [t for r in report.rows for t in r.tensors if not t.shared_with]
    assert len(fresh) == len(params)
    assert sum(t.numel for t in fresh) == report.total
    for row in report.rows:
        assert row.params == sum(t.numel for t in row.tensors if not t.shared_with)
        assert all(t.shared_with in {f.name for f in fresh} for t in row.tensors if t.shared_with)

    check_rows(report.rows, report.total)
    for depth in range(4):
        check_rows(rows_at_depth(report, depth), report.total)
    check_rows(collapse_repeats(report, report.rows), report.total)
