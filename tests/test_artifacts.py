"""Tables, figures and the replication report, built from small synthetic logs written into tmp_path.

The logs follow the formats the pipeline writes (rredcot/pipeline/metrics.py, rredcot/pipeline/evaluate.py,
rredcot/pipeline/analysis.py); nothing here trains or samples. Tables are checked against numbers computed by
hand from those logs.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib import pyplot as plt
from synthetic_logs import (
    ARTIFACTS,
    BENCHMARKS,
    EVAL_VALUES,
    METHODS,
    REPO,
    SCHEMA,
    SEEDS,
    assert_figure,
    config_for,
    make_trace,
    write_credit,
    write_evals,
    write_metrics,
    write_segmentation,
)

from rredcot.artifacts import assumptions, figures, report, sections, tables, verdicts
from rredcot.artifacts.claims import CLAIMS, Logs, evaluate_claims
from rredcot.artifacts.logs import (
    MC,
    correlation,
    load_benchmark_cost,
    load_credit,
    load_eval,
    load_metrics,
    pooled_credits,
    sample_efficiency,
    segment_credits,
)
from rredcot.artifacts.make import make, maker
from rredcot.artifacts.makers import MAKERS
from rredcot.io import write_json, write_jsonl


@pytest.fixture(autouse=True, scope="module")
def low_resolution():
    """Small PNGs: the tests check that figures are written, not how they look; this keeps them fast."""
    with plt.rc_context({"savefig.dpi": 40}):
        yield


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    return {
        "root": root,
        "evals": write_evals(root),
        "metrics": write_metrics(root),
        "credit": write_credit(root),
        "segmentation": write_segmentation(root),
    }


def paper_logs(logs, config=None) -> Logs:
    config = config or config_for()
    return Logs(
        config=config,
        evals=load_eval(logs["evals"]),
        metrics=load_metrics(logs["metrics"]),
        traces=load_credit(logs["credit"]),
        paper_tables={
            n: tables.read_paper_table(REPO / "paper_tables/paper" / f"{n}.csv") for n in ("table1", "table2")
        },
        paper_claims=tables.read_paper_claims(REPO / "paper_tables/paper/claims.csv"),
    )


# ------------------------------------------------------------------------------------------- paper numbers
PAPER_MD = REPO / report.PAPER  # the repository's account of the paper, which the report cites


def _markdown_tables(text: str) -> list[list[list[str]]]:
    found, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


@pytest.mark.parametrize("name,header", [("table1", "benchmark | base | GRPO"), ("table2", "Open-RS")])
def test_paper_tables_match_the_account_of_the_paper(name, header):
    tables_md = [t for t in _markdown_tables(PAPER_MD.read_text()) if header.split(" | ")[-1] in t[0]]
    assert len(tables_md) == 1
    expected = tables_md[0]
    csv = pd.read_csv(REPO / "paper_tables" / "paper" / f"{name}.csv", dtype=str)
    assert list(csv.columns) == expected[0]
    assert csv.values.tolist() == expected[1:]


def test_paper_claims_are_quoted_from_the_account_of_the_paper():
    text = PAPER_MD.read_text()
    claims = pd.read_csv(REPO / "paper_tables" / "paper" / "claims.csv", dtype=str)
    for row in claims.itertuples():
        assert row.quote in text, row.key
        assert row.as_written in row.quote, row.key
        assert float(Fraction(row.as_written)) == pytest.approx(float(row.value)), row.key


# -------------------------------------------------------------------------------------------------- tables
def test_table1_numbers_equal_hand_computed_mean_and_sd(logs, tmp_path):
    out = {ext: tmp_path / f"table1.{ext}" for ext in ("csv", "tex", "md")}
    make(
        "table1",
        inputs={
            "evals": [str(p) for p in logs["evals"]],
            "paper": str(REPO / "paper_tables/paper/table1.csv"),
        },
        outputs=out,
        params={
            "name": "table1",
            "methods": METHODS,
            "benchmarks": BENCHMARKS,
            "paper_rows": {},
            "scale": "test",
            "metric": "avg_at_n",
        },
    )
    table = pd.read_csv(out["csv"]).set_index("benchmark")
    # in_dist: GRPO 0.5, 0.6, 0.7 -> 0.6 ± 0.1; RREDCoT 0.8, 0.85, 0.9 -> 0.85 ± 0.05
    assert table.loc["in_dist", "grpo_mean"] == pytest.approx(0.6)
    assert table.loc["in_dist", "grpo_sd"] == pytest.approx(0.1)
    assert table.loc["in_dist", "rredcot_mean"] == pytest.approx(0.85)
    assert table.loc["in_dist", "rredcot_sd"] == pytest.approx(0.05)
    assert table.loc["in_dist", "base"] == pytest.approx(0.30)
    # more_steps: RREDCoT 0.40, 0.45, 0.35 -> 0.40 ± 0.05
    assert table.loc["more_steps", "rredcot_mean"] == pytest.approx(0.40)
    assert table.loc["more_steps", "rredcot_sd"] == pytest.approx(0.05)
    assert table.loc["more_steps", "grpo_n"] == 3
    # mean row: per seed the average over benchmarks, GRPO 0.35, 0.425, 0.5 -> 0.425 ± 0.075
    assert table.loc["mean", "grpo_mean"] == pytest.approx(0.425)
    assert table.loc["mean", "grpo_sd"] == pytest.approx(0.075)
    assert table.loc["mean", "base"] == pytest.approx(0.20)
    md = out["md"].read_text()
    assert "0.600 ± 0.100" in md and "0.850 ± 0.050" in md and "not comparable" in md
    assert r"\begin{tabular}" in out["tex"].read_text() and r"$\pm$" in out["tex"].read_text()


def test_table2_with_paper_rows_shows_the_papers_numbers(logs, tmp_path):
    evals = load_eval(logs["evals"])
    rows = {"in_dist": "AMC23", "more_steps": "MATH500"}
    data, display, title, _ = tables.build_comparison(
        "table2",
        evals,
        methods=METHODS,
        benchmarks=BENCHMARKS,
        paper=tables.read_paper_table(REPO / "paper_tables/paper/table2.csv"),
        paper_rows=rows,
        scale="nano",
        metric="avg_at_n",
    )
    data = data.set_index("benchmark")
    assert "base" not in data.columns
    assert data.loc["in_dist", "paper_grpo"] == pytest.approx(0.725)
    assert data.loc["more_steps", "paper_rredcot"] == pytest.approx(0.858)
    assert data.loc["mean", "paper_grpo"] == pytest.approx((0.725 + 0.848) / 2)
    assert "paper Open-RS" in display.columns
    with pytest.raises(ValueError, match="not a row"):
        tables.build_comparison(
            "table2",
            evals,
            methods=METHODS,
            benchmarks=BENCHMARKS,
            paper=tables.read_paper_table(REPO / "paper_tables/paper/table2.csv"),
            paper_rows={"in_dist": "AIME99"},
            scale="nano",
            metric="avg_at_n",
        )


def test_single_seed_table_shows_no_sd(tmp_path):
    values = {"base": {"in_dist": 0.1}, "grpo/seed0": {"in_dist": 0.4}, "rredcot/seed0": {"in_dist": 0.5}}
    evals = load_eval(write_evals(tmp_path, values))
    data, display, _, _ = tables.build_comparison(
        "table1",
        evals,
        methods=METHODS,
        benchmarks=["in_dist"],
        paper=tables.read_paper_table(REPO / "paper_tables/paper/table1.csv"),
        paper_rows={},
        scale="t",
        metric="avg_at_n",
    )
    assert math.isnan(data.loc[0, "grpo_sd"])
    assert display.loc[0, "GRPO"] == "0.400 (1 seed)"


def test_cost_table_numbers_equal_the_logs(logs, tmp_path):
    out = {ext: tmp_path / f"cost.{ext}" for ext in ("csv", "tex", "md")}
    make(
        "compute_cost_logged",
        inputs={
            "metrics": [str(p) for p in logs["metrics"]],
            "traces": str(logs["credit"]),
            "claims": str(REPO / "paper_tables/paper/claims.csv"),
        },
        outputs=out,
        params={"variant": "reference/log", "scale": "test"},
    )
    table = pd.read_csv(out["csv"], keep_default_na=False)
    value = {(r.quantity, r.subject): float(r.value) for r in table.itertuples()}
    # step times cycle 1.00/1.01/1.02 (GRPO) and 1.10/1.11/1.12 (RREDCoT): medians 1.01 and 1.11
    assert value[("step time", "grpo")] == pytest.approx(1.01)
    assert value[("step time", "rredcot")] == pytest.approx(1.11)
    assert value[("step time ratio", "rredcot/grpo")] == pytest.approx(1.11 / 1.01)
    assert value[("value estimation time per step", "rredcot")] == pytest.approx(0.05)
    traces = load_credit(logs["credit"])
    mc = sum(t["mc"]["seconds"] for t in traces)
    ours = sum(t["value_seconds"]["reference/log"] for t in traces)
    assert value[("value / MC time", "RREDCoT reference/log / MC")] == pytest.approx(ours / mc)
    assert "1.5–2" in table["paper"].tolist()


# ------------------------------------------------------------------------------------------------- figures
def test_every_figure_is_written_as_pdf_and_png(logs, tmp_path):
    traces = load_credit(logs["credit"])
    metrics = load_metrics(logs["metrics"])
    claims = tables.read_paper_claims(REPO / "paper_tables/paper/claims.csv")
    out = lambda name: {"pdf": tmp_path / f"{name}.pdf", "png": tmp_path / f"{name}.png"}  # noqa: E731
    figures.training_curves(
        metrics, **out("curves"), threshold_fraction=0.9, smooth_window=3, final_window=5, scale="test"
    )
    figures.fig3_mc_cost(
        traces,
        **out("fig3"),
        variant="reference/log",
        extra_traces=[t for p in logs["segmentation"] for t in load_credit(p)],
        claims=claims,
    )
    figures.fig7_mc_sd(
        traces, **out("fig7"), max_samples=20, n_resamples=50, n_bins=4, claims={"mc_sd_samples": 5}
    )
    figures.fig4_estimator_correlation(traces, **out("fig4"), n_bins=4, n_resamples=20)
    figures.ablation_segmentation(
        {Path(p).stem: load_credit(p) for p in logs["segmentation"]},
        **out("seg"),
        variant="reference/log",
        n_resamples=20,
    )
    figures.ablation_estimator(traces, **out("est"), n_resamples=20)
    for name in ("curves", "fig3", "fig7", "fig4", "seg", "est"):
        assert_figure(**out(name))


def test_rules_make_figures_by_name_and_training_ablation_groups(logs, tmp_path):
    grpo = [str(p) for p in logs["metrics"] if "/grpo/" in str(p)]
    ours = [str(p) for p in logs["metrics"] if "/rredcot/" in str(p)]
    make(
        "ablation_training",
        inputs={"metrics": grpo + ours, "evals": [str(p) for p in logs["evals"]]},
        outputs={"pdf": str(tmp_path / "a.pdf"), "png": str(tmp_path / "a.png")},
        params={
            "groups": {"plain": [f"grpo/seed{s}" for s in SEEDS], "sigma mix 0.5": ["rredcot/seed0"]},
            "benchmarks": BENCHMARKS,
            "metric": "avg_at_n",
            "smooth_window": 3,
            "ci_level": 0.95,
            "title": "",
        },
    )
    make(
        "fig4_estimator_correlation",
        inputs={"traces": str(logs["credit"])},
        outputs={"pdf": str(tmp_path / "f.pdf"), "png": str(tmp_path / "f.png")},
        params={"n_bins": 4, "n_resamples": 20, "method": "spearman", "scale": "test"},
    )
    assert_figure(tmp_path / "a.pdf", tmp_path / "a.png")
    assert_figure(tmp_path / "f.pdf", tmp_path / "f.png")


def test_degenerate_inputs_do_not_crash(tmp_path):
    rng = np.random.default_rng(0)
    flat = []
    for i in range(5):
        trace = make_trace(rng, i, n_seg=3)
        trace["mc"]["outcomes"] = [[0] * 8 for _ in trace["mc"]["outcomes"]]  # constant MC credit
        trace["values"] = {"reference/log": [-1.0] * 4, "reference/linear": [float("-inf")] * 4}
        flat.append(trace)
    one_segment = make_trace(rng, 9, n_seg=1, n_mc=1)
    no_segment = make_trace(rng, 10, n_seg=1)
    no_segment.update(boundaries=[0], rel_position=[], attribution={}, spans=[[0, 5]])
    no_segment["values"] = {"reference/log": [-0.5]}
    no_segment["mc"]["outcomes"] = [[1, 0]]
    plots = {
        "fig4": lambda traces, out: figures.fig4_estimator_correlation(
            traces, **out, n_bins=4, n_resamples=10
        ),
        "fig7": lambda traces, out: figures.fig7_mc_sd(
            traces, **out, max_samples=20, n_resamples=20, n_bins=4
        ),
        "fig3": lambda traces, out: figures.fig3_mc_cost(traces, **out, variant="reference/log"),
        "est": lambda traces, out: figures.ablation_estimator(traces, **out, n_resamples=10),
        "seg": lambda traces, out: figures.ablation_segmentation(
            {"only": traces}, **out, variant="reference/log", n_resamples=10
        ),
    }
    cases = {
        "flat": (flat, ["fig4", "fig7", "fig3", "est", "seg"]),
        "tiny": ([one_segment, no_segment], ["fig4", "fig7"]),
        "empty": ([], ["fig3", "seg"]),
    }
    for name, (traces, which) in cases.items():
        for fig in which:
            out = {"pdf": tmp_path / f"{name}_{fig}.pdf", "png": tmp_path / f"{name}_{fig}.png"}
            plots[fig](traces, out)
            assert_figure(**out)
    credits = pooled_credits(flat)
    assert math.isnan(correlation(credits[MC], credits["RREDCoT reference/log"]))
    assert credits["RREDCoT reference/linear"].isna().all()  # -inf - -inf: undefined, not a crash
    # training logs: one seed, no accuracy column, no runs at all
    one = load_metrics(write_metrics(tmp_path / "one", seeds=[0]))
    no_acc = load_metrics(write_metrics(tmp_path / "noacc", accuracy=False))
    for name, metrics in {"one": one, "noacc": no_acc}.items():
        figures.training_curves(
            metrics,
            pdf=tmp_path / f"c_{name}.pdf",
            png=tmp_path / f"c_{name}.png",
            threshold_fraction=0.9,
            smooth_window=3,
            final_window=5,
        )
        assert_figure(tmp_path / f"c_{name}.pdf", tmp_path / f"c_{name}.png")
    # the report on degenerate logs: verdicts fall back to "not testable", never an exception
    config = config_for()
    degenerate = Logs(
        config=config,
        evals=load_eval(write_evals(tmp_path / "ev", {"grpo/seed0": {"in_dist": 0.1}})),
        metrics=one,
        traces=flat,
        paper_tables={
            n: tables.read_paper_table(REPO / "paper_tables/paper" / f"{n}.csv") for n in ("table1", "table2")
        },
        paper_claims=tables.read_paper_claims(REPO / "paper_tables/paper/claims.csv"),
    )
    claims = {c.key: c.verdict.verdict for c in evaluate_claims(degenerate)}
    for key in ("table1", "rl_vs_base", "tracks_mc", "attributions_agree", "mc_sd", "sample_efficiency"):
        assert claims[key] == verdicts.NOT_TESTABLE, key


def test_bad_credit_log_names_the_line(tmp_path):
    trace = make_trace(np.random.default_rng(0), 0, n_seg=3)
    trace["values"]["reference/log"] = trace["values"]["reference/log"][:-1]
    write_jsonl(tmp_path / "bad.jsonl", [trace])
    with pytest.raises(ValueError, match=r"line 1 \(id 'p0'\).*reference/log"):
        load_credit(tmp_path / "bad.jsonl")


def test_segment_credits_follow_their_definitions():
    trace = make_trace(np.random.default_rng(1), 0, n_seg=4)
    credits = segment_credits(trace)
    means = [np.mean(o) for o in trace["mc"]["outcomes"]]
    np.testing.assert_allclose(credits[MC], np.diff(means))
    np.testing.assert_allclose(credits["RREDCoT reference/log"], np.diff(trace["values"]["reference/log"]))
    np.testing.assert_allclose(credits["LOO"], trace["attribution"]["loo"])


# -------------------------------------------------------------------------------------------------- verdicts
def test_improvement_rule_on_hand_made_cases():
    rule = {"z": 2, "min_seeds": 2, "effect": 0.1}
    verdict, diff, se = verdicts.verdict_improvement([0.8, 0.85, 0.9], [0.5, 0.6, 0.7], **rule)
    assert verdict.verdict == verdicts.REPRODUCED  # Δ = 0.25, SE = sqrt(0.0025/3 + 0.01/3) = 0.0645
    assert diff == pytest.approx(0.25) and se == pytest.approx(math.sqrt(0.0125 / 3))
    # Δ = 0.02, SE = sqrt(0.0144/3 + 0.01/3) = 0.0902: Δ ± 2 SE = [-0.160, 0.200] holds 0 and the effect 0.1
    # (this case was "not reproduced" before the inconclusive verdict existed)
    verdict, _, _ = verdicts.verdict_improvement([0.62, 0.50, 0.74], [0.5, 0.6, 0.7], **rule)
    assert verdict.verdict == verdicts.INCONCLUSIVE
    assert "about 40 seeds per side (here 3)" in verdict.reason  # ceil(3 · (4 · 0.0902 / 0.1)²) = 40
    verdict, _, _ = verdicts.verdict_improvement([0.4, 0.5], [0.5, 0.6], **rule)
    assert verdict.verdict == verdicts.NOT_REPRODUCED  # Δ = -0.1, Δ + 2 SE = 0.041 < 0.1: effect ruled out
    verdict, _, _ = verdicts.verdict_improvement([0.4, 0.5], [0.5, 0.6], **{**rule, "effect": 0.03})
    assert verdict.verdict == verdicts.INCONCLUSIVE  # the same data cannot rule out a smaller effect
    verdict, _, _ = verdicts.verdict_improvement([0.9], [0.1], **rule)
    assert verdict.verdict == verdicts.NOT_TESTABLE  # one seed: no spread to compare against
    verdict, _, _ = verdicts.verdict_improvement([0.3, 0.32], 0.1, **rule)
    assert verdict.verdict == verdicts.REPRODUCED  # against a single evaluation
    verdict, _, _ = verdicts.verdict_improvement([0.0, 0.0], [0.0, 0.0], **rule, bounds=(0, 1))
    assert verdict.verdict == verdicts.NOT_TESTABLE  # nothing solved by either side: floor


def test_threshold_and_interval_rules_on_hand_made_cases():
    rule = {"n_traces": 20, "min_traces": 10, "effect": 0.2}
    assert verdicts.verdict_interval(0.3, 0.1, 0.5, **rule).verdict == verdicts.REPRODUCED
    small = verdicts.verdict_interval(0.1, 0.05, 0.15, **rule)
    assert small.verdict == verdicts.REPRODUCED and "below the effect of interest" in small.reason
    # [-0.1, 0.5] holds 0 and the effect 0.2 (was "not reproduced" before the inconclusive verdict)
    wide = verdicts.verdict_interval(0.3, -0.1, 0.5, **rule)
    assert wide.verdict == verdicts.INCONCLUSIVE
    assert "about 180 traces (here 20)" in wide.reason  # ceil(20 · (0.6 / 0.2)²)
    assert verdicts.verdict_interval(0.05, -0.1, 0.15, **rule).verdict == verdicts.NOT_REPRODUCED
    assert verdicts.verdict_interval(-0.3, -0.5, -0.1, **rule).verdict == verdicts.NOT_REPRODUCED
    assert (
        verdicts.verdict_interval(0.3, 0.1, 0.5, **{**rule, "n_traces": 5}).verdict == verdicts.NOT_TESTABLE
    )
    assert verdicts.verdict_interval(math.nan, 0.1, 0.5, **rule).verdict == verdicts.NOT_TESTABLE
    assert verdicts.verdict_below(0.08, 0.1, "sd").verdict == verdicts.REPRODUCED
    assert verdicts.verdict_below(0.12, 0.1, "sd").verdict == verdicts.NOT_REPRODUCED
    assert verdicts.verdict_at_most(0.02, 0.2, "r").verdict == verdicts.REPRODUCED
    assert verdicts.verdict_at_most(0.5, 0.2, "r").verdict == verdicts.NOT_REPRODUCED
    combined = verdicts.combine(
        [verdicts.Verdict(verdicts.REPRODUCED, "a"), verdicts.Verdict(verdicts.INCONCLUSIVE, "b")]
    )
    assert combined.verdict == verdicts.INCONCLUSIVE


# The controls pass: RREDCoT's synthetic runs, standing in for the exact oracle, reach GRPO's final training
# accuracy at about step 12 of 30, and the configured estimator meets both value-sanity targets.
PASSING_CONTROLS = {"baseline": "grpo", "control": "rredcot", "compared": [], "benchmark": "in_dist",
                    "max_step_fraction": 0.5, "min_seeds": 3, "min_baseline_gain": 0.05}  # fmt: skip
SANITY = {
    "summary": {
        "targets": {"spearman": 0.5, "drop_share": 0.9},
        "estimators": {"reference": {"spearman": 0.8, "drop_share": 0.95, "meets_targets": True}},
    }
}


# compute_cost.csv as benchmarks/cost_log.py writes it (smoke: n_mc_samples 4, estimator reference)
BENCHMARK_HEADER = (
    "benchmark,setting,quantity,min,median,repeats,model,params,machine,versions,recorded_at,load_1min"
)


def benchmark_cost(tmp_path: Path, rows: list[str]) -> pd.DataFrame:
    path = tmp_path / "compute_cost.csv"
    path.write_text("\n".join([BENCHMARK_HEADER, *rows]) + "\n")
    return load_benchmark_cost(path)


def step_row(median: float, repeats: int, load: str, when: str) -> str:
    context = f"base,1000,x86 2 cores,py,{when},{load}"
    return f"step_time,rredcot/grpo,step_time_ratio,{median * 0.9},{median},{repeats},{context}"


def value_row(samples: int, median: float, load: str = "0.1") -> str:
    setting = f'"boundaries=16, mc_samples={samples}"'
    return (
        f"value_scoring,{setting},mc_over_reference,40,{median},5,base,1000,x86,py,2026-12-04T10:00:00,{load}"
    )


QUIET_COST = [step_row(1.1, 6, "0.1", "2026-12-04T10:00:00"), value_row(4, 50.0)]


def test_claims_from_synthetic_logs(logs, tmp_path):
    config = config_for({**ARTIFACTS, "headroom": PASSING_CONTROLS})
    gated = paper_logs(logs, config)
    gated.value_sanity = SANITY
    gated.benchmark_cost = benchmark_cost(tmp_path, QUIET_COST)
    claims = {c.key: c for c in evaluate_claims(gated)}
    verdict = {k: c.verdict.verdict for k, c in claims.items()}
    assert verdict["table1"] == verdicts.REPRODUCED  # RREDCoT seeds beat GRPO's by 0.225 ± 0.05
    assert verdict["rl_vs_base"] == verdicts.REPRODUCED
    assert verdict["table2"] == verdicts.NOT_TESTABLE  # no benchmark mapped to Table 2 at this scale
    assert verdict["tracks_mc"] == verdicts.REPRODUCED  # by construction of the synthetic credits
    assert verdict["attributions_agree"] == verdicts.REPRODUCED
    assert verdict["value_cost"] == verdicts.REPRODUCED  # MC takes 50× the values' time: 0.02 ≤ 0.2
    assert verdict["train_cost"] == verdicts.REPRODUCED  # 1.1×: the paper's 1.5–2× is an upper bound
    assert verdict["sample_efficiency"] == verdicts.REPRODUCED
    assert all(v in verdicts.VERDICTS for v in verdict.values())
    assert "+0.023" in claims["table1"].paper  # the paper's mean gain over its five benchmarks


def test_cost_verdicts_read_the_latest_quiet_benchmark_row_and_never_the_pipeline_s_step_times(
    logs, tmp_path
):
    """Among the rows of one quantity, only those measured on a quiet machine with ≥ 3 repeats count, the
    latest first; the pipeline's step times (1.1× in the synthetic metrics) are not read at all."""
    gated = paper_logs(logs)
    gated.benchmark_cost = benchmark_cost(
        tmp_path,
        [
            step_row(1.2, 6, "0.1", "2026-12-01T10:00:00"),
            step_row(2.6, 6, "0.2", "2026-12-03T10:00:00"),  # the latest quiet row: read
            step_row(1.3, 6, "1.8", "2026-12-04T10:00:00"),  # busy machine: skipped
            step_row(1.4, 2, "0.1", "2026-12-04T11:00:00"),  # too few repeats: skipped
            value_row(4, 4.0),  # 1/4 = 0.25 > 0.1 × 2: fails
            value_row(20, 50.0),  # another MC sample count than the credit analysis's 4: not read
        ],
    )
    claims = {c.key: c for c in evaluate_claims(gated)}
    train, value = claims["train_cost"], claims["value_cost"]
    assert train.verdict.verdict == verdicts.NOT_REPRODUCED and train.ours.startswith("2.6×")
    assert "load average 0.2" in train.run and "2026-12-03T10:00:00" in train.run
    assert value.verdict.verdict == verdicts.NOT_REPRODUCED and value.ours.startswith("0.25 ")
    assert "mc_samples=4" in value.run


