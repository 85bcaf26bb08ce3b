"""A generation nobody waits for stops: on a timeout, when a streaming client disconnects, when
a non-streaming client leaves; and its slot comes back only once its thread has stopped, so
``generation_concurrency`` bounds the generations really running (issue 13 item 8)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.llm.base import ChatMessage, GenerationStats
from core.llm.fake import FakeLLM
from online.app import create_app
from online.components import build_components
from tests.online.conftest import running_server

WAIT_S = 30  # generous bound for things that must happen; the checked bound is 1 s


class _Stubborn(FakeLLM):
    """Ignores cancellation: blocks until ``hold`` opens (a backend that cannot be stopped)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> str:
        if self.gate is None:
            return super().generate(messages, max_new_tokens=max_new_tokens, stats=stats)
        self.entered.set()
        try:
            self.hold.wait(timeout=WAIT_S)
            return "too late"
        finally:
            self.exited.set()


class _MidStream(FakeLLM):
    """Streams one word, then waits on ``gate`` (stopping when cancelled)."""

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        try:
            yield "Hello"
            self._answer(messages, stats)  # waits on the gate, gives up when cancelled
            yield " world"
        finally:
            self.exited.set()


def _query_bytes(question: str, *, stream: bool) -> bytes:
    body = json.dumps({"question": question, "stream": stream}).encode()
    head = (
        "POST /v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _free_slot_answers(url: str, llm: FakeLLM) -> None:
    """The only slot is free again: a new question is answered by the model, not refused."""
    llm.gate = None
    r = httpx.post(f"{url}/v1/query", json={"question": "Who created Python?"}, timeout=WAIT_S)
    assert r.status_code == 200, r.text
    assert r.json()["answer"].startswith("answer:")


def test_timed_out_generation_stops_and_frees_its_slot(
    client_factory: Any, settings_factory: Any, fake_llm: FakeLLM
) -> None:
    fake_llm.gate = threading.Event()  # never opened
    settings = settings_factory(llm_timeout_s=0.3, generation_concurrency=1, generation_queue=0)
    client, _ = client_factory(settings, fake_llm)
    body = client.post("/v1/query", json={"question": "How long is the Nile?"}).json()
    assert "took over" in body["degraded"]
    assert fake_llm.exited.wait(timeout=1.0)  # the generation thread stopped, not at 30 s
    assert fake_llm.cancelled == 1
    fake_llm.gate = None
    again = client.post("/v1/query", json={"question": "Who created Python?"})
    assert again.status_code == 200
    assert again.json()["answer"].startswith("answer:")


def test_a_generation_still_running_after_its_timeout_keeps_its_slot(
    client_factory: Any, settings_factory: Any
) -> None:
    llm = _Stubborn()
    llm.gate = threading.Event()
    settings = settings_factory(llm_timeout_s=0.3, generation_concurrency=1, generation_queue=0)
    client, _ = client_factory(settings, llm)
    try:
        first = client.post("/v1/query", json={"question": "How long is the Nile?"}).json()
        assert "took over" in first["degraded"]
        assert not llm.exited.is_set()
        # its thread still runs: the one slot is taken, so the next generation is refused
        busy = client.post("/v1/query", json={"question": "Tell me about Rome"})
        assert busy.status_code == 503
        assert busy.json()["error"] == "overloaded"
    finally:
        llm.hold.set()
    assert llm.exited.wait(timeout=WAIT_S)
    llm.gate = None
    client.portal.call(lambda: None)  # type: ignore[union-attr]  # one loop turn: the release ran
    assert client.post("/v1/query", json={"question": "Tell me about Rome"}).json()["answer"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse-before-first-token"])
def test_a_client_that_leaves_stops_its_generation(
    encoder: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any, stream: bool
) -> None:
    settings = settings_factory(llm_timeout_s=60, generation_concurrency=1, generation_queue=0)
    components = build_components(settings, encoder=encoder, llm=fake_llm)
    fake_llm.gate = threading.Event()  # never opened: only the disconnect can end it
    with running_server(create_app(settings, components=components)) as url:
        with socket.create_connection(("127.0.0.1", _port(url)), timeout=WAIT_S) as sock:
            sock.sendall(_query_bytes("How long is the Nile?", stream=stream))
            assert fake_llm.entered.wait(timeout=WAIT_S)
        # the socket is closed: the client has gone
        assert fake_llm.exited.wait(timeout=1.0)
        assert fake_llm.cancelled == 1
        _free_slot_answers(url, fake_llm)


def test_a_stream_client_that_disconnects_mid_stream_frees_its_slot(
    encoder: Any, settings_factory: Any, redis_client: Any
) -> None:
    llm = _MidStream()
    settings = settings_factory(llm_timeout_s=60, generation_concurrency=1, generation_queue=0)
    components = build_components(settings, encoder=encoder, llm=llm)
    llm.gate = threading.Event()
    with running_server(create_app(settings, components=components)) as url:
        with httpx.stream(
            "POST",
            f"{url}/v1/query",
            json={"question": "How long is the Nile?", "stream": True},
            timeout=WAIT_S,
        ) as r:
            assert r.status_code == 200
            first = next(r.iter_lines())
            assert first.startswith("event: token")
        # the response closed before its end: httpx dropped the connection
        assert llm.exited.wait(timeout=1.0)
        assert llm.cancelled == 1
        _free_slot_answers(url, llm)


@pytest.mark.unit
def test_the_local_models_stopping_criterion_ends_generate_once_cancelled() -> None:
    """``cancel_criteria`` with a tiny random model (no GGUF load): generation stops at the
    token after the cancellation, long before ``max_new_tokens``."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from core.llm.local import cancel_criteria

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=None,
        pad_token_id=0,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    cancelled = threading.Event()
    produced: list[int] = []

    class _CancelAfterThree:
        def put(self, value: Any) -> None:
            produced.append(1)
            if len(produced) > 3:  # the prompt, then three new tokens
                cancelled.set()

        def end(self) -> None:
            return None

    prompt = torch.tensor([[1, 2, 3]])
    with torch.inference_mode():
        out = model.generate(
            prompt,
            max_new_tokens=100,
            do_sample=False,
            streamer=_CancelAfterThree(),
            stopping_criteria=cancel_criteria(cancelled),
        )
    new = int(out.shape[1]) - int(prompt.shape[1])
    assert 3 <= new <= 4
    never = threading.Event()
    with torch.inference_mode():
        full = model.generate(
            prompt, max_new_tokens=20, do_sample=False, stopping_criteria=cancel_criteria(never)
        )
    assert int(full.shape[1]) - int(prompt.shape[1]) == 20
