"""Kubernetes manifests: schema-valid (kubernetes-validate, strict) and our invariants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared_schemas.config import secret_problem
from tests.deploy.manifests import (
    K8S,
    Doc,
    containers,
    key_of,
    load_docs,
    manifest_files,
    pod_spec,
    render,
)

K8S_VERSION = "1.33.0"
# Custom resources kubernetes-validate has no schema for: checked by ``_check_crd`` instead.
CRD_KINDS = {
    ("external-secrets.io/v1", "ExternalSecret"),
    ("autoscaling.k8s.io/v1", "VerticalPodAutoscaler"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet"}
OVERLAYS = ["staging", "production"]


def _all_docs() -> list[tuple[Path, Doc]]:
    return [(p, d) for p in manifest_files() for d in load_docs(p)]


def _base() -> list[Doc]:
    return render(K8S / "base")


def _by_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def _get(docs: list[Doc], kind: str, name: str) -> Doc:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _check_crd(doc: Doc) -> None:
    """A structural check of the custom resources we ship (fields their controllers need)."""
    assert doc["metadata"].get("name"), doc
    assert doc["metadata"].get("namespace"), doc
    spec = doc["spec"]
    if doc["kind"] == "VerticalPodAutoscaler":
        assert spec["targetRef"]["kind"] == "Deployment"
        assert spec["targetRef"]["name"]
        assert spec["updatePolicy"]["updateMode"] == "Off", "VPA must only recommend"
    elif doc["kind"] == "ScaledObject":
        assert spec["scaleTargetRef"]["name"]
        assert spec["minReplicaCount"] >= 2
        hpa = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert hpa["scaleDown"]["stabilizationWindowSeconds"] > 0
        types = {t["type"] for t in spec["triggers"]}
        assert {"prometheus", "cpu"} <= types
        prom = next(t for t in spec["triggers"] if t["type"] == "prometheus")
        assert "tandem_requests_in_flight" in prom["metadata"]["query"]
    elif doc["kind"] == "ExternalSecret":
        assert spec["secretStoreRef"]["name"]
        assert spec["target"]["name"]
        assert spec["target"]["creationPolicy"] == "Owner"
        assert all(d["secretKey"] and d["remoteRef"]["key"] for d in spec["data"])
    elif doc["kind"] == "ServiceMonitor":
        assert spec["selector"]["matchLabels"]
        assert spec["endpoints"]
        assert all(e["path"] == "/metrics" for e in spec["endpoints"])
    else:  # pragma: no cover - the list above is the list of kinds handled here
        raise AssertionError(doc["kind"])


def _validate(doc: Doc) -> None:
    if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
        _check_crd(doc)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_is_valid(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        _validate(doc)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_and_are_valid(overlay: str) -> None:
    docs = render(K8S / "overlays" / overlay)
    assert len(docs) == len(_base())
    for doc in docs:
        _validate(doc)
    images = {
        c["image"] for d in docs if d["kind"] in LONG_RUNNING | {"CronJob"} for c in containers(d)
    }
    assert all(i.startswith("ghcr.io/") for i in images), images
    for hpa in _by_kind(docs, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["metrics"], "patch must not drop the metrics"


def test_crd_kinds_are_listed_explicitly() -> None:
    seen = {(d["apiVersion"], d["kind"]) for _, d in _all_docs()}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(
            next(d for _, d in _all_docs() if d["kind"] == "VerticalPodAutoscaler"), K8S_VERSION
        )
    assert seen >= CRD_KINDS  # every skipped kind is really shipped (no stale skip entry)


def test_validation_catches_a_broken_manifest() -> None:
    doc = _get(_base(), "Deployment", "tandem-online-blue")
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_resource_of_the_base_is_in_its_kustomization() -> None:
    rendered = {key_of(d) for d in _base()}
    shipped = {key_of(d) for p, d in _all_docs() if K8S / "base" in p.parents}
    assert shipped == rendered


def _security_ok(pod: Doc, c: Doc) -> None:
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    assert psc.get("runAsNonRoot") or csc.get("runAsNonRoot"), c["name"]
    assert (csc.get("runAsUser") or psc.get("runAsUser") or 0) != 0, c["name"]
    assert csc.get("allowPrivilegeEscalation") is False, c["name"]
    assert csc.get("readOnlyRootFilesystem") is True, c["name"]
    assert csc.get("capabilities", {}).get("drop") == ["ALL"], c["name"]
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    assert "/tmp" in mounts, "read-only root needs /tmp"
    assert "emptyDir" in volumes[mounts["/tmp"]], "read-only root needs /tmp"


def _resources_ok(c: Doc) -> None:
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(res.get(kind, {})), f"{c['name']}: {kind}"


def test_every_workload_container_has_probes_resources_and_non_root() -> None:
    workloads = [d for _, d in _all_docs() if d["kind"] in LONG_RUNNING | {"CronJob", "Job"}]
    assert len(workloads) >= 4
    for w in workloads:
        pod = pod_spec(w)
        assert pod.get("automountServiceAccountToken") is False
        assert pod.get("priorityClassName") in {"tandem-online", "tandem-batch"}
        for c in containers(w):
            _resources_ok(c)
            _security_ok(pod, c)
            if w["kind"] in LONG_RUNNING:
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    assert probe in c, f"{w['metadata']['name']}/{c['name']}: {probe}"


def test_online_deployments_probe_drain_and_blue_green_twins() -> None:
    docs = _base()
    blue = _get(docs, "Deployment", "tandem-online-blue")
    green = _get(docs, "Deployment", "tandem-online-green")
    for dep, track in ((blue, "blue"), (green, "green")):
        pod = pod_spec(dep)
        (c,) = containers(dep)
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        startup = c["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, "model load time"
        drain = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pod["terminationGracePeriodSeconds"] > drain + 10
        assert dep["spec"]["replicas"] >= 2
        assert dep["spec"]["selector"]["matchLabels"] == {"app": "tandem-online", "track": track}
        assert dep["spec"]["template"]["metadata"]["labels"]["track"] == track
        assert pod["priorityClassName"] == "tandem-online"
    as_green = yaml.safe_load(
        yaml.safe_dump(blue).replace("blue", "green")
    )  # the twins differ by track only
    assert as_green == green


def test_services_select_one_track_each_and_pdbs_cover_both() -> None:
    docs = _base()
    live = _get(docs, "Service", "tandem-online")["spec"]["selector"]
    preview = _get(docs, "Service", "tandem-online-preview")["spec"]["selector"]
    assert {live["track"], preview["track"]} == {"blue", "green"}
    assert live["app"] == preview["app"] == "tandem-online"
    pdb_tracks = {
        p["spec"]["selector"]["matchLabels"].get("track")
        for p in _by_kind(docs, "PodDisruptionBudget")
    }
    assert {"blue", "green"} <= pdb_tracks


def test_hpa_cpu_and_in_flight_metric_with_slow_scale_down() -> None:
    hpas = _by_kind(_base(), "HorizontalPodAutoscaler")
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in hpas}
    assert targets == {"tandem-online-blue", "tandem-online-green"}
    for h in hpas:
        spec = h["spec"]
        assert h["apiVersion"] == "autoscaling/v2"
        assert spec["minReplicas"] >= 2
        kinds = {m["type"] for m in spec["metrics"]}
        assert kinds == {"Resource", "Pods"}
        pods = next(m for m in spec["metrics"] if m["type"] == "Pods")
        assert pods["pods"]["metric"]["name"] == "tandem_requests_in_flight"
        assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 120


def test_prometheus_adapter_rule_serves_the_hpa_metric() -> None:
    values = yaml.safe_load((K8S / "monitoring" / "prometheus-adapter-values.yaml").read_text())
    (rule,) = values["rules"]["custom"]
    assert "tandem_requests_in_flight" in rule["seriesQuery"]
    assert rule["name"]["as"] == "tandem_requests_in_flight"
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}


def test_gpu_batch_cronjob() -> None:
    cron = _get(_base(), "CronJob", "tandem-nightly")
    pod = pod_spec(cron)
    (c,) = containers(cron)
    assert int(c["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    assert pod["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    assert pod["priorityClassName"] == "tandem-batch"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert "batch.embed.spark_job" in c["args"][0]


def test_priorities_quotas_limits_per_namespace() -> None:
    docs = _base() + load_docs(K8S / "airflow" / "quota.yaml")
    prio = {p["metadata"]["name"]: p for p in _by_kind(docs, "PriorityClass")}
    assert prio["tandem-online"]["value"] > prio["tandem-batch"]["value"]
    assert prio["tandem-batch"]["preemptionPolicy"] == "Never"
    namespaces = {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}
    assert namespaces == {"tandem", "tandem-batch", "airflow"}
    for ns in namespaces:
        kinds = {d["kind"] for d in docs if d["metadata"].get("namespace") == ns}
        assert {"ResourceQuota", "LimitRange"} <= kinds, ns


def test_network_policy_defaults_to_deny() -> None:
    pols = {p["metadata"]["name"]: p for p in _by_kind(_base(), "NetworkPolicy")}
    deny = pols["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    ports = [p["port"] for r in pols["tandem-online"]["spec"]["ingress"] for p in r["ports"]]
    assert ports == [8000]


SECRETS = K8S / "secrets"  # examples of an external source, applied by hand, never by CD


def test_configmap_feeds_the_pods_and_the_secret_comes_from_outside() -> None:
    docs = _base()
    cm = _get(docs, "ConfigMap", "tandem-online-config")["data"]
    assert {"TANDEM_REDIS_URL", "TANDEM_DATA_DIR", "TANDEM_VARIANTS"} <= set(cm)
    for overlay in OVERLAYS:  # what CD applies holds no Secret: a placeholder cannot go live
        rendered = render(K8S / "overlays" / overlay)
        assert not _by_kind(rendered, "Secret"), overlay
        assert not _by_kind(rendered, "ExternalSecret"), overlay
    assert not _by_kind(docs, "Secret")
    for name in ("tandem-online-blue", "tandem-online-green", "tandem-worker"):
        (c,) = containers(_get(docs, "Deployment", name))
        refs = {next(iter(e.values()))["name"]: next(iter(e.values())) for e in c["envFrom"]}
        assert set(refs) == {"tandem-online-config", "tandem-online-secrets"}
        # a missing Secret keeps the pod from starting rather than starting it without one
        assert refs["tandem-online-secrets"].get("optional", False) is False


def test_the_external_secret_example_targets_the_pods_secret_and_is_applied_by_no_one() -> None:
    example = [d for p in SECRETS.glob("*.yaml") for d in load_docs(p)]
    ext = _get(example, "ExternalSecret", "tandem-online-secrets")
    assert ext["metadata"]["namespace"] == "tandem"
    assert ext["spec"]["target"]["name"] == "tandem-online-secrets"
    assert "TANDEM_ADMIN_TOKEN" in {d["secretKey"] for d in ext["spec"]["data"]}
    for kustomization in K8S.rglob("kustomization.yaml"):
        assert "secrets" not in kustomization.read_text(), kustomization


def test_no_manifest_holds_a_placeholder_secret() -> None:
    for path, doc in _all_docs():
        if doc["kind"] != "Secret":
            continue
        for key, value in {**doc.get("stringData", {}), **doc.get("data", {})}.items():
            assert not value or secret_problem(str(value)) is None, f"{path}: {key}"


def test_gpu_time_slicing_config_parses() -> None:
    (cm,) = load_docs(K8S / "gpu" / "time-slicing-config.yaml")
    cfg: dict[str, Any] = yaml.safe_load(cm["data"]["any"])
    (res,) = cfg["sharing"]["timeSlicing"]["resources"]
    assert res["name"] == "nvidia.com/gpu"
    assert res["replicas"] > 1


def test_airflow_helm_values() -> None:
    values = yaml.safe_load((K8S / "airflow" / "values.yaml").read_text())
    assert values["images"]["airflow"]["repository"].endswith("tandem-airflow")
    assert values["postgresql"]["enabled"] is False
    assert values["data"]["metadataSecretName"]
    for part in ("apiServer", "scheduler", "dagProcessor", "triggerer", "workers"):
        assert values[part]["resources"]["limits"], part
    assert values["dagProcessor"]["enabled"]
    assert values["triggerer"]["enabled"]
    env = {e["name"] for e in values["env"]}
    assert "TANDEM_GATE_RECALL5_FLOOR" in env
