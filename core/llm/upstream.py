"""Any OpenAI-compatible chat server (vLLM, llama.cpp server, ...) reached by URL with httpx.

Timeouts on every call, retries with back-off on connection errors and 5xx (never after the
first streamed token, never on 4xx), and a circuit breaker that fails fast while it is down.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from core.errors import LLMError, LLMPromptTooLongError, LLMTimeoutError, LLMUnavailableError
from core.llm.base import GREEDY, ChatMessage, FinishReason, GenerationStats, Sampling
from core.llm.breaker import CircuitBreaker
from core.llm.stops import StopScanner, cut_at_stop

log = logging.getLogger(__name__)


class OpenAICompatibleLLM:
    def __init__(
        self,
        base_url: str,
        *,
        model_id: str,
        api_key: str = "",
        timeout_s: float = 60.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        breaker: CircuitBreaker | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model_id = model_id
        self.retries = retries
        self.backoff_s = backoff_s
        self.breaker = breaker or CircuitBreaker()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            transport=transport,
        )

    def ready(self) -> bool:
        """True once the upstream has answered (a probe or a call) and while its circuit is not
        open; False before it was ever reached."""
        return self.breaker.answered and self.breaker.state != "open"

    def probe(self, timeout_s: float = 2.0) -> bool:
        """One cheap call (``GET /models``, short timeout, no retry): does the server answer?
        Any answer below 500 counts (a server without that route is up too)."""
        try:
            resp = self._client.get("/models", timeout=timeout_s)
        except httpx.HTTPError as exc:
            log.warning("upstream LLM did not answer its probe: %s", exc)
            return False
        if resp.status_code >= 500:
            log.warning("upstream LLM probe answered %d", resp.status_code)
            return False
        self.breaker.record_success()
        return True

    def close(self) -> None:
        self._client.close()

    def _body(
        self, messages: list[ChatMessage], max_new_tokens: int, stream: bool, sampling: Sampling
    ) -> Any:
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": list(messages),
            "max_tokens": max_new_tokens,
            "temperature": sampling.temperature,
            "stream": stream,
        }
        if not sampling.greedy:
            body["top_p"] = sampling.top_p
            if sampling.seed is not None:
                body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if stream:  # the server's own token counts, in a last chunk
            body["stream_options"] = {"include_usage": True}
        return body

    def _attempts(self, stats: GenerationStats | None) -> Iterator[int]:
        for attempt in range(self.retries + 1):
            if stats is not None and stats.is_cancelled:  # no retry for a caller who left
                raise LLMUnavailableError("upstream generation cancelled")
            if not self.breaker.allow():
                raise LLMUnavailableError("upstream LLM circuit is open")
            yield attempt

    def _failed(self, attempt: int, exc: Exception) -> None:
        self.breaker.record_failure()
        log.warning("upstream LLM attempt %d failed: %s", attempt + 1, exc)
        if attempt < self.retries:
            time.sleep(self.backoff_s * (2**attempt))

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> str:
        sampling = sampling or GREEDY
        body = self._body(messages, max_new_tokens, False, sampling)
        last: Exception | None = None
        for attempt in self._attempts(stats):
            try:
                resp = self._client.post("/chat/completions", json=body)
                if resp.status_code >= 500:
                    raise LLMUnavailableError(f"upstream LLM answered {resp.status_code}")
                if resp.status_code >= 400:
                    self.breaker.record_success()  # the server is up; the request was refused
                    raise refusal(resp)
                data = resp.json()
                choice = data["choices"][0]
                text, stopped = cut_at_stop(str(choice["message"]["content"] or ""), sampling.stop)
                if stats is not None:
                    _record(stats, data)
                    stats.finish_reason = "stop" if stopped else _finish(choice)
                self.breaker.record_success()
                return text.strip()
            except httpx.TimeoutException as exc:
                last = LLMTimeoutError(f"upstream LLM timed out: {exc}")
            except (httpx.HTTPError, LLMUnavailableError, KeyError, ValueError) as exc:
                last = exc
            self._failed(attempt, last)
        if isinstance(last, LLMError):
            raise last
        raise LLMUnavailableError(f"upstream LLM unreachable: {last}")

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> Iterator[str]:
        counter = stats if stats is not None else GenerationStats()
        sampling = sampling or GREEDY
        body = self._body(messages, max_new_tokens, True, sampling)
        last: Exception | None = None
        for attempt in self._attempts(counter):
            started = False
            try:
                with self._client.stream("POST", "/chat/completions", json=body) as resp:
                    if resp.status_code >= 500:
                        raise LLMUnavailableError(f"upstream LLM answered {resp.status_code}")
                    if resp.status_code >= 400:
                        resp.read()
                        self.breaker.record_success()  # up; the request was refused
                        raise refusal(resp)
                    scanner = StopScanner(sampling.stop)
                    for chunk in _sse_chunks(resp.iter_lines()):
                        if counter.is_cancelled:
                            # leaving the block closes the response: the server sees the client
                            # go and stops generating
                            return
                        _record(counter, chunk)  # usage: in the server's last chunk, if any
                        for choice in chunk.get("choices") or ():
                            if choice.get("finish_reason"):
                                counter.finish_reason = _finish(choice)
                            piece = (choice.get("delta") or {}).get("content")
                            if not piece:
                                continue
                            started = True
                            if not chunk.get("usage"):
                                counter.tokens += 1  # one token a chunk, until usage says
                            text = scanner.feed(str(piece))
                            if text:
                                yield text
                        if scanner.stopped:  # the server went past a stop string: not wanted
                            counter.finish_reason = "stop"
                            self.breaker.record_success()
                            return
                    rest = scanner.flush()
                    if rest:
                        yield rest
                self.breaker.record_success()
                return
            except httpx.TimeoutException as exc:
                last = LLMTimeoutError(f"upstream LLM timed out: {exc}")
            except (httpx.HTTPError, LLMUnavailableError, ValueError) as exc:
                last = exc
            if started:
                self.breaker.record_failure()
                raise LLMUnavailableError(f"upstream LLM stream broke: {last}")
            self._failed(attempt, last)
        if isinstance(last, LLMError):
            raise last
        raise LLMUnavailableError(f"upstream LLM unreachable: {last}")

    def first_token_logprobs(
        self, messages: list[ChatMessage], *, top: int = 10
    ) -> dict[str, float]:
        """The log-probabilities of the ``top`` likeliest first tokens of the answer (greedy,
        one token): what a yes/no question's answer weighs. Same retries and breaker."""
        body = self._body(messages, 1, False, GREEDY)
        body["logprobs"] = True
        body["top_logprobs"] = top
        last: Exception | None = None
        for attempt in self._attempts(None):
            try:
                resp = self._client.post("/chat/completions", json=body)
                if resp.status_code >= 500:
                    raise LLMUnavailableError(f"upstream LLM answered {resp.status_code}")
                if resp.status_code >= 400:
                    self.breaker.record_success()
                    raise refusal(resp)
                content = resp.json()["choices"][0]["logprobs"]["content"]
                self.breaker.record_success()
                if not content:
                    return {}
                return {str(t["token"]): float(t["logprob"]) for t in content[0]["top_logprobs"]}
            except httpx.TimeoutException as exc:
                last = LLMTimeoutError(f"upstream LLM timed out: {exc}")
            except (httpx.HTTPError, LLMUnavailableError, KeyError, ValueError, TypeError) as exc:
                last = exc
            self._failed(attempt, last)
        if isinstance(last, LLMError):
            raise last
        raise LLMUnavailableError(f"upstream LLM unreachable: {last}")


