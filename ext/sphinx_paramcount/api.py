"""The engine's front door: a model (or target text) in, ``Report`` out.

``count_target`` is what the Sphinx layer (through ``cache``) calls: target
text in, the whole model's report out.  ``explain`` is the Python API the
command line, notebooks and test suites call: it also takes a module instance,
a class or a factory, and returns the report with its view (root, depth,
repeats) chosen, as the directive's options choose it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .build import Built, build_model, build_object
from .compute import ComputeReport, compute_model
from .compute_views import check_compute, compute_at_root, compute_view
from .count import count_model
from .errors import InstantiateError, MismatchError, OptionError, brief
from .formulas.registry import FormulaRegistry
from .options import parse_depth, parse_device, parse_root, parse_tolerance
from .report import Report
from .shapes import parse_input_dtype, parse_input_shape, run_forward
from .stated import Check, Claim, ClaimKey, StatedCount, parse_stated, read_expect
from .symbols import FormulaMismatch, bindings_for, check_formula, in_symbols, parse_formula, symbolic
from .views import at_root, check, view


def count_target(
    target: str,
    device: str = "meta",
    registry: FormulaRegistry | None = None,
    input_shape: tuple[int, ...] | None = None,
    input_dtype: str = "float32",
) -> Report:
    """Build the model ``target`` names and count it: every row, no view; ``ParamcountError`` on failure.

    With ``input_shape``, one forward pass on zeros of ``input_dtype``
    (``int64`` for token ids) materialises lazy modules and adds each row's
    output shape.
    """
    return _count(build_model(target, device), " ".join(target.split()), registry, input_shape, input_dtype)


def explain(
    model: Any,
    *,
    depth: int | str | None = None,
    input_shape: tuple[int, ...] | str | None = None,
    input_dtype: str = "float32",
    device: str = "meta",
    root: str = "",
    expand_repeats: bool = False,
    registry: FormulaRegistry | None = None,
    compute: bool | None = None,
    symbols: str | Mapping[str, int] | None = None,
) -> Report:
    """Count ``model``'s parameters: the ``Report`` a ``paramcount`` directive would show.

    ``model`` is an ``nn.Module`` instance (counted as it is, on its own
    device: never rebuilt, moved or changed), a class or a factory that needs
    no arguments (built on ``device``, ``"meta"`` or ``"cpu"``, as a target
    naming it would be), or a target string (``"pkg.mod:Model"``,
    ``"torch.nn.Conv2d(16, 8, 3, padding=1)"``).

    The keywords are the directive's options: ``depth`` merges rows below it
    into their ancestor's row (0 or more); ``input_shape`` (``(1, 3, 32, 32)``
    or ``"1, 3, 32, 32"``) runs one forward pass, on meta tensors for a built
    model, on a copy for an instance, adding an output-shape column;
    ``input_dtype`` is the input's dtype (``"int64"`` for token ids);
    ``root`` starts the table at a sub-module (``"encoder.layer"``);
    ``expand_repeats`` shows every block of a stack of identical blocks.

    With an input shape the report also has the MACs of that forward pass,
    as the ``flopcount`` directive shows them (``compute=False`` skips
    them): ``report.macs``, ``report.flops`` (FLOPs = 2 x MACs), and
    ``report.compute``, a ``ComputeReport`` with a row per layer that
    computes, its MAC formula and derivation, in the same view (root,
    depth, repeats); it displays itself and has its own ``check``.

    ``symbols`` names the model's hyperparameters (``"d=4096, L=32"``, a
    dict, or ``"config"`` for a transformers model's config): the rows'
    formulas are then written in them, blocks as one polynomial, and
    ``report.symbolic.whole`` is the whole model's formula
    (``L(4d^2 + 3d d_ff + 2d) + 2Vd + d``), each checked against the count.

    The report keeps every row of the model (``report.rows``) and the rows
    its tables show (``report.shown_rows``).  Raises a ``ParamcountError``
    (``OptionError`` for a bad keyword, ``TargetError``, ``ImportTargetError``,
    ``InstantiateError``, ...) whose message says what to change.
    """
    # A torch.device names its type as text (torch.device("cpu") -> "cpu"); anything else
    # that is not text is shown as it was given, not as the empty string.
    device = parse_device(device if isinstance(device, str) else str(device))
    depth = _depth(depth)
    shape = parse_input_shape(input_shape) if isinstance(input_shape, str) else _shape(input_shape)
    dtype = parse_input_dtype(input_dtype if isinstance(input_dtype, str) else str(input_dtype))
    root = parse_root(root) if root else ""
    compute = shape is not None if compute is None else compute
    if compute and shape is None:
        raise OptionError("compute=True needs an input shape", hint="e.g. explain(model, input_shape=(1, 3, 224, 224))")
    if dtype != "float32" and shape is None:  # the default cannot be told from float32 given; others can
        raise OptionError(
            f"input_dtype={dtype!r} needs an input shape, the input it is the dtype of",
            hint="e.g. explain(model, input_shape=(1, 1024), input_dtype='int64')",
        )
    if isinstance(model, str):
        built, label = build_model(model, device), " ".join(model.split())
    else:
        label = object_label(model)
        built = build_object(model, label, device)
    report = _count(built, label, registry, shape, dtype, compute)
    report = at_root(report, root)
    collapse = not expand_repeats
    if report.compute is not None:
        work = compute_at_root(report.compute, root)
        report.compute = replace(work, shown=compute_view(work, depth, collapse))
    shown = view(report, depth, collapse)
    if symbols is None:
        return replace(report, shown=shown)
    bindings, errors = bindings_for(report, symbols)
    if errors:
        raise OptionError("; ".join(e.message.removeprefix(":symbols: ") for e in errors), hint=errors[0].hint)
    model = symbolic(report, shown, bindings)
    return replace(report, shown=in_symbols(shown, model), symbolic=model)


def _count(
    built: Built,
    target: str,
    registry: FormulaRegistry | None,
    input_shape: tuple[int, ...] | None,
    input_dtype: str = "float32",
    compute: bool = False,
) -> Report:
    module, shapes = built.module, None
    if input_shape is not None:
        if built.method == "instance":
            # Never change the user's object: a forward pass may materialise
            # lazy modules or update BatchNorm statistics.
            try:
                module = copy.deepcopy(module)
            except Exception as exc:
                raise InstantiateError(
                    f"{target!r} is a module instance that cannot be copied for the forward pass: "
                    f"{type(exc).__name__}: {brief(exc)}",
                    hint="name its class or a factory instead, so the forward pass runs on a model of its own",
                ) from exc
        shapes = run_forward(module, input_shape, input_dtype)
    report = count_model(module, target, registry, output_shapes=shapes)
    report.method = built.method
    report.notices = built.notices + report.notices
    if compute and input_shape is not None:
        work = compute_model(module, target, input_shape, input_dtype)
        report.compute = replace(work, method=built.method, sources=report.sources)
    return report


def object_label(obj: Any) -> str:
    """How a report names a model passed as an object: ``pkg.mod:Name``, ``Name`` for a notebook's own.

    An instance is ``Name instance``: it is counted as it is, not as ``Name()`` would build it.
    """
    import reprlib

    import torch.nn as nn

    instance = isinstance(obj, nn.Module)
    if not instance and not callable(obj):
        return reprlib.repr(obj)  # for the error that says what it is
    named = type(obj) if instance else obj
    name = getattr(named, "__qualname__", None) or getattr(named, "__name__", None) or type(obj).__name__
    module = getattr(named, "__module__", None)
    label = str(name) if module in (None, "", "__main__", "builtins") else f"{module}:{name}"
    return f"{label} instance" if instance else label


def _depth(depth: int | str | None) -> int | None:
    if depth is None:
        return None
    if isinstance(depth, str):
        return parse_depth(depth)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise OptionError(f"depth {depth!r} is not a whole number of 0 or more", hint="e.g. depth=1")
    return depth


def _shape(shape: Any) -> tuple[int, ...] | None:
    if shape is None:
        return None
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else ()
    if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dims):
        raise OptionError(
            f"input_shape {shape!r} is not a tuple of whole numbers of 1 or more",
            hint="give the input tensor's shape, batch first, e.g. input_shape=(1, 3, 32, 32)",
        )
    return dims


# -- checking stated numbers outside Sphinx ----------------------------------------------


Count = int | str


def check_report(
    report: Report,
    total: Count | None = None,
    trainable: Count | None = None,
    expect: Mapping[str, Count] | str | None = None,
    macs: Count | None = None,
    flops: Count | None = None,
    formula: str | None = None,
    tolerance: str | float = "10%",
) -> Report:
    """``Report.check``: the directive's check of stated numbers, raising ``MismatchError``."""
    __tracebackhide__ = True  # pytest shows the test's line that checked, not this one
    claims, errors = _claims({"total": total, "trainable": trainable}, expect)
    formula_problem = None
    if formula is not None:
        if report.symbolic is None:
            errors.append(
                OptionError(
                    "formula needs the model's symbols, and this report has none",
                    hint="give explain() symbols, e.g. explain(model, symbols='d=768, L=12, V=50257')",
                )
            )
        else:
            try:
                stated = parse_formula(formula, report.symbolic.bindings)
                share = parse_tolerance(tolerance if isinstance(tolerance, str) else str(tolerance))
                formula_problem = check_formula(stated, report.symbolic, report.total, report.subject, share)
            except OptionError as exc:
                errors.append(exc)
    if (macs is not None or flops is not None) and report.compute is None:
        errors.append(
            OptionError(
                "macs and flops need the MACs of a forward pass, and this report has none",
                # compute=False with a shape lands here too: the hint names both causes
                hint="give explain() an input shape and leave out compute=False, "
                "e.g. explain(model, input_shape=(1, 3, 224, 224))",
            )
        )
    compute_claims, compute_errors = _claims({"macs": macs, "flops": flops}, None)
    errors += compute_errors
    if errors:
        raise OptionError("; ".join(e.message for e in errors), hint=errors[0].hint)
    results = [check(report, report.shown_rows, claims)]
    if report.compute is not None and compute_claims:
        results.append(check_compute(report.compute, report.compute.shown_rows, compute_claims, _KEYWORDS))
    _raise_mismatches(report.target, results, [formula_problem] if formula_problem else [])
    return report


