"""A/B variants and canaries through the API: assignment, what a variant changes, rollback."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.llm.fake import FakeLLM
from core.prompt import PROMPTS
from online.app import create_app
from online.components import build_components
from online.experiments import DEBUG_KEY_HEADER, VARIANT_HEADER, Variant, VariantRouter
from shared_schemas.events import QueryLogEvent
from shared_schemas.layout import QUERY_LOG_STREAM
from tests.online.conftest import flush_querylog

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AB = json.dumps([{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
AB_VARIANTS = (Variant(name="a", baseline=True), Variant(name="b"))
QUESTION = "What is the capital of France?"
DEBUG_KEY = "qa-debug-key-0123456789abcdef"
#: settings that let the tests' own header overrides through (a declared debug key)
OVERRIDE = {"variant_override_keys": json.dumps([hashlib.sha256(DEBUG_KEY.encode()).hexdigest()])}
ADMIN_TOKEN = "admin-token-0123456789abcdef"


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text (labels matched as a subset)."""
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        m = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if m is None:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(2))
    return None


def _ask(client: Any, question: str = QUESTION, **kw: Any) -> Any:
    header = kw.pop("header", None)
    key: Any = kw.pop("key", DEBUG_KEY)
    headers = {VARIANT_HEADER: header} if header is not None else {}
    if header is not None and key is not None:
        headers[DEBUG_KEY_HEADER] = key
    r = client.post("/v1/query", json={"question": question, **kw}, headers=headers)
    assert r.status_code == 200, r.text
    return r


