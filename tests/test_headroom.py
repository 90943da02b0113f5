"""The credit testbed's positive control: hand-worked crossings, the recovered share, and too few seeds."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from synthetic_logs import assert_figure

from rredcot.artifacts.headroom import recovered_share, write_headroom
from rredcot.artifacts.logs import load_eval, load_metrics
from rredcot.io import write_json, write_jsonl

# accuracy at step s: GRPO reaches 0.6 at its last step 20; the oracle reaches 0.6 at step 8 (0.3 + 0.04·8)
SLOPES = {"grpo": 0.015, "oracle": 0.04, "rredcot": 0.016}
EVALS = {"grpo": [0.5, 0.6, 0.7], "oracle": [0.8, 0.8, 0.8], "rredcot": [0.65, 0.65, 0.65]}


def write_logs(root, seeds=(0, 1, 2)):
    metrics, evals = [], [root / "eval" / "base" / "in_dist.json"]
    write_json(evals[0], {"benchmark": "in_dist", "avg_at_n": 0.3})
    for arm, slope in SLOPES.items():
        for seed in seeds:
            path = root / "train" / arm / f"seed{seed}" / "metrics.jsonl"
            write_jsonl(path, [{"step": s, "accuracy": min(0.9, 0.3 + slope * s)} for s in range(1, 21)])
            metrics.append(path)
            path = root / "eval" / arm / f"seed{seed}" / "in_dist.json"
            write_json(path, {"benchmark": "in_dist", "avg_at_n": EVALS[arm][seed]})
            evals.append(path)
    return load_metrics(metrics), load_eval(evals)


def make(tmp_path, metrics, evals, **overrides):
    out = {name: tmp_path / f"headroom.{name}" for name in ("csv", "tex", "md", "pdf", "png")}
    settings = dict(
        baseline="grpo", control="oracle", compared=["rredcot"], benchmark="in_dist", smooth_window=1,
        final_window=1, max_step_fraction=0.5, min_seeds=3, min_baseline_gain=0.05, ci_level=0.95,
        bootstrap_resamples=200, seed=0,
    )  # fmt: skip
    write_headroom(metrics, evals, **out, **{**settings, **overrides})
    return out


def test_the_oracle_crossing_at_40_percent_of_the_steps_shows_headroom(tmp_path):
    out = make(tmp_path, *write_logs(tmp_path))
    table = pd.read_csv(out["csv"])
    oracle = table[table["arm"] == "oracle"]
    assert oracle["steps_to_threshold"].tolist() == [8, 8, 8]
    assert table[table["arm"] == "grpo"]["steps_to_threshold"].tolist() == [20, 20, 20]
    assert table[table["arm"] == "rredcot"]["steps_to_threshold"].tolist() == [19, 19, 19]  # 0.3 + 0.016·19
    md = out["md"].read_text()
    assert "by step 8 of 20 (40%; needed ≤ 50%): headroom **shown**" in md
    assert "rredcot recovers 0.25" in md  # (0.65 − 0.6) / (0.8 − 0.6)
    assert "Mean over seeds on in_dist: grpo 0.600, oracle 0.800, rredcot 0.650." in md
    assert_figure(out["pdf"], out["png"])


def test_a_stricter_budget_fails_and_too_few_seeds_are_not_testable(tmp_path):
    metrics, evals = write_logs(tmp_path)
    assert "headroom **not shown**" in make(tmp_path, metrics, evals, max_step_fraction=0.3)["md"].read_text()
    few = write_logs(tmp_path / "few", seeds=(0, 1))
    text = make(tmp_path / "few", *few)["md"].read_text()
    assert "not testable: 2 grpo and 2 oracle seeds, 3 needed" in text
    assert "read only where the headroom is shown" in text


def test_a_baseline_that_does_not_learn_leaves_the_control_not_testable(tmp_path, monkeypatch):
    """GRPO flat at chance (0.1 at every step): any arm reaches its 'final accuracy' at step 1, which is no
    headroom; the control says not testable, naming why."""
    monkeypatch.setitem(SLOPES, "grpo", 0.0)
    monkeypatch.setitem(SLOPES, "oracle", 0.0)
    text = make(tmp_path, *write_logs(tmp_path))["md"].read_text()
    assert "headroom **not testable: GRPO does not learn here (0.300 over its first 1 steps, 0.300" in text
    assert "+0.050 needed" in text


def test_recovered_share_is_undefined_without_an_oracle_gain():
    per_seed = pd.DataFrame(
        {"arm": ["grpo", "oracle", "rredcot"] * 2, "seed": [0, 0, 0, 1, 1, 1], "eval": [0.5] * 6}
    )
    share, interval = recovered_share(per_seed, "grpo", "oracle", "rredcot", 50, 0.95, 0)
    assert math.isnan(share) and all(math.isnan(x) for x in interval)


def test_recovered_share_is_undefined_where_the_oracle_loses_on_average():
    """Gains +0.01, +0.01, −0.04: some resamples show a gain, but the share of a loss is no share, and an
    interval over the draws that happen to show a gain would describe a gain the data do not show."""
    per_seed = pd.DataFrame(
        {
            "arm": ["grpo"] * 3 + ["oracle"] * 3 + ["rredcot"] * 3,
            "seed": [0, 1, 2] * 3,
            "eval": [0.92, 0.92, 0.92] + [0.93, 0.93, 0.88] + [0.92, 0.93, 0.91],
        }
    )
    share, interval = recovered_share(per_seed, "grpo", "oracle", "rredcot", 400, 0.95, 0)
    assert math.isnan(share) and all(math.isnan(x) for x in interval)


@pytest.mark.parametrize("missing", ["oracle", "rredcot"])
def test_recovered_share_needs_every_arm(missing):
    per_seed = pd.DataFrame({"arm": ["grpo", "oracle", "rredcot"], "seed": [0] * 3, "eval": [0.5, 0.7, 0.6]})
    share, _ = recovered_share(per_seed[per_seed["arm"] != missing], "grpo", "oracle", "rredcot", 50, 0.95, 0)
    assert math.isnan(share)
