"""``tandem cache explain QUESTION``: why a question is, or is not, answered from the cache
(``online/cache/explain.py``), against the live version's scope as the service sees it."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from shared_schemas.hashing import embedding_text
from tandem_cli.common import console, setup, user_errors


def explain_cmd(
    question: Annotated[str, typer.Argument(help="The question, as a client would ask it.")],
    top: Annotated[int, typer.Option(help="Nearest cached questions to show.", min=1)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The exact entry, the nearest cached questions with the semantic path's verdict on each
    (threshold, verifier score, the check that decided), the judge's recorded verdicts, and what
    the service would do."""
    from core.artifacts import open_artifact_store
    from core.cache.codec import CacheScope
    from core.encoder import encoder_for
    from core.errors import CoreError
    from core.index import IndexLoadError
    from core.index.fetch import materialise_version, read_pointer
    from core.matching.spelling import speller_for
    from core.matching.verifier import verifier_for
    from core.redis_clients import sync_redis
    from online.cache.explain import explain
    from online.index_state import load_state
    from online.settings import get_settings
    from shared_schemas.layout import LIVE_MANIFEST_KEY
    from shared_schemas.manifest import IndexManifest

    settings = get_settings()
    setup(settings)
    with user_errors(CoreError, OSError, ValueError):
        redis = sync_redis(settings.redis_url)
        store = open_artifact_store(settings.artifact_store_config())
        version = read_pointer(store)
        if version is None:
            raw = redis.get(LIVE_MANIFEST_KEY)
            version = IndexManifest.parse(raw).index_version if raw else None
        if version is None:
            raise IndexLoadError("no live index version is published")
        state = load_state(
            materialise_version(store, version, settings.index_cache_dir),
            expected_model=settings.embedding_model,
        )
        encoder = encoder_for(settings)
        scope = CacheScope(
            version, settings.embedding_model, settings.llm_model, settings.prompt_version
        )
        verifier = verifier_for(settings, state.index)
        speller = speller_for(settings, state.index)
        asked = question if speller is None else speller.correct(question)
        found = explain(
            question,
            asked=asked,
            scope=scope,
            redis=redis,
            vector=encoder.encode([embedding_text(asked)])[0],
            verifier=verifier,
            threshold=settings.semantic_threshold,
            judge_floor=settings.judge_floor,
            judge_misses=settings.judge_misses,
            top=top,
        )
        redis.close()
    if as_json:
        typer.echo(json.dumps(found.as_dict()))
        return
    console.print(f"question: {found.question!r} (key {found.question_hash[:16]}...)")
    if found.read_as and found.read_as != found.question:
        console.print(f"read as: {found.read_as!r} (typing slips put right)")
    console.print(f"live version {found.index_version}; scope {found.scope}")
    if found.exact:
        e = found.exact
        console.print(
            f"exact entry: {e['answer'][:80]!r} by {e['produced_by']} (tier {e['tier'] or '-'}, "
            f"{e['origin']}{', alias of ' + e['alias_of'][:12] if e['alias_of'] else ''}), "
            f"expires in {e['ttl_s']} s"
        )
    else:
        console.print("exact entry: none")
    table = Table(
        title=f"nearest cached questions (threshold {found.threshold}, judge floor "
        f"{found.judge_floor})",
        title_justify="left",
    )
    for column in ("cosine", "question", "decision", "score", "judge"):
        table.add_column(column)
    for c in found.candidates:
        table.add_row(
            f"{c.cosine:.3f}",
            c.question[:70],
            ("ACCEPTED" if c.accepted else "rejected") + f": {c.reason}",
            "-" if c.score is None else f"{c.score:.3f}",
            c.judged or "-",
        )
    console.print(table)
    console.print(f"the service would: {found.decision}")
