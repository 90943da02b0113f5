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