def test_cost_verdicts_without_a_quiet_benchmark_row_are_not_testable_and_say_why(logs, tmp_path):
    gated = paper_logs(logs)  # no compute_cost.csv at all
    claims = {c.key: c for c in evaluate_claims(gated)}
    for key, script in (("train_cost", "step_time"), ("value_cost", "value_scoring")):
        assert claims[key].verdict.verdict == verdicts.NOT_TESTABLE
        assert f"no benchmarks/{script}.py row" in claims[key].verdict.reason
    gated.benchmark_cost = benchmark_cost(
        tmp_path, [step_row(1.1, 6, "1.8", "2026-12-04T10:00:00"), value_row(4, 50.0, load="")]
    )
    claims = {c.key: c for c in evaluate_claims(gated)}
    assert claims["train_cost"].verdict.verdict == verdicts.NOT_TESTABLE
    assert "latest: load 1.8, 6 repeats" in claims["train_cost"].verdict.reason
    assert "load not recorded" in claims["value_cost"].verdict.reason  # rows from before load_1min


def test_benchmark_rows_of_another_layout_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "compute_cost.csv"
    path.write_text("benchmark,setting,quantity,min,median,repeats\nstep_time,a,b,1,1,3\n")
    with pytest.raises(ValueError, match=r"compute_cost\.csv: no column \['model'"):
        load_benchmark_cost(path)


