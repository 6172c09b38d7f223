"""Tests that need tools outside Python: skipped locally without them, failed in CI."""

from __future__ import annotations

import os

import pytest


def require(what: str, missing: list[str]) -> None:
    """Skip (or, under ``CI``, fail) when any of ``what``'s tools is missing."""
    if not missing:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} needs {', '.join(missing)} (installed by .ci/run)")
    pytest.skip(f"{what} needs {', '.join(missing)}")
