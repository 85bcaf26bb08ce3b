"""Server processes for ``bench/bench_online.py`` (each run as its own process):

python bench/bench_online_servers.py service  --port P --data-dir D --redis-url U [--llm-url X]
python bench/bench_online_servers.py baseline --port P --redis-url U
python bench/bench_online_servers.py upstream --port P
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE_PREFIX = "bench:baseline:"
BENCH_ADMIN_TOKEN = "bench-admin-token-not-for-production"  # 16+ chars, no placeholder


def baseline_key(question: str) -> str:
    return BASELINE_PREFIX + hashlib.sha256(question.encode()).hexdigest()[:32]


def service(args: argparse.Namespace) -> Any:
    from online.app import create_app
    from online.settings import OnlineSettings

    overrides: dict[str, Any] = {
        "data_dir": Path(args.data_dir),
        "redis_url": args.redis_url,
        "admin_token": BENCH_ADMIN_TOKEN,
        # the bench measures the answer paths; the limiter has its own tests and figures
        "rate_limits": {"enabled": False},
        "device": "cpu",
        "reload_poll_s": 1.0,
        "generation_queue": 64,
    }
    if args.llm_url:
        overrides.update(llm_backend="openai", llm_url=args.llm_url, llm_timeout_s=10)
    settings = OnlineSettings(**overrides)
    return create_app(settings)


class BaselineBody(BaseModel):
    question: str


def baseline(args: argparse.Namespace) -> Any:
    """The reference: a FastAPI app doing one Redis GET per request, nothing else."""
    from fastapi import FastAPI
    from fastapi.responses import Response
    from redis.asyncio import Redis

    app = FastAPI()
    redis = Redis.from_url(args.redis_url)

    @app.post("/v1/query")
    async def query(body: BaselineBody) -> Response:
        raw = await redis.get(baseline_key(body.question))
        return Response(raw or b"{}", media_type="application/json")

    return app


def upstream(args: argparse.Namespace) -> Any:
    """A stand-in OpenAI-compatible LLM server that answers at once (for the swap test)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "stub",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "stub answer"}}],
            "usage": {"completion_tokens": 2},
        }

    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["service", "baseline", "upstream"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", default="")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    ap.add_argument("--llm-url", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    app = {"service": service, "baseline": baseline, "upstream": upstream}[args.kind](args)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
