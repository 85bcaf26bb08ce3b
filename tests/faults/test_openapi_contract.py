"""Schemathesis against the service's own ``/openapi.json`` on a real uvicorn server: every
operation, a bounded number of generated requests each, and every response checked — no server
error, a documented status, the declared content type and a body matching the declared schema.

Figures (requests, statuses) are printed in the terminal summary and recorded in
``docs/RELIABILITY.md``."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from core.index.trust import record_published
from core.llm.fake import FakeLLM
from online.app import create_app
from online.components import build_components
from shared_schemas.layout import LIVE_POINTER
from tests.faults.conftest import record
from tests.online.conftest import make_settings, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = 25
#: every check runs, ``positive_data_acceptance`` included: a request valid by the declared
#: schema is never refused (online/api/schemas.py declares what the code accepts)
EXCLUDED: list[Any] = []
#: the body limit (413) is a deployment setting the schema does not declare: out of the way here
MAX_BODY_BYTES = 4_000_000
HEADERS: dict[str, str] = {}  # generated requests per operation (and method)
ADMIN_TOKEN = "schemathesis-admin-token-0123456"


@pytest.fixture
def service_url(
    tmp_path: Path, built_indexes: dict[str, Any], encoder: Any, redis_client: Any
) -> Iterator[str]:
    root = tmp_path / "var"
    shutil.copytree(built_indexes["root"] / "indexes", root / "indexes")
    (root / "indexes" / LIVE_POINTER).write_text(built_indexes["v1"])
    record_published(root / "indexes", built_indexes["v1"])
    settings_ = make_settings(root, admin_token=ADMIN_TOKEN, max_body_bytes=MAX_BODY_BYTES)
    components = build_components(settings_, encoder=encoder, llm=FakeLLM())
    with running_server(create_app(settings_, components=components)) as url:
        yield url


def _summary(exc: BaseException) -> str:
    """The first line of each distinct failure, and how to reproduce it."""
    subs = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    titles = "; ".join(str(e).strip().splitlines()[0] for e in subs)
    curl = [line.strip() for line in str(exc).splitlines() if line.strip().startswith("curl ")]
    return f"{titles} ({curl[0] if curl else type(exc).__name__})"


def test_every_operation_keeps_its_contract(service_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{service_url}/openapi.json")
    statuses: Counter[str] = Counter()
    by_operation: Counter[str] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call_and_validate(
                base_url=service_url, excluded_checks=EXCLUDED, headers=HEADERS
            )
            statuses[str(response.status_code)] += 1
            by_operation[case.operation.label] += 1

        try:
            run()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # schemathesis's FailureGroup is a BaseExceptionGroup
            failures.append(f"{operation.label}: {_summary(exc)}")
    record(
        "schemathesis",
        {
            "operations": len(operations),
            "requests": sum(statuses.values()),
            "statuses": dict(sorted(statuses.items())),
            "server_errors": sum(
                v for k, v in statuses.items() if k.startswith("5") and k != "503"
            ),
            "contract_failures": len(failures),
        },
    )
    assert not failures, "\n\n".join(failures)
