"""Prefetch: the hub model and datasets mirrored once (network faked with local fixtures), compute jobs that
read only the mirror with the hub offline, and a missing mirror that stops a job at start-up, named."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

import rredcot.pipeline.prefetch as prefetch_module
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data.hub import load_hub_dataset
from rredcot.pipeline.prefetch import mirror_dir, prefetch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CATALOG = yaml.safe_load((ROOT / "experiments" / "datasets.yaml").read_text())["hub_datasets"]
MODEL = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"


@pytest.fixture
def fake_hub(monkeypatch):
    """huggingface_hub's repo_info and snapshot_download over local fixtures: each revision resolves to a
    made-up commit, and a snapshot copies the fixture in the hub repository's layout."""
    files = {
        MODEL: [FIXTURES / "models" / "deepseek-r1-distill-qwen-1.5b" / "config.json"],
        "HuggingFaceH4/MATH-500": [FIXTURES / "hub" / "math500.jsonl"],
    }
    names = {"math500.jsonl": "test.jsonl"}  # MATH-500 ships its split as test.jsonl
    fetched = []

    class Api:
        def repo_info(self, repo_id, repo_type, revision):
            return SimpleNamespace(sha=f"{abs(hash((repo_id, revision))):040x}"[:40])

    def snapshot_download(repo_id, repo_type, revision, local_dir):
        fetched.append((repo_id, repo_type, revision))
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        for path in files[repo_id]:
            shutil.copy(path, Path(local_dir) / names.get(path.name, path.name))
        return str(local_dir)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", Api)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return fetched


def test_prefetch_mirrors_each_repository_at_one_commit_and_the_mirror_loads_offline(
    fake_hub, tmp_path, monkeypatch
):
    spec = CATALOG["math500"]
    manifest = prefetch(tmp_path, (MODEL, None), {"math500": spec}, tmp_path / "manifest.json")
    assert manifest == json.loads((tmp_path / "manifest.json").read_text())
    model, dataset = manifest["model"], manifest["datasets"]["math500"]
    assert model["path"] == str(mirror_dir(tmp_path, "model", MODEL, None))
    assert model["path"].endswith("model/deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B@main")
    assert model["revision"] == "main" and len(model["commit"]) == 40
    # Every file is fetched at the commit the revision resolved to, never at a moving branch.
    assert fake_hub == [(MODEL, "model", model["commit"]), (spec["hub_id"], "dataset", dataset["commit"])]

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    rows = load_hub_dataset("math500", {**spec, "mirror": dataset["path"]}).rows
    expected = [json.loads(line) for line in (FIXTURES / "hub" / "math500.jsonl").read_text().splitlines()]
    assert [row["problem"] for row in rows] == [row["problem"] for row in expected]


def test_a_dataset_whose_mirror_is_missing_stops_naming_it(tmp_path):
    missing = tmp_path / "dataset" / "HuggingFaceH4--MATH-500@main"
    with pytest.raises(
        FileNotFoundError, match=r"hub dataset 'math500' \(HuggingFaceH4/MATH-500\).*prefetch"
    ):
        load_hub_dataset("math500", {**CATALOG["math500"], "mirror": str(missing)})
    missing.mkdir(parents=True)  # an empty folder is a broken prefetch too
    with pytest.raises(FileNotFoundError, match="missing or empty"):
        load_hub_dataset("math500", {**CATALOG["math500"], "mirror": str(missing)})


def test_offline_a_model_neither_mirrored_nor_cached_stops_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(FileNotFoundError, match=r"model 'org/absent-model' was not prefetched.*prefetch"):
        load_model_and_tokenizer("org/absent-model", dtype="float32", device="cpu", random_init=True)


def test_mirror_dir_rejects_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="kind must be"):
        mirror_dir(tmp_path, "space", "org/x", None)
    assert prefetch_module.mirror_dir(tmp_path, "dataset", "a/b", "0123abc").name == "a--b@0123abc"


@pytest.mark.parametrize("scale", ["nano", "paper"])
def test_hub_scales_prefetch_on_the_login_node_and_run_every_compute_job_offline(scale, tmp_path):
    """The plan: `prefetch` is a local rule that comes first; every other shell job runs with the hub off and
    reads the mirror, never a hub id."""
    plan = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "2", "--directory", str(tmp_path)]
        + [
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--configfile",
            str(ROOT / "experiments" / f"{scale}.yaml"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    config = yaml.safe_load((ROOT / "experiments" / f"{scale}.yaml").read_text())
    manifest = f"{config['hub_mirror']}/manifest_{scale}.json"
    assert f"rule prefetch:\n    output: {manifest}\n" in plan
    assert f"rule prepare_data:\n    input: {manifest}\n" in plan  # so it runs after the prefetch
    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[ROOT / "experiments" / f"{scale}.yaml"]),
            snakefile=ROOT / "Snakefile",
            workdir=tmp_path,
        )._workflow
        assert workflow.is_local(workflow.get_rule("prefetch"))  # where Snakemake runs: the login node
    shells = [
        line.removeprefix("Shell command: ")
        for line in plan.splitlines()
        if "rredcot.pipeline.stages" in line
    ]
    assert shells and all(
        line.lstrip().startswith("HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 ") for line in shells
    )
    model = config["base_model"]["name_or_path"]
    assert f'"model": "{model}"' not in plan and f'"model": "{config["hub_mirror"]}/model/' in plan
