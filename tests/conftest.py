"""Shared pytest fixtures."""

from pathlib import Path

import pytest

# Real third-party data shared between checkouts (see its README.md).
REAL_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The shared real-data folder; skips the test when this checkout has none."""
    if not REAL_DATA_DIR.is_dir():
        pytest.skip(f"real data folder {REAL_DATA_DIR} is absent")
    return REAL_DATA_DIR
