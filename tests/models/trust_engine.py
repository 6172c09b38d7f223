"""Models for the trust tests (issue 10): constructors that change torch's global state,
overridden ``parameters()``, ``BaseException``s, layers whose repr raises, weights downloads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn as nn

from tests.models.fake_timm import create_model
from tests.models.fake_torchvision.models import resnet50

# -- torch's process-wide state ---------------------------------------------------------------------


class Float64Net(nn.Module):
    """Sets the default dtype for the whole process, as some research code does at the top of __init__."""

    def __init__(self) -> None:
        torch.set_default_dtype(torch.float64)
        super().__init__()
        self.fc = nn.Linear(4, 2)


class Float64Forward(nn.Module):
    """Changes the default dtype in its forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(True)
        return self.fc(x)


def changes(setting: str) -> nn.Module:
    """A model whose constructor changes one process-wide torch setting."""
    {
        "dtype": lambda: torch.set_default_dtype(torch.float16),
        "device": lambda: torch.set_default_device("meta"),
        "grad": lambda: torch.set_grad_enabled(False),
        "deterministic": lambda: torch.use_deterministic_algorithms(True, warn_only=True),
        "flush_denormal": lambda: torch.set_flush_denormal(True),
        "tensor_type": lambda: torch.set_default_tensor_type(torch.DoubleTensor),
        "seed": lambda: torch.manual_seed(1234),
        "threads": lambda: torch.set_num_threads(1),
        "anomaly": lambda: torch.autograd.set_detect_anomaly(True),
        "matmul_precision": lambda: torch.set_float32_matmul_precision("medium"),
        "print_options": lambda: torch.set_printoptions(precision=2),
        "warn_always": lambda: torch.set_warn_always(True),
        "device_context": lambda: torch.device("meta").__enter__(),  # entered, never left
        "autocast": lambda: torch.set_autocast_enabled("cpu", True),
    }[setting]()
    return nn.Linear(3, 2)


# -- parameters() overridden -----------------------------------------------------------------------------


class Distiller(nn.Module):
    """A distillation wrapper: the teacher is registered, but only the student is trained and counted."""

    def __init__(self) -> None:
        super().__init__()
        self.teacher = nn.Linear(8, 8)  # 72
        self.student = nn.Linear(8, 2)  # 18

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        return self.student.parameters(recurse)


class NamedDistiller(Distiller):
    """The same, by overriding named_parameters() (which parameters() calls)."""

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:  # back to nn.Module's
        return nn.Module.parameters(self, recurse)

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True) -> Any:
        return self.student.named_parameters(prefix="student", recurse=recurse)


class ExtraParameter(nn.Module):
    """parameters() yields a parameter that no module registers (kept in a plain list)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)  # 8
        self.hidden = [nn.Parameter(torch.zeros(5, 4))]  # 20, not registered

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        yield from nn.Module.parameters(self, recurse)
        yield from self.hidden


class Duplicates(nn.Module):
    """parameters() is a generator that yields every tensor twice."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)  # 8

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        for p in nn.Module.parameters(self, recurse):
            yield p
            yield p


class YieldsNonTensor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def parameters(self, recurse: bool = True) -> Iterator[Any]:
        yield "not a tensor"


class ParametersRaise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        raise RuntimeError("parameters() is broken on purpose")


# -- BaseException ----------------------------------------------------------------------------------------


class CustomBase(BaseException):
    """A user's own BaseException subclass (some frameworks use them for control flow)."""


class Cancelled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        raise asyncio.CancelledError("cancelled on purpose")


class RaisesCustomBase(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        raise CustomBase("custom BaseException on purpose")


class RaisesGeneratorExit(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        raise GeneratorExit("generator exit on purpose")


class CancelledForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise asyncio.CancelledError("cancelled in forward")


# -- layers whose repr or label fails ----------------------------------------------------------------------


class BadExtraRepr(nn.Linear):
    def extra_repr(self) -> str:
        raise CustomBase("extra_repr is broken on purpose")


class BadRepr(nn.Linear):
    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken on purpose")


class IntExtraRepr(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3, 3))

    def extra_repr(self) -> Any:
        return 42


class Scale(nn.Module):
    """A user's layer with a registered formula whose label raises (see the trust root's conf.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.zeros(7))


class OddLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = BadExtraRepr(4, 3)  # 15
        self.b = BadRepr(3, 2)  # 8
        self.c = IntExtraRepr()  # 9
        self.d = Scale()  # 7


class BaseFormula(nn.Module):
    """A layer whose registered formula raises a BaseException (see the trust root's conf.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(2, 5))


def scale_formula(module: Any) -> Any:
    from sphinx_paramcount.formulas.expr import Sym

    return Sym("d", "Gain size", module.gain.shape[0])


def raising_label(module: Any) -> str:
    raise CustomBase("label is broken on purpose")


def base_raising_formula(module: Any) -> Any:
    raise CustomBase("formula is broken on purpose")


# -- weights -------------------------------------------------------------------------------------------------


def torchvision_with_weights() -> nn.Module:
    """A factory that asks for weights where the target cannot see it: only the run-time guard can stop it."""
    return resnet50(weights="DEFAULT")


def timm_pretrained() -> nn.Module:
    return create_model("resnet18", pretrained=True)  # from the Hugging Face hub


def timm_pretrained_url() -> nn.Module:
    return create_model("resnet18_tv", pretrained=True)  # from a torch.hub URL


def gpt2_from_pretrained() -> nn.Module:
    import transformers

    return transformers.AutoModelForCausalLM.from_pretrained("gpt2")
