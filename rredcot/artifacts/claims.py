"""The paper's claims that the report judges. :data:`CLAIMS` lists each one: the logged data it reads, the
verdict rule that judges it (:mod:`rredcot.artifacts.verdicts`), the controls it waits for and the artifacts
that show it; the function beside each entry reads it from the logs."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from rredcot.artifacts.headroom import Headroom, headroom_control
from rredcot.artifacts.logs import (
    GRADIENT,
    LOO,
    MC,
    bootstrap_over_traces,
    both_outcomes,
    correlation,
    correlation_with,
    default_variant,
    load_benchmark_cost,
    mc_bootstrap_sd,
    mean_sd,
    pooled_credits,
    rredcot_name,
    sample_efficiency,
    seed_means,
)
from rredcot.artifacts.tables import MEAN_ROW, PAPER_COLUMNS, comparison_table, fmt, pct, signed
from rredcot.artifacts.verdicts import (
    NOT_TESTABLE,
    Verdict,
    combine,
    gate,
    improvement_effect,
    verdict_at_most,
    verdict_below,
    verdict_improvement,
    verdict_interval,
)


@dataclass
class Logs:
    """Everything the report reads: the config, the logs and the paper's numbers."""

    config: dict
    evals: pd.DataFrame
    metrics: pd.DataFrame
    traces: list[dict] | None
    paper_tables: dict[str, pd.DataFrame]
    paper_claims: dict[str, float]
    value_sanity: dict | None = None
    machines: dict[str, dict] = field(default_factory=dict)  # run -> its machine.json record
    draws: list[dict] | None = None  # analysis/credit_draws.jsonl: {"id", "correct", "accepted"} per draw
    # benchmarks/' rows of compute_cost.csv, which the cost claims read
    benchmark_cost: pd.DataFrame = field(default_factory=lambda: load_benchmark_cost(None))

    @property
    def artifacts(self) -> dict:
        return self.config["artifacts"]

    @property
    def benchmarks(self) -> list[str]:
        return list(self.config["eval"]["benchmarks"])


@dataclass(frozen=True)
class Reading:
    """What a claim's function finds in the logs: the paper's number, ours, the verdict before any gate, what
    was run and the rule as applied."""

    paper: str
    ours: str
    verdict: Verdict
    run: str
    rule: str


@dataclass(frozen=True)
class Claim:
    """A judged claim, as the report prints it."""

    key: str
    claim: str
    paper: str
    ours: str
    verdict: Verdict
    run: str
    rule: str
    artifacts: tuple[str, ...]  # file names; the report links the paths its rule passes


# ------------------------------------------------------------------------------------------ Tables 1 and 2
def _seed_count(evals: pd.DataFrame, method: str) -> int:
    return int(evals.loc[evals["method"] == method, "seed"].nunique())