# "did you mean macs=?": the keyword a Python caller writes.
_KEYWORDS = {"macs": "macs=", "flops": "flops="}


def check_compute_report(
    report: ComputeReport,
    macs: Count | None = None,
    flops: Count | None = None,
    expect: Mapping[str, Count] | str | None = None,
) -> ComputeReport:
    """``ComputeReport.check``: the ``flopcount`` directive's check, raising ``MismatchError``."""
    __tracebackhide__ = True
    claims, errors = _claims({"macs": macs, "flops": flops}, expect)
    if errors:
        raise OptionError("; ".join(e.message for e in errors), hint=errors[0].hint)
    _raise_mismatches(report.subject, [check_compute(report, report.shown_rows, claims, _KEYWORDS)])
    return report


def _raise_mismatches(subject: str, results: list[Check], formulas: Sequence[FormulaMismatch] = ()) -> None:
    __tracebackhide__ = True
    mismatches = tuple(m for r in results for m in r.mismatches)
    unknown = tuple(u for r in results for u in r.unknown)
    lines = [m.message for m in mismatches] + [f"{u.message} ({u.hint})" for u in unknown]
    lines += [f.message for f in formulas]
    if not lines:
        return
    if len(lines) == 1:
        message = lines[0]
    else:
        message = f"{len(lines)} stated numbers do not hold for {subject}:\n" + "\n".join(f"- {x}" for x in lines)
    raise MismatchError(message, mismatches=mismatches, unknown=unknown)


