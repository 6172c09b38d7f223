"""The symbols a convolution's formulas share, for its parameters (``builtin``) and its MACs (``macs``).

One place names a filter's size and a group's channels, so the parameter
table and the compute table of one layer read alike.  Free of torch: the
compute engine imports it without importing torch.
"""

from __future__ import annotations

from .expr import Sym

_KERNEL_SYMBOLS = {
    1: [("k", "Filter width")],
    2: [("k_h", "Filter height"), ("k_w", "Filter width")],
    3: [("k_d", "Filter depth"), ("k_h", "Filter height"), ("k_w", "Filter width")],
}


def kernel_syms(kernel: tuple[int, ...]) -> list[Sym]:
    """``k_h``, ``k_w`` (``k_1``, ``k_2``, ... beyond three dimensions), each with its size."""
    names = _KERNEL_SYMBOLS.get(len(kernel)) or [
        (f"k_{i + 1}", f"Kernel size, dimension {i + 1}") for i in range(len(kernel))
    ]
    return [Sym(latex, words, k) for (latex, words), k in zip(names, kernel)]


def per_group(symbol: str, words: str, channels: int, groups: int) -> Sym:
    r"""``C_{in}``, or ``\frac{C_{in}}{g}`` for a grouped convolution (the channels of one group)."""
    if groups == 1:
        return Sym(symbol, words, channels)
    return Sym(rf"\frac{{{symbol}}}{{g}}", f"{words}, per group: {channels} / {groups}", channels // groups)