def _comparison(logs: Logs, table: str) -> Reading:
    """Table 1 / Table 2: RREDCoT beats the GRPO baseline on the benchmark average."""
    a = logs.artifacts
    rows = a["paper_rows"].get(table, {})
    paper = logs.paper_tables[table]
    labels = {m: lbl for lbl, m in PAPER_COLUMNS[table].items()}
    paper_diff = paper[labels["rredcot"]] - paper[labels["grpo"]]
    paper_text = (
        f"RREDCoT − GRPO = {paper_diff.mean():+.3f} on average over {len(paper)} benchmarks; "
        f"RREDCoT better on {int((paper_diff > 0).sum())}/{len(paper)}"
    )
    name = "Table 1" if table == "table1" else "Table 2"
    effect, source = improvement_effect(a, float(paper_diff.mean()))
    rule = f"improvement: per-seed benchmark-average accuracy, RREDCoT vs GRPO; δ = {effect:+.3f} ({source})"
    if table == "table2" and not rows:
        return Reading(
            paper_text,
            "—",
            Verdict(
                NOT_TESTABLE,
                "no benchmark of this scale is mapped to Table 2 (artifacts.paper_rows.table2); "
                "this scale's GRPO vs RREDCoT comparison is judged under Table 1 (and shown in table2.md)",
            ),
            "—",
            rule + "; testable only where artifacts.paper_rows.table2 maps benchmarks",
        )
    benchmarks = [b for b in logs.benchmarks if b in rows] if table == "table2" else logs.benchmarks
    data = comparison_table(
        logs.evals, methods=["grpo", "rredcot"], benchmarks=benchmarks, include_base=False
    )
    per = data[data["benchmark"] != MEAN_ROW]
    wins = int((per["rredcot_mean"] > per["grpo_mean"]).sum())
    better = seed_means(logs.evals, "rredcot", benchmarks)
    worse = seed_means(logs.evals, "grpo", benchmarks)
    verdict, diff, se = verdict_improvement(
        better,
        worse,
        z=a["verdict_z"],
        min_seeds=a["min_seeds"],
        effect=effect,
        bounds=(0.0, 1.0),
    )
    ours = (
        f"RREDCoT − GRPO = {signed(diff)} (SE {fmt(se)}) on average over {len(benchmarks)} benchmarks; "
        f"RREDCoT better on {wins}/{len(per)}"
    )
    run = (
        f"{name} comparison at this scale: GRPO ({_seed_count(logs.evals, 'grpo')} seeds) vs RREDCoT "
        f"({_seed_count(logs.evals, 'rredcot')} seeds), {logs.artifacts['metric']} on {', '.join(benchmarks)}"
    )
    if not rows:
        run += " (not the paper's model or benchmarks: the direction of the gain is tested, not its size)"
    return Reading(paper_text, ours, verdict, run, rule)


def _base(logs: Logs) -> Reading:
    """Table 1: GRPO and RREDCoT each beat the single evaluation of the base model."""
    a = logs.artifacts
    paper = logs.paper_tables["table1"]
    gains = {
        m: (paper[lbl] - paper["base"]).mean() for lbl, m in PAPER_COLUMNS["table1"].items() if m != "base"
    }
    paper_text = "; ".join(
        f"{m.upper() if m == 'grpo' else 'RREDCoT'} − base = {g:+.3f}" for m, g in gains.items()
    )
    base = logs.evals[(logs.evals["method"] == "base") & logs.evals["benchmark"].isin(logs.benchmarks)]
    base_mean = (
        float(base["value"].mean()) if base["benchmark"].nunique() == len(logs.benchmarks) else math.nan
    )
    parts, verdicts = [], []
    for method in ("grpo", "rredcot"):
        if not math.isfinite(base_mean):
            verdicts.append(Verdict(NOT_TESTABLE, "the base model's evaluation is missing"))
            continue
        verdict, diff, se = verdict_improvement(
            seed_means(logs.evals, method, logs.benchmarks),
            base_mean,
            z=a["verdict_z"],
            min_seeds=a["min_seeds"],
            effect=improvement_effect(a, float(gains[method]))[0],
            bounds=(0.0, 1.0),
        )
        label = "GRPO" if method == "grpo" else "RREDCoT"
        verdicts.append(Verdict(verdict.verdict, f"{label}: {verdict.reason}"))
        parts.append(f"{'GRPO' if method == 'grpo' else 'RREDCoT'} − base = {signed(diff)} (SE {fmt(se)})")
    return Reading(
        paper_text,
        "; ".join(parts) or "—",
        combine(verdicts),
        f"base vs each method on {', '.join(logs.benchmarks)} ({logs.artifacts['metric']})",
        "improvement, for each method against the single base evaluation, δ = "
        + (
            f"{a['improvement_effect']:+g} (artifacts.improvement_effect [ours])"
            if "improvement_effect" in a
            else "the paper's gain of that method over base"
        )
        + "; reproduced only if both are",
    )


# ------------------------------------------------------------------------------------------------- credit
_CREDIT_PAPER = {  # the paper's reading of each credit claim
    "tracks_mc": "RREDCoT closer to MC than both attributions (Fig. 4)",
    "tracks_mc_late": "the advantage is larger late in the trace (Fig. 4)",
    "attributions_agree": "corr(gradient, LOO) high; both low with MC (Fig. 4)",
}