# How each stated number is named in a message about it.
_STATED_WORDS = {
    "total": "stated total",
    "trainable": "stated trainable count",
    "macs": "stated MACs",
    "flops": "stated FLOPs",
}


def _claims(
    stated: Mapping[str, Count | None], expect: Mapping[str, Count] | str | None
) -> tuple[list[Claim], list[OptionError]]:
    """The stated numbers (``{"total": ..., "macs": ...}``) and ``expect`` as claims, and every one that cannot be read."""
    claims: list[Claim] = []
    errors: list[OptionError] = []

    def add(key: ClaimKey, value: Count, what: str) -> None:
        try:
            claims.append(Claim(key, _stated(value, what)))
        except OptionError as exc:
            errors.append(exc)

    for key, value in stated.items():
        if value is not None:
            add(ClaimKey(key), value, _STATED_WORDS[key])
    if isinstance(expect, str):
        pairs, problems = read_expect(expect)
        claims += [Claim(ClaimKey("row", row), count) for row, count in pairs]
        errors += problems
    elif isinstance(expect, Mapping):
        for row, value in expect.items():
            add(ClaimKey("row", str(row)), value, f"expect count for {row!r}")
    elif expect is not None:
        errors.append(
            OptionError(
                f"expect is a {type(expect).__name__}, not a dict",
                hint="e.g. expect={'conv1': 448, 'fc1': '131,104'}",
            )
        )
    return claims, errors


def _stated(value: Count, what: str) -> StatedCount:
    """An int, or a string in any form the docs accept (``131,618``, ``131.6K``)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise OptionError(
            f"{what} {value!r} is a {type(value).__name__}, not a whole number of parameters",
            hint="give an int (131618) or a string as the docs write it ('131,618', '131.6K')",
        )
    return parse_stated(str(value), what=what)
