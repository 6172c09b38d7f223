"""Typed errors of the engine.

Every failure a user can cause is one of these, with a ``subtype`` that the
Sphinx layer turns into ``type="paramcount", subtype=...`` and a ``hint`` that
says what to do.  Sphinx-free on purpose: the command line uses them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stated import Mismatch, UnknownRow


class ParamcountError(Exception):
    """Base of every error the engine reports to a user."""

    subtype = "target"

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class TargetError(ParamcountError):
    """The target text is not a valid target (syntax, non-literal, not a module)."""

    subtype = "target"


class ImportTargetError(ParamcountError):
    """A module named by the target cannot be imported, or an attribute is missing."""

    subtype = "import"


class InstantiateError(ParamcountError):
    """The target was found but calling it (building the model) failed."""

    subtype = "instantiate"


class OptionError(ParamcountError):
    """A directive option or stated number is malformed."""

    subtype = "option"


class FormulaError(ParamcountError):
    """A formula registration is broken (missing, not callable, raises)."""

    subtype = "formula"


class LazyError(ParamcountError):
    """The model has lazy (uninitialised) parameters that cannot be counted yet."""

    subtype = "lazy"


class WeightsError(ParamcountError):
    """The target asks for trained weights, or building it tried to download them."""

    subtype = "weights"


class UncountableError(ParamcountError):
    """The model was built, but something about it cannot be counted (a method that raises, odd values)."""

    subtype = "model"


class MismatchError(ParamcountError, AssertionError):
    """A stated number the model no longer has (``Report.check``).

    An ``AssertionError``, so pytest shows it as a failed assertion.  The
    message is the one the docs build prints, one line per stated number that
    does not hold; ``mismatches`` and ``unknown`` hold them as data
    (``stated.Mismatch``: key, stated, actual; ``stated.UnknownRow``).
    """

    subtype = "mismatch"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        mismatches: Iterable[Mismatch] = (),
        unknown: Iterable[UnknownRow] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.mismatches = tuple(mismatches)
        self.unknown = tuple(unknown)


def brief(exc: BaseException, limit: int = 200) -> str:
    """An exception's first line, cut short; safe when the user's ``__str__`` itself raises.

    Torch's dispatcher errors list every backend over pages, hence the cut.
    """
    try:
        lines = str(exc).strip().splitlines()
    except Exception:
        return f"(its message could not be read: {type(exc).__name__}.__str__ raised)"
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."