def test_claims_that_need_a_failed_control_are_not_testable_and_name_it(logs):
    """No positive control and no value sanity: training and credit claims are gated, the others are not."""
    claims = {c.key: c for c in evaluate_claims(paper_logs(logs))}
    for key in ("table1", "sample_efficiency"):
        reason = claims[key].verdict.reason
        assert claims[key].verdict.verdict == verdicts.NOT_TESTABLE
        assert "no positive control" in reason and "value sanity of the configured estimator" in reason
        assert "(ungated: reproduced" in reason  # the reading the gate held back stays visible
    tracks = claims["tracks_mc"].verdict
    assert tracks.verdict == verdicts.NOT_TESTABLE and "no positive control" not in tracks.reason
    assert claims["rl_vs_base"].verdict.verdict == verdicts.REPRODUCED  # not about RREDCoT's credit
    assert claims["attributions_agree"].verdict.verdict == verdicts.REPRODUCED
    failing = paper_logs(
        logs, config_for({**ARTIFACTS, "headroom": {**PASSING_CONTROLS, "max_step_fraction": 0.2}})
    )
    failing.value_sanity = copy.deepcopy(SANITY)
    failing.value_sanity["summary"]["estimators"]["reference"].update(spearman=0.24, meets_targets=False)
    reason = {c.key: c for c in evaluate_claims(failing)}["table1"].verdict.reason
    assert "exact-credit headroom not shown" in reason and "Spearman 0.24, needed ≥ 0.5" in reason


