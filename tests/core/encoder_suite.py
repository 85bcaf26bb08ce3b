"""Conformance suite of the TextEncoder port."""

from __future__ import annotations

import numpy as np

from core.encoder import TextEncoder

TEXTS = [
    "Paris is the capital of France.",
    "The Nile is a river.",
    "Paris is the capital of France.",
]


class TextEncoderContract:
    """Subclasses provide a fixture ``encoder``."""

    #: how far a text's vector may move with its batch (0 for exact adapters)
    batch_atol = 1e-5

    def test_is_a_text_encoder(self, encoder: TextEncoder) -> None:
        assert isinstance(encoder, TextEncoder)
        assert encoder.dimension > 0

    def test_one_unit_float32_row_per_text(self, encoder: TextEncoder) -> None:
        out = encoder.encode(TEXTS)
        assert out.shape == (3, encoder.dimension)
        assert out.dtype == np.float32
        assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)

    def test_same_text_same_vector_other_text_other_vector(self, encoder: TextEncoder) -> None:
        out = encoder.encode(TEXTS)
        assert np.allclose(out[0], out[2], atol=max(1e-6, self.batch_atol))
        assert float(out[0] @ out[1]) < 0.99
        again = encoder.encode([TEXTS[0]], batch_size=1)
        assert np.allclose(again[0], out[0], atol=self.batch_atol)

    def test_empty_input(self, encoder: TextEncoder) -> None:
        assert encoder.encode([]).shape == (0, encoder.dimension)

    def test_related_texts_are_closer(self, encoder: TextEncoder) -> None:
        a, b, c = encoder.encode(
            ["the capital of france is paris", "paris is the capital of france", "rivers of africa"]
        )
        assert float(a @ b) > float(a @ c)
