"""Report sections on what moves a toy result besides the method: hand-worked numbers and rules."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rredcot.artifacts.robustness import (
    ablation_test_lines,
    base_spread,
    base_spread_lines,
    delimiter_drift,
    delimiter_drift_lines,
    machine_lines,
)
from rredcot.pipeline.metric_names import NEWLINES_METRIC, THINKING_LINES_METRIC

BENCHMARKS = ["a", "b"]


def evals(values: dict[str, dict[str, float]]) -> pd.DataFrame:
    rows = []
    for policy, by_bench in values.items():
        method, _, seed = policy.partition("/seed")
        method = "base_spread" if method == "base" and seed else method
        for bench, value in by_bench.items():
            rows.append(
                {
                    "policy": policy,
                    "method": method,
                    "seed": int(seed) if seed else math.nan,
                    "benchmark": bench,
                    "value": value,
                }
            )
    return pd.DataFrame(rows)


EVALS = evals(
    {
        "base": {"a": 0.4, "b": 0.2},  # mean 0.3
        "base/seed1": {"a": 0.5, "b": 0.3},  # mean 0.4
        "grpo/seed0": {"a": 0.6, "b": 0.4},  # mean 0.5
        "grpo/seed1": {"a": 0.8, "b": 0.4},  # mean 0.6
        "rredcot_mix0/seed0": {"a": 0.6, "b": 0.2},  # mean 0.4
    }
)


def test_base_spread_against_the_grpo_gain():
    result = base_spread(EVALS, BENCHMARKS)
    assert result["bases"] == pytest.approx({"base": 0.3, "base/seed1": 0.4})
    assert result["spread"] == pytest.approx(0.1)
    assert result["grpo_gain"] == pytest.approx(0.55 - 0.3)
    text = "\n".join(base_spread_lines(EVALS, BENCHMARKS, "avg_at_n"))
    assert "| base/seed1 | 0.500 | 0.300 | 0.400 |" in text
    assert "2.5× the spread" in text


def test_base_models_and_machines_keep_the_config_s_order():
    """As given (the config's order: seed 10 after seed 2), not as sorted strings (seed10 < seed2)."""
    ordered = evals(
        {"base": {"a": 0.4, "b": 0.2}, "base/seed2": {"a": 0.5, "b": 0.3}, "base/seed10": {"a": 0.1}}
    )
    assert list(base_spread(ordered, BENCHMARKS)["bases"]) == ["base", "base/seed2", "base/seed10"]
    record = {"cpu_model": "X", "torch_threads": 1}
    text = "\n".join(machine_lines({"train/rredcot/seed0": record, "train/grpo/seed0": record}))
    assert "train/rredcot/seed0 (1 threads), train/grpo/seed0 (1 threads)" in text


def test_no_spread_section_with_one_base_model():
    assert base_spread_lines(EVALS[EVALS["policy"] != "base/seed1"], BENCHMARKS, "avg_at_n") == []


def metrics(values: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    rows = [
        {"method": m, "seed": s, "step": step + 1, NEWLINES_METRIC: v, THINKING_LINES_METRIC: v / 2}
        for (m, s), series in values.items()
        for step, v in enumerate(series)
    ]
    return pd.DataFrame(rows)


def test_delimiter_drift_start_and_end_per_seed():
    drift = delimiter_drift(metrics({("grpo", 0): [10, 12, 8, 8]}), final_window=2)
    assert drift == {"grpo": {"start": [11.0], "end": [8.0]}}


@pytest.mark.parametrize(
    ("rredcot_ends", "expected"),
    [
        ([5.0, 5.2], "drift apart from GRPO's"),  # Δ = −4.9 against SE ≈ 0.14
        ([9.0, 11.0], "no drift apart detected"),  # Δ = 0.1 against SE ≈ 0.71
    ],
)
def test_delimiter_drift_rule(rredcot_ends, expected):
    table = metrics(
        {
            ("grpo", 0): [10, 10],
            ("grpo", 1): [10, 10.2],
            ("rredcot", 0): [10, rredcot_ends[0]],
            ("rredcot", 1): [10, rredcot_ends[1]],
        }
    )
    text = "\n".join(delimiter_drift_lines(table, final_window=1, verdict_z=2.0))
    assert expected in text


def test_delimiter_drift_needs_two_seeds_per_method():
    table = metrics({("grpo", 0): [10, 10], ("rredcot", 0): [10, 2]})
    assert "not testable" in "\n".join(delimiter_drift_lines(table, final_window=1, verdict_z=2.0))


def test_delimiter_drift_absent_from_old_logs():
    assert (
        delimiter_drift_lines(
            pd.DataFrame({"method": ["grpo"], "seed": [0], "step": [1]}), final_window=1, verdict_z=2.0
        )
        == []
    )


def test_machine_lines_group_identical_machines():
    record = {
        "cpu_model": "X",
        "cpu_flags": ["avx2"],
        "torch_cpu_capability": "AVX2",
        "logical_cpus": 2,
        "gpu": None,
        "python": "3.11.7",
        "libraries": {"torch": "2.13.0"},
    }
    text = "\n".join(
        machine_lines(
            {
                "base_model": {**record, "torch_threads": 2},
                "grpo/seed0": {**record, "torch_threads": 1},
                "other": {**record, "cpu_model": "Y", "torch_threads": 1},
            }
        )
    )
    assert text.count("| X (2 logical CPUs)") == 1 and "| Y (2 logical CPUs)" in text
    assert "base_model (2 threads), grpo/seed0 (1 threads)" in text
    assert machine_lines({}) == []


def test_ablation_lines_mean_sd_and_single_runs():
    ablations = {
        "sigma_mix": {
            "GRPO": ["grpo/seed0", "grpo/seed1"],
            "mix 0": ["rredcot_mix0/seed0"],
            "mix 1": ["rredcot_mix1/seed0"],
        }
    }
    text = "\n".join(ablation_test_lines(ablations, EVALS, BENCHMARKS, ["grpo", "rredcot"]))
    assert "| GRPO | 2 | 0.550 ± 0.071 | 0.700 ± 0.141 | 0.400 ± 0.000 |" in text
    assert "| mix 0 | 1 | 0.400 | 0.600 | 0.200 |" in text  # one run: no SD
    assert "mix 1" not in text  # not evaluated: left out


def test_an_ablation_with_one_evaluated_label_gets_no_table():
    """Only the main runs evaluated, not the variant: a table would repeat them under the ablation's name."""
    ablations = {
        "sigma_mode": {"GRPO": ["grpo/seed0"], "RREDCoT": ["rredcot/seed0"], "clip": ["rredcot_clip/seed0"]}
    }
    assert ablation_test_lines(ablations, EVALS, BENCHMARKS, ["grpo", "rredcot"]) == []


def test_machine_records_keep_the_given_order_and_skip_models_without_one(tmp_path):
    from rredcot.io import read_json, write_json
    from rredcot.pipeline.machine import collect_machines

    dirs = [tmp_path / name for name in ("rredcot", "missing", "grpo")]
    for d, cpu in ((dirs[0], "X"), (dirs[2], "Y")):
        write_json(d / "machine.json", {"cpu_model": cpu})
    collect_machines([str(d) for d in dirs], tmp_path / "machines.json", tmp_path / "log")
    assert read_json(tmp_path / "machines.json") == [
        {"model": str(dirs[0]), "machine": {"cpu_model": "X"}},
        {"model": str(dirs[2]), "machine": {"cpu_model": "Y"}},
    ]
    assert (tmp_path / "log").read_text() == "2 of 3 model directories have a machine.json\n"
