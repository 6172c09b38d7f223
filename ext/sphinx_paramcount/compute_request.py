"""The text of a ``flopcount`` role: which forward pass it asks for, and what its title states.

``resnet50() @ 1, 3, 224, 224`` asks for the MACs of one pass on that input
shape; ``gpt2 @ 1, 16 int64`` gives the input's dtype after the shape.  A
title states MACs or FLOPs, in any form a count may take, the unit letter
attached to the number or to the word: ``573,504 MACs``, ``4.09G FLOPs``,
``4.09 GFLOPs``.  Free of Sphinx: ``update`` and the prebuild read the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import OptionError
from .shapes import parse_input_dtype, parse_input_shape
from .stated import Claim, ClaimKey, parse_stated

ROLE_FORMS = (
    "write :flopcount:`pkg.mod:Model @ 1, 3, 32, 32` for the MACs, or "
    ":flopcount:`4.09 GMACs <pkg.mod:Model @ 1, 3, 32, 32>` (or '8.18 GFLOPs') to check them; "
    "a dtype may follow the shape: '@ 1, 16 int64'"
)

# The shape, then optionally a dtype: a word after the numbers (``1, 16 int64``, ``1, 16, torch.int64``).
_SHAPE_DTYPE = re.compile(r"^(?P<shape>.*?)(?:[\s,]+(?P<dtype>[A-Za-z][\w.]*))?\s*$", re.DOTALL)
# A stated number, then what it counts; a unit letter may be on the word (``GMACs``).
_STATED = re.compile(r"^(?P<number>.*?)\s*(?P<what>MACs?|FLOPs?)\s*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ComputeRequest:
    """One forward pass: the target, the input's shape and dtype."""

    target: str
    input_shape: tuple[int, ...]
    input_dtype: str = "float32"


def parse_request(text: str) -> ComputeRequest:
    """``pkg.mod:Model @ 1, 3, 32, 32 [dtype]`` -> ``ComputeRequest``; ``OptionError`` if malformed."""
    target, at, rest = " ".join(text.split()).rpartition("@")
    if not at:
        raise OptionError("the role gives no input shape after '@'", hint=ROLE_FORMS)
    if not target.strip():
        raise OptionError("the role names no model before '@'", hint=ROLE_FORMS)
    m = _SHAPE_DTYPE.match(rest)
    assert m is not None  # the pattern matches any text
    dtype = parse_input_dtype(m["dtype"]) if m["dtype"] else "float32"
    return ComputeRequest(target.strip(), parse_input_shape(m["shape"]), dtype)


def parse_stated_compute(title: str) -> Claim:
    """``4.09 GFLOPs`` -> a claim on the FLOPs, stated ``4.09 G``; ``OptionError`` if malformed.

    The stated text is the number as written (``4.09 G``, ``573,504``), so
    ``update`` rewrites it in place and the word after it stays.
    """
    m = _STATED.match(title.strip())
    if m is None:
        raise OptionError(
            f"{title.strip()!r} does not say whether it counts MACs or FLOPs",
            hint="add the unit after the number: '573,504 MACs', '4.09G FLOPs' or '4.09 GFLOPs'",
        )
    what = "flops" if m["what"].lower().startswith("flop") else "macs"
    word = "FLOPs" if what == "flops" else "MACs"
    return Claim(ClaimKey(what), parse_stated(m["number"], what=f"stated {word}"))
