"""Variant declarations, sticky weighted routing and the header override."""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter

import pytest

from online.experiments import (
    VARIANT_HEADER,
    Variant,
    VariantError,
    VariantRouter,
    parse_variants,
)
from online.experiments.assignment import stable_bucket

THREE = (
    '[{"name": "control", "weight": 70, "index_version": "20240101-aaaaaaaa"},'
    ' {"name": "prompt-v2", "weight": 20, "prompt_version": "p2", "cache_namespace": "b"},'
    ' {"name": "canary", "weight": 10, "llm_backend": "openai", "llm_model": "gpt-x"}]'
)


def test_parse_variants_reads_fields_and_makes_first_the_baseline() -> None:
    variants = parse_variants(THREE)
    assert [v.name for v in variants] == ["control", "prompt-v2", "canary"]
    assert variants[0].baseline
    assert not variants[1].baseline
    assert variants[0].index_version == "20240101-aaaaaaaa"
    assert variants[1].prompt_version == "p2"
    assert variants[1].cache_namespace == "b"
    assert variants[2].llm_backend == "openai"
    assert variants[2].llm_model == "gpt-x"


def test_parse_variants_empty_means_one_default_arm() -> None:
    for text in (None, "", "  "):
        (only,) = parse_variants(text)
        assert only.name == "default"
        assert only.baseline
        assert only.weight == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ('{"name": "a"}', "expected a JSON list"),
        ('["a"]', "variants[0]: expected an object"),
        ('[{"name": "a"}, {"name": "a"}]', "duplicate variant names: a"),
        ('[{"name": "a", "weight": -1}]', "variants[0]: weight"),
        ('[{"name": "Bad Name"}]', "must match"),
        ('[{"name": "a", "colour": "red"}]', "colour"),
        ('[{"name": "a", "weight": 0}]', "weight above 0"),
        ('[{"name": "a", "baseline": true}, {"name": "b", "baseline": true}]', "only one"),
        ('[{"name": "a", "llm_backend": "vllm"}]', "llm_backend"),
    ],
)
def test_parse_variants_refuses_bad_declarations(text: str, message: str) -> None:
    with pytest.raises(VariantError, match=re.escape(message)):
        parse_variants(text)


def test_explicit_baseline_is_kept() -> None:
    variants = parse_variants('[{"name": "a"}, {"name": "b", "baseline": true}]')
    assert VariantRouter(variants).baseline.name == "b"


def test_stable_bucket_is_fixed_by_salt_and_key() -> None:
    # A fixed value: the same on every process and machine (SHA-256, not Python's hash).
    assert stable_bucket("user-1", salt="tandem-ab") == pytest.approx(
        stable_bucket("user-1", salt="tandem-ab")
    )
    assert stable_bucket("user-1", salt="x") != stable_bucket("user-1", salt="y")
    assert 0 <= stable_bucket("user-1", salt="x") < 1


def test_weights_are_respected_over_many_users() -> None:
    router = VariantRouter(parse_variants(THREE))
    n = 20_000
    counts = Counter(router.assign(user_id=f"user-{i}").name for i in range(n))
    # binomial sd at n=20000 is at most 0.0035: 0.015 is more than 4 sd
    assert counts["control"] / n == pytest.approx(0.70, abs=0.015)
    assert counts["prompt-v2"] / n == pytest.approx(0.20, abs=0.015)
    assert counts["canary"] / n == pytest.approx(0.10, abs=0.015)


def test_assignment_is_sticky_across_routers_and_calls() -> None:
    variants = parse_variants(THREE)
    a, b = VariantRouter(variants), VariantRouter(variants)
    for i in range(500):
        uid = f"u{i}"
        first = a.assign(user_id=uid)
        assert first.reason == "user"
        assert all(a.assign(user_id=uid).name == first.name for _ in range(3))
        assert b.assign(user_id=uid).name == first.name


