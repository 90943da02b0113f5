"""nano's wiring, end to end under a real SLURM, on CPU.

``experiments/nano.yaml`` with the overlay ``experiments/overlays/nano_wiring.yaml``, run with nano's SLURM
profile (``profiles/slurm``, its CHANGE_ME values filled in for the local cluster) from the ``prefetch`` rule
to the report. The hub is a stand-in (``tests/fake_hub.py``) holding the hub-schema fixtures of nano's data
sets and DeepSeek-R1-Distill-Qwen-1.5B's architecture shrunk (``scripts/gpu_check.py --shrink``'s), so every
compute job reads the mirror with the hub offline, as on a cluster whose nodes have no network. What only a
GPU can run (vLLM, ZeRO-3, bf16) is the overlay's to switch off; the rest, nano's rules, resources, profile
and two-process training launch, is what a cluster user would run. The SLURM test needs a local SLURM
(``bash scripts/slurm_local.sh start``) and is skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from fake_hub import repo_folder
from snakemake.utils import validate
from test_slurm import run_snakemake_slurm, slurm_cluster  # noqa: F401  (fixture)

from rredcot.pipeline.settings import layered_config

REPO = Path(__file__).resolve().parents[1]
NANO = REPO / "experiments" / "nano.yaml"
OVERLAY = REPO / "experiments" / "overlays" / "nano_wiring.yaml"
FIXTURES = REPO / "tests" / "fixtures" / "hub"
# The rules that run as SLURM jobs (all others are local) and the config's resources stage of each.
STAGES = {
    "prepare_data": "prepare_data",
    "train_policy": "train",
    "evaluate_policy": "evaluate",
    "credit_analysis": "analysis",
    "segmentation_analysis": "analysis",
    "value_sanity": "analysis",
}


def wiring_config() -> dict:
    """nano.yaml with the overlay on it, merged as Snakemake merges two --configfile."""
    return layered_config([NANO, OVERLAY])


def build_hub(root: Path, config: dict) -> None:
    """The stand-in hub: the shrunk R1-Distill model (config.json and the character tokenizer) and each data
    set's fixture under the file name its hub repository uses."""
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "scripts" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    model = repo_folder(root, "model", config["base_model"]["name_or_path"])
    model.parent.mkdir(parents=True)
    gpu_check.model_dir(model.parent, shrink=True).rename(model)

    hub = config["data"]["hub"]
    catalog = yaml.safe_load((REPO / hub["catalog"]).read_text())["hub_datasets"]
    for name in [hub["train"], *hub["benchmarks"]]:
        data = catalog[name]
        if data["format"] == "json":
            source, target = FIXTURES / f"{name}.jsonl", f"{data['split']}.jsonl"
        else:
            source, target = FIXTURES / f"{name}.parquet", f"data/{data['split']}-00000-of-00001.parquet"
        path = repo_folder(root, "dataset", data["hub_id"]) / target
        path.parent.mkdir(parents=True)
        shutil.copy(source, path)


def local_profile(directory: Path) -> Path:
    """profiles/slurm with the values its README asks a user to fill in, for the local cluster: partition
    `debug`, no account (it keeps no accounting), status by squeue. No retries: a failure shows at once."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    for resources in [profile["default-resources"], *profile["set-resources"].values()]:
        resources["slurm_partition"] = "debug"
        resources.pop("slurm_account", None)  # the GPU rules share one entry (a YAML anchor)
    profile.update(
        {
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "latency-wait": 5,
            "retries": 0,
        }
    )
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return directory


def slurm_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay listed for MinJobAge, 300 s on the local cluster)."""
    cmd = ["scontrol", "-o", "show", "job", job_id]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    return dict(re.findall(r"(\S+?)=(\S*)", out.stdout))


