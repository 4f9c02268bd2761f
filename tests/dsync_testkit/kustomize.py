"""A small kustomize renderer for the features deploy/k8s uses, so the manifests are tested
where `kubectl kustomize` is missing: `resources` (files and directories), `namespace`,
`images` (newName/newTag) and `patches` with strategic-merge patch files (maps merge,
lists of named items merge by `name`, a null value removes the key)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]


def _load_all(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge of `patch` into `base` (a new value; neither is changed)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(x, dict) and "name" in x for x in base + patch)):
        out_list = [dict(x) for x in base]
        names = [x["name"] for x in out_list]
        for item in patch:
            if item["name"] in names:
                i = names.index(item["name"])
                out_list[i] = merge(out_list[i], item)
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)


def _pod_specs(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {})
    template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
    return [template["spec"]] if template else []


def render(directory: Path) -> list[Doc]:
    """The resources `kubectl kustomize directory` would print, as dicts."""
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for entry in k.get("resources", []):
        path = directory / entry
        docs += render(path) if path.is_dir() else _load_all(path)
    for patch_ref in k.get("patches", []):
        for patch in _load_all(directory / patch_ref["path"]):
            key = (patch["kind"], patch["metadata"]["name"])
            hits = [i for i, d in enumerate(docs) if (d["kind"], d["metadata"]["name"]) == key]
            if len(hits) != 1:
                raise ValueError(f"patch target {key} matches {len(hits)} resources")
            docs[hits[0]] = merge(docs[hits[0]], patch)
    if "namespace" in k:
        docs = [merge(d, {"metadata": {"namespace": k["namespace"]}}) for d in docs]
    for image in k.get("images", []):
        for doc in docs:
            for pod in _pod_specs(doc):
                for container in pod.get("containers", []):
                    name, _, tag = container["image"].partition(":")
                    if name == image["name"]:
                        container["image"] = (f"{image.get('newName', name)}:"
                                              f"{image.get('newTag', tag or 'latest')}")
    return docs