def test_an_effect_of_interest_in_the_config_replaces_the_paper_s_gain(logs):
    config = config_for({**ARTIFACTS, "headroom": PASSING_CONTROLS, "improvement_effect": 0.05})
    gated = paper_logs(logs, config)
    gated.value_sanity = SANITY
    claims = {c.key: c for c in evaluate_claims(gated)}
    assert "δ = +0.050 (artifacts.improvement_effect" in claims["table1"].rule
    assert "+0.05 (artifacts.improvement_effect [ours])" in claims["rl_vs_base"].rule


def test_the_registry_says_what_each_claim_reads_and_which_rule_judges_it(logs, tmp_path):
    """Each claim is testable on the synthetic logs, not testable once the logged data its entry reads is
    gone, and judged by the rule its entry names, one of the report's verdict rules."""
    config = config_for({**ARTIFACTS, "paper_rows": {"table1": {}, "table2": {"in_dist": "AMC23"}}})
    full = paper_logs(logs, config)
    full.benchmark_cost = benchmark_cost(tmp_path, QUIET_COST)
    empty = {
        "evals": load_eval([]),
        "metrics": load_metrics([]),
        "traces": None,
        "benchmark_cost": load_benchmark_cost(None),
    }
    for entry in CLAIMS:
        reading = entry.read(full)
        assert reading.verdict.verdict != verdicts.NOT_TESTABLE, (entry.key, reading.verdict.reason)
        assert reading.rule.startswith(entry.judged_by) and f"**{entry.judged_by}**" in verdicts.__doc__
        without = dataclasses.replace(full, **{name: empty[name] for name in entry.reads})
        assert entry.read(without).verdict.verdict == verdicts.NOT_TESTABLE, entry.key


