"""The service in a process of its own, answering with a slow fake LLM (one word every
``TANDEM_FAULT_TOKEN_S`` seconds), so a test can SIGKILL it mid-stream:
``python -m tests.faults.serve <port>``; settings from the ``TANDEM_*`` environment."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator

from core.llm.base import ChatMessage, GenerationStats
from core.llm.fake import FakeLLM


class SlowFakeLLM(FakeLLM):
    """FakeLLM whose stream waits ``delay_s`` between words (a slow model, not a test sync)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_new_tokens: int,
        stats: GenerationStats | None = None,
    ) -> Iterator[str]:
        for i, word in enumerate(
            super().stream(messages, max_new_tokens=max_new_tokens, stats=stats)
        ):
            if i:
                time.sleep(self.delay_s)
            yield word


def main() -> None:
    from online.app import create_app
    from online.components import build_components
    from online.server import serve, uvicorn_config
    from online.settings import OnlineSettings

    settings = OnlineSettings()
    llm = SlowFakeLLM(float(os.environ.get("TANDEM_FAULT_TOKEN_S", "0.2")))
    components = build_components(settings, llm=llm)
    app = create_app(settings, components=components)
    config = uvicorn_config(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )
    serve(app, config, drain_s=settings.shutdown_drain_s)


if __name__ == "__main__":
    main()
