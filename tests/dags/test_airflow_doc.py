"""docs/AIRFLOW.md says what publish_step does: it skips only a candidate older than live."""

from __future__ import annotations

import re

import pytest

from shared_schemas.config import project_root

pytestmark = pytest.mark.unit


def test_publish_skip_rule_is_the_code_rule() -> None:
    text = " ".join((project_root() / "docs" / "AIRFLOW.md").read_text().split())
    bullet = re.search(r"`publish` never moves the live pointer back\.(.*?)- `", text)
    assert bullet is not None
    rule = bullet.group(1)
    # batch.orchestration.publish_step skips only when live's date > the candidate's date
    assert "same as" not in rule
    assert "later than the candidate" in rule
