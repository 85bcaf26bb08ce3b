"""The fake LLM against the LLMBackend suite (the local and upstream backends run it in
tests/online/test_real_llm.py, beside the real model they need)."""

from __future__ import annotations

import pytest

from core.errors import LLMUnavailableError
from core.llm.fake import FakeLLM
from core.llm.unavailable import UnavailableLLM
from tests.core.llm_suite import MESSAGES, LLMBackendContract

pytestmark = pytest.mark.unit


class TestFakeLLM(LLMBackendContract):
    @pytest.fixture
    def llm(self) -> FakeLLM:
        return FakeLLM()


def test_unavailable_llm_fails_every_call_at_once() -> None:
    llm = UnavailableLLM("m", "no backend")
    assert not llm.ready()
    with pytest.raises(LLMUnavailableError, match="no backend"):
        llm.generate(MESSAGES, max_new_tokens=4)
    with pytest.raises(LLMUnavailableError):
        list(llm.stream(MESSAGES, max_new_tokens=4))
