"""Credit agreement, first-error localization and the verdicts that read them, on hand-made credit logs.

Every expected number here is worked out by hand from the records below
(format: rredcot/pipeline/analysis.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from synthetic_logs import (
    ARTIFACTS,
    REPO,
    SCHEMA,
    assert_figure,
    config_for,
    write_credit,
    write_evals,
    write_metrics,
)

from rredcot.artifacts import credit, figures, report, tables, verdicts
from rredcot.artifacts.claims import Logs, _efficiency, _mc_sd, evaluate_claims
from rredcot.artifacts.logs import (
    EXACT,
    GRADIENT,
    LOO,
    MC,
    load_credit,
    load_eval,
    load_metrics,
    mc_bootstrap_sd,
    pooled_credits,
)
from rredcot.io import write_jsonl


@pytest.fixture(autouse=True, scope="module")
def low_resolution():
    with plt.rc_context({"savefig.dpi": 40}):
        yield


def record(
    index: int,
    *,
    correct: int,
    bounds: list[int],
    outcomes: list[list[int]],
    values: list[float] | None = None,
    gradient=None,
    loo=None,
    answer: int = 10,
    **extra,
) -> dict:
    """A credit-log record: reasoning spans between the boundaries, then an answer span of ``answer``
    tokens."""
    n_seg = len(bounds) - 1
    spans = [[bounds[k], bounds[k + 1]] for k in range(n_seg)] + [[bounds[-1], bounds[-1] + answer]]
    trace = {
        "id": f"t{index}",
        "correct": correct,
        "n_tokens": bounds[-1] + answer,
        "spans": spans,
        "boundaries": bounds,
        "rel_position": [(k + 0.5) / n_seg for k in range(n_seg)],
        "mc": {"outcomes": outcomes, "seconds": 1.0, "n_samples": len(outcomes[0]), "generated_tokens": 1},
        "values": {"reference/log": values} if values is not None else {},
        "value_seconds": {},
        "attribution": {},
        "attribution_seconds": {},
    }
    if gradient is not None:
        trace["attribution"] = {"gradient": gradient, "loo": loo}
    trace.update(extra)
    return trace


def localization_log() -> list[dict]:
    """Two scored traces, and one incorrect trace of every kind that is counted but not scored."""
    a = record(  # K = 3, first error at token 15: segment 1 ([10, 20))
        0,
        correct=0,
        bounds=[0, 10, 20, 30],
        outcomes=[[0, 1], [1, 0], [0, 0], [0, 0]],  # MC means 0.5, 0.5, 0, 0 → credits 0, -0.5, 0: blames 1
        values=[0.0, -1.0, -1.0, -3.0],  # credits -1, 0, -2: blames 2 (miss)
        gradient=[-1.0, -1.0, 0.0],  # tie between 0 and 1: the earliest, 0 (miss)
        loo=[0.5, -2.0, -2.0],  # tie between 1 and 2: the earliest, 1 (hit)
        first_error=15,
        first_error_checked=True,
    )
    b = record(  # K = 2, first error at token 3: segment 0
        1,
        correct=0,
        bounds=[0, 10, 20],
        outcomes=[[1, 1], [0, 1], [1, 0]],  # means 1, 0.5, 0.5 → credits -0.5, 0: blames 0 (hit)
        values=[0.0, 0.0, -1.0],  # credits 0, -1: blames 1 (miss)
        gradient=[-1.0, -1.0],  # tie: 0 (hit)
        loo=[None, None],  # no finite credit: no prediction, a miss
        first_error=3,
        first_error_checked=True,
    )
    common = {"bounds": [0, 10, 20], "outcomes": [[0, 1]] * 3, "values": [0.0, -1.0, -2.0]}
    common.update(gradient=[0.0, -1.0], loo=[0.0, -1.0])
    return [
        a,
        b,
        record(2, correct=0, first_error=25, first_error_checked=True, **common),  # in the answer span
        record(3, correct=0, first_error=None, first_error_checked=True, **common),  # no wrong line found
        record(4, correct=0, first_error=5, first_error_checked=False, **common),  # no checker
        record(5, correct=0, **common),  # an older log: no first_error field
        record(6, correct=1, first_error=5, first_error_checked=True, **common),  # correct: not scored
    ]


# ---------------------------------------------------------------------------------------- localization
def test_most_blamed_takes_the_most_negative_credit_and_the_earliest_of_ties():
    assert credit.most_blamed([0.3, -1.0, -1.0]) == 1
    assert credit.most_blamed([2.0, 1.0]) == 1  # no negative credit: still the lowest
    assert credit.most_blamed([math.nan, -1.0, -1.0]) == 1
    assert credit.most_blamed([0.0, 0.0, 0.0]) == 0
    assert credit.most_blamed([math.nan, math.nan]) is None


def test_error_localization_shares_by_hand():
    loc = credit.error_localization(localization_log(), n_resamples=200)
    table = loc.table.set_index("estimator")
    assert list(table.index) == [
        MC,
        "RREDCoT reference/log",
        GRADIENT,
        LOO,
        credit.RANDOM,
    ]
    assert table["n_traces"].tolist() == [2] * 5
    assert table.loc[MC, "share"] == 1.0  # both hit
    assert table.loc["RREDCoT reference/log", "share"] == 0.0  # both miss
    assert table.loc[GRADIENT, "share"] == 0.5  # trace a's tie goes to segment 0 (miss), b's hits
    assert table.loc[LOO, "share"] == 0.5  # a's tie goes to segment 1 (hit); b has no finite credit
    assert table.loc[LOO, "no_prediction"] == 1
    assert table.loc[credit.RANDOM, "share"] == pytest.approx((1 / 3 + 1 / 2) / 2)  # mean of 1/K, exact
    # the bootstrap interval of a share that is 1 (or 0) on every trace is a point
    assert (table.loc[MC, "lo"], table.loc[MC, "hi"]) == (1.0, 1.0)
    lo, hi = table.loc[GRADIENT, ["lo", "hi"]]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0
    assert lo_hi_of_random(table) == pytest.approx((1 / 3, 1 / 2))
    counts = (loc.n_traces, loc.n_incorrect, loc.n_scored, loc.n_outside, loc.n_not_found, loc.n_unchecked)
    assert counts == (7, 6, 2, 1, 1, 1)
    assert loc.n_unknown == 1 and loc.ids_outside == ["t2"]


def lo_hi_of_random(table: pd.DataFrame) -> tuple[float, float]:
    """With two traces of 1/3 and 1/2, every resample's mean lies between them (and hits both ends)."""
    return table.loc[credit.RANDOM, "lo"], table.loc[credit.RANDOM, "hi"]