def mc_samples(traces: Sequence[dict]) -> str:
    """The MC samples per boundary of the credit log, as a count or a range."""
    counts = sorted({len(row) for t in traces for row in t.get("mc", {}).get("outcomes", [])})
    if not counts:
        return "no"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def _credit_statistics(
    credits: pd.DataFrame, ours_col: str, method: str, late_position: float
) -> dict[str, tuple[Callable[[pd.DataFrame], float], str]]:
    """Each credit claim's statistic over a table of pooled credits, and what we found besides it."""
    late = credits["rel_position"].to_numpy(dtype=float) >= late_position
    tracks = correlation_with(ours_col, [GRADIENT, LOO], method)

    def late_minus_early(table: pd.DataFrame) -> float:
        is_late = table["rel_position"].to_numpy(dtype=float) >= late_position
        return tracks(table[is_late]) - tracks(table[~is_late])

    def attributions(table: pd.DataFrame) -> float:
        agree = correlation(table[GRADIENT], table[LOO], method)
        rivals = [correlation(table[c], table[MC], method) for c in (GRADIENT, LOO)]
        if not math.isfinite(agree) or not all(math.isfinite(r) for r in rivals):
            return math.nan
        return agree - max(rivals)

    corr = {c: correlation(credits[c], credits[MC], method) for c in (ours_col, GRADIENT, LOO)}
    return {
        "tracks_mc": (
            tracks,
            f"corr with MC: RREDCoT {fmt(corr[ours_col])}, gradient {fmt(corr[GRADIENT])}, "
            f"LOO {fmt(corr[LOO])}",
        ),
        "tracks_mc_late": (
            late_minus_early,
            f"advantage late {fmt(tracks(credits[late]))} vs early {fmt(tracks(credits[~late]))}",
        ),
        "attributions_agree": (
            attributions,
            f"corr(gradient, LOO) {fmt(correlation(credits[GRADIENT], credits[LOO], method))}; with MC: "
            f"gradient {fmt(corr[GRADIENT])}, LOO {fmt(corr[LOO])}",
        ),
    }


def _credit(logs: Logs, key: str) -> Reading:
    """A credit claim of Fig. 4: its statistic on the credits pooled over the credit log's traces, with a
    bootstrap interval resampling traces."""
    a = logs.artifacts
    method = a["correlation"]
    variant = default_variant(logs.config["train"]["rredcot"])
    ours_col = rredcot_name(variant)
    paper = _CREDIT_PAPER[key]
    rule = {
        "tracks_mc": f"interval: {method} corr({ours_col}, MC) − max(corr(gradient, MC), corr(LOO, MC)) > 0",
        "tracks_mc_late": (
            f"interval: the same difference on segments with relative position ≥ {a['late_position']:g} "
            "minus that on earlier segments > 0"
        ),
        "attributions_agree": (
            f"interval: {method} corr(gradient, LOO) − max(corr(gradient, MC), corr(LOO, MC)) > 0"
        ),
    }[key]
    effect = a["credit_effects"][key]
    rule = f"{rule}; effect of interest δ = {effect:+g} (artifacts.credit_effects.{key} [ours])"
    if not logs.traces:
        return Reading(paper, "—", Verdict(NOT_TESTABLE, "no credit-analysis log"), "—", rule)
    credits = pooled_credits(logs.traces)
    n_traces = int(credits["trace"].nunique()) if not credits.empty else 0
    needed = {MC, ours_col, GRADIENT, LOO}
    run = (
        f"{n_traces} traces, {len(credits)} reasoning segments pooled; MC with "
        f"{mc_samples(logs.traces)} samples per boundary; RREDCoT variant {variant}; {method} correlation"
    )
    if not needed <= set(credits.columns):
        missing = ", ".join(sorted(needed - set(credits.columns)))
        reason = f"credits missing from the log: {missing}"
        return Reading(paper, "—", Verdict(NOT_TESTABLE, reason), run, rule)
    statistic, found = _credit_statistics(credits, ours_col, method, a["late_position"])[key]
    point, lo, hi = bootstrap_over_traces(credits, statistic, n_resamples=a["bootstrap_resamples"], seed=0)
    verdict = verdict_interval(point, lo, hi, n_traces=n_traces, min_traces=a["min_traces"], effect=effect)
    return Reading(paper, f"{found}; difference {signed(point)} [{fmt(lo)}, {fmt(hi)}]", verdict, run, rule)


