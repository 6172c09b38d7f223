"""What building a user's model may not do to the process: change torch's global state, download.

A docs build builds many models in one process (and, with ``-j``, in an
order that varies).  A constructor that calls ``torch.set_default_dtype`` or
``torch.manual_seed`` would otherwise change what every later page shows, so
``torch_state_kept`` puts torch's process-wide settings back after each build
and each forward pass.

Counting never needs trained weights, and a download on a machine without a
network hangs for minutes before it fails.  ``downloads_refused`` makes every
download through ``torch.hub`` or the Hugging Face hub fail at once, with a
message saying how to build the same architecture without weights;
``refuse_weights`` finds the common spellings in the target before anything
is built.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

from .errors import WeightsError
from .target import Call, Container, Literal, Ref, Value

# -- torch's process-wide state ---------------------------------------------------------------------


def _settings(torch: Any) -> list[tuple[Callable[[], Any], Callable[[Any], Any]]]:
    """(read, write) pairs for every process-wide setting a constructor may change."""
    backends = torch.backends
    pairs: list[tuple[Callable[[], Any], Callable[[Any], Any]]] = [
        (torch.get_default_dtype, torch.set_default_dtype),
        (torch.is_grad_enabled, torch.set_grad_enabled),
        (
            lambda: (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            ),
            lambda v: torch.use_deterministic_algorithms(v[0], warn_only=v[1]),
        ),
        (
            lambda: (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
            lambda v: torch.set_anomaly_enabled(*v),
        ),
        (torch.get_num_threads, torch.set_num_threads),
        (torch.get_float32_matmul_precision, torch.set_float32_matmul_precision),
        (torch.is_warn_always_enabled, torch.set_warn_always),
        (torch.random.get_rng_state, torch.random.set_rng_state),
        (random.getstate, random.setstate),
        (lambda: dict(vars(torch._tensor_str.PRINT_OPTS)), lambda v: vars(torch._tensor_str.PRINT_OPTS).update(v)),
    ]
    for device in ("cpu", "cuda"):  # autocast, per device type: enabled and its dtype
        pairs.append(_autocast(torch, device))
    pairs.append((torch.is_autocast_cache_enabled, torch.set_autocast_cache_enabled))
    for flag in ("deterministic", "benchmark", "enabled", "allow_tf32"):
        if hasattr(backends.cudnn, flag):
            pairs.append(_attribute(backends.cudnn, flag))
    if hasattr(backends.cuda, "matmul") and hasattr(backends.cuda.matmul, "allow_tf32"):
        pairs.append(_attribute(backends.cuda.matmul, "allow_tf32"))
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # only if imported already: a build must not cost a numpy import
        pairs.append((numpy.random.get_state, numpy.random.set_state))
    return pairs


def _autocast(torch: Any, device: str) -> tuple[Callable[[], Any], Callable[[Any], Any]]:
    def read() -> tuple[bool, Any]:
        return torch.is_autocast_enabled(device), torch.get_autocast_dtype(device)

    def write(value: tuple[bool, Any]) -> None:
        torch.set_autocast_enabled(device, value[0])
        torch.set_autocast_dtype(device, value[1])

    return read, write


def _attribute(owner: Any, name: str) -> tuple[Callable[[], Any], Callable[[Any], Any]]:
    return (lambda: getattr(owner, name), lambda v: setattr(owner, name, v))


@contextlib.contextmanager
def torch_state_kept() -> Iterator[None]:
    """Put torch's process-wide settings back as they were, however the block ends.

    Kept: default dtype (and so the default tensor type), default device and
    any torch-function mode left entered, grad mode, autocast, deterministic
    algorithms, anomaly mode, thread count, float32 matmul precision, warn
    always, print options, cuDNN/TF32 flags, and the torch, ``random`` and
    NumPy random states.  Flush-denormal has no getter in torch: a call made
    inside the block is undone by setting it back to off, torch's default.
    """
    import torch

    pairs = _settings(torch)
    saved = [read() for read, _ in pairs]
    modes = _FunctionModes(torch)
    flush = _FlushDenormalWatch(torch)
    try:
        with flush:
            yield
    finally:
        for (read, write), value in zip(pairs, saved):
            with contextlib.suppress(Exception):
                if _differs(read(), value):
                    write(value)
        modes.restore()
        if flush.called:
            torch.set_flush_denormal(False)


def _differs(now: Any, before: Any) -> bool:
    import torch

    if isinstance(now, torch.Tensor) and isinstance(before, torch.Tensor):
        return now.shape != before.shape or not torch.equal(now, before)
    try:
        return bool(now != before)
    except Exception:  # numpy states compare element-wise: write them back
        return True


class _FunctionModes:
    """The torch-function mode stack, where ``set_default_device`` and ``with torch.device`` live."""

    def __init__(self, torch: Any) -> None:
        from torch.overrides import _get_current_function_mode_stack
        from torch.utils import _device

        self.torch, self.device_module = torch, _device
        self.stack = _get_current_function_mode_stack()
        self.context = getattr(torch._GLOBAL_DEVICE_CONTEXT, "device_context", None)
        self.current = getattr(_device, "CURRENT_DEVICE", None)

    def restore(self) -> None:
        from torch.overrides import _get_current_function_mode_stack, _pop_mode, _push_mode

        now = _get_current_function_mode_stack()
        if len(now) == len(self.stack) and all(a is b for a, b in zip(now, self.stack)):
            return
        for _ in now:
            _pop_mode()
        for mode in self.stack:
            _push_mode(mode)
        self.torch._GLOBAL_DEVICE_CONTEXT.device_context = self.context
        self.device_module.CURRENT_DEVICE = self.current


class _FlushDenormalWatch:
    """Notes whether ``torch.set_flush_denormal`` was called inside the block."""

    def __init__(self, torch: Any) -> None:
        self.torch, self.called = torch, False

    def __enter__(self) -> None:
        self.original = self.torch.set_flush_denormal

        def watched(mode: bool) -> bool:
            self.called = True
            return bool(self.original(mode))

        self.torch.set_flush_denormal = watched

    def __exit__(self, *exc: object) -> None:
        self.torch.set_flush_denormal = self.original


# -- downloads ----------------------------------------------------------------------------------------

WEIGHTS_HINT = (
    "counting needs only the architecture: build it without weights, e.g. 'weights=None' "
    "(torchvision), 'pretrained=False' (timm), or "
    "'transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config())' instead of from_pretrained"
)

# Keyword arguments that ask a constructor for trained weights (torchvision, timm and their kin).
_WEIGHT_KEYWORDS = ("weights", "weights_backbone", "pretrained", "pretrained_backbone")
# Calls that always fetch something: a model's files from the Hugging Face hub, or a hub repository.
_FETCHING_CALLS = {"from_pretrained": "downloads the model's weights", "load": "downloads a torch.hub repository"}


def refuse_weights(spec: Ref | Call) -> None:
    """``WeightsError`` if the target asks for trained weights; checked before anything is imported."""
    for call in _calls(spec):
        name = call.func.parts[-1]
        local = ("source", Literal("local")) in call.kwargs  # torch.hub.load of a repository on disk
        if name == "from_pretrained" or (name == "load" and call.func.parts[-2:-1] == ("hub",) and not local):
            raise WeightsError(
                f"{call.func.text}(...) {_FETCHING_CALLS[name]}; counting never needs them, and a docs build must not "
                "download",
                hint=WEIGHTS_HINT,
            )
        for key, value in call.kwargs:
            if key in _WEIGHT_KEYWORDS and _asks_for_weights(value):
                raise WeightsError(
                    f"{call.func.text}(..., {key}={_text(value)}) asks for trained weights, which would be "
                    "downloaded; counting never needs them",
                    hint=WEIGHTS_HINT,
                )


def _calls(value: Value) -> Iterator[Call]:
    if isinstance(value, Call):
        yield value
        for item in (*value.args, *(v for _, v in value.kwargs)):
            yield from _calls(item)
    elif isinstance(value, Container):
        for item in (*value.keys, *value.items):
            yield from _calls(item)


def _asks_for_weights(value: Value) -> bool:
    # A name (``ResNet50_Weights.DEFAULT``), a weights name ("IMAGENET1K_V2") or True ask for them;
    # None and False do not, and other values (a user's own ``weights=[1, 2]``) are not ours to judge.
    if isinstance(value, Ref):
        return True
    return isinstance(value, Literal) and (value.value is True or (isinstance(value.value, str) and bool(value.value)))


def _text(value: Value) -> str:
    if isinstance(value, Ref):
        return value.text
    if isinstance(value, Literal):
        return repr(value.value)
    return "..."


class _Refused:
    """Stands in for a torch.hub download function: refuses while a model is built, else calls the original.

    Installed once and left in place: a module imported during a build may
    bind the function by name (``from torch.hub import
    load_state_dict_from_url``, as torchvision does), and must get the
    original back, not a refusal, once the build is over.
    """

    active = 0  # builds under way (nested: a forward pass inside a build)
    # Refusals raised in the builds under way: the model's code may catch one and build
    # something else, which must not be documented as if nothing happened.
    refused: list[WeightsError] = []

    def __init__(self, name: str, original: Callable[..., Any]) -> None:
        self.name, self.original = name, original
        functools.update_wrapper(self, original)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not _Refused.active or (self.name == "load" and kwargs.get("source") == "local"):
            return self.original(*args, **kwargs)
        url = next((a for a in args if isinstance(a, str)), kwargs.get("url", ""))
        error = WeightsError(
            f"building the model tried to download {url or 'a file'} (torch.hub.{self.name}); counting never needs "
            "trained weights, and a docs build must not download",
            hint=WEIGHTS_HINT,
        )
        _Refused.refused.append(error)
        raise error


_HUB_FUNCTIONS = ("load_state_dict_from_url", "download_url_to_file", "load")
_HF_OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _install_refusals() -> None:
    import torch.hub

    for name in _HUB_FUNCTIONS:
        fn = getattr(torch.hub, name, None)
        if fn is not None and not isinstance(fn, _Refused):
            setattr(torch.hub, name, _Refused(name, fn))


@contextlib.contextmanager
def downloads_refused() -> Iterator[None]:
    """Every torch.hub download fails at once; the Hugging Face hub is offline; both restored after."""
    _install_refusals()
    saved_env = {name: os.environ.get(name) for name in _HF_OFFLINE}
    # huggingface_hub reads the variable once, when imported: set its constant too if it is loaded.
    constants: Any = sys.modules.get("huggingface_hub.constants")
    saved_constant = getattr(constants, "HF_HUB_OFFLINE", None)
    os.environ["HF_HUB_OFFLINE"] = "1"
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    _Refused.active += 1
    if _Refused.active == 1:
        _Refused.refused = []
    hub_errors = _HubErrorsWatched()
    try:
        with hub_errors:
            yield
        if _Refused.active == 1 and (_Refused.refused or hub_errors.seen):
            # The model's code caught the refusal and built something anyway.
            raise _Refused.refused[0] if _Refused.refused else hub_errors.seen[0]
    finally:
        _Refused.active -= 1
        if not _Refused.active:  # else an outer build is still under way: it restores the environment
            _restore_offline(saved_env, constants, saved_constant)


class _HubErrorsWatched:
    """Notes each offline error the Hugging Face hub makes while a model is built, caught or not.

    The hub's own exception classes are watched (``OfflineModeIsEnabled``,
    ``LocalEntryNotFoundError``), patched only while the build runs: if the
    hub was not imported yet, importing it for this costs 80 ms; then only
    its import during the build is caught (``sys.meta_path`` hook).
    """

    NAMES = ("OfflineModeIsEnabled", "LocalEntryNotFoundError")

    def __init__(self) -> None:
        self.seen: list[WeightsError] = []
        self.patched: list[tuple[type, Any]] = []
        self.finder: Any = None

    def __enter__(self) -> None:
        errors = sys.modules.get("huggingface_hub.errors")
        if errors is not None:
            self._patch(errors)
        else:
            self.finder = _AfterImport("huggingface_hub.errors", self._patch)
            sys.meta_path.insert(0, self.finder)

    def _patch(self, errors: Any) -> None:
        for name in self.NAMES:
            cls = getattr(errors, name, None)
            if isinstance(cls, type) and all(c is not cls for c, _ in self.patched):
                original = vars(cls).get("__init__")  # None: inherited, restored by deleting ours
                inherited = cls.__init__  # type: ignore[misc]

                def init(exc: Any, *args: Any, _call: Any = inherited, **kwargs: Any) -> None:
                    _call(exc, *args, **kwargs)
                    refusal = offline_refusal(exc)
                    if refusal is not None:
                        self.seen.append(refusal)

                self.patched.append((cls, original))
                setattr(cls, "__init__", init)  # noqa: B010 (an instance's __init__ is not assignable for mypy)

    def __exit__(self, *exc: object) -> None:
        for cls, original in self.patched:
            if original is None:
                delattr(cls, "__init__")
            else:
                setattr(cls, "__init__", original)  # noqa: B010
        if self.finder is not None and self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)


class _AfterImport:
    """A ``sys.meta_path`` finder that calls ``then(module)`` once ``name`` has been imported."""

    def __init__(self, name: str, then: Callable[[Any], None]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        import importlib.machinery

        sys.meta_path.remove(self)  # find the real spec with the other finders
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module  # type: ignore[union-attr]
        then = self.then

        def exec_then(module: Any) -> None:
            exec_module(module)
            then(module)

        spec.loader.exec_module = exec_then  # type: ignore[method-assign, union-attr]
        return spec


def _restore_offline(saved_env: dict[str, str | None], constants: Any, saved_constant: Any) -> None:
    for name, value in saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    constants_now: Any = sys.modules.get("huggingface_hub.constants")
    if constants_now is not None:
        # Imported during the build, it read our "1": give it what the user's environment says.
        offline = saved_constant if constants is not None else _env_true(saved_env)
        constants_now.HF_HUB_OFFLINE = bool(offline)


def _env_true(env: dict[str, str | None]) -> bool:
    value = env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in ("1", "ON", "YES", "TRUE")


def offline_refusal(exc: BaseException) -> WeightsError | None:
    """Our error for a Hugging Face call that needed the network while ``downloads_refused`` held."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = {cls.__name__ for cls in type(current).__mro__}
        if names & {"OfflineModeIsEnabled", "LocalEntryNotFoundError"}:
            return WeightsError(
                f"building the model tried to download files from the Hugging Face hub "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''}); "
                "counting never needs trained weights, and a docs build must not download",
                hint=WEIGHTS_HINT,
            )
        current = current.__cause__ or current.__context__
    return None