def test_first_error_after_the_reasoning_is_counted_apart():
    trace = localization_log()[2]
    assert credit.first_error_segment(trace) is None  # token 25 lies in the answer span [20, 30)
    assert credit.first_error_segment({**trace, "first_error": 19}) == 1  # [10, 20): e is exclusive
    assert credit.first_error_segment({**trace, "first_error": 20}) is None


def test_error_localization_without_first_errors_is_empty():
    old = [{k: v for k, v in t.items() if not k.startswith("first_error")} for t in localization_log()]
    loc = credit.error_localization(old, n_resamples=10)
    assert loc.table.empty and loc.n_unknown == loc.n_incorrect == 6


# ------------------------------------------------------------------------------------------- agreement
def test_degenerate_share_counts_boundaries_and_segments():
    trace = record(0, correct=1, bounds=[0, 5, 10, 15], outcomes=[[0, 0], [0, 1], [1, 1], [1, 1]])
    share = credit.degenerate_share([trace])
    assert (share.n_boundaries, share.n_degenerate, share.n_all_zero, share.n_all_one) == (4, 3, 1, 2)
    assert (share.n_segments, share.n_segments_degenerate) == (3, 1)  # only (2, 3) has both degenerate
    assert share.share == 0.75
    np.testing.assert_array_equal(credit.degenerate(trace), [True, False, True, True])


def test_first_segment_share_by_hand():
    """Median over traces of |r_0| / Σ|r|; a trace whose credits are all 0 is left out of that estimator."""
    a = record(
        0,
        correct=1,
        bounds=[0, 2, 5, 9],
        outcomes=[[0, 0], [0, 1], [0, 1], [1, 1]],
        values=[-70.0, 0.0, -1.0, 0.0],
    )  # MC credits 0.5, 0, 0.5; log credits 70, −1, 1
    b = record(
        1,
        correct=0,
        bounds=[0, 2, 5, 9],
        outcomes=[[0, 1], [0, 1], [0, 0], [1, 1]],
        values=[-10.0, -10.0, -5.0, 0.0],
    )  # MC credits 0, −0.5, 1; log credits 0, 5, 5
    c = record(2, correct=1, bounds=[0, 2, 5, 9], outcomes=[[1, 1]] * 4)  # MC credits all 0: left out
    shares = credit.first_segment_share([a, b, c])
    assert shares[MC] == pytest.approx(0.25)  # median of 0.5 and 0
    assert shares["RREDCoT reference/log"] == pytest.approx(35 / 72)  # median of 70/72 and 0