def _mc_sd(logs: Logs) -> Reading:
    """Fig. 7: the MC value's bootstrapped SD at the paper's sample count, over the boundaries with both
    outcomes."""
    a, c = logs.artifacts, logs.paper_claims
    threshold, samples = c["mc_sd_threshold"], int(c["mc_sd_samples"])
    paper = (
        f"SD < {threshold:g} after about {samples} samples (from {c['mc_rollouts']:g} rollouts per boundary)"
    )
    rule = (
        f"threshold: mean over the boundaries with both outcomes of the bootstrapped SD at {samples} samples "
        f"per boundary < {threshold:g}"
    )
    if not logs.traces:
        return Reading(paper, "—", Verdict(NOT_TESTABLE, "no credit-analysis log"), "—", rule)
    sizes, sd, _ = mc_bootstrap_sd(
        logs.traces, max_samples=a["mc_sd_max_samples"], n_resamples=a["bootstrap_resamples"]
    )
    varied = both_outcomes(logs.traces)
    run = (
        f"{int(varied.sum())} of {sd.shape[0]} boundaries have both outcomes; MC with "
        f"{mc_samples(logs.traces)} samples per boundary"
    )
    if samples > sizes.size:
        reason = f"fewer than {samples} MC samples per boundary logged"
        return Reading(paper, "—", Verdict(NOT_TESTABLE, reason), run, rule)
    if not varied.any():
        reason = "every boundary's MC outcomes are all equal: the SD is 0 whatever the sample count"
        ours = f"0/{sd.shape[0]} boundaries have both outcomes"
        return Reading(paper, ours, Verdict(NOT_TESTABLE, reason), run, rule)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(sd[varied], axis=0)
        mean_all = np.nanmean(sd, axis=0)
    below = np.flatnonzero(mean < threshold)
    first = f"s = {sizes[below[0]]}" if below.size else f"no s ≤ {sizes[-1]}"
    at = float(mean[samples - 1])
    ours = (
        f"mean SD at {samples} samples over the {int(varied.sum())} boundaries with both outcomes = {at:.3f} "
        f"(over all {sd.shape[0]}, degenerate ones included: {float(mean_all[samples - 1]):.3f}); "
        f"below {threshold:g} from {first}"
    )
    verdict = verdict_below(
        at, threshold, f"mean SD at {samples} samples over {int(varied.sum())} boundaries"
    )
    return Reading(paper, ours, verdict, run, rule)


# --------------------------------------------------------------------------------------------------- cost
QUIET_LOAD = 0.5  # a benchmark row counts only if the machine's 1-minute load average was below this at start
MIN_BENCHMARK_REPEATS = 3  # and only with at least this many measured repeats


def quiet_benchmark_row(
    logs: Logs, benchmark: str, quantity: str, setting: str
) -> tuple[pd.Series | None, str]:
    """The latest row of this scale's ``compute_cost.csv`` for ``quantity`` of ``benchmarks/<benchmark>.py``
    at ``setting`` (a substring of its setting) that was measured on a quiet machine with enough repeats; or
    None and why there is none. Cost verdicts read only such rows: step times taken inside the pipeline share
    the cores with other jobs, and one busy neighbour flips a ratio (``compute_cost_logged`` still shows
    them, as what the runs took)."""
    table = logs.benchmark_cost
    rows = table[
        (table["benchmark"] == benchmark)
        & (table["quantity"] == quantity)
        & table["setting"].astype(str).str.contains(setting, regex=False)
    ]
    if rows.empty:
        return None, f"compute_cost.csv has no benchmarks/{benchmark}.py row for {quantity} at {setting}"
    usable = rows[(rows["load_1min"] < QUIET_LOAD) & (rows["repeats"] >= MIN_BENCHMARK_REPEATS)]
    if usable.empty:
        latest = rows.sort_values("recorded_at", kind="stable").iloc[-1]
        load = "not recorded" if math.isnan(latest["load_1min"]) else f"{latest['load_1min']:g}"
        return None, (
            f"no benchmarks/{benchmark}.py row for {quantity} was measured on a quiet machine (load average "
            f"< {QUIET_LOAD:g} at start, ≥ {MIN_BENCHMARK_REPEATS} repeats); the latest: load {load}, "
            f"{latest['repeats']:g} repeats, {latest['recorded_at']}"
        )
    return usable.sort_values("recorded_at", kind="stable").iloc[-1], ""


