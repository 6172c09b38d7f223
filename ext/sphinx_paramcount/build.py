"""Building the model a target names, as cheaply as the constructor allows.

The fast path builds under ``torch.device("meta")``: no memory, no weight
initialisation.  Constructors that read tensor values (``.tolist()``,
``.item()``) cannot run there; for those we fall back to building on the CPU
with every parameter moved to meta as soon as it is registered (so at most one
layer's tensors exist in memory at a time), and only then to a plain CPU build.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import InstantiateError, ParamcountError, TargetError, brief
from .guards import downloads_refused, offline_refusal, refuse_weights, torch_state_kept
from .target import Call, Container, Ref, Value, call, parse_target, resolve_ref

DEVICES = ("meta", "cpu")

METHOD_TEXT = {
    "instance": "used the module instance as is",
    "meta": "built on the meta device",
    "meta-params": "built on the CPU with parameters moved to the meta device (the constructor reads tensor values)",
    "cpu": "built on the CPU (the constructor cannot run on the meta device)",
}


@dataclass
class Built:
    module: Any  # torch.nn.Module; typed loosely so this module imports without torch
    method: str
    notices: list[str] = field(default_factory=list)


def build_model(text: str, device: str = "meta") -> Built:
    """Parse, import and build the target; raise a ``ParamcountError`` on failure.

    Torch's process-wide settings are as they were afterwards, whatever the
    target's code did (``guards.torch_state_kept``), and nothing is downloaded.
    """
    if device not in DEVICES:
        raise TargetError(f"unknown device {device!r}", hint=f"use one of {', '.join(DEVICES)}")
    spec = parse_target(text)
    refuse_weights(spec)  # before importing anything: a clear error at once, not a download
    with torch_state_kept(), downloads_refused():
        label, notices, obj, factory = _resolve(spec)
        if factory is None:
            return Built(obj, "instance", notices)
        return _built(factory, label, device, notices)


def build_object(obj: Any, label: str, device: str = "meta") -> Built:
    """An ``nn.Module`` instance as it is, or a class or factory built as a target naming it would be.

    ``label`` names ``obj`` in errors.  The instance is neither copied nor moved.
    """
    import torch.nn as nn

    if device not in DEVICES:
        raise TargetError(f"unknown device {device!r}", hint=f"use one of {', '.join(DEVICES)}")
    if isinstance(obj, nn.Module):
        return Built(obj, "instance")
    if not callable(obj):
        raise InstantiateError(
            f"{label} ({type(obj).__name__}) is not an nn.Module, a class or a factory",
            hint="pass a torch.nn.Module, its class, a function returning one, or a target string",
        )
    try:
        _check_callable_without_arguments(obj, label)
    except TargetError as exc:
        # Python, not the target's pkg.mod:Name: the call the user would write in their cell.
        name = getattr(obj, "__name__", None) or label
        exc.hint = f"pass an instance, or a factory that needs no arguments, e.g. lambda: {name}(...)"
        raise
    with torch_state_kept(), downloads_refused():
        return _built(obj, label, device, [])


def _built(factory: Callable[[], Any], label: str, device: str, notices: list[str]) -> Built:
    """Call ``factory`` (falling back from meta), and check that it made an ``nn.Module``."""
    import torch.nn as nn

    try:
        built = _build_with_fallback(factory, label, device)
    except ParamcountError as exc:
        # What the import printed is said once, here or in a notice: a failed build must not lose it.
        if notices:
            exc.message += f"; {notices[0]}"
        raise
    if not isinstance(built.module, nn.Module):
        raise InstantiateError(
            f"{label!r} returned a {type(built.module).__name__}, not an nn.Module",
            hint="the target must build a torch.nn.Module",
        )
    built.notices[:0] = notices
    return built


def _resolve(spec: Ref | Call) -> tuple[str, list[str], Any, Callable[[], Any] | None]:
    """Import what the target names: (label, notices, the object, the factory to call or ``None``).

    What the user's modules print or warn while imported becomes one notice,
    located at the directive that imported them; if the import fails, it is
    part of the error, since it often says why.
    """
    import torch.nn as nn

    label = spec.text if isinstance(spec, Ref) else spec.func.text
    failed: ParamcountError | None = None
    with _captured_output(record_warnings=True) as printed:
        try:
            obj = resolve_ref(spec if isinstance(spec, Ref) else spec.func)
            if isinstance(spec, Call):
                _import_names(spec)
        except ParamcountError as exc:
            failed = exc
    output = _output_lines(printed)
    if failed is not None:
        if output:
            failed.message = f"{failed.message}; while importing, it printed: {'; '.join(output)[:300]}"
        raise failed
    notices = [f"{label} printed while its modules were imported: {'; '.join(output)[:200]}"] if output else []
    if isinstance(spec, Ref):
        if isinstance(obj, nn.Module):
            return label, notices, obj, None
        if not callable(obj):
            raise InstantiateError(
                f"{spec.text!r} is a {type(obj).__name__}, not an nn.Module, a class or a factory",
                hint="name a torch.nn.Module subclass, a function returning one, or a module instance",
            )
        _check_callable_without_arguments(obj, spec.text)
        return label, notices, obj, obj
    if not callable(obj):
        raise InstantiateError(f"{spec.func.text!r} is a {type(obj).__name__}, which cannot be called")
    call_spec: Call = spec
    func = obj

    def factory() -> Any:
        return call(func, call_spec)

    return label, notices, func, factory


def _import_names(value: Value) -> None:
    """Resolve every dotted name of a call before building.

    Imports must not run under ``torch.device("meta")``: a module's top-level
    tensors would be created on meta and stay there in ``sys.modules``.  And a
    misspelt argument is the target's fault (``ImportTargetError``), not a
    failure of the constructor.
    """
    if isinstance(value, Ref):
        resolve_ref(value)
    elif isinstance(value, Call):
        resolve_ref(value.func)
        for item in (*value.args, *(v for _, v in value.kwargs)):
            _import_names(item)
    elif isinstance(value, Container):
        for item in (*value.keys, *value.items):
            _import_names(item)


def _check_callable_without_arguments(obj: Any, text: str) -> None:
    try:
        sig = inspect.signature(obj)
    except Exception:  # builtins without a signature, a user's __signature__ that raises: let the call decide
        return
    missing = [
        p.name
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if missing:
        example = ", ".join(f"{name}=..." for name in missing)
        raise TargetError(
            f"{text!r} needs arguments that were not given: {', '.join(missing)}",
            hint=f"write the call in the target, e.g. '{text}({example})'",
        )


def _build_with_fallback(factory: Callable[[], Any], label: str, device: str) -> Built:
    strategies = ["meta", "meta-params", "cpu"] if device == "meta" else ["cpu"]
    failures: list[tuple[str, BaseException]] = []
    for method in strategies:
        try:
            with _captured_output() as printed, _strategy(method):
                module = factory()
        except (KeyboardInterrupt, ParamcountError):
            raise  # ParamcountError: the target's own error (a nested call of a non-callable, a download)
        except SystemExit as exc:
            raise InstantiateError(
                f"building {label!r} called sys.exit({exc.code!r})",
                hint="a model constructor must not exit the process",
            ) from exc
        except Exception as exc:
            refusal = offline_refusal(exc)
            if refusal is not None:
                raise refusal from exc
            failures.append((method, exc))
            continue
        except BaseException as exc:  # CancelledError, GeneratorExit, a user's own: this directive's error only
            raise InstantiateError(
                f"building {label!r} raised {type(exc).__name__} (a BaseException, not an Exception): "
                f"{brief(exc, 300)}",
                hint="a model constructor should raise an Exception subclass, or better none",
            ) from exc
        notices = []
        if failures:  # say how, and why the faster way did not work
            first_method, first = failures[0]
            notices.append(
                f"{label}: {METHOD_TEXT[method]}; the {first_method} build raised {type(first).__name__}: {brief(first)}"
            )
        lines = _output_lines(printed)
        if lines:  # one line, so that no unlocated text reaches the build log
            notices.append(f"{label} printed while being built: {'; '.join(lines)[:200]}")
        return Built(module, method, notices)
    last_method, last = failures[-1]
    raise InstantiateError(
        f"building {label!r} raised {type(last).__name__}: {brief(last, 300)}",
        hint="check the constructor's arguments in the target",
    ) from last


@contextlib.contextmanager
def _captured_output(record_warnings: bool = False) -> Iterator[io.StringIO]:
    """A constructor's or an import's prints (stdout, stderr) and warnings, kept out of the build log.

    With ``record_warnings``, the warnings that would have been shown (the
    filters are left as they are) are written to the buffer as
    ``Category: message`` lines; otherwise they are dropped.
    """
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        with warnings.catch_warnings(record=record_warnings) as caught:
            if not record_warnings:
                warnings.simplefilter("ignore")
            try:
                yield buffer
            finally:
                for w in caught or ():
                    buffer.write(f"{w.category.__name__}: {w.message}\n")


def _output_lines(buffer: io.StringIO) -> list[str]:
    return [line.strip() for line in buffer.getvalue().splitlines() if line.strip()]


@contextlib.contextmanager
def _strategy(method: str) -> Iterator[None]:
    import torch

    if method == "meta":
        with torch.device("meta"), _initialisation_skipped():
            yield
    elif method == "meta-params":
        with _parameters_on_meta():
            yield
    else:
        yield


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Move every parameter to meta as it is registered; buffers stay real."""
    import torch
    from torch import nn

    original = nn.Module.register_parameter
    # One meta copy per real parameter: a parameter object registered on two
    # modules (a tie) must stay one tensor, or it would be counted twice.
    # The originals are kept alive here so that their ids are not reused.
    copies: dict[int, tuple[Any, Any]] = {}

    def register_parameter(self: nn.Module, name: str, param: Any) -> None:
        original(self, name, param)
        lazy = isinstance(param, nn.parameter.UninitializedParameter)
        if param is not None and not lazy and param.device.type != "meta":
            if id(param) not in copies:
                kwargs = {"requires_grad": param.requires_grad}
                copies[id(param)] = (param, type(param)(param.to(torch.device("meta")), **kwargs))
            self._parameters[name] = copies[id(param)][1]

    nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
    try:
        yield
        # A constructor may freeze a parameter through its own reference after
        # registering it (``w.requires_grad_(False)``): the copy must follow.
        for real, copy in copies.values():
            copy.requires_grad_(real.requires_grad)
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _initialisation_skipped() -> Iterator[None]:
    """``torch.nn.init`` as no-ops: meta tensors have no values to initialise.

    Initialising a meta tensor still dispatches through torch's reference
    implementations, whose first use imports ``torch._dynamo`` (about a second
    and 75 MB); a count never needs the values, so the calls are skipped.
    """
    from torch.nn import init

    def keep(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        return tensor

    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_") and callable(getattr(init, n))]
    saved = {n: getattr(init, n) for n in names}
    for name in names:
        setattr(init, name, keep)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)