def test_sample_efficiency_counts_steps_by_hand(tmp_path):
    rows = {"grpo": [0.0, 0.2, 0.5, 0.9, 1.0, 1.0], "rredcot": [0.0, 0.95, 1.0, 1.0, 1.0, 1.0]}
    paths = []
    for method, accs in rows.items():
        path = tmp_path / "train" / method / "seed0" / "metrics.jsonl"
        write_jsonl(
            path,
            [{"step": i + 1, "accuracy": a, "generated_tokens": 10.0 * (i + 1)} for i, a in enumerate(accs)],
        )
        paths.append(path)
    eff = sample_efficiency(load_metrics(paths), fraction=0.9, smooth_window=1, final_window=2)
    assert eff.threshold == pytest.approx(0.9)  # 0.9 × GRPO's final (mean of the last two steps: 1.0)
    assert eff.steps == {"grpo": [4.0], "rredcot": [2.0]}
    assert eff.tokens == {"grpo": [40.0], "rredcot": [20.0]}


# -------------------------------------------------------------------------------------------------- report
def make_report(logs, root: Path, config: dict, inputs=None, params=None) -> Path:
    """The report of ``logs`` as the rule makes it, under ``root`` (which stands for the repository);
    ``inputs`` and ``params`` replace the rule's here. Returns the scale's report (its copy is root's)."""
    out = root / "paper_tables" / "test" / "REPLICATION.md"
    machines = root / "machines.json"
    machines.write_text("[]\n")  # no model directory had a machine.json
    make(
        "replication_report",
        inputs={
            "machines": str(machines),
            "evals": [str(p) for p in logs["evals"]],
            "metrics": [str(p) for p in logs["metrics"]],
            "traces": str(logs["credit"]),
            "draws": [],
            "paper_tables": [str(REPO / f"paper_tables/paper/{name}.csv") for name in ("table1", "table2")],
            "claims": str(REPO / "paper_tables/paper/claims.csv"),
            "schema": str(REPO / "experiments/schema.yaml"),
            "tables_md": [],
            "figures_png": [],
            "headroom": [],
            "benchmark_cost": [],
            **(inputs or {}),
        },
        outputs={"out": str(out), "published": str(root / "REPLICATION.md")},
        params={
            "config": config,
            "metric": "avg_at_n",
            "optional_evals": [],
            "named_only_figures": [],
            "captions": {},
            "targets": {},
            "snakemake_command": "snakemake --cores 2 {target}",
            **(params or {}),
        },
    )
    return out


