"""REPLICATION.md: each claim of the paper, what was run, the paper's number, ours, and a verdict.

Verdicts are decided by the rules below from the logs (never written by hand), with thresholds from the
config's ``artifacts`` section, so the report states them beside the numbers:

* **improvement** (Table 1, Table 2, RL vs base, sample efficiency): per seed, the quantity (the metric
  averaged over the claim's benchmarks; steps to threshold) for the two sides; ``Δ`` = difference of their
  means in the claimed direction, ``SE = sqrt(s_a²/n_a + s_b²/n_b)`` (Welch; a single evaluation such as the
  base model has no variance term), the interval ``Δ ± verdict_z · SE``. The paper's effect ``δ`` is the
  paper's own Δ (Tables 1–2 and RL vs base: its mean over the paper's benchmarks); for sample efficiency,
  where the paper gives no number, ``δ = sample_efficiency_effect ×`` GRPO's mean steps [ours].
  *Reproduced* if ``Δ > 0`` and ``Δ ≥ verdict_z · SE``; *not reproduced* if ``Δ + verdict_z · SE < δ`` (the
  interval excludes the paper's effect: a gain as large as the paper's is ruled out); otherwise
  *inconclusive*: the interval holds both 0 and δ, so the study has too few seeds to decide; the reason
  gives the seeds per side that would make the interval narrower than δ, ``n · (2 · verdict_z · SE / δ)²``
  (SE ∝ 1/√n). *Not testable* with fewer than ``min_seeds`` seeds on a side (no spread, so no way to tell a
  gain from seed noise), when every accuracy on both sides is 0 (or 1), or when the logs are missing.
  Sample efficiency: the threshold is GRPO's start accuracy (its first logged step, before any update) plus
  ``threshold_fraction`` × (GRPO's final accuracy − start), 0.5 being the midpoint; *not testable* when the
  start already clears it (GRPO's final accuracy is no higher than its start: there is no learning to be
  faster at).
* **interval** (credit-agreement claims): the statistic on the credits pooled over traces and its 95 %
  percentile bootstrap interval ``[lo, hi]``, resampling whole traces (``bootstrap_resamples``). The paper
  gives no number for these claims, so each has an effect of practical interest ``δ``
  (``credit_effects`` [ours], e.g. a Spearman difference of +0.2). *Reproduced* if ``lo > 0``; *not
  reproduced* if ``hi < δ`` (an effect of that size is ruled out); otherwise *inconclusive* (the interval
  holds both 0 and δ; the reason gives the traces that would make it narrower than δ,
  ``n · ((hi − lo) / δ)²``). *Not testable* with fewer than ``min_traces`` traces or when a correlation is
  undefined (constant credits). A gain that is significant but smaller than δ is still *reproduced* (the
  claims are about direction); the reason says so.
* **threshold** (MC SD, value cost, training cost): the measured number against the paper's (from
  ``paper_tables/paper/claims.csv``) — the mean bootstrapped SD at the paper's sample count over the
  boundaries whose rollouts have both outcomes (their count stated; a degenerate boundary has SD 0 at every
  sample count and would only pull the mean down) below the SD threshold (not testable when no boundary
  has both outcomes); a value/MC time ratio at most ``value_cost_tolerance`` × the paper's 1/10 (cheaper
  supports the claim); a step-time ratio at most the paper's 2× (its cost is an upper bound: cheaper is
  consistent with it).
* Claims that combine sub-verdicts (RL vs base: GRPO and RREDCoT) are reproduced only if every part is;
  otherwise, in this order, not testable, not reproduced or inconclusive if any part is.
* **Gated by the controls**: a claim about training with RREDCoT (Tables 1–2, sample efficiency) is judged
  only where the positive control shows headroom (``artifacts.headroom``: exact credit through the same σ
  beats GRPO, :mod:`rredcot.artifacts.headroom`) and the configured estimator passes value sanity; a claim
  about its credit (tracks MC, late in the trace) only where value sanity passes. Otherwise it is *not
  testable at this scale*, the reason names the failed control and keeps the reading the gate held back.
  ``artifacts.improvement_effect``, where set, is δ of the improvement claims in place of the paper's gain
  (a toy tests the direction of a gain, not its size at 4B).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

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
    difference_se,
    load_eval,
    mc_bootstrap_sd,
    mean_sd,
    policy_mean,
    pooled_credits,
    rredcot_name,
    sample_efficiency,
    seed_means,
    step_cost,
    trace_costs,
)
from rredcot.artifacts.makers import MAKERS
from rredcot.artifacts.robustness import (
    ablation_test_lines,
    base_spread_lines,
    delimiter_drift_lines,
    machine_lines,
)
from rredcot.artifacts.tables import MEAN_ROW, PAPER_COLUMNS, comparison_table, fmt
from rredcot.io import read_json, write_text

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE)
# Where the report's claims, sections (§) and confidence tags ([ours], ...) come from: this repository's
# account of the paper (what it claims, how sure each reading is, where each reading comes from).
PAPER = "docs/paper.md"


# ------------------------------------------------------------------------------------------ verdict rules
@dataclass(frozen=True)
class Verdict:
    verdict: str
    reason: str


def _needed(n: int, width: float, effect: float) -> int:
    """Units (seeds, traces) that would make an interval of ``width`` at ``n`` units narrower than
    ``effect``, the width shrinking as 1/√n."""
    return max(n + 1, math.ceil(n * (width / effect) ** 2))


def verdict_improvement(
    better: Sequence[float],
    worse: Sequence[float] | float,
    *,
    z: float,
    min_seeds: int,
    effect: float,
    effect_name: str = "the paper's effect",
    bounds: tuple[float, float] | None = None,
) -> tuple[Verdict, float, float]:
    """Is ``better`` larger than ``worse`` beyond seed noise? Returns (verdict, Δ, SE).

    ``worse`` is per-seed values, or one number (a single evaluation, e.g. the base model: no variance).
    ``effect``: the paper's Δ (> 0); an interval ``Δ ± z·SE`` holding both 0 and it is *inconclusive*.
    ``bounds``: the metric's range (accuracy: 0, 1); if every value of both sides sits on the same bound
    (all 0: the policies never solve a problem), the comparison cannot show a gain and is not testable.
    """
    a = np.asarray([v for v in better if v is not None and math.isfinite(v)], dtype=float)
    single = np.isscalar(worse)
    b = np.asarray(
        [worse] if single else [v for v in worse if v is not None and math.isfinite(v)], dtype=float
    )
    b = b[np.isfinite(b)]
    if a.size < min_seeds or b.size == 0 or (not single and b.size < min_seeds):
        sizes = f"{a.size}" + ("" if single else f" and {b.size}")
        return Verdict(NOT_TESTABLE, f"{sizes} seeds, fewer than min_seeds = {min_seeds}"), math.nan, math.nan
    if bounds is not None:
        for bound in bounds:
            if np.all(a == bound) and np.all(b == bound):
                return (
                    Verdict(NOT_TESTABLE, f"every value on both sides is {bound:g} (floor/ceiling)"),
                    0.0,
                    0.0,
                )
    diff = float(a.mean() - b.mean())
    se = difference_se(a, b)
    lo, hi = diff - z * se, diff + z * se
    interval = f"Δ = {diff:+.3f}, Δ ± {z:g} × SE = [{lo:+.3f}, {hi:+.3f}]"
    if diff > 0 and diff >= z * se:
        small = f"; smaller than {effect_name} {effect:+.3f}" if math.isfinite(effect) and hi < effect else ""
        return Verdict(REPRODUCED, f"Δ = {diff:+.3f} ≥ {z:g} × SE ({se:.3f}){small}"), diff, se
    if not (math.isfinite(effect) and effect > 0):
        return Verdict(NOT_REPRODUCED, f"{interval}; the paper states no positive effect"), diff, se
    if hi < effect:
        return (
            Verdict(NOT_REPRODUCED, f"{interval} lies below {effect_name} {effect:+.3f}"),
            diff,
            se,
        )
    n = int(max(a.size, 1 if single else b.size))
    needed = _needed(n, 2 * z * se, effect)
    return (
        Verdict(
            INCONCLUSIVE,
            f"{interval} holds both 0 and {effect_name} {effect:+.3f}: about {needed} seeds per side "
            f"(here {n}) would make it narrower than the effect",
        ),
        diff,
        se,
    )


def verdict_interval(
    point: float, lo: float, hi: float, *, n_traces: int, min_traces: int, effect: float
) -> Verdict:
    """A positive statistic whose bootstrap interval excludes zero (reproduced), excludes the effect of
    interest ``effect`` > 0 (not reproduced), or holds both (inconclusive)."""
    if n_traces < min_traces:
        return Verdict(NOT_TESTABLE, f"{n_traces} traces, fewer than min_traces = {min_traces}")
    if not all(math.isfinite(v) for v in (point, lo, hi)):
        return Verdict(NOT_TESTABLE, "a correlation is undefined (constant credits) or the bootstrap failed")
    interval = f"{point:+.3f}, 95% interval [{lo:+.3f}, {hi:+.3f}]"
    if lo > 0:
        small = f"; below the effect of interest {effect:+.2f}" if hi < effect else ""
        return Verdict(REPRODUCED, f"{interval} above 0{small}")
    if hi < effect:
        return Verdict(NOT_REPRODUCED, f"{interval} lies below the effect of interest {effect:+.2f}")
    needed = _needed(n_traces, hi - lo, effect)
    return Verdict(
        INCONCLUSIVE,
        f"{interval} holds both 0 and the effect of interest {effect:+.2f}: about {needed} traces "
        f"(here {n_traces}) would make it narrower than the effect",
    )


def verdict_below(value: float, threshold: float, what: str) -> Verdict:
    if not math.isfinite(value):
        return Verdict(NOT_TESTABLE, f"{what} could not be computed from the logs")
    if value < threshold:
        return Verdict(REPRODUCED, f"{what} = {value:.3g} < {threshold:g}")
    return Verdict(NOT_REPRODUCED, f"{what} = {value:.3g} ≥ {threshold:g}")


def verdict_at_most(value: float, bound: float, what: str) -> Verdict:
    if not math.isfinite(value):
        return Verdict(NOT_TESTABLE, f"{what} could not be computed from the logs")
    if value <= bound:
        return Verdict(REPRODUCED, f"{what} = {value:.3g} ≤ {bound:g}")
    return Verdict(NOT_REPRODUCED, f"{what} = {value:.3g} > {bound:g}")


def signed(value: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:+.{digits}f}"


# ------------------------------------------------------------------------------------------------ claims
@dataclass
class Claim:
    key: str
    claim: str
    paper: str
    ours: str
    verdict: Verdict
    run: str
    rule: str
    artifacts: list[str] = field(default_factory=list)


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

    @property
    def artifacts(self) -> dict:
        return self.config["artifacts"]

    @property
    def benchmarks(self) -> list[str]:
        return list(self.config["eval"]["benchmarks"])


def _seed_count(evals: pd.DataFrame, method: str) -> int:
    return int(evals.loc[evals["method"] == method, "seed"].nunique())


def _comparison_claim(logs: Logs, table: str) -> Claim:
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
    artifact = [f"paper_tables/{logs.config['scale']}/{table}.md"]
    name = "Table 1" if table == "table1" else "Table 2"
    claim_text = (
        "Table 1: RREDCoT improves on GRPO (Qwen3-4B, NuminaMath-CoT)"
        if table == "table1"
        else "Table 2: RREDCoT-Nano improves on Open-RS (GRPO, DeepSeek-R1-Distill-Qwen-1.5B)"
    )
    effect, source = _effect(a, float(paper_diff.mean()))
    rule = f"improvement: per-seed benchmark-average accuracy, RREDCoT vs GRPO; δ = {effect:+.3f} ({source})"
    if table == "table2" and not rows:
        return Claim(
            "table2",
            claim_text,
            paper_text,
            "—",
            Verdict(
                NOT_TESTABLE,
                "no benchmark of this scale is mapped to Table 2 (artifacts.paper_rows.table2); "
                "this scale's GRPO vs RREDCoT comparison is judged under Table 1 (and shown in table2.md)",
            ),
            "—",
            rule + "; testable only where artifacts.paper_rows.table2 maps benchmarks",
            artifact,
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
    return Claim(table, claim_text, paper_text, ours, verdict, run, rule, artifact)


def _base_claim(logs: Logs) -> Claim:
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
            effect=_effect(a, float(gains[method]))[0],
            bounds=(0.0, 1.0),
        )
        label = "GRPO" if method == "grpo" else "RREDCoT"
        verdicts.append(Verdict(verdict.verdict, f"{label}: {verdict.reason}"))
        parts.append(f"{'GRPO' if method == 'grpo' else 'RREDCoT'} − base = {signed(diff)} (SE {fmt(se)})")
    verdict = _combine(verdicts)
    return Claim(
        "rl_vs_base",
        "Table 1: RL fine-tuning (GRPO and RREDCoT) improves on the base model",
        paper_text,
        "; ".join(parts) or "—",
        verdict,
        f"base vs each method on {', '.join(logs.benchmarks)} ({logs.artifacts['metric']})",
        "improvement, for each method against the single base evaluation, δ = "
        + (
            f"{a['improvement_effect']:+g} (artifacts.improvement_effect [ours])"
            if "improvement_effect" in a
            else "the paper's gain of that method over base"
        )
        + "; reproduced only if both are",
        [f"paper_tables/{logs.config['scale']}/table1.md"],
    )


def _effect(artifacts: Mapping, paper_effect: float) -> tuple[float, str]:
    """δ of an improvement claim and where it comes from: the config's effect of interest where it states one
    (a toy tests the direction of a gain, not the paper's size at 4B), else the paper's own gain."""
    if "improvement_effect" in artifacts:
        return float(
            artifacts["improvement_effect"]
        ), "artifacts.improvement_effect, an effect of interest [ours]"
    return paper_effect, "the paper's mean gain"


def _combine(verdicts: Sequence[Verdict]) -> Verdict:
    """All sub-verdicts must hold: any not-testable makes the claim not testable, then any failure fails it,
    then any inconclusive part leaves it inconclusive."""
    for kind in (NOT_TESTABLE, NOT_REPRODUCED, INCONCLUSIVE):
        hits = [v.reason for v in verdicts if v.verdict == kind]
        if hits:
            return Verdict(kind, "; ".join(hits))
    return Verdict(REPRODUCED, "; ".join(v.reason for v in verdicts))


def _credit_claims(logs: Logs) -> list[Claim]:
    a = logs.artifacts
    scale = logs.config["scale"]
    fig4 = [f"figures/{scale}/fig4_estimator_correlation.png"]
    method = a["correlation"]
    variant = default_variant(logs.config["train"]["rredcot"])
    ours_col = rredcot_name(variant)
    specs = [
        (
            "tracks_mc",
            "RREDCoT's segment credits track MC better than gradient and LOO attribution",
            "RREDCoT closer to MC than both attributions (Fig. 4)",
        ),
        (
            "tracks_mc_late",
            "… especially late in the trace",
            "the advantage is larger late in the trace (Fig. 4)",
        ),
        (
            "attributions_agree",
            "Gradient and LOO attribution agree with each other but not with MC",
            "corr(gradient, LOO) high; both low with MC (Fig. 4)",
        ),
    ]
    effects = a["credit_effects"]
    rules = {
        "tracks_mc": f"interval: {method} corr({ours_col}, MC) − max(corr(gradient, MC), corr(LOO, MC)) > 0",
        "tracks_mc_late": (
            f"interval: the same difference on segments with relative position ≥ {a['late_position']:g} "
            "minus that on earlier segments > 0"
        ),
        "attributions_agree": (
            f"interval: {method} corr(gradient, LOO) − max(corr(gradient, MC), corr(LOO, MC)) > 0"
        ),
    }
    rules = {
        key: f"{rule}; effect of interest δ = {effects[key]:+g} (artifacts.credit_effects.{key} [ours])"
        for key, rule in rules.items()
    }
    if not logs.traces:
        return [
            Claim(
                key, text, paper, "—", Verdict(NOT_TESTABLE, "no credit-analysis log"), "—", rules[key], fig4
            )
            for key, text, paper in specs
        ]
    credits = pooled_credits(logs.traces)
    n_traces = int(credits["trace"].nunique()) if not credits.empty else 0
    needed = {MC, ours_col, GRADIENT, LOO}
    run = (
        f"{n_traces} traces, {len(credits)} reasoning segments pooled; MC with "
        f"{_mc_samples(logs.traces)} samples per boundary; RREDCoT variant {variant}; {method} correlation"
    )
    if not needed <= set(credits.columns):
        missing = ", ".join(sorted(needed - set(credits.columns)))
        return [
            Claim(
                key,
                text,
                paper,
                "—",
                Verdict(NOT_TESTABLE, f"credits missing from the log: {missing}"),
                run,
                rules[key],
                fig4,
            )
            for key, text, paper in specs
        ]
    boot = {"n_resamples": a["bootstrap_resamples"], "seed": 0}
    late = credits["rel_position"].to_numpy(dtype=float) >= a["late_position"]

    tracks = correlation_with(ours_col, [GRADIENT, LOO], method)

    def late_minus_early(table: pd.DataFrame) -> float:
        is_late = table["rel_position"].to_numpy(dtype=float) >= a["late_position"]
        return tracks(table[is_late]) - tracks(table[~is_late])

    def attributions(table: pd.DataFrame) -> float:
        agree = correlation(table[GRADIENT], table[LOO], method)
        rivals = [correlation(table[c], table[MC], method) for c in (GRADIENT, LOO)]
        if not math.isfinite(agree) or not all(math.isfinite(r) for r in rivals):
            return math.nan
        return agree - max(rivals)

    corr = {c: correlation(credits[c], credits[MC], method) for c in (ours_col, GRADIENT, LOO)}
    ours = {  # claim -> (its statistic over traces, what we found besides it)
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
    claims = []
    for key, text, paper in specs:
        statistic, found = ours[key]
        point, lo, hi = bootstrap_over_traces(credits, statistic, **boot)
        verdict = verdict_interval(
            point, lo, hi, n_traces=n_traces, min_traces=a["min_traces"], effect=effects[key]
        )
        found = f"{found}; difference {signed(point)} [{fmt(lo)}, {fmt(hi)}]"
        claims.append(Claim(key, text, paper, found, verdict, run, rules[key], fig4))
    return claims


def _mc_samples(traces: Sequence[dict]) -> str:
    counts = sorted({len(row) for t in traces for row in t.get("mc", {}).get("outcomes", [])})
    if not counts:
        return "no"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def _mc_sd_claim(logs: Logs) -> Claim:
    a, c = logs.artifacts, logs.paper_claims
    threshold, samples = c["mc_sd_threshold"], int(c["mc_sd_samples"])
    text = "MC value SD falls below 0.1 after about 5 samples"
    paper = (
        f"SD < {threshold:g} after about {samples} samples (from {c['mc_rollouts']:g} rollouts per boundary)"
    )
    rule = (
        f"threshold: mean over the boundaries with both outcomes of the bootstrapped SD at {samples} samples "
        f"per boundary < {threshold:g}"
    )
    artifact = [f"figures/{logs.config['scale']}/fig7_mc_sd.png"]
    if not logs.traces:
        return Claim(
            "mc_sd", text, paper, "—", Verdict(NOT_TESTABLE, "no credit-analysis log"), "—", rule, artifact
        )
    sizes, sd, _ = mc_bootstrap_sd(
        logs.traces, max_samples=a["mc_sd_max_samples"], n_resamples=a["bootstrap_resamples"]
    )
    varied = both_outcomes(logs.traces)
    run = (
        f"{int(varied.sum())} of {sd.shape[0]} boundaries have both outcomes; MC with "
        f"{_mc_samples(logs.traces)} samples per boundary"
    )
    if samples > sizes.size:
        reason = f"fewer than {samples} MC samples per boundary logged"
        return Claim("mc_sd", text, paper, "—", Verdict(NOT_TESTABLE, reason), run, rule, artifact)
    if not varied.any():
        reason = "every boundary's MC outcomes are all equal: the SD is 0 whatever the sample count"
        ours = f"0/{sd.shape[0]} boundaries have both outcomes"
        return Claim("mc_sd", text, paper, ours, Verdict(NOT_TESTABLE, reason), run, rule, artifact)
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
    return Claim("mc_sd", text, paper, ours, verdict, run, rule, artifact)


def _cost_claims(logs: Logs) -> list[Claim]:
    a, c = logs.artifacts, logs.paper_claims
    scale = logs.config["scale"]
    variant = default_variant(logs.config["train"]["rredcot"])
    cost_table = [f"paper_tables/{scale}/compute_cost_logged.md"]
    claims = []
    bound = c["value_cost_ratio"] * a["value_cost_tolerance"]
    rule = (
        f"threshold: Σ value seconds / Σ MC seconds ≤ {a['value_cost_tolerance']:g} × "
        f"{c['value_cost_ratio']:g}"
    )
    if logs.traces:
        costs = trace_costs(logs.traces, variant)
        both = costs[np.isfinite(costs["mc_seconds"]) & np.isfinite(costs["value_seconds"])]
        ratio = (
            both["value_seconds"].sum() / both["mc_seconds"].sum()
            if both["mc_seconds"].sum() > 0
            else math.nan
        )
        verdict = verdict_at_most(ratio, bound, "value / MC time")
        claims.append(
            Claim(
                "value_cost",
                "RREDCoT's values cost about 1/10 of MC's compute",
                f"≈ {c['value_cost_ratio']:g}",
                f"{fmt(ratio, 4)} (median per trace: MC {fmt(both['mc_seconds'].median())} s, "
                f"RREDCoT {fmt(both['value_seconds'].median(), 4)} s)",
                verdict,
                f"{len(both)} traces, MC with {_mc_samples(logs.traces)} samples per boundary; {variant}",
                rule,
                [*cost_table, f"figures/{scale}/fig3_mc_cost.png"],
            )
        )
    else:
        claims.append(
            Claim(
                "value_cost",
                "RREDCoT's values cost about 1/10 of MC's compute",
                f"≈ {c['value_cost_ratio']:g}",
                "—",
                Verdict(NOT_TESTABLE, "no credit-analysis log"),
                "—",
                rule,
                cost_table,
            )
        )
    low, high = c["train_cost_ratio_low"], c["train_cost_ratio_high"]
    costs = step_cost(logs.metrics) if not logs.metrics.empty else pd.DataFrame(columns=["method"])
    by = {r["method"]: r for r in costs.to_dict("records")}
    if "grpo" in by and "rredcot" in by and by["grpo"]["step_time_s"]:
        ratio = by["rredcot"]["step_time_s"] / by["grpo"]["step_time_s"]
        ours = (
            f"{ratio:.3g}× (median step time RREDCoT {by['rredcot']['step_time_s']:.3g} s, "
            f"GRPO {by['grpo']['step_time_s']:.3g} s)"
        )
        run = f"{by['grpo']['n_steps']} GRPO and {by['rredcot']['n_steps']} RREDCoT steps over all seeds"
    else:
        ratio, ours, run = math.nan, "—", "—"
    claims.append(
        Claim(
            "train_cost",
            "A training run costs 1.5–2× vanilla GRPO",
            f"{low:g}–{high:g}×",
            ours,
            verdict_at_most(ratio, high, "step-time ratio"),
            run,
            f"threshold: median RREDCoT step time / median GRPO step time ≤ {high:g} (the paper's cost is an "
            "upper bound: a cheaper run is consistent with it)",
            cost_table,
        )
    )
    return claims


def _efficiency_claim(logs: Logs) -> Claim:
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
    artifact = [f"figures/{logs.config['scale']}/training_curves.png"]
    claim = "Better sample efficiency than GRPO (fewer steps to the same accuracy)"
    paper = "fewer steps (no number given)"

    def untestable(reason: str, ours: str = "—") -> Claim:
        return Claim(
            "sample_efficiency", claim, paper, ours, Verdict(NOT_TESTABLE, reason), "—", rule, artifact
        )

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
    return Claim("sample_efficiency", claim, paper, ours, verdict, run, rule, artifact)


# Claims about training with RREDCoT need the positive control's headroom and a configured estimator that
# passes value sanity; claims about RREDCoT's credit need value sanity. The others need neither.
TRAINING_CLAIMS = ("table1", "table2", "sample_efficiency")
CREDIT_CLAIMS = ("tracks_mc", "tracks_mc_late")


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
            f"{_pct(summary['drop_share'])}, needed ≥ {100 * targets['drop_share']:.0f} %)"
        )
    headroom = logs.artifacts.get("headroom")
    if headroom is None:
        training = ["no positive control (exact-credit headroom) at this scale"]
    else:
        reading = _headroom_reading(logs)
        training = [] if reading.shown else [f"the positive control: exact-credit headroom {reading.verdict}"]
    return {"training": training + sanity_failures, "credit": sanity_failures}


def gate(claim: Claim, failures: Sequence[str]) -> Claim:
    """``claim`` judged as computed where no control failed; else not testable, naming the failed controls and
    keeping the ungated reading in the reason."""
    if not failures:
        return claim
    reason = f"{'; '.join(failures)} (ungated: {claim.verdict.verdict}, {claim.verdict.reason})"
    return replace(claim, verdict=Verdict(NOT_TESTABLE, reason))


def evaluate_claims(logs: Logs) -> list[Claim]:
    claims = [
        _comparison_claim(logs, "table1"),
        _base_claim(logs),
        _comparison_claim(logs, "table2"),
        *_credit_claims(logs),
        _mc_sd_claim(logs),
        *_cost_claims(logs),
        _efficiency_claim(logs),
    ]
    failures = failed_controls(logs)
    kinds = {**dict.fromkeys(TRAINING_CLAIMS, "training"), **dict.fromkeys(CREDIT_CLAIMS, "credit")}
    return [gate(c, failures[kinds[c.key]]) if c.key in kinds else c for c in claims]


# ------------------------------------------------------------------------------------- credit (our additions)
def credit_section(logs: Logs) -> list[str]:
    """Degenerate boundaries, where the agreement tables are, and first-error localization (our additions)."""
    from rredcot.artifacts.credit import RANDOM, degenerate_share, error_localization

    lines = ["## Credit agreement and error localization (our additions, not paper claims)", ""]
    if not logs.traces:
        return lines + ["No credit-analysis log.", ""]
    d = degenerate_share(logs.traces)
    lines += [
        f"**Degenerate MC boundaries**: {d.n_degenerate} of {d.n_boundaries} ({_pct(d.share)}) have rollouts "
        f"that all agree ({d.n_all_zero} all 0, {d.n_all_one} all 1), so their MC value is 0 or 1 whatever "
        f"the true value; {d.n_segments_degenerate} of {d.n_segments} reasoning segments lie between two "
        "of them (their MC credit is a tie). The agreement of values and credits with MC, pooled and per "
        "trace, by correct / incorrect trace and without the degenerate boundaries, is in the table "
        "*credit_agreement* (Tables) and the figure *credit_agreement*.",
        "",
    ]
    loc = error_localization(logs.traces, n_resamples=logs.artifacts["bootstrap_resamples"])
    head = (
        "**First-error localization** (incorrect traces whose first wrong line is known: does the "
        "most-blamed reasoning segment, the most negative credit with ties to the earliest, hold it?)"
    )
    if loc.table.empty:
        why = (
            "the credit log records no first errors (`first_error`)"
            if loc.n_unknown == loc.n_incorrect
            else "no incorrect trace has a first error inside a reasoning segment"
        )
        lines += [f"{head}: not testable here: {why}. {_left_out(loc)}", ""]
        return lines
    variant = rredcot_name(default_variant(logs.config["train"]["rredcot"]))
    shown = []
    for row in loc.table.to_dict("records"):
        name = row["estimator"].removeprefix("RREDCoT ")
        if row["estimator"] == variant:
            name += " (configured)"
        if row["estimator"] == RANDOM:
            name += " (mean 1/K)"
        shown.append(f"{name} {fmt(row['share'], 2)} [{fmt(row['lo'], 2)}, {fmt(row['hi'], 2)}]")
    lines += [
        f"{head}: share of the {loc.n_scored} scored traces, 95 % bootstrap interval over traces: "
        + "; ".join(shown)
        + f". {_left_out(loc)} Table *error_localization*, figure *error_localization*.",
        "",
    ]
    return lines


def _left_out(loc) -> str:
    parts = [
        (loc.n_outside, "first error after the reasoning segments (e.g. in the answer), counted apart"),
        (loc.n_not_found, "no wrong line found"),
        (loc.n_unchecked, "no checker for the row"),
        (loc.n_unknown, "first error not logged"),
        (loc.n_no_segments, "no reasoning segment"),
    ]
    shown = [f"{n} {what}" for n, what in parts if n]
    return f"Of {loc.n_incorrect} incorrect traces (of {loc.n_traces}): " + (
        "; ".join(shown) + "." if shown else "all scored."
    )


# ------------------------------------------------------------------------------------------------ controls
def controls_section(logs: Logs) -> list[str]:
    """Checks of the mechanism that come before any verdict (our additions, not paper claims): value sanity,
    the learning-rate-0 control and the MC oracle, each against its stated target."""
    lines = [
        "## Controls (our additions, not paper claims)",
        "",
        "A toy verdict counts only where the toy realises the paper's premise, so these checks come first.",
        "",
    ]
    sanity = logs.value_sanity
    if sanity is not None:
        s = sanity["summary"]
        t = s["targets"]
        lines += [
            f"**Value sanity** ({s['n_problems']} problems, {s['n_states']} states of the base policy's "
            "greedy traces: the prompt, every line end of the thinking and "
            f"{s['n_twins']} corrupted twins of the state after the first step; MC values from "
            f"{s['n_mc_samples']} rollouts per state; {int(100 * s['ci_level'])} % bootstrap intervals over "
            f"problems). Targets: Spearman(log v̂, MC) ≥ {t['spearman']}, estimate drops at the corrupted "
            f"twin in ≥ {100 * t['drop_share']:.0f} % of problems.",
            "",
            "| estimator | Spearman(log v̂, MC) | drops at the corrupted twin | meets both targets |",
            "|---|---|---|---|",
        ]
        configured = logs.config["train"]["rredcot"]["value_estimator"]
        for name, e in s["estimators"].items():
            lo, hi = e["spearman_ci"]
            dlo, dhi = e["drop_share_ci"]
            mark = " (configured)" if name == configured else ""
            lines.append(
                f"| {name}{mark} | {fmt(e['spearman'], 2)} [{fmt(lo, 2)}, {fmt(hi, 2)}] | "
                f"{_pct(e['drop_share'])} [{_pct(dlo)}, {_pct(dhi)}] | "
                f"{'yes' if e['meets_targets'] else 'no'} |"
            )
        lines += ["", f"MC values themselves drop at the twin in {_pct(s['mc_drop_share'])} of problems.", ""]
    lines += _headroom_lines(logs) + _control_runs(logs)
    return lines


def _headroom_reading(logs: Logs) -> Headroom:
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


def _headroom_lines(logs: Logs) -> list[str]:
    """The positive control's reading, where the config defines one (``artifacts.headroom``)."""
    h = logs.artifacts.get("headroom")
    if h is None:
        return ["**Positive control**: none at this scale, so no claim about training is judged.", ""]
    reading = _headroom_reading(logs)
    scale = logs.config["scale"]
    return [
        f"**Positive control: exact-credit headroom {reading.verdict}.** The `{h['control']}` arm (exact "
        f"values through the configured σ) reaches `{h['baseline']}`'s final training accuracy "
        f"{fmt(reading.threshold)} at step {reading.crossing:g} of {reading.horizon:g} (seed means, "
        f"{reading.seeds[h['control']]} and {reading.seeds[h['baseline']]} seeds; pre-registered target: "
        f"within {h['max_step_fraction']:.0%} of the steps). Per seed, and the share of its gain RREDCoT "
        f"recovers: `paper_tables/{scale}/headroom.md`, `figures/{scale}/headroom.png`.",
        "",
    ]


def _pct(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.0f} %"


def _control_runs(logs: Logs) -> list[str]:
    controls = logs.artifacts.get("controls", {})
    runs = {name: [r.split("/seed")[0] for r in tags] for name, tags in controls.items() if tags}
    if not runs:
        return []
    evals, benchmarks = logs.evals, logs.benchmarks
    columns = [("base", "base"), ("GRPO", "grpo"), ("RREDCoT", "rredcot")]
    columns += [
        (f"{name}: {method}", method) for name, methods in runs.items() for method in dict.fromkeys(methods)
    ]
    lines = [
        f"**Control runs on the test splits** ({logs.artifacts['metric']}; mean ± SD over seeds where "
        "there are several):",
        "",
        "| split | " + " | ".join(label for label, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    means = {}
    for split in [*benchmarks, MEAN_ROW]:
        cells = []
        for _, method in columns:
            per_seed = _run_means(evals, method, benchmarks if split == MEAN_ROW else [split])
            means[split, method] = per_seed
            sd = f" ± {fmt(float(np.std(per_seed, ddof=1)))}" if len(per_seed) > 1 else ""
            cells.append(f"{fmt(float(np.mean(per_seed)))}{sd}" if len(per_seed) else "—")
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    lines.append("")
    for method in dict.fromkeys(runs.get("lr0", [])):
        gaps = [abs(float(np.mean(means[b, method])) - float(np.mean(means[b, "base"]))) for b in benchmarks]
        same = all(len(means[b, method]) and len(means[b, "base"]) for b in benchmarks) and max(gaps) == 0.0
        lines.append(
            f"- Learning rate 0 (`{method}`) {'reproduces' if same else 'does **not** reproduce'} the base "
            f"model's evaluation: largest |Δ| over splits {fmt(max(gaps))} (target: exactly 0)."
        )
    for method in dict.fromkeys(runs.get("oracle", [])):
        oracle, grpo, red = (
            float(np.mean(means[MEAN_ROW, m])) if len(means[MEAN_ROW, m]) else math.nan
            for m in (method, "grpo", "rredcot")
        )
        gain = oracle - grpo
        share = (red - grpo) / gain if math.isfinite(gain) and gain > 0 else math.nan
        cost = _step_cost(logs.metrics, method)
        lines.append(
            f"- Oracle (`{method}`) − GRPO on the mean: {signed(gain)}; "
            f"RREDCoT − GRPO: {signed(red - grpo)}"
            + (
                f"; RREDCoT recovers {fmt(share, 2)} of the oracle's gain"
                if math.isfinite(share)
                else "; the oracle shows no gain over GRPO, so there is nothing for RREDCoT to recover"
            )
            + f". Median step time: {cost}."
        )
    lines.append("")
    return lines


def _run_means(evals: pd.DataFrame, method: str, benchmarks: Sequence[str]) -> np.ndarray:
    """Per seed of ``method``, the metric averaged over ``benchmarks``; the base model is one run."""
    if method != "base":
        return seed_means(evals, method, benchmarks)
    mean = policy_mean(evals, "base", benchmarks)
    return np.asarray([mean]) if math.isfinite(mean) else np.zeros(0)


def _step_cost(metrics: pd.DataFrame, oracle: str) -> str:
    """Median seconds per step of GRPO, RREDCoT and the oracle (:func:`rredcot.artifacts.logs.step_cost`)."""
    by = {r["method"]: r for r in step_cost(metrics).to_dict("records")} if not metrics.empty else {}
    return ", ".join(
        f"{label} {fmt(by[m]['step_time_s'], 2)} s" if m in by else f"{label} n/a"
        for label, m in (("GRPO", "grpo"), ("RREDCoT", "rredcot"), ("oracle", oracle))
    )


def robustness_section(logs: Logs) -> list[str]:
    """What could move the toy result besides the method (:mod:`rredcot.artifacts.robustness`)."""
    a = logs.artifacts
    lines = [
        *base_spread_lines(logs.evals, logs.benchmarks, a["metric"]),
        *delimiter_drift_lines(logs.metrics, final_window=a["final_window"], verdict_z=a["verdict_z"]),
        *machine_lines(logs.machines),
    ]
    if not lines:
        return []
    return ["## Robustness of the toy result (our additions)", "", *lines]


# --------------------------------------------------------------------------------------------- assumptions
# Every choice the paper leaves open ([ours] in docs/paper.md), and the analysis choices of this report.
ASSUMPTIONS: list[tuple[str, str, str]] = [
    ("train.rredcot.segmentation", "§2 [likely]", "segmentation strategy (hybrid keyword–entropy)"),
    ("train.rredcot.segment_keywords", "§2 [ours]", "keywords of the first split"),
    ("train.rredcot.max_segments", "§2 [ours]", "target number of segments K"),
    ("train.rredcot.segment_chunk_size", "§2 [ours]", "chunk size of fixed-length segmentation"),
    ("train.rredcot.value_estimator", "§3 [ours]", "reference pairs (u, y): reference / answer_only / self"),
    ("train.rredcot.value_space", "§3 [ours]", "log or linear values"),
    ("train.rredcot.end_of_thinking", "§3 [ours]", "end-of-thinking marker forced before u"),
    ("train.rredcot.exit_string", "§3 [ours]", "exit string of the answer-only estimator"),
    ("train.rredcot.answer_template", "§3 [ours]", "how the answer y is written after u"),
    ("train.rredcot.sigma_mode", "§4 [ours]", "segment rewards → σ: clip max(0, sign(A)·r_k) or softmax"),
    ("train.rredcot.sigma_mix", "§4 [ours]", "mix λ of redistributed and uniform weights"),
    ("train.rredcot.sigma_temperature", "§4 [ours]", "softmax temperature τ"),
    ("train.trl.beta", "§5 [ours]", "KL coefficient"),
    ("train.trl.epsilon", "§5 [ours]", "clip ε"),
    ("train.trl.temperature", "§5 [ours]", "sampling temperature in training"),
    ("train.trl.top_p", "§5 [ours]", "nucleus sampling in training"),
    (
        "train.trl.per_device_train_batch_size",
        "§5 [ours]",
        "completions per device and step (prompts per step)",
    ),
    ("train.trl.gradient_accumulation_steps", "§5 [ours]", "accumulation (prompts per step)"),
    ("train.trl.loss_type", "§4 [ours]", "GRPO loss normaliser (TRL name)"),
    ("train.trl.scale_rewards", "§5 [ours]", "advantage normalisation (TRL name)"),
    ("train.trl.warmup_steps", "§5 [ours]", "learning-rate warm-up (steps)"),
    ("train.seeds", "§5 [ours]", "training seeds"),
    ("data.hub.train_limit", "§5 [ours]", "rows of the training set used"),
    ("eval.temperature", "§5 [ours]", "evaluation temperature"),
    ("eval.top_p", "§5 [ours]", "evaluation nucleus sampling"),
    ("eval.max_new_tokens", "§5 [ours]", "evaluation token budget"),
    ("eval.benchmarks.*.n_samples", "§5 [ours]", "samples per problem (avg@n)"),
    ("artifacts.metric", "report [ours]", "accuracy metric of Tables 1–2"),
    (
        "artifacts.threshold_fraction",
        "report [ours]",
        "sample efficiency: threshold = GRPO start + fraction × (GRPO final − start); 0.5: the midpoint",
    ),
    (
        "artifacts.sample_efficiency_effect",
        "report [ours]",
        "sample efficiency: effect of interest, as a fraction of GRPO's steps to the threshold",
    ),
    (
        "artifacts.credit_effects.*",
        "report [ours]",
        "credit claims: effect of interest δ of each interval statistic (the paper gives none)",
    ),
    ("artifacts.smooth_window", "report [ours]", "trailing mean over steps of training curves"),
    ("artifacts.final_window", "report [ours]", "steps averaged for a run's final accuracy"),
    (
        "artifacts.correlation",
        "§5 Fig. 4 [ours]",
        "correlation used by the verdicts (the paper's type is unknown)",
    ),
    ("artifacts.position_bins", "report [ours]", "relative-position bins of Fig. 4 and Fig. 7"),
    ("artifacts.late_position", "report [ours]", "relative position from which a segment counts as late"),
    ("artifacts.bootstrap_resamples", "report [ours]", "bootstrap resamples (intervals, MC SD)"),
    ("artifacts.mc_sd_max_samples", "§5 Fig. 7", "largest samples per boundary in Fig. 7"),
    ("artifacts.verdict_z", "report [ours]", "improvement rule: Δ must reach z × SE"),
    ("artifacts.min_seeds", "report [ours]", "seeds per side for an improvement verdict"),
    ("artifacts.min_traces", "report [ours]", "traces for a credit-agreement verdict"),
    (
        "artifacts.value_cost_tolerance",
        "report [ours]",
        "value cost claim holds up to this × the paper's 1/10",
    ),
]


# Settings of the credit analysis (config section ``analysis``, docs/paper.md §5 "Analyses").
ANALYSIS_NOTES = {
    "benchmark": "problems the traces are sampled for (paper: AIME-25)",
    "n_problems": "traces analysed (paper: 30 questions)",
    "n_mc_samples": "MC continuations per boundary (paper: 20 rollouts)",
    "n_mc_samples_ablation": "MC continuations per boundary in the segmentation ablation",
    "temperature": "sampling temperature of traces and MC continuations",
    "max_new_tokens": "token budget of a trace",
    "mc_max_new_tokens": "token budget of an MC continuation",
    "segmentation": "segmentation of the analysed traces (paper: up to 40 segments)",
    "estimators": "value-estimator variants compared with MC",
    "attribution_estimator": "continuation explained by the gradient and LOO attributions",
    "ablation_estimator": "value variant of the segmentation ablation",
    "segmentation_variants": "segmentation ablation: strategies and K",
    "self_group_size": "group size of the self-bootstrapped estimator",
    "backend": "sampler of the MC continuations: HF generate or vLLM",
}


def _lookup(config: dict, dotted: str) -> list[tuple[str, object]]:
    """(field, value) pairs of a dotted path; ``*`` expands over a mapping's keys; missing → not set."""
    results = [("", config)]
    for part in dotted.split("."):
        nxt = []
        for prefix, node in results:
            name = f"{prefix}.{part}" if prefix else part
            if not isinstance(node, dict):
                nxt.append((name, _MISSING))
            elif part == "*":
                nxt.extend((f"{prefix}.{k}" if prefix else k, v) for k, v in node.items())
            else:
                nxt.append((name, node.get(part, _MISSING)))
        results = nxt
    return results


_MISSING = object()


def _show(value) -> str:
    import json

    if value is _MISSING:
        return "not set in this config"
    text = json.dumps(value, ensure_ascii=False)
    return f"`{text}`".replace("|", "\\|")


def assumptions_table(config: dict) -> str:
    lines = [f"| config field | value here | what the paper leaves open | {PAPER} |", "|---|---|---|---|"]
    for dotted, where, what in ASSUMPTIONS:
        for name, value in _lookup(config, dotted):
            lines.append(f"| `{name}` | {_show(value)} | {what} | {where} |")
    for key, value in config.get("analysis", {}).items():
        what = ANALYSIS_NOTES.get(key, "credit-analysis setting")
        lines.append(f"| `analysis.{key}` | {_show(value)} | {what} | §5 [ours] |")
    overrides = config.get("train", {}).get("method_overrides", {})
    for method, fields in overrides.items():
        for key, value in fields.items():
            lines.append(
                f"| `train.method_overrides.{method}.{key}` | {_show(value)} | per-method setting | §5 |"
            )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- render
def _rel(path: str | Path, out: str | Path) -> str:
    return Path(os.path.relpath(Path(path), Path(out).parent)).as_posix()


def _describe_run(logs: Logs) -> list[str]:
    cfg = logs.config
    base = cfg["base_model"]
    if base["kind"] == "sft":
        arch = base.get("architecture", {})
        model = (
            f"tiny Qwen3 built and SFT-trained by the pipeline ({arch.get('num_hidden_layers')} layers, "
            f"hidden size {arch.get('hidden_size')})"
        )
    else:
        model = f"`{base['name_or_path']}`" + (" with random weights" if base.get("random_init") else "")
    data = cfg["data"]
    train_data = (
        f"synthetic arithmetic task ({data['synthetic']['train']['n']} training problems)"
        if data["kind"] == "synthetic"
        else f"`{data['hub']['train']}` from the hub"
    )
    trl = cfg["train"]["trl"]
    benches = ", ".join(f"{b} (avg@{s['n_samples']})" for b, s in cfg["eval"]["benchmarks"].items())
    lines = [
        f"- **Scale** `{cfg['scale']}`: base model {model}; training data {train_data}.",
        f"- **Training**: {', '.join(cfg['train']['methods'])} × seeds {cfg['train']['seeds']}, "
        f"{trl['max_steps']} steps, group size {trl['num_generations']}, completions ≤ "
        f"{trl['max_completion_length']} tokens.",
        f"- **Evaluation**: {benches}.",
    ]
    if logs.traces is not None:
        correct = sum(t.get("correct") == 1 for t in logs.traces)
        line = (
            f"- **Credit analysis**: {len(logs.traces)} traces ({correct} correct, "
            f"{sum(t.get('correct') == 0 for t in logs.traces)} incorrect), MC with "
            f"{_mc_samples(logs.traces)} samples per boundary."
        )
        if logs.draws:
            accepted = sum(bool(d.get("accepted")) for d in logs.draws)
            solved = np.mean([bool(d.get("correct")) for d in logs.draws])
            line += (
                f" Traces drawn until both classes were represented: {len(logs.draws)} draws, "
                f"{_pct(float(solved))} of them correct (the base policy's accuracy on these draws), "
                f"{accepted} accepted."
            )
        lines.append(line)
    return lines


def render(
    logs: Logs,
    *,
    out: str | Path,
    tables_md: Sequence[str | Path] = (),
    figures_png: Sequence[str | Path] = (),
    named_only_figures: Sequence[str | Path] = (),
    captions: Mapping[str, str] | None = None,
    targets: Mapping[str, str] | None = None,
    snakemake_command: str = "snakemake --cores 2 {target}",
    benchmark_cost: str | Path | None = None,
) -> str:
    """The Markdown text of the report; links are relative to ``out``'s folder. ``captions``: each figure's
    caption (reStructuredText, as ``snakemake --report`` shows it), printed under the figure; every figure
    needs one. ``targets``: each artifact file listed under *How to regenerate*, and the rule that makes it
    (:data:`rredcot.artifacts.makers.MAKERS` names its function). ``snakemake_command``: the command that
    rebuilds one artifact, ``{target}`` standing for it (appended if absent)."""
    uncaptioned = [str(p) for p in [*figures_png, *named_only_figures] if not (captions or {}).get(str(p))]
    if uncaptioned:
        raise ValueError(f"figures without a caption: {uncaptioned}")
    claims = evaluate_claims(logs)
    scale = logs.config["scale"]
    lines = [
        f"# Replication report — `{scale}` scale",
        "",
        "Generated by `rredcot.artifacts.report.write_report` from the logged data of this scale "
        "(training metrics, evaluation summaries, credit analysis) and the paper's numbers in "
        "`paper_tables/paper/`; do not edit by hand. Each verdict is decided by the rule in its row "
        "(see *Verdict rules*), never written by hand. The claims, their sections (§) and confidence tags "
        f"are those of [{PAPER}]({_rel(PAPER, out)}), this repository's account of the paper.",
        "",
        "## What was run",
        "",
        *_describe_run(logs),
        "",
        "## Verdicts",
        "",
        f"| claim ({PAPER} §5) | paper | ours | verdict |",
        "|---|---|---|---|",
    ]
    for c in claims:
        lines.append(f"| {c.claim} | {c.paper} | {c.ours} | **{c.verdict.verdict}** |")
    counts = {v: sum(c.verdict.verdict == v for c in claims) for v in VERDICTS}
    lines += [
        "",
        "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".",
        "",
        *controls_section(logs),
        *robustness_section(logs),
        *credit_section(logs),
        "## Claims in detail",
        "",
    ]
    for c in claims:
        links = ", ".join(f"[{Path(p).name}]({_rel(p, out)})" for p in c.artifacts)
        lines += [
            f"### {c.claim}",
            "",
            f"- What was run: {c.run}",
            f"- Paper: {c.paper}",
            f"- Ours: {c.ours}",
            f"- Rule: {c.rule}",
            f"- Verdict: **{c.verdict.verdict}** — {c.verdict.reason}",
            f"- Artifacts: {links}" if links else "- Artifacts: —",
            "",
        ]
    if tables_md:
        lines += ["## Tables", ""]
        for path in tables_md:
            lines += [Path(path).read_text().rstrip(), "", f"([{Path(path).name}]({_rel(path, out)}))", ""]
    if benchmark_cost and Path(benchmark_cost).exists():
        lines += [
            f"Side-by-side timings of the benchmark scripts (`benchmarks/`, same batch, one process): "
            f"[{Path(benchmark_cost).name}]({_rel(benchmark_cost, out)}).",
            "",
        ]
    if figures_png:
        lines += ["## Figures", ""]
        for path in figures_png:
            lines += _figure(path, captions[str(path)], out)
    if named_only_figures:
        built = [path for path in named_only_figures if Path(path).exists()]
        lines += [
            "## Training ablations (a named target, outside the default run)",
            "",
            "RL runs per variant with the seeds `artifacts.training_ablations` names, evaluated on the test "
            "splits like the main runs: built by "
            f"`{snakemake_command.replace('{target}', 'training_ablations')}` and shown here when they "
            "existed as this report was written.",
            "",
            *ablation_test_lines(logs.artifacts.get("training_ablations", {}), logs.evals, logs.benchmarks),
        ]
        lines += [line for path in built for line in _figure(path, captions[str(path)], out)]
        missing = [Path(path).stem for path in named_only_figures if path not in built]
        if missing:
            lines += [f"Not built: {', '.join(missing)}.", ""]
    lines += [
        "## Verdict rules",
        "",
        *(__doc__ or "").split("\n\n", 1)[-1].splitlines(),
        "",
        "## Assumptions (where the paper is silent)",
        "",
        assumptions_table(logs.config).rstrip(),
        "",
        *regenerate_section(targets or {}, out=out, snakemake_command=snakemake_command),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _figure(path: str | Path, caption: str, out: str | Path) -> list[str]:
    """A figure and, under it, its caption: the reStructuredText of ``experiments/report/`` as one Markdown
    paragraph (``literal`` → `literal`)."""
    text = " ".join(caption.split()).replace("``", "`")
    return [f"![{Path(path).stem}]({_rel(path, out)})", "", text, ""]


def regenerate_section(targets: Mapping[str, str], *, out: str | Path, snakemake_command: str) -> list[str]:
    """*How to regenerate each artifact*: one row per artifact (its PDF and PNG, or its CSV, LaTeX and
    Markdown) with the function that makes it and the command that rebuilds it; links relative to ``out``."""
    lines = [
        "## How to regenerate each artifact",
        "",
        "Figures and tables read only logged data; none of these commands retrains anything once the "
        "logs exist. Each artifact's rule calls the function beside it (`rredcot/artifacts/make.py`), with "
        "the rule's inputs, outputs and params by name.",
        "",
        "| artifact | made by | command |",
        "|---|---|---|",
    ]
    groups: dict[str, list[str]] = {}
    for target in targets:
        groups.setdefault(str(Path(target).with_suffix("")), []).append(target)
    for files in groups.values():
        links = ", ".join(f"[{Path(f).suffix[1:]}]({_rel(f, out)})" for f in files)
        command = (
            snakemake_command.replace("{target}", files[0])
            if "{target}" in snakemake_command
            else f"{snakemake_command} {files[0]}"
        )
        made_by = f"`rredcot.artifacts.{MAKERS[targets[files[0]]]}`"
        lines.append(f"| `{Path(files[0]).with_suffix('')}` ({links}) | {made_by} | `{command}` |")
    return lines


def write_report(
    *,
    evals: pd.DataFrame,
    metrics: pd.DataFrame,
    traces: list[dict] | None,
    paper_tables: dict[str, pd.DataFrame],
    claims: dict[str, float],
    tables_md: Sequence[str],
    figures_png: Sequence[str],
    config: dict,
    metric: str,
    optional_evals: Sequence[str],
    machines: Sequence[str],
    named_only_figures: Sequence[str],
    captions: Mapping[str, str],
    targets: Mapping[str, str],
    snakemake_command: str,
    benchmark_cost: str | None,
    out: str,
    published: str | None = None,
    sanity: dict | None = None,
    draws: list[dict] | None = None,
) -> None:
    """REPLICATION.md of one scale and, if ``published``, its copy with links relative to that file.

    ``optional_evals`` (training-ablation runs outside the default target) and the ``machine.json`` of the
    ``machines`` model dirs are read where they exist."""
    optional = [path for path in optional_evals if Path(path).exists()]
    logs = Logs(
        config=config,
        evals=pd.concat([evals, load_eval(optional, metric=metric)], ignore_index=True)
        if optional
        else evals,
        metrics=metrics,
        traces=traces,
        paper_tables=paper_tables,
        paper_claims=claims,
        value_sanity=sanity,
        machines={
            d: read_json(Path(d) / "machine.json") for d in machines if (Path(d) / "machine.json").exists()
        },
        draws=draws,
    )
    for path in [out, *([published] if published else [])]:
        text = render(
            logs,
            out=path,
            tables_md=tables_md,
            figures_png=figures_png,
            named_only_figures=named_only_figures,
            captions=captions,
            targets=targets,
            snakemake_command=snakemake_command,
            benchmark_cost=benchmark_cost,
        )
        write_text(path, text)
