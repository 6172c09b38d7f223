import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Tests import model code as ``tests.models...``, as the test roots' conf.py do.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

pytest_plugins = ["sphinx.testing.fixtures"]

collect_ignore = ["roots"]


@pytest.fixture(scope="session")
def rootdir() -> Path:
    return REPO / "tests" / "roots"
