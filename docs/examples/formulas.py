"""The formula for :class:`examples.layers.LowRankLinear`.

Registered in ``conf.py`` through ``paramcount_formulas``.
"""

from sphinx_paramcount.formulas import Sym


def low_rank_linear(m):
    d_in = Sym("d_{in}", "Input features", m.in_features)
    d_out = Sym("d_{out}", "Output features", m.out_features)
    r = Sym("r", "Rank", m.rank)
    return d_in * r + r * d_out + d_out