def test_agreement_of_an_estimator_equal_to_mc():
    """Values equal to the MC means agree perfectly on every cell; non-degenerate cells drop the boundaries
    whose rollouts all agree."""
    outcomes = [[0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]]  # 0, .25, .75, 1, .5
    means = [float(np.mean(o)) for o in outcomes]
    traces = [
        record(i, correct=i % 2, bounds=[0, 4, 8, 12, 16], outcomes=outcomes, values=means) for i in range(6)
    ]
    data = credit.agreement(traces, method="spearman", n_resamples=50)
    cells = data.set_index(["quantity", "estimator", "stratum", "subset"])
    value = cells.loc[("value", "RREDCoT reference", "all", "all")]
    assert value["pooled"] == pytest.approx(1.0) and value["per_trace_median"] == pytest.approx(1.0)
    assert (value["pooled_lo"], value["pooled_hi"]) == pytest.approx((1.0, 1.0))
    assert (value["n_traces"], value["n_points"], value["per_trace_n"]) == (6, 30, 6)
    # boundaries 0 and 3 are degenerate: 3 values per trace remain; no segment lies between two of them
    assert cells.loc[("value", "RREDCoT reference", "all", "non-degenerate"), "n_points"] == 18
    assert cells.loc[("credit", "RREDCoT reference/log", "all", "non-degenerate"), "n_points"] == 24
    assert cells.loc[("credit", "RREDCoT reference/log", "correct", "all"), "n_traces"] == 3
    assert cells.loc[("credit", "RREDCoT reference/log", "incorrect", "all"), "pooled"] == pytest.approx(1.0)
    display, _, notes = tables.credit_agreement_display(data, method="spearman", scale="test")
    assert len(display) == 4 and "all traces (6), all" in display.columns  # 2 (quantity) × 2 (statistic)
    assert display.iloc[0, 3] == "1.00 [1.00, 1.00]"


# --------------------------------------------------------------------------------------------- verdicts
def _logs(config, metrics=None, traces=None, evals=None) -> Logs:
    return Logs(
        config=config,
        evals=evals if evals is not None else load_eval([]),
        metrics=metrics if metrics is not None else load_metrics([]),
        traces=traces,
        paper_tables={
            n: tables.read_paper_table(REPO / "paper_tables/paper" / f"{n}.csv") for n in ("table1", "table2")
        },
        paper_claims=tables.read_paper_claims(REPO / "paper_tables/paper/claims.csv"),
    )


def _runs(root: Path, curves: dict[str, list[list[float]]]) -> list[Path]:
    paths = []
    for method, seeds in curves.items():
        for seed, accs in enumerate(seeds):
            path = root / "train" / method / f"seed{seed}" / "metrics.jsonl"
            write_jsonl(path, [{"step": i + 1, "accuracy": a} for i, a in enumerate(accs)])
            paths.append(path)
    return paths


def test_sample_efficiency_threshold_is_the_midpoint_and_untestable_when_the_start_clears_it(tmp_path):
    config = config_for({**ARTIFACTS, "threshold_fraction": 0.5, "smooth_window": 1, "final_window": 1})
    learning = {
        "grpo": [[0.2, 0.4, 0.65, 1.0], [0.2, 0.5, 0.7, 1.0]],
        "rredcot": [[0.2, 0.7, 0.9, 1.0], [0.2, 0.65, 0.9, 1.0]],
    }
    claim = _efficiency(_logs(config, load_metrics(_runs(tmp_path / "a", learning))))
    assert "threshold 0.600 (start 0.200, GRPO final 1.000)" in claim.ours  # 0.2 + 0.5 × (1.0 − 0.2)
    # steps to 0.6: GRPO 3 and 3, RREDCoT 2 and 2: Δ = 1, SE = 0: reproduced
    assert claim.verdict.verdict == verdicts.REPRODUCED
    flat = {"grpo": [[0.5, 0.4, 0.3], [0.5, 0.45, 0.4]], "rredcot": [[0.5, 0.6, 0.7], [0.5, 0.6, 0.6]]}
    claim = _efficiency(_logs(config, load_metrics(_runs(tmp_path / "b", flat))))
    assert claim.verdict.verdict == verdicts.NOT_TESTABLE
    assert "already clears the threshold" in claim.verdict.reason
    noisy = {
        "grpo": [[0.2, 0.3, 0.7, 1.0], [0.2, 0.65, 0.65, 1.0]],
        "rredcot": [[0.2, 0.7, 0.9, 1.0], [0.2, 0.3, 0.5, 1.0]],
    }
    claim = _efficiency(_logs(config, load_metrics(_runs(tmp_path / "c", noisy))))
    # GRPO 3, 2 steps; RREDCoT 2, 4 steps: Δ = -0.5, SE = sqrt(0.5/2 + 2/2) = 1.118; δ = 0.2 × 2.5 = 0.5
    assert claim.verdict.verdict == verdicts.INCONCLUSIVE
    assert "the effect of interest +0.500" in claim.verdict.reason