def _benchmark_run(row: pd.Series, benchmark: str) -> str:
    return (
        f"`benchmarks/{benchmark}.py`, {row['model']}, {row['machine']}, "
        f"load average {row['load_1min']:g} at start, {row['recorded_at']}"
    )


def _value_cost(logs: Logs) -> Reading:
    """RREDCoT's values against MC's at the credit analysis's samples per boundary, from the quiet benchmark
    (``benchmarks/value_scoring.py``: both on one trace, repeats interleaved)."""
    a, c = logs.artifacts, logs.paper_claims
    estimator = logs.config["train"]["rredcot"]["value_estimator"]
    n_samples = logs.config["analysis"]["n_mc_samples"]
    bound = c["value_cost_ratio"] * a["value_cost_tolerance"]
    paper = f"≈ {c['value_cost_ratio']:g}"
    rule = (
        f"threshold: value seconds / MC seconds ≤ {a['value_cost_tolerance']:g} × "
        f"{c['value_cost_ratio']:g}, the inverse of the median over repeats of MC / {estimator} time at "
        f"{n_samples} samples per boundary, from a quiet benchmark row (load average < {QUIET_LOAD:g}, "
        f"≥ {MIN_BENCHMARK_REPEATS} repeats)"
    )
    row, why = quiet_benchmark_row(logs, "value_scoring", f"mc_over_{estimator}", f"mc_samples={n_samples}")
    if row is None:
        return Reading(paper, "—", Verdict(NOT_TESTABLE, why), "—", rule)
    ratio = 1.0 / row["median"]
    ours = (
        f"{ratio:.3g} (MC takes {row['median']:.3g}× the time; {row['repeats']:g} repeats, "
        f"min {row['min']:.3g}×)"
    )
    run = f"{_benchmark_run(row, 'value_scoring')}; {row['setting']}"
    return Reading(paper, ours, verdict_at_most(ratio, bound, "value / MC time"), run, rule)


def _train_cost(logs: Logs) -> Reading:
    """RREDCoT's step time against GRPO's, from the quiet benchmark (``benchmarks/step_time.py``: both
    methods on the same generations from the same weights, alternating)."""
    c = logs.paper_claims
    low, high = c["train_cost_ratio_low"], c["train_cost_ratio_high"]
    rule = (
        f"threshold: median over paired repeats of RREDCoT step time / GRPO step time ≤ {high:g}, from a "
        f"quiet benchmark row (load average < {QUIET_LOAD:g}, ≥ {MIN_BENCHMARK_REPEATS} repeats); the "
        "paper's cost is an upper bound: a cheaper run is consistent with it"
    )
    row, why = quiet_benchmark_row(logs, "step_time", "step_time_ratio", "rredcot/grpo")
    if row is None:
        return Reading(f"{low:g}–{high:g}×", "—", Verdict(NOT_TESTABLE, why), "—", rule)
    ours = f"{row['median']:.3g}× (median of {row['repeats']:g} paired steps, min {row['min']:.3g}×)"
    return Reading(
        f"{low:g}–{high:g}×",
        ours,
        verdict_at_most(row["median"], high, "step-time ratio"),
        _benchmark_run(row, "step_time"),
        rule,
    )


