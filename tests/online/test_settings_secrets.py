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
