"""ruff lint and format, and mypy, as part of the test run (configuration in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _ruff() -> str | None:
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file():
        return str(beside)
    return shutil.which("ruff")


def _paths() -> list[str]:
    paths = ["ext", "tests"]
    if any((REPO / "benchmarks").glob("**/*.py")):
        paths.append("benchmarks")
    return paths


RUFF = _ruff()
needs_ruff = pytest.mark.skipif(RUFF is None, reason="ruff is not installed")


@needs_ruff
def test_ruff_check() -> None:
    assert RUFF is not None
    proc = subprocess.run([RUFF, "check", *_paths()], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_ruff
def test_ruff_format() -> None:
    assert RUFF is not None
    proc = subprocess.run([RUFF, "format", "--check", *_paths()], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_on_the_package() -> None:
    """The package's type hints hold (configuration in pyproject.toml)."""
    pytest.importorskip("mypy", reason="mypy is not installed (it is in the test extra)")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "ext/sphinx_paramcount"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