# -------------------------------------------------------------------------------------- sample efficiency
def _efficiency(logs: Logs) -> Reading:
    """RREDCoT reaches GRPO's midpoint training accuracy in fewer steps, per seed."""
    a = logs.artifacts
    eff = sample_efficiency(
        logs.metrics,
        fraction=a["threshold_fraction"],
        smooth_window=a["smooth_window"],
        final_window=a["final_window"],
    )
    share = a["sample_efficiency_effect"]
    rule = (
        f"improvement: per-seed steps to GRPO's start accuracy + {a['threshold_fraction']:g} × (its final "
        f"− start) (trailing mean over {a['smooth_window']} steps; start = first logged step, final = mean "
        f"of the last {a['final_window']}); runs that never reach it count as last step + 1; GRPO − RREDCoT "
        f"steps; δ = {share:g} × GRPO's mean steps (artifacts.sample_efficiency_effect [ours]: the paper "
        "gives no number)"
    )
    paper = "fewer steps (no number given)"

    def untestable(reason: str, ours: str = "—") -> Reading:
        return Reading(paper, ours, Verdict(NOT_TESTABLE, reason), "—", rule)

    if not math.isfinite(eff.threshold) or not {"grpo", "rredcot"} <= eff.steps.keys():
        return untestable("no training accuracy logged for both methods")
    if eff.start >= eff.threshold:
        return untestable(
            f"GRPO's start accuracy {eff.start:.3f} already clears the threshold {eff.threshold:.3f} "
            f"(its final accuracy {eff.baseline_final:.3f} is no higher than its start): no learning to be "
            "faster at",
            f"start {eff.start:.3f}, GRPO final {eff.baseline_final:.3f}",
        )
    grpo_steps, _, _ = mean_sd(eff.steps["grpo"])
    verdict, diff, se = verdict_improvement(
        eff.steps["grpo"],
        eff.steps["rredcot"],
        z=a["verdict_z"],
        min_seeds=a["min_seeds"],
        effect=share * grpo_steps,
        effect_name="the effect of interest",
    )
    parts = []
    for method in ("grpo", "rredcot"):
        m, s, n = mean_sd(eff.steps[method])
        t, _, _ = mean_sd(eff.tokens[method])
        parts.append(
            f"{'GRPO' if method == 'grpo' else 'RREDCoT'} {fmt(m, 1)} ± {fmt(s, 1)} steps "
            f"({fmt(t, 0)} tokens; {eff.censored[method]}/{n} never reach it)"
        )
    ours = (
        f"threshold {eff.threshold:.3f} (start {eff.start:.3f}, GRPO final {eff.baseline_final:.3f}): "
        + "; ".join(parts)
    )
    run = f"{len(eff.steps['grpo'])} GRPO and {len(eff.steps['rredcot'])} RREDCoT seeds"
    return Reading(paper, ours, verdict, run, rule)


# ------------------------------------------------------------------------------------------------ controls
def headroom_reading(logs: Logs) -> Headroom:
    """The positive control read from the training metrics with the config's ``artifacts.headroom``."""
    h, a = logs.artifacts["headroom"], logs.artifacts
    return headroom_control(
        logs.metrics,
        baseline=h["baseline"],
        control=h["control"],
        smooth_window=a["smooth_window"],
        final_window=a["final_window"],
        max_step_fraction=h["max_step_fraction"],
        min_seeds=h["min_seeds"],
        min_baseline_gain=h["min_baseline_gain"],
    )


def failed_controls(logs: Logs) -> dict[str, list[str]]:
    """The controls each gated kind of claim (``training``, ``credit``) fails here, named; empty: judged."""
    sanity_failures = []
    configured = logs.config["train"]["rredcot"]["value_estimator"]
    summary = (logs.value_sanity or {}).get("summary", {}).get("estimators", {}).get(configured)
    if summary is None:
        sanity_failures.append(f"value sanity of the configured estimator ({configured}) was not run")
    elif not summary["meets_targets"]:
        targets = logs.value_sanity["summary"]["targets"]
        sanity_failures.append(
            f"value sanity: the configured estimator ({configured}) misses its targets (Spearman "
            f"{fmt(summary['spearman'], 2)}, needed ≥ {targets['spearman']}; drop at the corrupted twin "
            f"{pct(summary['drop_share'])}, needed ≥ {100 * targets['drop_share']:.0f} %)"
        )
    headroom = logs.artifacts.get("headroom")
    if headroom is None:
        training = ["no positive control (exact-credit headroom) at this scale"]
    else:
        reading = headroom_reading(logs)
        training = [] if reading.shown else [f"the positive control: exact-credit headroom {reading.verdict}"]
    return {"training": training + sanity_failures, "credit": sanity_failures}


