"""Small synthetic logs in the formats the pipeline writes, shared by the artifact and credit tests.

Formats: rredcot/pipeline/metrics.py (training metrics), rredcot/pipeline/evaluate.py (evaluations),
rredcot/pipeline/analysis.py (credit traces). Every number the tests expect is computed by hand from what
these writers put on disk.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import yaml

from rredcot.io import write_json, write_jsonl

REPO = Path(__file__).resolve().parents[1]
METHODS = ["grpo", "rredcot"]
SEEDS = [0, 1, 2]
BENCHMARKS = ["in_dist", "more_steps"]
VARIANTS = [
    "reference/log",
    "reference/linear",
    "answer_only/log",
    "answer_only/linear",
    "self/log",
    "self/linear",
]
# Accuracy (avg@n) per policy and benchmark: the numbers the tables must reproduce.
EVAL_VALUES = {
    "base": {"in_dist": 0.30, "more_steps": 0.10},
    "grpo/seed0": {"in_dist": 0.50, "more_steps": 0.20},
    "grpo/seed1": {"in_dist": 0.60, "more_steps": 0.25},
    "grpo/seed2": {"in_dist": 0.70, "more_steps": 0.30},
    "rredcot/seed0": {"in_dist": 0.80, "more_steps": 0.40},
    "rredcot/seed1": {"in_dist": 0.85, "more_steps": 0.45},
    "rredcot/seed2": {"in_dist": 0.90, "more_steps": 0.35},
}
ARTIFACTS = {
    "metric": "avg_at_n",
    "paper_rows": {"table1": {}, "table2": {}},
    "training_ablations": {},
    "training_ablations_in_default_target": True,
    "controls": {"lr0": [], "oracle": []},
    "smooth_window": 3,
    "final_window": 5,
    "ci_level": 0.95,
    "threshold_fraction": 0.9,
    "position_bins": 4,
    "late_position": 0.5,
    "correlation": "spearman",
    "bootstrap_resamples": 50,
    "mc_sd_max_samples": 20,
    "verdict_z": 2.0,
    "min_seeds": 2,
    "min_traces": 10,
    "credit_effects": {"tracks_mc": 0.2, "tracks_mc_late": 0.2, "attributions_agree": 0.2},
    "sample_efficiency_effect": 0.2,
    "value_cost_tolerance": 2.0,
    "publish_report": True,
}


def write_evals(root: Path, values=EVAL_VALUES, n_samples: int = 4) -> list[Path]:
    paths = []
    for policy, by_bench in values.items():
        for bench, value in by_bench.items():
            path = root / "eval" / policy / f"{bench}.json"
            write_json(
                path,
                {
                    "benchmark": bench,
                    "num_problems": 10,
                    "n_samples": n_samples,
                    "avg_at_n": value,
                    "pass_at_k": {"1": value, str(n_samples): min(1.0, 2 * value)},
                    "mean_length": 30.0,
                    "truncated_frac": 0.0,
                },
            )
            paths.append(path)
    return paths


def write_metrics(root: Path, seeds=SEEDS, steps: int = 30, speed=None, accuracy=True) -> list[Path]:
    """GRPO and RREDCoT runs; RREDCoT learns faster (``speed``) and its steps cost 1.1× GRPO's."""
    speed = speed or {"grpo": 0.1, "rredcot": 0.25}
    paths = []
    for method in METHODS:
        for seed in seeds:
            rng = np.random.default_rng(100 * seed + len(method))
            rows, tokens, wall = [], 0.0, 0.0
            for step in range(1, steps + 1):
                acc = float(np.clip(0.8 * (1 - math.exp(-speed[method] * step)) + rng.normal(0, 0.02), 0, 1))
                step_time = (1.0 if method == "grpo" else 1.1) + 0.01 * (step % 3)
                tokens += 32 * (40 - step / 2)
                wall += step_time
                row = {
                    "step": step,
                    "reward": acc,
                    "reward_std": 0.3,
                    "completions/mean_length": 40 - step / 2,
                    "entropy": 1.0,
                    "step_time": step_time,
                    "generated_tokens": tokens,
                    "wall_s": wall,
                    "loss": 0.0,
                }
                if accuracy:
                    row["accuracy"] = acc
                if method == "rredcot":
                    row.update(
                        {
                            "rredcot/value_time_s": 0.05,
                            "rredcot/time_s": 0.08,
                            "rredcot/segments_mean": 4.0,
                            "rredcot/sigma_max_mean": 0.1,
                        }
                    )
                rows.append(row)
            path = root / "train" / method / f"seed{seed}" / "metrics.jsonl"
            write_jsonl(path, rows)
            paths.append(path)
    return paths


