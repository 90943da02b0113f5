"""Hub downloads done once, on a node with network, before any compute job: the model and every dataset.

A cluster's compute nodes often have no network, and a download inside a GPU job spends GPU-hours waiting.
So the pipeline's ``prefetch`` rule (a local rule: it runs where Snakemake runs, the login node) copies each
hub repository at its configured revision into ``<hub_mirror>/<kind>/<owner>--<name>@<revision>/``
(:func:`mirror_dir`) and writes a manifest with the commit each revision resolved to. Compute jobs then run
with the hub offline (``HF_HUB_OFFLINE=1``, ``HF_DATASETS_OFFLINE=1``) and read local directories only: the
model through ``--model <mirror>``, a dataset through its spec's ``mirror`` key (see
:mod:`rredcot.pipeline.data.hub`). A job that finds its mirror missing stops at start-up, naming it
(:func:`require_mirror`). The paths need only the standard library (the workflow imports them); the hub
client is imported where it is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rredcot.io import write_json

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def mirror_dir(root: str | os.PathLike, kind: str, repo_id: str, revision: str | None) -> Path:
    """Where ``repo_id`` at ``revision`` (``None``: main) is mirrored (``kind``: model or dataset)."""
    if kind not in ("model", "dataset"):
        raise ValueError(f"kind must be 'model' or 'dataset', got {kind!r}")
    return Path(root) / kind / f"{repo_id.replace('/', '--')}@{revision or 'main'}"


def offline() -> bool:
    """Whether this process runs with the hub switched off (as every prefetched compute job does)."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def in_hub_cache(repo_id: str) -> bool:
    """Whether the hub cache holds ``repo_id``'s config (a model that loads offline without a mirror)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def require_mirror(path: str | os.PathLike, what: str) -> Path:
    """``path`` if it exists, else an error that names what is missing and how to fetch it."""
    path = Path(path)
    if not path.is_dir() or not any(path.iterdir()):
        raise FileNotFoundError(
            f"{what} was not prefetched: {path} is missing or empty. Run the local rule `prefetch` where "
            "the hub can be reached (`snakemake prefetch --configfile <config>` on the login node), then "
            "resubmit."
        )
    return path


def fetch(root: str | os.PathLike, kind: str, repo_id: str, revision: str | None) -> dict[str, str]:
    """Mirror one repository at ``revision``; its commit is resolved first, so every file is of one commit."""
    from huggingface_hub import HfApi, snapshot_download

    repo_type = "model" if kind == "model" else "dataset"
    commit = HfApi().repo_info(repo_id, repo_type=repo_type, revision=revision or "main").sha
    target = mirror_dir(root, kind, repo_id, revision)
    snapshot_download(repo_id, repo_type=repo_type, revision=commit, local_dir=target)
    return {"repo_id": repo_id, "revision": revision or "main", "commit": commit, "path": os.fspath(target)}


def prefetch(
    root: str | os.PathLike,
    model: tuple[str, str | None] | None,
    datasets: Mapping[str, Mapping[str, Any]],
    manifest: str | os.PathLike,
) -> dict:
    """Mirror the model (``(repo_id, revision)``, or ``None`` when the pipeline builds its own) and each
    dataset spec (``hub_id``, optional ``revision``); write and return the manifest."""
    record: dict[str, Any] = {"model": None, "datasets": {}}
    if model is not None:
        record["model"] = fetch(root, "model", *model)
    for name, spec in datasets.items():
        record["datasets"][name] = fetch(root, "dataset", spec["hub_id"], spec.get("revision"))
    write_json(manifest, record)
    return record


__all__ = ["OFFLINE_ENV", "fetch", "in_hub_cache", "mirror_dir", "offline", "prefetch", "require_mirror"]