def minutes(limit: str) -> int:
    """A SLURM time limit, [days-]hours:minutes:seconds, in minutes."""
    days, _, clock = limit.rpartition("-")
    hours, mins, _ = map(int, clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + mins


def test_the_overlay_keeps_nanos_data_model_rules_and_runtimes():
    """What the overlay may change is what a CPU cannot run or would take hours on; the rest stays nano's."""
    nano, config = yaml.safe_load(NANO.read_text()), wiring_config()
    validate(config, str(REPO / "experiments" / "schema.yaml"))
    assert config["data"] == nano["data"] and config["eval"]["benchmarks"] == nano["eval"]["benchmarks"]
    assert config["base_model"] == {**nano["base_model"], "random_init": True}
    assert config["train"]["methods"] == nano["train"]["methods"]
    assert config["train"]["rredcot"] == nano["train"]["rredcot"]
    assert config["analysis"]["segmentation_variants"] == nano["analysis"]["segmentation_variants"]
    assert config["hub_mirror"] != nano["hub_mirror"]  # the stand-in's shrunk model never lands in nano's
    for stage, resources in nano["resources"].items():
        assert config["resources"][stage]["runtime"] == resources["runtime"], stage
        assert config["resources"][stage].get("gpu", 0) == 0, stage
    assert config["resources"]["train"]["processes"] == 2


@pytest.mark.parametrize(
    ("overlays", "launch", "runs"),
    [
        (
            [],
            ("zero3", 4),
            6,
        ),
        (
            [OVERLAY],
            ("ddp", 2),
            2,
        ),
    ],
    ids=["nano", "nano_wiring"],
)
def test_training_launches_one_process_per_gpu_or_the_processes_of_a_cpu_run(
    overlays, launch, runs, tmp_path
):
    """nano launches one process per GPU; the overlay, without GPUs, two CPU processes the same way. The
    accelerate config is the repository's wherever Snakemake runs (here another --directory)."""
    cmd = ["-m", "snakemake", "-n", "-p", "--cores", "2", "--directory", str(tmp_path)]
    plan = subprocess.run(
        [sys.executable, *cmd, "--snakefile", str(REPO / "Snakefile"), "--configfile", str(NANO), *overlays],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shells = [line for line in plan.splitlines() if "rredcot.pipeline.stages train " in line]
    assert len(shells) == runs
    for shell in shells:
        # the launcher of the Python that runs Snakemake (and every other stage), hub offline
        accelerate_config, processes = launch
        expected = (
            f"HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 {sys.executable} -m accelerate.commands.launch"
            f" --config_file {REPO / 'experiments' / 'accelerate' / accelerate_config}.yaml"
            f" --num_processes {processes}"
            " -m rredcot.pipeline.stages train "
        )
        assert expected in shell


@pytest.mark.slow
@pytest.mark.slurm
def test_nano_wiring_runs_under_slurm_from_prefetch_to_report(slurm_cluster, tmp_path):  # noqa: F811
    config = wiring_config()
    scale, resources = config["scale"], config["resources"]
    hub = tmp_path / "hub"
    build_hub(hub, config)
    work = tmp_path / "work"
    start = time.monotonic()
    proc = run_snakemake_slurm(
        REPO / "Snakefile",
        work,
        configfile=[NANO, OVERLAY],
        profile=local_profile(tmp_path / "profile"),
        entry=[str(REPO / "tests" / "fake_hub.py"), str(hub)],
        timeout_s=540,
    )
    wall_s = time.monotonic() - start

    # Every compute job ran as its own SLURM job, with nano's runtimes and the overlay's memory, in the
    # profile's partition, requeued on preemption as the profile asks; prefetch and the artifacts ran locally.
    logs = sorted((work / ".snakemake" / "slurm_logs").rglob("*.log"))
    jobs = {log.stem: log.relative_to(work / ".snakemake" / "slurm_logs").parts[0] for log in logs}
    assert Counter(jobs.values()) == {
        "rule_prepare_data": 1,
        "rule_train_policy": 2,
        "rule_evaluate_policy": 9,
        "rule_credit_analysis": 1,
        "rule_segmentation_analysis": 1,
        "rule_value_sanity": 1,
    }, proc.stderr[-3000:]
    for job_id, rule in jobs.items():
        job = slurm_job(job_id)
        if not job and wall_s > 240:  # purged after MinJobAge: only a slow run may lose its first jobs
            continue
        stage = resources[STAGES[rule.removeprefix("rule_")]]
        assert job["JobState"] == "COMPLETED" and job["Partition"] == "debug" and job["Requeue"] == "1", job
        assert minutes(job["TimeLimit"]) == stage["runtime"], (rule, job["TimeLimit"])
        assert job["MinMemoryNode"] == f"{stage['mem_mb']}M", (rule, job["MinMemoryNode"])

    results = work / "results" / scale
    # prefetch mirrored the model and the four data sets, each at one commit; the jobs read only the mirror.
    mirror = work / config["hub_mirror"]
    manifest = json.loads((mirror / f"manifest_{scale}.json").read_text())
    assert sorted(manifest["datasets"]) == sorted(["open_rs", "amc23", "math500", "aime24"])
    model = json.loads((work / manifest["model"]["path"] / "config.json").read_text())
    assert (model["model_type"], model["num_hidden_layers"], model["hidden_size"]) == ("qwen2", 2, 64)
    fixture = (FIXTURES / "math500.jsonl").read_text().splitlines()
    rows = (results / "data" / "eval" / "math500.jsonl").read_text().splitlines()
    assert [json.loads(row)["problem"] for row in rows] == [json.loads(row)["problem"] for row in fixture]
    summary = json.loads((results / "eval" / "base" / "math500.json").read_text())
    assert summary["settings"]["model"] == manifest["model"]["path"] and summary["settings"]["random_init"]

    # Training went through `accelerate launch` with two processes, and the finished runs left no checkpoints.
    for method in config["train"]["methods"]:
        run = results / "train" / method / "seed0"
        steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert steps == [1, 2]
        assert json.loads((run / "model" / "machine.json").read_text())["processes"] == 2
        assert (run / "model" / "config.json").exists() and not (run / "checkpoints").exists()

    # The report says what was run: nano's model and data, both methods, nano's three benchmarks.
    report = (work / "paper_tables" / scale / "REPLICATION.md").read_text()
    base = config["base_model"]["name_or_path"]
    assert f"**Scale** `{scale}`: base model `{base}` with random weights; training data `open_rs`" in report
    assert "**Training**: grpo, rredcot × seeds [0], 2 steps, group size 6" in report
    assert "**Evaluation**: amc23 (avg@8), math500 (avg@4), aime24 (avg@8)." in report
    for label in config["artifacts"]["paper_rows"]["table2"].values():  # Table 2's rows, nano's benchmarks
        assert label in report, label
