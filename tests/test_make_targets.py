"""Every test file a make target names exists (a moved suite must not turn a target into
"file not found")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def test_the_cluster_target_names_existing_suites() -> None:
    makefile = (ROOT / "Makefile").read_text()
    block = re.search(r"^CLUSTER_SUITES :=(.*?)(?:\n\n|\n[A-Za-z#])", makefile, re.S | re.M)
    assert block is not None
    paths = block.group(1).replace("\\", " ").split()
    assert len(paths) >= 10
    missing = [p for p in paths if not (ROOT / p).is_file()]
    assert missing == []
