"""A stand-in for the Hugging Face Hub that serves repositories from local folders.

The pipeline's ``prefetch`` rule (:mod:`rredcot.pipeline.prefetch`) asks the hub for each repository's commit
(``HfApi.repo_info``) and downloads it (``snapshot_download``). Here both answer from
``<root>/<kind>/<owner>--<name>/``: each revision resolves to a made-up commit, and a snapshot copies the
folder. ``python tests/fake_hub.py <root> <snakemake arguments>`` runs Snakemake with the stand-in installed.
Under a cluster executor Snakemake runs local rules (``prefetch``) in its own process, so they see it; compute
jobs run with the hub offline and read only the mirror, as on a cluster.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace


def repo_folder(root: str | os.PathLike, kind: str, repo_id: str) -> Path:
    """Where the stand-in keeps repository ``repo_id`` (kind: model or dataset)."""
    return Path(root) / kind / repo_id.replace("/", "--")


def commit_of(repo_id: str, revision: str) -> str:
    """A 40-hex commit that depends on the repository and the revision only (reruns resolve alike)."""
    return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()


def install(root: str | os.PathLike) -> list[tuple[str, str, str]]:
    """Replace huggingface_hub's ``HfApi`` and ``snapshot_download``; returns the list of snapshots taken."""
    import huggingface_hub

    fetched: list[tuple[str, str, str]] = []

    class HfApi:
        def repo_info(self, repo_id, repo_type=None, revision=None, **kwargs):
            if not repo_folder(root, repo_type or "model", repo_id).is_dir():
                raise FileNotFoundError(f"the stand-in hub has no {repo_type} {repo_id!r} under {root}")
            return SimpleNamespace(sha=commit_of(repo_id, revision or "main"))

    def snapshot_download(repo_id, repo_type=None, revision=None, local_dir=None, **kwargs):
        fetched.append((repo_id, repo_type or "model", revision))
        shutil.copytree(repo_folder(root, repo_type or "model", repo_id), local_dir, dirs_exist_ok=True)
        return os.fspath(local_dir)

    huggingface_hub.HfApi = HfApi
    huggingface_hub.snapshot_download = snapshot_download
    return fetched


if __name__ == "__main__":
    install(sys.argv[1])
    from snakemake.cli import main

    sys.argv = ["snakemake", *sys.argv[2:]]
    main()
