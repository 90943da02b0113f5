"""scripts/gpu_check.py runs end to end on CPU with --shrink, so the GPU check is not first tried on a GPU."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from test_reliability import TIMEOUT_S

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"


def test_gpu_check_shrunk_on_cpu_writes_its_report(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, str(SCRIPT), "--shrink", "--steps", "2", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["shrink"] and report["completion_tokens"] == 16
    for method in ("grpo", "rredcot"):
        assert len(report[method]["step_time_s"]) == 2
    assert report["rredcot"]["active_frac"][0] > 0  # the varied reward gave something to redistribute
    assert math.isclose(
        report["rredcot_over_grpo_step_time"],
        report["rredcot"]["step_time_median_s"] / report["grpo"]["step_time_median_s"],
    )
    values = report["values"]
    assert len(values["one_pass_logp"]) == values["boundaries"] == 17  # 40 boundaries over 16 tokens
    assert values["max_abs_diff"] < 1e-3  # fp32 on CPU: one-pass equals naive
    # The GPU-only checks say why they did not run.
    assert report["vllm_rollouts"] == {"skipped": "no GPU"}
    assert report["zero3"] == {"skipped": "0 GPU(s); the ZeRO-3 step needs 2"}


def test_two_process_steps_run_the_train_stage_under_accelerate(tmp_path, monkeypatch):
    """The launch path of the ZeRO-3 check, with DDP's config: on CPU accelerate starts 2 gloo processes."""
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    import gpu_check

    from rredcot.io import write_jsonl
    from rredcot.pipeline.data.synthetic import SplitSpec, generate_split

    model = gpu_check.model_dir(tmp_path, shrink=True)
    train = tmp_path / "train.jsonl"
    write_jsonl(train, generate_split("train", SplitSpec(16, 1, 2, 9, 50, 0.0, 0.0), seed=0))
    trl, rredcot = gpu_check.settings(shrink=True, steps=2, batch=6, completion_tokens=16)
    config = SCRIPT.parents[1] / "experiments" / "accelerate" / "ddp.yaml"
    result = gpu_check.two_process_steps(tmp_path / "ddp", config, model, train, trl, rredcot)
    assert result["returncode"] == 0, result.get("output_tail")
    assert result["steps"] == [1, 2] and result["processes"] == 2
    assert not (tmp_path / "ddp" / "checkpoints").exists()  # the finished stage removed its resume state
