"""pytest fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures import RTTM_FIXTURE, write


@pytest.fixture
def rttm_file(tmp_path: Path) -> Path:
    return write(tmp_path / "fixture.rttm", RTTM_FIXTURE)