def make_trace(rng, index: int, n_seg: int, n_mc: int = 16, variants=VARIANTS, attributions=True) -> dict:
    """A trace whose true value rises along the reasoning; MC samples it, RREDCoT sees it with noise, and the
    two attributions share a signal unrelated to it (so they agree with each other, not with MC)."""
    n_tokens = 10 * n_seg + 5
    bounds = [10 * k for k in range(n_seg + 1)]
    p = np.clip(0.05 + np.cumsum(rng.uniform(0, 1.8 / n_seg, n_seg + 1)) - 0.9 / n_seg, 0.03, 0.97)
    outcomes = (rng.random((n_seg + 1, n_mc)) < p[:, None]).astype(int).tolist()
    values = {}
    for variant in variants:
        if variant.endswith("/log"):
            values[variant] = (np.log(p) + rng.normal(0, 0.02, n_seg + 1)).tolist()
        else:
            values[variant] = (p + rng.normal(0, 0.02, n_seg + 1)).tolist()
    shared = rng.normal(0, 1, n_seg)
    trace = {
        "id": f"p{index}",
        "correct": int(rng.random() < p[-1]),
        "n_tokens": n_tokens,
        "spans": [[10 * k, 10 * (k + 1)] for k in range(n_seg)] + [[10 * n_seg, n_tokens]],
        "boundaries": bounds,
        "rel_position": [(k + 0.5) / n_seg for k in range(n_seg)],
        "mc": {
            "outcomes": outcomes,
            "seconds": 2.0 * (n_seg + 1),
            "n_samples": n_mc,
            "generated_tokens": 20 * n_mc * (n_seg + 1),
        },
        "values": values,
        "value_seconds": dict.fromkeys(variants, 0.01 * (n_seg + 1)),
        "attribution": {},
        "attribution_seconds": {},
    }
    if attributions:
        trace["attribution"] = {
            "gradient": (shared + rng.normal(0, 0.2, n_seg)).tolist(),
            "loo": (shared + rng.normal(0, 0.2, n_seg)).tolist(),
        }
        trace["attribution_seconds"] = {"gradient": 0.05, "loo": 0.04}
    return trace


def write_credit(root: Path, n_traces: int = 24, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path = root / "analysis" / "credit.jsonl"
    write_jsonl(path, [make_trace(rng, i, n_seg=3 + i % 4, n_mc=64) for i in range(n_traces)])
    return path


def write_segmentation(root: Path, names=("hybrid_K4", "keyword", "fixed_C16")) -> list[Path]:
    paths = []
    for j, name in enumerate(names):
        rng = np.random.default_rng(10 + j)
        traces = [
            make_trace(rng, i, n_seg=2 + j + i % 3, variants=["reference/log"], attributions=False)
            for i in range(12)
        ]
        path = root / "analysis" / "segmentation" / f"{name}.jsonl"
        write_jsonl(path, traces)
        paths.append(path)
    return paths


# The config's JSON schema, whose descriptions the report's assumptions table prints.
SCHEMA = yaml.safe_load((REPO / "experiments" / "schema.yaml").read_text())


def config_for(artifacts=None) -> dict:
    config = yaml.safe_load((REPO / "experiments" / "smoke.yaml").read_text())
    config["train"]["seeds"] = SEEDS
    config["eval"]["benchmarks"] = {b: {"n_samples": 4, "pass_k": [1, 4]} for b in BENCHMARKS}
    config["artifacts"] = copy.deepcopy(artifacts or ARTIFACTS)
    return config


def assert_figure(pdf: Path, png: Path) -> None:
    assert pdf.stat().st_size > 1000 and pdf.read_bytes().startswith(b"%PDF")
    assert png.stat().st_size > 1000 and png.read_bytes().startswith(b"\x89PNG")
