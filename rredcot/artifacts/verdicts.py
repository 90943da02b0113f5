"""The verdict rules: how a claim's reading from the logs becomes reproduced, not reproduced, inconclusive or
not testable (the report prints the rest of this text as its *Verdict rules*).

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
  consistent with it). Both times come from the benchmark scripts' rows measured on a quiet machine
  (``benchmarks/README.md``), never from the pipeline's own step times, which move with the machine's load.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rredcot.artifacts.logs import difference_se

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE)


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


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """All sub-verdicts must hold: any not-testable makes the claim not testable, then any failure fails it,
    then any inconclusive part leaves it inconclusive."""
    for kind in (NOT_TESTABLE, NOT_REPRODUCED, INCONCLUSIVE):
        hits = [v.reason for v in verdicts if v.verdict == kind]
        if hits:
            return Verdict(kind, "; ".join(hits))
    return Verdict(REPRODUCED, "; ".join(v.reason for v in verdicts))


def improvement_effect(artifacts: Mapping, paper_effect: float) -> tuple[float, str]:
    """δ of an improvement claim and where it comes from: the config's effect of interest where it states one
    (a toy tests the direction of a gain, not the paper's size at 4B), else the paper's own gain."""
    if "improvement_effect" in artifacts:
        return float(
            artifacts["improvement_effect"]
        ), "artifacts.improvement_effect, an effect of interest [ours]"
    return paper_effect, "the paper's mean gain"


def gate(verdict: Verdict, failures: Sequence[str]) -> Verdict:
    """``verdict`` where no control failed; else not testable, naming the failed controls and keeping the
    ungated reading in the reason."""
    if not failures:
        return verdict
    return Verdict(NOT_TESTABLE, f"{'; '.join(failures)} (ungated: {verdict.verdict}, {verdict.reason})")
