"""Default and placeholder secrets are refused at start-up with a clear error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from online.settings import OnlineSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "token",
    [
        "replace-me",
        "change-me",
        "change-me-in-env",
        "CHANGEME",
        "changeme",
        "s3cret",
        " " * 20,
        "short-token-15c",
    ],
)
def test_placeholder_or_short_admin_tokens_are_refused(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_ADMIN_TOKEN", token)
    with pytest.raises(ValidationError, match="TANDEM_ADMIN_TOKEN"):
        OnlineSettings()


def test_a_real_token_or_none_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OnlineSettings().admin_token is None
    monkeypatch.setenv("TANDEM_ADMIN_TOKEN", "x7Qp2LmV9sKd4RtY8wZb")
    token = OnlineSettings().admin_token
    assert token is not None
    assert token.get_secret_value() == "x7Qp2LmV9sKd4RtY8wZb"


AB = '[{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]'


@pytest.mark.parametrize("salt", [None, "tandem-ab", "secret", "short-salt"])
def test_an_experiment_needs_a_secret_salt(
    salt: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 27 item 6: the salt defaulted to a public constant, so a client could compute which
    user_id lands in which arm (and push a canary into rollback with its own latency)."""
    monkeypatch.setenv("TANDEM_VARIANTS", AB)
    if salt is None:
        monkeypatch.delenv("TANDEM_EXPERIMENT_SALT", raising=False)
    else:
        monkeypatch.setenv("TANDEM_EXPERIMENT_SALT", salt)
    with pytest.raises(ValidationError, match="TANDEM_EXPERIMENT_SALT"):
        OnlineSettings()


def test_one_arm_needs_no_salt_and_a_secret_one_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_EXPERIMENT_SALT", raising=False)
    assert OnlineSettings().experiment_salt is None
    monkeypatch.setenv("TANDEM_VARIANTS", AB)
    monkeypatch.setenv("TANDEM_EXPERIMENT_SALT", "9f2c1a7e5b3d4c6a8e0f")
    assert OnlineSettings().assignment_salt == "9f2c1a7e5b3d4c6a8e0f"
