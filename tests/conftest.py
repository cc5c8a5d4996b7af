"""Shared test fixtures.

Tests that need a real part (PostgreSQL server, Chromium) call :func:`require`: on a bare
machine they skip with the reason; with ``CRLM_STRICT=1`` (as in ``.ci/run``) they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
EXAMPLES = REPO / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

STRICT = os.environ.get("CRLM_STRICT") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip (bare machine) or fail (CRLM_STRICT=1) when a real part is missing."""
    if condition:
        return
    if STRICT:
        pytest.fail(f"CRLM_STRICT=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL test database (CRLM_TEST_POSTGRES_URL)."""
    url = os.environ.get("CRLM_TEST_POSTGRES_URL", "")
    require(bool(url), "no PostgreSQL server: set CRLM_TEST_POSTGRES_URL (see .ci/postgres.sh)")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's chromium for Playwright (CRLM_CHROMIUM or /usr/bin/chromium)."""
    path = os.environ.get("CRLM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(path).exists(), f"no chromium at {path}: apt-get install chromium")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` with the R survival reference results."""
    require(REFERENCE.is_dir(), f"reference data not found at {REFERENCE}")
    return REFERENCE
