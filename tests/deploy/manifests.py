"""Loading the deployment files, and a small kustomize renderer for the overlays.

The renderer supports exactly what docker/k8s uses (``resources`` files and directories,
strategic-merge ``patches`` by path, ``images``) and refuses any other kustomization key, so a
new feature in an overlay fails the tests instead of being silently ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
K8S = DOCKER / "k8s"
WORKFLOWS = ROOT / ".github" / "workflows"

Doc = dict[str, Any]
SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "patches", "images"}
# Lists merged element by element on this key (strategic merge patch semantics).
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name"}


def load_docs(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def manifest_files() -> list[Path]:
    """Every Kubernetes manifest file (not kustomizations, not Helm values)."""
    skip = {"kustomization.yaml"}
    helm_values = {K8S / "airflow" / "values.yaml", K8S / "monitoring"}
    out = []
    for p in sorted(K8S.rglob("*.yaml")):
        if p.name in skip or p in helm_values or K8S / "monitoring" in p.parents:
            continue
        if K8S / "overlays" in p.parents:
            continue  # patches: validated after rendering
        out.append(p)
    return out


def key_of(doc: Doc) -> tuple[str, str, str]:
    meta = doc.get("metadata", {})
    return doc["kind"], meta.get("namespace", ""), meta["name"]


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out and k in MERGE_KEYS and isinstance(v, list):
                out[k] = _merge_list(out[k], v, MERGE_KEYS[k])
            else:
                out[k] = _merge(out.get(k), v) if k in out else copy.deepcopy(v)
        return out
    return copy.deepcopy(patch)


def _merge_list(base: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = [copy.deepcopy(x) for x in base]
    for item in patch:
        for i, existing in enumerate(out):
            if existing.get(key) == item.get(key):
                out[i] = _merge(existing, item)
                break
        else:
            out.append(copy.deepcopy(item))
    return out


def _containers(doc: Doc) -> Iterator[Doc]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec.get("template", {}).get("spec", {})
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])


def _set_image(doc: Doc, rule: Doc) -> None:
    for c in _containers(doc):
        image = c.get("image", "")
        name = image.split("@")[0].rsplit(":", 1)[0] if ":" in image else image
        if name != rule["name"]:
            continue
        tag = image[len(name) + 1 :] if image != name else ""
        new = rule.get("newName", name)
        if "digest" in rule:
            c["image"] = f"{new}@{rule['digest']}"
        else:
            c["image"] = f"{new}:{rule.get('newTag', tag)}" if rule.get("newTag", tag) else new


def render(directory: Path) -> list[Doc]:
    """``kustomize build directory`` for the features above."""
    kfile = directory / "kustomization.yaml"
    kust = yaml.safe_load(kfile.read_text())
    unknown = set(kust) - SUPPORTED_KEYS
    if unknown:
        raise ValueError(f"{kfile}: keys this renderer does not support: {sorted(unknown)}")
    docs: list[Doc] = []
    for res in kust.get("resources", []):
        target = (directory / res).resolve()
        docs.extend(render(target) if target.is_dir() else load_docs(target))
    index = {key_of(d): i for i, d in enumerate(docs)}
    if len(index) != len(docs):
        raise ValueError(f"{kfile}: duplicate resources")
    for patch in kust.get("patches", []):
        path = directory / patch["path"]
        for p in load_docs(path):
            k = key_of(p)
            if k not in index:
                raise ValueError(f"{path}: patch target {k} is not a resource")
            docs[index[k]] = _merge(docs[index[k]], p)
    for rule in kust.get("images", []):
        for d in docs:
            _set_image(d, rule)
    return docs


def containers(doc: Doc) -> list[Doc]:
    return list(_containers(doc))


def pod_spec(doc: Doc) -> Doc:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]  # type: ignore[no-any-return]