def test_sticky_weighted_assignment_and_header_override(
    client_factory: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    settings = settings_factory(
        variants=AB, experiment_salt="salt-one-0123456789abcdef", **OVERRIDE
    )
    client, _ = client_factory(settings, fake_llm)
    expected = VariantRouter(settings.variants, salt=settings.assignment_salt)
    seen: Counter[str] = Counter()
    for i in range(120):
        r = _ask(client, user_id=f"user-{i}")
        body = r.json()
        assert body["variant"] == r.headers[VARIANT_HEADER]
        assert body["variant"] == expected.assign(user_id=f"user-{i}").name  # same hash everywhere
        seen[body["variant"]] += 1
    assert 35 <= seen["a"] <= 85
    assert seen["a"] + seen["b"] == 120
    # sticky: the same user gets the same arm again, on a hit as on a miss
    first = [_ask(client, user_id=f"user-{i}").json()["variant"] for i in range(10)]
    again = [_ask(client, user_id=f"user-{i}").json()["variant"] for i in range(10)]
    assert first == again
    # the header forces an arm; an unknown one is ignored (assigned as without it)
    a_user = next(
        f"user-{i}" for i in range(120) if expected.assign(user_id=f"user-{i}").name == "a"
    )
    assert _ask(client, user_id=a_user, header="b").json()["variant"] == "b"
    assert _ask(client, user_id=a_user, header="B ").headers[VARIANT_HEADER] == "b"
    assert _ask(client, user_id=a_user, header="nope").json()["variant"] == "a"
    # the chat API assigns by the OpenAI `user` field and takes the same header
    chat = {"messages": [{"role": "user", "content": QUESTION}], "user": a_user}
    r = client.post("/v1/chat/completions", json=chat)
    assert r.status_code == 200
    assert r.headers[VARIANT_HEADER] == "a"
    assert r.json()["tandem"]["variant"] == "a"
    forcing = {VARIANT_HEADER: "b", DEBUG_KEY_HEADER: DEBUG_KEY}
    r = client.post("/v1/chat/completions", json=chat, headers=forcing)
    assert r.json()["tandem"]["variant"] == "b"


def test_variant_on_query_log_metrics_and_feedback(
    client_factory: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    client, components = client_factory(settings_factory(variants=AB, **OVERRIDE), fake_llm)
    ids = {v: _ask(client, header=v).json()["query_id"] for v in ("a", "b", "a")}
    flush_querylog(client, components)
    events = [QueryLogEvent.parse(f[b"event"]) for _, f in redis_client.xrange(QUERY_LOG_STREAM)]
    assert [(e.variant, e.cache) for e in events] == [("a", "miss"), ("b", "exact"), ("a", "exact")]
    assert {e.query_id: e.variant for e in events}[ids["b"]] == "b"
    metrics = client.get("/metrics").text
    assert _metric(metrics, "tandem_answers_total", variant="a", cache="exact") == 1.0
    assert _metric(metrics, "tandem_answers_total", variant="b", cache="exact") == 1.0
    assert _metric(metrics, "tandem_variant_weight", variant="b") == 1.0
    r = client.post("/v1/feedback", json={"query_id": ids["b"], "rating": 1})
    assert r.status_code == 202
    assert r.json()["variant"] == "b"
    r = client.post("/v1/feedback", json={"query_id": "not-seen-here", "rating": 1})
    assert r.json()["variant"] == "default"


def test_prompt_version_and_namespace_keep_caches_apart(
    client_factory: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    variants = json.dumps(
        [{"name": "a"}, {"name": "b", "prompt_version": "p2", "cache_namespace": "exp-b"}]
    )
    client, components = client_factory(settings_factory(variants=variants, **OVERRIDE), fake_llm)
    assert _ask(client, header="a").json()["cache"] == "miss"
    assert fake_llm.last_messages[0]["content"] == PROMPTS["p4"].system  # the default
    assert _ask(client, header="a").json()["cache"] == "exact"
    # variant b never gets the answer cached for a: its own prompt, its own namespace
    assert _ask(client, header="b").json()["cache"] == "miss"
    assert fake_llm.last_messages[0]["content"] == PROMPTS["p2"].system
    assert fake_llm.calls == 2
    assert _ask(client, header="b").json()["cache"] == "exact"
    assert _ask(client, header="a").json()["cache"] == "exact"
    assert list(redis_client.scan_iter(match="tandem:ans:*:exp-b:*"))
    # a miss through the fast path looks the exact cache up once, not twice
    lookups: list[str] = []
    real = components.cache.get_exact

    async def counting(scope: Any, qhash: str) -> Any:
        lookups.append(qhash)
        return await real(scope, qhash)

    components.cache.get_exact = counting  # type: ignore[method-assign]
    assert _ask(client, "Who won Super Bowl 50?", header="a").json()["cache"] == "miss"
    assert len(lookups) == 1


def _failing_canary(settings_factory: Any) -> tuple[Any, FakeLLM]:
    """Settings with a `base` and a `canary` arm judged after 4 requests, and the canary's LLM
    (failing)."""
    variants = json.dumps(
        [{"name": "base", "weight": 1}, {"name": "canary", "weight": 1, "llm_model": "canary-llm"}]
    )
    canary_llm = FakeLLM("canary-llm")
    canary_llm.fail = True
    settings = settings_factory(
        variants=variants,
        **OVERRIDE,
        canary={"min_samples": 4, "window": 10, "check_every": 1, "error_margin": 0.1},
    )
    return settings, canary_llm


def test_canary_rolled_back_through_the_api(
    encoder: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    settings, canary_llm = _failing_canary(settings_factory)
    built: list[str] = []

    def factory(variant: Variant) -> FakeLLM:
        built.append(variant.name)
        return canary_llm

    components = build_components(settings, encoder=encoder, llm=fake_llm, variant_llm=factory)
    with TestClient(create_app(settings, components=components)) as client:
        users = [f"u{i}" for i in range(40)]
        router = VariantRouter(settings.variants, salt=settings.assignment_salt)
        assert any(router.assign(user_id=u).name == "canary" for u in users)
        base_users = [u for u in users if router.assign(user_id=u).name == "base"][:4]
        canary_users = [u for u in users if router.assign(user_id=u).name == "canary"][:4]
        assert len(base_users) == len(canary_users) == 4
        for i in range(4):
            assert _ask(client, f"question {i}?", user_id=base_users[i]).json()["answer"]
            body = _ask(client, f"question {i}?", user_id=canary_users[i]).json()
            assert body["variant"] == "canary"
            assert body["answer"] is None
            assert "llm_unavailable" in body["degraded"]
        assert built == ["canary"]  # built once, lazily
        assert components.experiments.router.weights()["canary"] == 0.0
        after = Counter(_ask(client, user_id=u).json()["variant"] for u in users)
        assert after == Counter({"base": 40})
        # not even a debug key reaches a rolled-back arm
        assert _ask(client, header="canary").json()["variant"] == "base"
        metrics = client.get("/metrics").text
        assert _metric(metrics, "tandem_canary_rollbacks_total", variant="canary") == 1.0
        assert _metric(metrics, "tandem_variant_weight", variant="canary") == 0.0
        assert _metric(metrics, "tandem_variant_weight", variant="base") == 1.0
        assert client.get("/readyz").json()["variants"] == {"base": 1.0, "canary": 0.0}


def test_pinned_index_and_unbuildable_llm_degrade_only_their_variant(
    client_factory: Any,
    settings_factory: Any,
    fake_llm: FakeLLM,
    built_indexes: dict[str, Any],
    redis_client: Any,
) -> None:
    v2 = built_indexes["v2"]
    variants = json.dumps(
        [
            {"name": "live"},
            {"name": "pinned", "index_version": v2},
            {"name": "lost", "index_version": "20990101-deadbeef"},
            {"name": "nollm", "llm_backend": "openai"},  # no URL anywhere: cannot be built
        ]
    )
    client, components = client_factory(settings_factory(variants=variants, **OVERRIDE), fake_llm)
    live = components.indexes.require().version
    assert live != v2
    assert _ask(client, "Tokyo?", header="live").json()["index_version"] == live
    pinned = _ask(client, "What is the capital of Japan?", header="pinned").json()
    assert pinned["index_version"] == v2
    assert pinned["sources"][0]["doc_id"] == "tokyo"  # only v2 has it
    assert _ask(client, "Tokyo?", header="lost").json()["index_version"] == live
    body = _ask(client, "Rome?", header="nollm").json()
    assert body["answer"] is None
    assert "could not be built" in body["degraded"]
    assert _ask(client, "Rome?", header="live").json()["answer"] == "answer: Rome?"
    metrics = client.get("/metrics").text
    assert _metric(metrics, "tandem_variant_fallbacks_total", variant="lost", what="index") == 1.0
    assert _metric(metrics, "tandem_variant_fallbacks_total", variant="nollm", what="llm") == 1.0
    assert _metric(metrics, "tandem_variant_fallbacks_total", variant="pinned") is None
    assert client.get("/readyz").status_code == 200


def test_in_flight_gauge(
    client_factory: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    client, _ = client_factory(settings_factory(), fake_llm)
    for _ in range(3):
        _ask(client)
    client.post("/v1/query", json={"question": ""})  # a 422 leaves the gauge as well
    metrics = client.get("/metrics").text
    assert "# TYPE tandem_requests_in_flight gauge" in metrics
    assert _metric(metrics, "tandem_requests_in_flight") == 1.0  # the scrape itself


def test_variant_header_needs_a_debug_key_or_the_admin_token(
    client_factory: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    settings = settings_factory(variants=AB, admin_token=ADMIN_TOKEN, **OVERRIDE)
    client, _ = client_factory(settings, fake_llm)
    router = VariantRouter(settings.variants, salt=settings.assignment_salt)
    a_user = next(f"u{i}" for i in range(50) if router.assign(user_id=f"u{i}").name == "a")
    chat = {"messages": [{"role": "user", "content": QUESTION}], "user": a_user}
    for _ in range(2):  # a miss (the route), then an exact hit (the ASGI fast path)
        for key in (None, "", "wrong-key-0123456789abcdef", "Bearer " + ADMIN_TOKEN, b"\xc3\xa9"):
            r = _ask(client, user_id=a_user, header="b", key=key)
            assert r.json()["variant"] == "a", key
            assert r.headers[VARIANT_HEADER] == "a"
            headers = {VARIANT_HEADER: "b"}
            if key is not None:
                headers[DEBUG_KEY_HEADER] = key
            r = client.post("/v1/chat/completions", json=chat, headers=headers)
            assert r.status_code == 200, r.text
            assert r.json()["tandem"]["variant"] == "a"
        for key in (DEBUG_KEY, ADMIN_TOKEN):
            assert _ask(client, user_id=a_user, header="b", key=key).json()["variant"] == "b"
            headers = {VARIANT_HEADER: "b", DEBUG_KEY_HEADER: key}
            r = client.post("/v1/chat/completions", json=chat, headers=headers)
            assert r.json()["tandem"]["variant"] == "b"


def test_variant_header_is_ignored_when_no_debug_key_is_declared(
    client_factory: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    client, _ = client_factory(
        settings_factory(variants=AB, experiment_salt="salt-two-0123456789abcdef"), fake_llm
    )
    router = VariantRouter(AB_VARIANTS, salt="salt-two-0123456789abcdef")
    a_user = next(f"u{i}" for i in range(50) if router.assign(user_id=f"u{i}").name == "a")
    for _ in range(2):
        assert _ask(client, user_id=a_user, header="b").json()["variant"] == "a"


def test_forced_requests_do_not_count_in_the_canary_figures(
    encoder: Any, settings_factory: Any, fake_llm: FakeLLM, redis_client: Any
) -> None:
    settings, canary_llm = _failing_canary(settings_factory)
    components = build_components(
        settings, encoder=encoder, llm=fake_llm, variant_llm=lambda _: canary_llm
    )
    with TestClient(create_app(settings, components=components)) as client:
        for i in range(6):  # QA forcing a failing canary is not the canary's users failing
            _ask(client, f"question {i}?", header="base")
            assert _ask(client, f"question {i}?", header="canary").json()["variant"] == "canary"
        guard = components.experiments.guard
        assert guard is not None
        assert guard.stats("canary").samples == 0
        assert guard.stats("base").samples == 0
        assert guard.rolled_back == frozenset()
        assert components.experiments.router.weights()["canary"] == 1.0
        # forced answers are still attributed to their variant for feedback
        qid = _ask(client, "feedback?", header="canary").json()["query_id"]
        assert (
            client.post("/v1/feedback", json={"query_id": qid, "rating": 1}).json()["variant"]
            == "canary"
        )
