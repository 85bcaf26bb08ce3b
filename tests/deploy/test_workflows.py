"""GitHub Actions workflows: valid against the workflow schema, with the jobs we rely on."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.manifests import DOCKER, ROOT, WORKFLOWS


def _load(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc  # type: ignore[no-any-return]


def _schema() -> dict[str, Any]:
    import check_jsonschema.builtin_schemas.vendor as pkg  # a dev dependency

    return json.loads(resources.files(pkg).joinpath("github-workflows.json").read_text())  # type: ignore[no-any-return]


def _steps_text(job: dict[str, Any]) -> str:
    return "\n".join(
        str(s.get("run", "")) + " " + str(s.get("uses", "")) + " " + json.dumps(s.get("with", {}))
        for s in job.get("steps", [])
    )


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_workflow_matches_the_schema(name: str) -> None:
    schema = _schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(_load(name))]
    assert errors == []


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_needs_and_outputs_refer_to_real_jobs(name: str) -> None:
    jobs = _load(name)["jobs"]
    for job_id, job in jobs.items():
        needs = job.get("needs", [])
        for dep in [needs] if isinstance(needs, str) else needs:
            assert dep in jobs, f"{job_id} needs unknown {dep}"
        text = json.dumps(job)
        for ref_job, output in re.findall(r"needs\.([\w-]+)\.outputs\.([\w-]+)", text):
            where = f"{job_id}: needs.{ref_job}.outputs.{output}"
            assert ref_job in jobs, where
            assert output in jobs[ref_job].get("outputs", {}), where


def test_ci_jobs() -> None:
    ci = _load("ci.yml")
    jobs = ci["jobs"]
    assert {"changes", "lint", "test", "quality-gate", "images"} <= set(jobs)
    assert "dorny/paths-filter" in _steps_text(jobs["changes"])
    for name in ("lint", "test", "quality-gate", "images"):
        assert "changes" in jobs[name]["needs"]
        assert "needs.changes.outputs" in jobs[name]["if"]
    lint = _steps_text(jobs["lint"])
    assert "ruff check" in lint
    assert "ruff format --check" in lint
    assert "mypy" in lint
    assert "redis" in jobs["test"]["services"]
    assert "pytest" in _steps_text(jobs["test"])
    gate = _steps_text(jobs["quality-gate"])
    assert "tandem eval --json --check" in gate
    assert "docker/smoke.py" in gate
    assert "--budget-ms" in gate


def test_ci_gates_use_the_reference_figures_of_the_dag_gate() -> None:
    """CI checks retrieval and answers against batch/reference_figures.json (``--check``), with
    the answer sample the DAG's answer gate and the stored answer figures use."""
    from batch.index.answer_gate import GATE_HALF
    from batch.reference import load_references
    from batch.settings import BatchSettings

    gate = _steps_text(_load("ci.yml")["jobs"]["quality-gate"])
    n = BatchSettings.model_fields["gate_answers"].default
    assert f"tandem eval --answers {n} --json --check" in gate
    assert "TANDEM_GATE_RECALL5_FLOOR" not in gate
    refs = load_references()
    assert "squad-v1.1-dev" in refs.retrieval
    default_prompt = BatchSettings.model_fields["prompt_version"].default
    assert any(
        a["questions"] == n and a["half"] == GATE_HALF and a["prompt_version"] == default_prompt
        for a in refs.answers
    ), "no stored answer figures for the CI gate's sample and the default prompt"


def test_ci_builds_every_image_with_layer_cache() -> None:
    images = _load("ci.yml")["jobs"]["images"]
    matrix = images["strategy"]["matrix"]["image"]
    assert {f"{m}.Dockerfile" for m in matrix} == {p.name for p in DOCKER.glob("*.Dockerfile")}
    build = next(s for s in images["steps"] if "docker/build-push-action" in s.get("uses", ""))
    assert build["with"]["cache-from"].startswith("type=gha")
    assert build["with"]["cache-to"].startswith("type=gha")


def test_ci_path_filters_name_real_paths() -> None:
    changes = _load("ci.yml")["jobs"]["changes"]
    step = next(s for s in changes["steps"] if s.get("id") == "filter")
    filters = yaml.safe_load(step["with"]["filters"])
    assert set(filters) == set(changes["outputs"])
    for patterns in filters.values():
        for pattern in patterns:
            if pattern.startswith("**/"):
                continue
            if pattern.endswith("/**"):
                assert (ROOT / pattern[:-3]).is_dir(), pattern
            else:
                assert list(ROOT.glob(pattern)), pattern


def test_cd_staging_canary_approval_promote_rollback() -> None:
    jobs = _load("cd.yml")["jobs"]
    assert {"staging", "canary", "promote", "rollback"} <= set(jobs)
    assert jobs["canary"]["needs"] == "staging"
    assert jobs["promote"]["needs"] == "canary"
    assert jobs["promote"]["environment"]["name"] == "production"  # protected: manual approval
    assert jobs["staging"]["environment"]["name"] == "staging"
    assert "docker/canary_check.py" in _steps_text(jobs["canary"])
    assert "tandem-online-preview" in _steps_text(jobs["canary"])
    assert "tandem release switch" in _steps_text(jobs["promote"])
    assert "tandem release rollback" in _steps_text(jobs["promote"])
    assert jobs["rollback"]["if"] == "failure()"
    assert "rollout undo" in _steps_text(jobs["rollback"])


def test_cd_needs_the_secret_created_outside_and_applies_no_secret() -> None:
    jobs = _load("cd.yml")["jobs"]
    steps = jobs["staging"]["steps"]
    names = [s.get("name", "") for s in steps]
    check = next(
        i for i, s in enumerate(steps) if "get secret tandem-online-secrets" in s.get("run", "")
    )
    deploy = next(i for i, s in enumerate(steps) if "apply -k" in s.get("run", ""))
    assert check < deploy, names  # refuses to deploy when the Secret was not created
    for job in jobs.values():
        text = _steps_text(job)
        assert not re.search(r"apply[^\n]*k8s/secrets", text)
        assert "create secret" not in text