def test_report_lists_claims_assumptions_and_commands(logs, tmp_path):
    config = config_for()
    config["analysis"] = {"n_mc_samples": 8, "segmentation_variants": ["hybrid_K4"]}
    table_md = tmp_path / "paper_tables" / "test" / "table1.md"
    table_md.parent.mkdir(parents=True)
    table_md.write_text("**Table 1**\n\n| a |\n|---|\n| 1 |\n")
    figure = str(tmp_path / "figures/test/fig4_estimator_correlation.png")
    rows = table_md.parent / "compute_cost.csv"
    rows.write_text("\n".join([BENCHMARK_HEADER, *QUIET_COST]) + "\n")
    out_scale = make_report(
        logs,
        tmp_path,
        config,
        inputs={"tables_md": [str(table_md)], "figures_png": [figure], "benchmark_cost": [str(rows)]},
        params={
            "captions": {figure: "Paper Fig. 4."},
            "targets": {"figures/test/fig4_estimator_correlation.pdf": "fig4_estimator_correlation"},
            "snakemake_command": "snakemake --cores 2 {target} --configfile experiments/test.yaml",
        },
    )
    out_top = tmp_path / "REPLICATION.md"
    text = out_scale.read_text()
    for claim in (
        "Table 1: RREDCoT improves on GRPO",
        "MC value SD",
        "1/10 of MC",
        "1.5–2× vanilla GRPO",
        "sample efficiency",
        "Gradient and LOO",
    ):
        assert claim in text
    verdicts = re.findall(
        r"\*\*(reproduced|not reproduced|inconclusive|not testable at this scale)\*\*", text
    )
    assert len(verdicts) == 2 * len(evaluate_claims(paper_logs(logs, config)))  # summary + detail
    assert "| `train.rredcot.sigma_mix` | `0.5` |" in text
    assert "`eval.benchmarks.in_dist.n_samples` | `4`" in text
    assert "`analysis.n_mc_samples` | `8`" in text
    assert (
        "`snakemake --cores 2 figures/test/fig4_estimator_correlation.pdf --configfile experiments/test.yaml`"
        in text
    )
    assert "(../../figures/test/fig4_estimator_correlation.png)" in text
    assert "| `rredcot.artifacts.figures.fig4_estimator_correlation` |" in text  # made by
    assert "(figures/test/fig4_estimator_correlation.png)" in out_top.read_text()
    assert f"[{report.PAPER}]" in text  # the account of the paper its claims and tags come from
    assert "| 1.5–2× | 1.1× (median of 6 paired steps, min 0.99×) | **reproduced** |" in text  # quiet rows
    assert "[compute_cost.csv](compute_cost.csv)" in text


def test_the_assumptions_table_describes_every_field_with_the_schema_s_description():
    """In every scale's config, each field of the table is described by the config's schema, its help text,
    and nowhere else."""
    configs = [yaml.safe_load(path.read_text()) for path in (REPO / "experiments").glob("*.yaml")]
    for config in [c for c in configs if c and "train" in c]:
        table = assumptions.assumptions_table(config, SCHEMA)
        open_fields = assumptions.ASSUMPTIONS
        fields = [name for dotted, _ in open_fields for name, _ in assumptions._lookup(config, dotted)]
        fields += [f"analysis.{key}" for key in config["analysis"]]
        for name in fields:
            described = assumptions.schema_description(SCHEMA, name)
            assert described, name
            assert f"| `{name}` |" in table and " | {} | ".format(described.replace("|", "\\|")) in table


def test_a_field_without_a_description_stops_the_report_naming_it():
    schema = copy.deepcopy(SCHEMA)
    del schema["properties"]["eval"]["properties"]["top_p"]["description"]
    config = yaml.safe_load((REPO / "experiments" / "smoke.yaml").read_text())
    with pytest.raises(ValueError, match=r"no description of eval\.top_p"):
        assumptions.assumptions_table(config, schema)


def build_artifacts(logs, root: Path, config: dict, evals=None) -> Path:
    """Table 1, the training curves and the report of ``logs`` under ``root``, with the paths a rule passes
    (relative to the working directory, ``root``) and the config's benchmark order. Returns the report."""
    evals = [str(p) for p in (evals or logs["evals"])]
    benchmarks = list(config["eval"]["benchmarks"])
    table = {ext: f"paper_tables/test/table1.{ext}" for ext in ("csv", "tex", "md")}
    make(
        "table1",
        inputs={"evals": evals, "paper": str(REPO / "paper_tables/paper/table1.csv")},
        outputs=table,
        params={
            "name": "table1",
            "methods": METHODS,
            "benchmarks": benchmarks,
            "paper_rows": {},
            "scale": "test",
            "metric": "avg_at_n",
        },
    )
    figure = {"pdf": "figures/test/training_curves.pdf", "png": "figures/test/training_curves.png"}
    make(
        "training_curves",
        inputs={"metrics": [str(p) for p in logs["metrics"]]},
        outputs=figure,
        params={"threshold_fraction": 0.5, "smooth_window": 3, "final_window": 5, "scale": "test"},
    )
    ablation = "figures/test/ablation_training_plain.png"  # named only, not built: its table is shown
    return make_report(
        logs,
        root,
        config,
        inputs={"evals": evals, "tables_md": [table["md"]], "figures_png": [figure["png"]]},
        params={
            "named_only_figures": [ablation],
            "captions": {figure["png"]: "Training curves.", ablation: "Training ablation."},
        },
    )


def test_the_same_logs_give_the_same_report_tables_and_figures_byte_for_byte(logs, tmp_path, monkeypatch):
    built = []
    for name in ("first", "second"):
        root = tmp_path / name
        root.mkdir()
        monkeypatch.chdir(root)
        build_artifacts(logs, root, config_for())
        built.append(
            {path.relative_to(root): path.read_bytes() for path in root.rglob("*") if path.is_file()}
        )
    # the report and its published copy, table1.{csv,tex,md}, the figure's pdf and png, the machines log read
    assert len(built[0]) == 8
    assert built[0] == built[1]


