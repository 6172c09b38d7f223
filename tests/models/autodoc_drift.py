"""Models whose docstrings are out of date, or which fail to build (the ``test-autodoc-drift`` root)."""

from torch import nn


class Stale(nn.Module):
    """A layer whose docstring states a stale count.

    It has :paramcount:`99 <tests.models.autodoc_drift:Stale>` parameters.
    """

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)


class Broken(nn.Module):
    """Takes no arguments, but fails to build."""

    def __init__(self):
        super().__init__()
        raise RuntimeError("the weights file is missing")


class Undocumented(nn.Module):
    def __init__(self):
        super().__init__()
        raise ValueError("no width given")


class InitDoc(nn.Module):
    """Its count is stated in its __init__ docstring, shown with ``autoclass_content = "both"``."""

    def __init__(self):
        """Build it.

        It has :paramcount:`11 <tests.models.autodoc_drift:InitDoc>` parameters.
        """
        super().__init__()
        self.fc = nn.Linear(4, 2)