def refusal(resp: httpx.Response) -> LLMError:
    """The error for a 4xx from the upstream: the prompt over the model's context (llama.cpp's
    ``exceed_context_size_error``, OpenAI's ``context_length_exceeded``) is the request's fault;
    anything else a refusal."""
    try:
        error = resp.json().get("error") or {}
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {"message": str(error)}
    kind = f"{error.get('type', '')} {error.get('code', '')}"
    message = str(error.get("message", ""))[:300]
    if "context" in kind or "context size" in message or "context length" in message:
        return LLMPromptTooLongError(f"the prompt does not fit the model's context: {message}")
    return LLMError(f"upstream LLM refused the request: {resp.status_code} {message}".strip())


def _finish(choice: dict[str, Any]) -> FinishReason:
    return "length" if choice.get("finish_reason") == "length" else "stop"


def _record(stats: GenerationStats, data: dict[str, Any]) -> None:
    """The server's model name and token counts from a response (or a stream's chunk)."""
    if data.get("model"):
        stats.model = str(data["model"])
    usage = data.get("usage") or {}
    if usage:
        stats.prompt_tokens = int(usage.get("prompt_tokens", 0) or 0)
        stats.tokens = int(usage.get("completion_tokens", 0) or 0)


def _sse_chunks(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        data = json.loads(payload)
        if isinstance(data, dict):
            yield data