def test_the_config_s_benchmark_order_is_the_report_s(logs, tmp_path, monkeypatch):
    """Benchmarks listed more_steps before in_dist (not alphabetically): every table and list of the report
    that names both keeps that order."""
    order = ["more_steps", "in_dist"]
    config = config_for(
        {
            **ARTIFACTS,
            "controls": {"lr0": ["grpo_lr0/seed0"], "oracle": []},
            "training_ablations": {
                "plain": {"GRPO": ["grpo/seed0", "grpo/seed1"], "lr 0": ["grpo_lr0/seed0"]}
            },
            "training_ablations_in_default_target": False,
        }
    )
    config["eval"]["benchmarks"] = {b: config["eval"]["benchmarks"][b] for b in order}
    values = {
        **EVAL_VALUES,
        "base/seed1": {"in_dist": 0.4, "more_steps": 0.2},  # a second SFT seed: the base-spread table
        "grpo_lr0/seed0": EVAL_VALUES["base"],  # a control run: the controls table
    }
    monkeypatch.chdir(tmp_path)
    text = build_artifacts(
        logs, tmp_path, config, evals=write_evals(tmp_path / "results", values)
    ).read_text()
    tables = [t for t in _markdown_tables(text) if {"in_dist", "more_steps"} <= {c for row in t for c in row}]
    # Table 1 and the controls (benchmarks as rows), base spread and training ablation (as columns)
    assert len(tables) == 4
    for table in tables:
        names = [c for c in [*table[0], *(row[0] for row in table)] if c in order]
        assert names == order, table
    prose = [line for line in text.splitlines() if "in_dist" in line and "more_steps" in line]
    assert prose and all(line.index("more_steps") < line.index("in_dist") for line in prose)


def test_every_figure_in_the_report_has_its_caption_under_it(logs, tmp_path):
    figures_png = [str(tmp_path / f"figures/test/{name}.png") for name in ("training_curves", "fig7_mc_sd")]
    ablation = str(tmp_path / "figures/test/ablation_training_plain.png")
    Path(ablation).parent.mkdir(parents=True)
    Path(ablation).write_bytes(b"")  # built: the training-ablation section shows it, captioned too
    captions = {
        path: f"Caption of ``{Path(path).stem}``,\nover two lines." for path in [*figures_png, ablation]
    }
    params = {"named_only_figures": [ablation], "captions": captions}
    text = make_report(logs, tmp_path, config_for(), {"figures_png": figures_png}, params).read_text()
    lines = text.splitlines()
    shown = [i for i, line in enumerate(lines) if line.startswith("![")]
    assert len(shown) == 3
    for i in shown:
        stem = lines[i][2:].split("]")[0]
        assert lines[i + 1] == "" and lines[i + 2] == f"Caption of `{stem}`, over two lines."
    with pytest.raises(ValueError, match="figures without a caption"):
        make_report(logs, tmp_path, config_for(), {"figures_png": figures_png}, {"captions": {}})


# ------------------------------------------------------------------------------------------------ snakemake
def finished_workflow(tmp_path: Path) -> Path:
    """A working directory whose Snakefile includes every rule file and whose results/test holds every
    upstream output, oldest first, as after a finished run; returns it."""
    rules = REPO / "experiments" / "rules"
    work = tmp_path / "work"
    config = config_for()
    config["scale"] = "test"
    config["artifacts"]["training_ablations"] = {
        "method": {"GRPO": ["grpo/seed0", "grpo/seed1"], "RREDCoT": ["rredcot/seed0"]}
    }
    config.setdefault(
        "analysis",
        {
            "benchmark": BENCHMARKS[0],
            "segmentation_variants": ["hybrid_K4"],
            "ablation_estimator": "reference/log",
        },
    )
    config["resources"].setdefault("analysis", {"cpus_per_task": 1, "mem_mb": 1000, "runtime": 10})
    (work / "experiments").mkdir(parents=True)
    (work / "paper_tables").mkdir()
    (work / "paper_tables" / "paper").symlink_to(REPO / "paper_tables" / "paper")
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    includes = [
        "common",
        "data",
        "base_model",
        "train",
        "evaluate",
        "analysis",
        "artifacts_common",
        "machines",
        "figures",
        "tables",
        "report",
    ]
    (work / "Snakefile").write_text(
        'configfile: "config.yaml"\n' + "".join(f'include: "{rules}/{name}.smk"\n' for name in includes)
    )
    results = work / "results" / "test"
    # Every upstream output, oldest first: data, base model, trained models, evaluations, analysis logs.
    for path in ["data/train.jsonl", *(f"data/eval/{b}.jsonl" for b in BENCHMARKS)]:
        (results / path).parent.mkdir(parents=True, exist_ok=True)
        (results / path).write_text("{}\n")
    (results / "base_model").mkdir()
    for method in METHODS:
        for seed in SEEDS:
            (results / "train" / method / f"seed{seed}" / "model").mkdir(parents=True)
    write_metrics(results)
    write_evals(results, {p: dict.fromkeys(BENCHMARKS, 0.5) for p in EVAL_VALUES})
    write_credit(results, n_traces=4)
    write_jsonl(results / "analysis" / "credit_draws.jsonl", [{"id": "p0", "correct": 0, "accepted": True}])
    write_segmentation(results, names=tuple(config["analysis"]["segmentation_variants"]))
    write_json(results / "analysis" / "value_sanity.json", {"summary": {}, "records": []})
    write_json(results / "logs" / "machines.json", [])
    return work


def test_snakemake_replots_without_retraining(tmp_path):
    """After a finished run, asking for a figure plans only that figure's rule (or nothing at all)."""
    work = finished_workflow(tmp_path)
    target = "figures/test/fig4_estimator_correlation.pdf"
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", target],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    planned = re.findall(r"^rule (\w+):", run.stdout, flags=re.M)
    assert planned == ["fig4_estimator_correlation"], run.stdout
    # and running it goes through the rule's script to its function in rredcot.artifacts.makers.MAKERS
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", target],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert_figure(work / target, (work / target).with_suffix(".png"))
    # the aggregate targets resolve too (every artifact rule has its inputs)
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "tables", "figures", "ablations", "report"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    planned = set(re.findall(r"^rule (\w+):", run.stdout, flags=re.M))
    assert not planned & {
        "train_policy",
        "evaluate_policy",
        "credit_analysis",
        "segmentation_analysis",
        "value_sanity",
        "sft_base_model",
        "prepare_data",
        "machine_records",
    }, run.stdout
    assert {"table1", "table2", "compute_cost_logged", "training_curves", "replication_report"} <= planned
    assert "ablation_training" in planned  # configured training ablations are targets of `ablations`