# ------------------------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class Entry:
    """One claim of the paper and how the report judges it."""

    key: str
    claim: str  # as the report states it
    reads: tuple[str, ...]  # the logged data it needs (fields of Logs): without them it is not testable
    judged_by: str  # the verdict rule (rredcot.artifacts.verdicts) its rule begins with
    gate: str | None  # the controls it waits for (a key of failed_controls), if any
    artifacts: tuple[str, ...]  # file names of the artifacts that show it
    read: Callable[[Logs], Reading]


# Claims about training with RREDCoT wait for the positive control's headroom and a configured estimator that
# passes value sanity; claims about RREDCoT's credit wait for value sanity; the others wait for neither.
CLAIMS: tuple[Entry, ...] = (
    Entry(
        "table1",
        "Table 1: RREDCoT improves on GRPO (Qwen3-4B, NuminaMath-CoT)",
        reads=("evals",),
        judged_by="improvement",
        gate="training",
        artifacts=("table1.md",),
        read=partial(_comparison, table="table1"),
    ),
    Entry(
        "rl_vs_base",
        "Table 1: RL fine-tuning (GRPO and RREDCoT) improves on the base model",
        reads=("evals",),
        judged_by="improvement",
        gate=None,
        artifacts=("table1.md",),
        read=_base,
    ),
    Entry(
        "table2",
        "Table 2: RREDCoT-Nano improves on Open-RS (GRPO, DeepSeek-R1-Distill-Qwen-1.5B)",
        reads=("evals",),
        judged_by="improvement",
        gate="training",
        artifacts=("table2.md",),
        read=partial(_comparison, table="table2"),
    ),
    Entry(
        "tracks_mc",
        "RREDCoT's segment credits track MC better than gradient and LOO attribution",
        reads=("traces",),
        judged_by="interval",
        gate="credit",
        artifacts=("fig4_estimator_correlation.png",),
        read=partial(_credit, key="tracks_mc"),
    ),
    Entry(
        "tracks_mc_late",
        "… especially late in the trace",
        reads=("traces",),
        judged_by="interval",
        gate="credit",
        artifacts=("fig4_estimator_correlation.png",),
        read=partial(_credit, key="tracks_mc_late"),
    ),
    Entry(
        "attributions_agree",
        "Gradient and LOO attribution agree with each other but not with MC",
        reads=("traces",),
        judged_by="interval",
        gate=None,
        artifacts=("fig4_estimator_correlation.png",),
        read=partial(_credit, key="attributions_agree"),
    ),
    Entry(
        "mc_sd",
        "MC value SD falls below 0.1 after about 5 samples",
        reads=("traces",),
        judged_by="threshold",
        gate=None,
        artifacts=("fig7_mc_sd.png",),
        read=_mc_sd,
    ),
    Entry(
        "value_cost",
        "RREDCoT's values cost about 1/10 of MC's compute",
        reads=("benchmark_cost",),
        judged_by="threshold",
        gate=None,
        artifacts=("compute_cost.csv", "compute_cost_logged.md", "fig3_mc_cost.png"),
        read=_value_cost,
    ),
    Entry(
        "train_cost",
        "A training run costs 1.5–2× vanilla GRPO",
        reads=("benchmark_cost",),
        judged_by="threshold",
        gate=None,
        artifacts=("compute_cost.csv", "compute_cost_logged.md"),
        read=_train_cost,
    ),
    Entry(
        "sample_efficiency",
        "Better sample efficiency than GRPO (fewer steps to the same accuracy)",
        reads=("metrics",),
        judged_by="improvement",
        gate="training",
        artifacts=("training_curves.png",),
        read=_efficiency,
    ),
)


def evaluate_claims(logs: Logs) -> list[Claim]:
    """Every claim of :data:`CLAIMS`, read from ``logs``; a gated one is not testable where its controls
    fail."""
    failures = failed_controls(logs)
    claims = []
    for entry in CLAIMS:
        r = entry.read(logs)
        verdict = gate(r.verdict, failures[entry.gate]) if entry.gate else r.verdict
        claims.append(Claim(entry.key, entry.claim, r.paper, r.ours, verdict, r.run, r.rule, entry.artifacts))
    return claims
