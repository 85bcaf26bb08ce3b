"""Encoder adapters against the TextEncoder conformance suite."""

from __future__ import annotations

import pytest

from core.encoder import HashingEncoder, TextEncoder, get_encoder, load_count
from tests.core.encoder_suite import TextEncoderContract


@pytest.mark.unit
class TestHashingEncoder(TextEncoderContract):
    @pytest.fixture
    def encoder(self) -> HashingEncoder:
        return HashingEncoder(dimension=64)


@pytest.mark.slow
class TestSentenceEncoder(TextEncoderContract):
    @pytest.fixture(scope="class")
    def encoder(self) -> TextEncoder:
        return get_encoder(device="cpu", backend="torch")

    def test_one_process_wide_cache(self, encoder: TextEncoder) -> None:
        loads = load_count()
        assert get_encoder(device="cpu", backend="torch") is encoder
        assert load_count() == loads
        assert encoder.dimension == 384