def test_mc_sd_is_averaged_over_boundaries_with_both_outcomes():
    """Two degenerate boundaries (SD 0) and one with both outcomes: the mean over all three would be below
    0.1 (reproduced), the mean over the one that varies is not."""
    config = config_for()
    traces = [record(0, correct=0, bounds=[0, 5, 10], outcomes=[[0] * 8, [1, 0] * 4, [1] * 8])]
    claim = _mc_sd(_logs(config, traces=traces))
    sizes, sd, _ = mc_bootstrap_sd(traces, max_samples=20, n_resamples=ARTIFACTS["bootstrap_resamples"])
    varied, everything = sd[1, 4], float(np.mean(sd[:, 4]))
    assert varied > 0.1 > everything
    assert f"over the 1 boundaries with both outcomes = {varied:.3f}" in claim.ours
    assert f"degenerate ones included: {everything:.3f}" in claim.ours
    assert claim.verdict.verdict == verdicts.NOT_REPRODUCED
    assert "1 of 3 boundaries have both outcomes" in claim.run


def test_report_shows_the_inconclusive_count_and_the_localization_section(tmp_path):
    traces = load_credit(write_credit(tmp_path))
    for t in traces:
        if t["correct"] == 0:
            t.update(first_error=t["spans"][1][0], first_error_checked=True)  # the second segment's start
    logs = _logs(
        config_for(), load_metrics(write_metrics(tmp_path)), traces, load_eval(write_evals(tmp_path))
    )
    logs.draws = [{"id": "a", "correct": 1, "accepted": True}, {"id": "b", "correct": 0, "accepted": False}]
    text = report.render(logs, out=tmp_path / "REPLICATION.md", schema=SCHEMA)
    claims = evaluate_claims(logs)
    counts = {v: sum(c.verdict.verdict == v for c in claims) for v in verdicts.VERDICTS}
    assert f"{counts[verdicts.INCONCLUSIVE]} inconclusive" in text
    incorrect = [t for t in traces if t["correct"] == 0]
    loc = credit.error_localization(traces, n_resamples=ARTIFACTS["bootstrap_resamples"])
    random = float(np.mean([1 / (len(t["boundaries"]) - 1) for t in incorrect]))
    assert loc.n_scored == len(incorrect)
    assert f"share of the {len(incorrect)} scored traces" in text
    assert f"uniform random (mean 1/K) {random:.2f}" in text
    assert "## Credit agreement and error localization (our additions, not paper claims)" in text
    assert "2 draws, 50 % of them correct" in text
    assert "inconclusive" in text.split("## Verdict rules", 1)[1]


def test_credit_figures_and_tables_are_written(tmp_path):
    traces = localization_log()
    out = lambda name: {"pdf": tmp_path / f"{name}.pdf", "png": tmp_path / f"{name}.png"}  # noqa: E731
    figures.credit_agreement(traces, **out("agree"), n_resamples=20)
    figures.error_localization(traces, **out("loc"), n_resamples=20)
    figures.credit_agreement([], **out("agree_empty"), n_resamples=20)
    figures.error_localization([], **out("loc_empty"), n_resamples=20)
    for name in ("agree", "loc", "agree_empty", "loc_empty"):
        assert_figure(**out(name))
    display, title, notes = tables.error_localization_display(
        credit.error_localization(traces, n_resamples=20)
    )
    assert display["hits / traces"].tolist() == ["2/2", "0/2", "1/2", "1/2", "expected"]
    assert "our addition" in title and "after the reasoning segments (e.g. in the answer): 1" in notes[0]


def test_exact_values_join_the_logged_variants_with_the_step_accuracy_of_the_whole_log(tmp_path):
    """Two traces: 2 steps right then a wrong line, and 4 steps right: p = (6 + 1) / (6 + 1 + 2) = 7/9."""

    def record(trace_id, done, wrong, right, failed):
        n = len(done)
        return {
            "id": trace_id, "correct": int(not failed), "boundaries": list(range(n)),
            "rel_position": [0.5] * (n - 1), "values": {"reference/log": [0.0] * n},
            "mc": {"outcomes": [[1, 0]] * n},
            "exact": {"horizon": 4, "done": done, "wrong": wrong, "steps_right": right, "failed": failed},
        }  # fmt: skip

    path = tmp_path / "credit.jsonl"
    write_jsonl(
        path,
        [
            record("a", [0, 1, 2, 2], [False, False, False, True], 2, True),
            record("b", [0, 2, 4], [False, False, False], 4, False),
        ],
    )
    traces = load_credit(path)
    p = 7 / 9
    assert traces[0]["values"][EXACT] == pytest.approx([p**4, p**3, p**2, 0.0])
    assert traces[1]["values"][EXACT] == pytest.approx([p**4, p**2, 1.0])
    assert "RREDCoT oracle/linear" in pooled_credits(traces).columns