def report_rule_items(work: Path, **items: str) -> dict:
    """What the report rule of the workflow in ``work`` holds: each of ``items`` (name -> an input or param of
    the rule, e.g. ``params.captions``), as a probe rule that takes it for a param of its own sees it."""
    with (work / "Snakefile").open("a") as snakefile:
        snakefile.write(
            "rule report_rule_probe:\n"
            '    output: "probe.json"\n'
            "    params:\n"
            + "".join(f"        {name}=rules.replication_report.{item},\n" for name, item in items.items())
            + "    run:\n"
            "        import json\n"
            '        with open(output[0], "w") as f: json.dump(dict(params.items()), f)\n'
        )
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "probe.json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads((work / "probe.json").read_text())


def test_the_report_rule_reads_each_figure_s_caption_from_its_report_flag(tmp_path):
    """The captions the report prints under the figures are the .rst texts the figure rules' report() flags
    name, what `snakemake --report` shows: a probe rule takes the report rule's own param."""
    captions = report_rule_items(finished_workflow(tmp_path), captions="params.captions")["captions"]
    sources = {path.read_text() for path in (REPO / "experiments" / "report").glob("*.rst")}
    assert len(captions) == 11  # 8 paper and control figures, 2 credit ablations, 1 training ablation
    assert all(text.strip() and text in sources for text in captions.values())
    rst = (REPO / "experiments" / "report" / "training_curves.rst").read_text()
    assert captions["figures/test/training_curves.png"] == rst


def test_the_report_rule_passes_every_artifact_the_report_names(tmp_path):
    """Claims name their table or figure by file and the positive control names its own: the report takes
    their paths from its rule's inputs, which hold every one."""
    work = finished_workflow(tmp_path)
    config = yaml.safe_load((work / "config.yaml").read_text())
    config["artifacts"]["headroom"] = PASSING_CONTROLS
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    rows = (
        work / "paper_tables" / config["scale"] / "compute_cost.csv"
    )  # benchmarks/' rows: no rule writes them
    rows.parent.mkdir(parents=True, exist_ok=True)
    rows.write_text(BENCHMARK_HEADER + "\n")
    inputs = report_rule_items(
        work,
        tables_md="input.tables_md",
        figures_png="input.figures_png",
        headroom="input.headroom",
        benchmark_cost="input.benchmark_cost",
    )
    assert inputs["benchmark_cost"] == [f"paper_tables/{config['scale']}/compute_cost.csv"]
    linked = {
        Path(path).name for path in [*inputs["tables_md"], *inputs["figures_png"], *inputs["benchmark_cost"]]
    }
    assert {name for entry in CLAIMS for name in entry.artifacts} <= linked
    assert inputs["headroom"] == ["paper_tables/test/headroom.md", "figures/test/headroom.png"]


def test_every_artifact_rule_names_a_function_and_every_function_a_rule():
    smk = "\n".join(path.read_text() for path in (REPO / "experiments" / "rules").glob("*.smk"))
    rules = re.findall(r"^ *rule (\w+):\n(.*?)(?=^ *rule |\Z)", smk, flags=re.M | re.S)
    scripted = {name for name, body in rules if "script:\n" in body and "MAKE_ARTIFACT" in body}
    assert scripted == set(MAKERS)
    for rule in MAKERS:
        assert callable(maker(rule)), rule
    with pytest.raises(ValueError, match="'nope' has no artifact function"):
        maker("nope")
    with pytest.raises(ValueError, match=r"rule 'table1': inputs \['evalz'\] have no loader"):
        make("table1", inputs={"evalz": []}, outputs={}, params={})


def test_controls_section_checks_the_lr0_control_and_the_oracle(tmp_path):
    values = {
        **EVAL_VALUES,
        "grpo_lr0/seed0": dict(EVAL_VALUES["base"]),
        "rredcot_mc/seed0": {"in_dist": 0.95, "more_steps": 0.55},
    }
    config = config_for(
        {**ARTIFACTS, "controls": {"lr0": ["grpo_lr0/seed0"], "oracle": ["rredcot_mc/seed0"]}}
    )
    logs = Logs(
        config=config,
        evals=load_eval(write_evals(tmp_path, values)),
        metrics=load_metrics([]),
        traces=None,
        paper_tables={},
        paper_claims={},
    )
    text = "\n".join(sections.controls_section(logs))
    assert "| mean | 0.200 | 0.425 ± 0.075 | 0.625 ± 0.025 | 0.200 | 0.750 |" in text
    assert "Learning rate 0 (`grpo_lr0`) reproduces the base model's evaluation" in text
    # oracle − GRPO = 0.750 − 0.425 = 0.325; RREDCoT − GRPO = 0.200: RREDCoT recovers 0.62 of it.
    assert "RREDCoT recovers 0.62 of the oracle's gain" in text
    moved = {**values, "grpo_lr0/seed0": {"in_dist": 0.31, "more_steps": 0.10}}
    logs.evals = load_eval(write_evals(tmp_path / "moved", moved))
    assert "does **not** reproduce" in "\n".join(sections.controls_section(logs))


def test_the_controls_show_the_headroom_table_figure_and_the_other_designs_verdicts(logs, tmp_path):
    """The positive control's own table and captioned figure sit in the controls section; each committed
    reading of the control under another design is one linked line with its verdict and crossing."""
    gated = paper_logs(logs, config_for({**ARTIFACTS, "headroom": PASSING_CONTROLS}))
    table, figure = tmp_path / "headroom.md", tmp_path / "headroom.png"
    table.write_text("**Headroom of exact credit (test)**\n\n| arm |\n|---|\n| grpo |\n")
    other = tmp_path / "test_h4" / "headroom.md"
    other.parent.mkdir()
    other.write_text(
        "**Headroom of exact credit (test_h4)**\n\n- Positive control (pre-registered): ... by step 46 of 60 "
        "(77%; needed ≤ 50%): headroom **not shown**.\n"
    )
    dose = tmp_path / "dose_response.md"
    dose.write_text("**Dose-response of the positive control**\n\n- dose-response **not decided**: H = 16\n")
    lines = sections.controls_section(
        gated, [str(table), str(figure)], [other, dose], tmp_path / "REPLICATION.md", {str(figure): "Cap."}
    )
    text = "\n".join(lines)
    assert "| grpo |" in text and "![headroom](headroom.png)" in text and "\nCap.\n" in text
    line = "- [Headroom of exact credit (test_h4)](test_h4/headroom.md): headroom **not shown**"
    assert f"{line} (step 46 of 60, 77%)" in text
    assert (
        "- [Dose-response of the positive control](dose_response.md): dose-response **not decided**" in text
    )