@pytest.mark.parametrize("disabled", ["canary", "prompt-v2", "control"])
def test_zeroing_an_arm_moves_only_its_users(disabled: str) -> None:
    router = VariantRouter(parse_variants(THREE))
    before = {f"u{i}": router.assign(user_id=f"u{i}").name for i in range(6000)}
    router.set_weight(disabled, 0)
    assert router.weights()[disabled] == 0
    after = {uid: router.assign(user_id=uid).name for uid in before}
    assert disabled not in after.values()
    moved = [uid for uid in before if before[uid] != after[uid]]
    assert moved
    assert all(before[uid] == disabled for uid in moved)
    assert len(moved) == sum(1 for v in before.values() if v == disabled)
    # the moved users are shared by the other arms in proportion to their weights
    rest = Counter(after[uid] for uid in moved)
    declared = {"control": 70, "prompt-v2": 20, "canary": 10}
    others = {k: v for k, v in declared.items() if k != disabled}
    share = others[min(others)] / sum(others.values())
    assert rest[min(others)] / len(moved) == pytest.approx(share, abs=0.05)
    router.set_weight(disabled, declared[disabled])  # enabled again: everybody is back
    assert {uid: router.assign(user_id=uid).name for uid in before} == before


def test_header_overrides_assignment_only_when_allowed() -> None:
    variants = parse_variants(THREE.replace('"weight": 10', '"weight": 0'))  # canary not ramped
    router = VariantRouter(variants)
    got = router.assign(user_id="u1", header="  Canary ", allow_override=True)
    assert got.name == "canary"
    assert got.reason == "header"
    assert got.forced
    assert not got.override_ignored
    assert VARIANT_HEADER == "X-Tandem-Variant"
    # a client without a debug key or the admin token cannot steer itself into an arm
    plain = router.assign(user_id="u1")
    refused = router.assign(user_id="u1", header="canary")
    assert (refused.name, refused.reason) == (plain.name, "user")
    assert refused.override_ignored
    assert not refused.forced


def test_header_never_reaches_a_rolled_back_arm() -> None:
    router = VariantRouter(parse_variants(THREE))
    assert router.assign(user_id="u1", header="canary", allow_override=True).name == "canary"
    router.set_weight("canary", 0)  # what the canary guard does
    got = router.assign(user_id="u1", header="canary", allow_override=True)
    assert got.name != "canary"
    assert got.override_ignored
    assert not got.forced
    router.set_weight("canary", 10)  # restored: reachable again
    assert router.assign(user_id="u1", header="canary", allow_override=True).forced


def test_unknown_header_is_ignored_and_flagged() -> None:
    router = VariantRouter(parse_variants(THREE))
    plain = router.assign(user_id="u7")
    got = router.assign(user_id="u7", header="nope", allow_override=True)
    assert got.name == plain.name
    assert got.reason == "user"
    assert got.override_ignored


def test_anonymous_requests_use_query_id_else_random() -> None:
    router = VariantRouter(parse_variants(THREE), rng=random.Random(3))
    by_query = router.assign(user_id=None, query_id="q-1")
    assert by_query.reason == "query"
    assert router.assign(user_id=None, query_id="q-1").name == by_query.name
    n = 5000
    counts = Counter(router.assign(user_id=None).name for _ in range(n))
    assert router.assign(user_id=None).reason == "random"
    assert counts["control"] / n == pytest.approx(0.70, abs=0.03)


def test_all_weights_zero_falls_back_to_baseline() -> None:
    router = VariantRouter([Variant(name="a"), Variant(name="b")])
    router.set_weight("a", 0)
    router.set_weight("b", 0)
    assert router.assign(user_id="u").name == "a"


def test_set_weight_refuses_unknown_or_negative() -> None:
    router = VariantRouter([Variant(name="a")])
    with pytest.raises(VariantError, match="unknown variant"):
        router.set_weight("zz", 1)
    with pytest.raises(VariantError, match=">= 0"):
        router.set_weight("a", -1)


pytestmark = pytest.mark.unit  # pure logic: `make unit`


def test_override_keys_are_digests_and_checked_in_constant_time() -> None:
    from online.experiments import OverridePermission
    from online.experiments.override import parse_override_keys

    digest = hashlib.sha256(b"qa-key").hexdigest()
    assert parse_override_keys(f" {digest.upper()} ,") == (digest,)
    assert parse_override_keys(f'["{digest}"]') == (digest,)
    with pytest.raises(ValueError, match="sha256 hex digests"):
        parse_override_keys("qa-key")
    assert not OverridePermission(()).allows("qa-key")  # nothing declared: nobody may
    permission = OverridePermission([digest], admin_token="admin-token-0123456789")
    assert permission.allows("qa-key")
    assert permission.allows(b"admin-token-0123456789")
    for wrong in (None, "", "qa-key ", digest, "\udcff", b"\xff\xfe"):
        assert not permission.allows(wrong)
