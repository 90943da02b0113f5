"""Two processes on CPU: ``accelerate launch`` runs ``rredcot train`` as train.smk does, with gloo.

The two ranks score different numbers of completions (rank 1's rewards are all equal, so none of its
completions is redistributed), with the ``self`` estimator, whose gathering of the groups is a collective.
The run must finish (a rank waiting on a collective the other never joins would hang until the timeout),
log finite metrics, and, preempted during its first step, resume from that step's checkpoint in a second
launch. FSDP and ZeRO-3 cannot run here
(accelerate turns an FSDP config into DDP when there is no GPU; DeepSpeed needs one): the README's
"Running at scale" says what is and is not tested.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_reliability import TIMEOUT_S, is_timing
from test_training import workspace  # noqa: F401  (fixture)

from rredcot.io import read_jsonl

SMOKE = yaml.safe_load((Path(__file__).resolve().parents[1] / "experiments" / "smoke.yaml").read_text())
# The driver every rank runs: the stages' entry, with a reward that depends on the rank, and a report of the
# backend.
DRIVER = """
import json, os, signal, sys
import torch.distributed as dist
import rredcot.pipeline.train

def accuracy_reward(completions, answer, **kwargs):
    if os.environ.get("STOP_IN_FIRST_STEP") and int(os.environ["RANK"]) == 0:
        os.environ.pop("STOP_IN_FIRST_STEP")
        os.kill(os.getpid(), signal.SIGTERM)  # preemption notice to one rank, during step 1
    if int(os.environ["RANK"]) == 1:
        return [1.0 for _ in completions]  # equal rewards: advantage 0, nothing to score on this rank
    return [float(len(c[0]["content"]) % 3 == 0) for c in completions]

rredcot.pipeline.train.accuracy_reward = accuracy_reward
from rredcot.pipeline.stages import main
main(sys.argv[1:])
print("RANK " + json.dumps({"rank": dist.get_rank(), "world": dist.get_world_size(),
                            "backend": dist.get_backend()}), flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(root: Path, out: Path, driver: Path, max_steps: int, stop: bool = False) -> str:
    """``accelerate launch`` with two processes of the smoke config's RREDCoT run; returns the output.
    ``stop``: rank 0 gets SIGTERM during step 1, and the launch must fail after checkpointing."""
    settings = {
        "method": "rredcot",
        "trl": {**SMOKE["train"]["trl"], "max_steps": max_steps},
        "rredcot": {**SMOKE["train"]["rredcot"], "value_estimator": "self"},
    }
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(free_port()), str(driver),
        "train", json.dumps({
            "settings": settings, "seed": 0, "base": str(root / "base"), "random_init": False,
            "train": str(root / "train.jsonl"), "run_dir": str(out / "checkpoints"),
            "model": str(out / "model"), "metrics": str(out / "metrics.jsonl"), "threads": 1,
        }),
    ]  # fmt: skip
    # No GPU even where there is one: --multi_gpu then starts CPU processes, which accelerate joins by gloo.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    if stop:
        env["STOP_IN_FIRST_STEP"] = "1"
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    assert (proc.returncode != 0) == stop, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr if stop else proc.stdout


def test_two_cpu_processes_train_and_resume_with_uneven_scoring(workspace, tmp_path):  # noqa: F811
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    out = tmp_path / "run"

    # Preempted during step 1 (the signal reaches rank 0 only): both ranks stop after it, with its checkpoint.
    output = launch(workspace, out, driver, max_steps=2, stop=True)
    assert "rerun to resume" in output, output[-4000:]
    assert (out / "checkpoints" / "checkpoint-1" / "trainer_state.json").exists()
    states = sorted(p.name for p in (out / "checkpoints" / "checkpoint-1").glob("rng_state_*.pth"))
    assert states == ["rng_state_0.pth", "rng_state_1.pth"]  # each rank saved its own
    assert not (out / "model").exists()
    stdout = launch(workspace, out, driver, max_steps=2)

    # Both processes print to one pipe: their lines can interleave without a newline between them.
    ranks = [json.loads(found) for found in re.findall(r"RANK (\{[^{}]*\})", stdout)]
    assert sorted(r["rank"] for r in ranks) == [0, 1]
    assert {(r["world"], r["backend"]) for r in ranks} == {(2, "gloo")}
    (summary,) = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"final"')]
    assert summary["resumed_from"] == str(out / "checkpoints" / "checkpoint-1")
    assert summary["global_step"] == "2"

    rows = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    for row in rows:
        numbers = {k: v for k, v in row.items() if isinstance(v, float) and not is_timing(k)}
        assert {"loss", "grad_norm", "rredcot/sigma_max_mean"} <= set(numbers)
        assert all(math.isfinite(v) for v in numbers.values()), numbers
        # Mean over the ranks of each rank's active share: rank 1 has none, so at most 1/2, and rank 0 some.
        assert 0 < row["rredcot/active_frac"] <= 0.5
    assert (out / "model" / "config.json").exists()
    assert json.loads((out / "model" / "machine.json").read_text())["processes"] == 2
    assert not (out / "checkpoints").exists()  # a finished run leaves no resume state


@pytest.mark.parametrize("version", [1, 2])
def test_fsdp_is_refused_by_name(version):
    """Under FSDP every forward all-gathers; ranks scoring different numbers of forwards would hang."""
    from types import SimpleNamespace

    from rredcot.trainer import check_distributed

    accelerator = SimpleNamespace(state=SimpleNamespace(fsdp_plugin=SimpleNamespace(fsdp_version=version)))
    with pytest.raises(ValueError, match=f"does not support FSDP \\(fsdp_version={version}\\)"):
        check_distributed(accelerator)
    check_distributed(SimpleNamespace(state=SimpleNamespace(fsdp_plugin=None)))
