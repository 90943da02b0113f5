"""Agreement of values and segment credits with Monte Carlo, and localization of the first error.

Both read only the credit-analysis log (format at the top of :mod:`rredcot.pipeline.analysis`).

**Agreement** (:func:`agreement`): per estimator, the correlation with MC of

* *values* at the value boundaries: the MC value of a boundary is the mean of its outcomes; RREDCoT's values
  are the logged ``values[variant]``, one row per estimator (its log variant where logged: log and linear
  values of one estimator have the same ranks, so a Spearman correlation does not tell them apart);
* *credits* of the reasoning segments (:func:`~rredcot.artifacts.logs.segment_credits`): MC credit of
  segment k is ``mean(outcomes[k]) − mean(outcomes[k−1])``, RREDCoT's ``segment_rewards(values[variant])``;
  gradient and LOO attributions are credits already (they have no values).

Each pooled over traces (one correlation of all pairs; percentile bootstrap interval resampling whole
traces) and per trace (median of the per-trace correlations of the traces where it is defined, with a
bootstrap interval resampling those traces); on all traces and on correct / incorrect traces; on every
boundary (segment) and on the non-degenerate ones. A boundary is *degenerate* when all its MC rollouts agree
(all 0 or all 1): its MC value is then 0 or 1 whatever the true value, and an MC credit between two
degenerate boundaries is a tie at 0 (or ±1). A segment counts as non-degenerate unless both its boundaries
are degenerate.

**Error localization** (:func:`error_localization`, our addition, not a claim of the paper): on incorrect
traces whose first wrong line is known (``first_error``: completion-token offset of its first token, in the
units of ``spans``), the share of traces whose *most-blamed* reasoning segment (the most negative credit;
ties go to the earliest segment; NaN credits are never blamed, and a trace where an estimator has no finite
credit counts as a miss) contains the first error, ``s ≤ first_error < e`` for its span ``[s, e)``. Traces
whose first error lies in no reasoning segment (e.g. in the answer after the thinking) are counted apart and
left out of the shares. The uniform-random baseline blames one of the K segments at random: its expected
share is exactly the mean of 1/K over the same traces. Intervals: percentile bootstrap over traces, the same
resamples for every estimator. Records without ``first_error`` (older logs), with ``first_error_checked``
false (no checker for that row) or with ``first_error`` null (no wrong line found) are counted, not scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rredcot.artifacts.logs import (
    MC,
    correlation,
    estimator_columns,
    percentile_interval,
    rredcot_name,
    segment_credits,
)

VALUE, CREDIT = "value", "credit"
ALL, CORRECT, INCORRECT = "all", "correct", "incorrect"
STRATA = (ALL, CORRECT, INCORRECT)
EVERY, NON_DEGENERATE = "all", "non-degenerate"
SUBSETS = (EVERY, NON_DEGENERATE)
RANDOM = "uniform random"

AGREEMENT_COLUMNS = [
    "quantity",
    "estimator",
    "stratum",
    "subset",
    "n_traces",
    "n_points",
    "pooled",
    "pooled_lo",
    "pooled_hi",
    "per_trace_n",
    "per_trace_median",
    "per_trace_lo",
    "per_trace_hi",
]


# ------------------------------------------------------------------------------------------------ MC data
def mc_means(trace: dict) -> np.ndarray | None:
    """MC value (mean outcome) at every boundary; NaN where a boundary has no outcomes; None without MC."""
    outcomes = trace.get("mc", {}).get("outcomes")
    if outcomes is None:
        return None
    return np.array([np.mean(row) if len(row) else np.nan for row in outcomes], dtype=float)


def degenerate(trace: dict) -> np.ndarray | None:
    """Per boundary: do all its MC rollouts agree (all 0 or all 1; no rollout at all counts too)?"""
    outcomes = trace.get("mc", {}).get("outcomes")
    if outcomes is None:
        return None
    return np.array([len(set(row)) <= 1 for row in outcomes], dtype=bool)


@dataclass(frozen=True)
class DegenerateShare:
    n_boundaries: int
    n_degenerate: int
    n_all_zero: int
    n_all_one: int
    n_segments: int
    n_segments_degenerate: int  # both boundaries degenerate

    @property
    def share(self) -> float:
        return self.n_degenerate / self.n_boundaries if self.n_boundaries else math.nan

    @property
    def segment_share(self) -> float:
        return self.n_segments_degenerate / self.n_segments if self.n_segments else math.nan


def degenerate_share(traces: Sequence[dict]) -> DegenerateShare:
    """How many boundaries (and reasoning segments) of the log are degenerate."""
    counts = dict.fromkeys(("b", "d", "z", "o", "s", "sd"), 0)
    for trace in traces:
        outcomes = trace.get("mc", {}).get("outcomes")
        if outcomes is None:
            continue
        deg = degenerate(trace)
        counts["b"] += len(outcomes)
        counts["d"] += int(deg.sum())
        counts["z"] += sum(1 for row in outcomes if row and set(row) == {0})
        counts["o"] += sum(1 for row in outcomes if row and set(row) == {1})
        counts["s"] += max(len(outcomes) - 1, 0)
        counts["sd"] += int((deg[:-1] & deg[1:]).sum())
    return DegenerateShare(counts["b"], counts["d"], counts["z"], counts["o"], counts["s"], counts["sd"])


def first_segment_share(traces: Sequence[dict]) -> dict[str, float]:
    """Per estimator, the median over traces of the first segment's share of the trace's total |credit|.

    The first segment is what a trace writes before its first boundary after the prompt (``<think>\\n`` on
    the CPU tasks), the same tokens in every trace. An estimator that gives it far more of the credit than MC
    does makes a redistribution spend that much of its update there, whatever the outcome. Traces whose
    credits are all 0 or not finite are left out."""
    shares: dict[str, list[float]] = {}
    for trace in traces:
        for name, credits in segment_credits(trace).items():
            magnitude = np.abs(credits)
            if magnitude.size and np.isfinite(magnitude).all() and magnitude.sum() > 0:
                shares.setdefault(name, []).append(float(magnitude[0] / magnitude.sum()))
    return {name: float(np.median(values)) for name, values in shares.items()}


# ------------------------------------------------------------------------------------------------ agreement
def _trace_pairs(
    trace: dict, rank: bool = True
) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(quantity, estimator) -> (estimate, MC, non-degenerate mask) of one trace. ``rank``: one value row per
    estimator (its log variant first), as a rank correlation sees log and linear values alike."""
    means, deg = mc_means(trace), degenerate(trace)
    if means is None:
        return {}
    out = {}
    values = trace.get("values", {})
    for variant in sorted(values, key=lambda v: not v.endswith("/log")):  # log first
        estimator = variant.partition("/")[0] if rank else variant
        if (VALUE, rredcot_name(estimator)) in out:
            continue  # the other space of the same values: the same ranks (a rank correlation)
        x = np.asarray([math.nan if v is None else v for v in values[variant]], dtype=float)
        out[VALUE, rredcot_name(estimator)] = (np.where(np.isfinite(x), x, np.nan), means, ~deg)
    credits = segment_credits(trace)
    keep = ~(deg[:-1] & deg[1:])
    for name, x in credits.items():
        if name != MC:
            out[CREDIT, name] = (x, credits[MC], keep)
    return out


def _stratum_of(trace: dict) -> str | None:
    correct = trace.get("correct")
    if correct is None or (isinstance(correct, float) and math.isnan(correct)):
        return None
    return CORRECT if int(correct) == 1 else INCORRECT


def _display_order(names: Sequence[str]) -> list[str]:
    frame = pd.DataFrame(columns=[MC, *names])
    return [c for c in estimator_columns(frame) if c != MC]


def agreement(
    traces: Sequence[dict],
    *,
    method: str = "spearman",
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (quantity, estimator, stratum, subset): the pooled correlation with MC and its interval,
    and the median per-trace correlation and its interval (columns :data:`AGREEMENT_COLUMNS`).

    ``n_traces``: traces with at least one pair in the cell (the bootstrap's units); ``n_points``: pairs;
    ``per_trace_n``: traces whose own correlation is defined (≥ 3 finite pairs, neither side constant).
    """
    per_trace = [(_stratum_of(t), _trace_pairs(t, rank=method == "spearman")) for t in traces]
    keys = {key for _, pairs in per_trace for key in pairs}
    order = {VALUE: 0, CREDIT: 1}
    names = {q: _display_order([e for qq, e in keys if qq == q]) for q in (VALUE, CREDIT)}
    rows = []
    for quantity in sorted({q for q, _ in keys}, key=order.get):
        for estimator in names[quantity]:
            for stratum in STRATA:
                for subset in SUBSETS:
                    xs, ys = [], []
                    for trace_stratum, pairs in per_trace:
                        if (quantity, estimator) not in pairs or stratum not in (ALL, trace_stratum):
                            continue
                        x, y, keep = pairs[quantity, estimator]
                        mask = keep if subset == NON_DEGENERATE else np.ones_like(keep)
                        mask = mask & np.isfinite(x) & np.isfinite(y)
                        if mask.any():
                            xs.append(x[mask])
                            ys.append(y[mask])
                    rows.append(
                        {
                            "quantity": quantity,
                            "estimator": estimator,
                            "stratum": stratum,
                            "subset": subset,
                            **_agreement_cell(
                                xs, ys, method=method, n_resamples=n_resamples, level=level, seed=seed
                            ),
                        }
                    )
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _agreement_cell(xs, ys, *, method, n_resamples, level, seed) -> dict:
    n = len(xs)
    pooled = correlation(np.concatenate(xs), np.concatenate(ys), method) if n else math.nan

    def pooled_stat(idx: np.ndarray) -> float:
        return correlation(np.concatenate([xs[i] for i in idx]), np.concatenate([ys[i] for i in idx]), method)

    lo, hi = (
        percentile_interval(pooled_stat, n, n_resamples=n_resamples, level=level, seed=seed)
        if math.isfinite(pooled)
        else (math.nan, math.nan)
    )
    r = np.array([correlation(x, y, method) for x, y in zip(xs, ys, strict=True)], dtype=float)
    r = r[np.isfinite(r)]
    median = float(np.median(r)) if r.size else math.nan
    mlo, mhi = percentile_interval(
        lambda idx: float(np.median(r[idx])), r.size, n_resamples=n_resamples, level=level, seed=seed
    )
    return {
        "n_traces": n,
        "n_points": int(sum(x.size for x in xs)),
        "pooled": pooled,
        "pooled_lo": lo,
        "pooled_hi": hi,
        "per_trace_n": int(r.size),
        "per_trace_median": median,
        "per_trace_lo": mlo,
        "per_trace_hi": mhi,
    }


# ------------------------------------------------------------------------------------- error localization
def most_blamed(credits: Sequence[float]) -> int | None:
    """Index of the most negative finite credit; ties go to the earliest segment; None if none is finite."""
    c = np.asarray(credits, dtype=float)
    finite = np.flatnonzero(np.isfinite(c))
    if finite.size == 0:
        return None
    return int(finite[np.argmin(c[finite])])  # argmin returns the first of equal minima


def first_error_segment(trace: dict) -> int | None:
    """The reasoning segment whose span ``[s, e)`` holds ``first_error``; None if it lies in none."""
    n_seg = len(trace["boundaries"]) - 1
    offset = trace["first_error"]
    for k, (start, end) in enumerate(trace.get("spans", [])[:n_seg]):
        if start <= offset < end:
            return k
    return None


@dataclass
class Localization:
    """Shares of scored traces whose most-blamed segment holds the first error, and what was left out."""

    table: pd.DataFrame  # estimator, n_traces, hits, no_prediction, share, lo, hi
    n_traces: int = 0  # every record
    n_incorrect: int = 0
    n_unknown: int = 0  # incorrect, no first_error field (older logs)
    n_unchecked: int = 0  # incorrect, first_error_checked false (no checker for the row)
    n_not_found: int = 0  # incorrect, checked, first_error null (no wrong line found)
    n_outside: int = 0  # incorrect, first error in no reasoning segment
    n_no_segments: int = 0  # incorrect, first error known, but the trace has no reasoning segment
    ids_outside: list[str] = field(default_factory=list)

    @property
    def n_scored(self) -> int:
        return int(self.table["n_traces"].max()) if not self.table.empty else 0


LOCALIZATION_COLUMNS = ["estimator", "n_traces", "hits", "no_prediction", "share", "lo", "hi"]


def error_localization(
    traces: Sequence[dict], *, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> Localization:
    """Does each estimator's most-blamed reasoning segment hold the first error? See the module docstring."""
    result = Localization(pd.DataFrame(columns=LOCALIZATION_COLUMNS), n_traces=len(traces))
    scored: list[tuple[int, dict[str, np.ndarray]]] = []  # (segment of the first error, credits)
    n_segments: list[int] = []
    for trace in traces:
        if _stratum_of(trace) != INCORRECT:
            continue
        result.n_incorrect += 1
        if "first_error" not in trace:
            result.n_unknown += 1
        elif trace.get("first_error_checked") is False:
            result.n_unchecked += 1
        elif trace["first_error"] is None:
            result.n_not_found += 1
        elif len(trace["boundaries"]) < 2:
            result.n_no_segments += 1
        else:
            k = first_error_segment(trace)
            if k is None:
                result.n_outside += 1
                result.ids_outside.append(str(trace.get("id")))
            else:
                scored.append((k, segment_credits(trace)))
                n_segments.append(len(trace["boundaries"]) - 1)
    if not scored:
        return result
    names = [MC, *_display_order({n for _, c in scored for n in c if n != MC})]
    names = [n for n in names if any(n in c for _, c in scored)]
    hits: dict[str, np.ndarray] = {}
    missing: dict[str, int] = {}
    for name in names:
        blamed = [most_blamed(c[name]) if name in c else None for _, c in scored]
        hits[name] = np.array([b is not None and b == k for b, (k, _) in zip(blamed, scored, strict=True)])
        hits[name] = hits[name].astype(float)
        missing[name] = sum(b is None for b in blamed)
    hits[RANDOM] = 1.0 / np.asarray(n_segments, dtype=float)  # expected hit of a uniform pick: 1/K
    missing[RANDOM] = 0
    n = len(scored)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, (n_resamples, n)) if n >= 2 and n_resamples >= 2 else None
    rows = []
    for name, h in hits.items():
        lo = hi = math.nan
        if picks is not None:
            lo, hi = (
                float(q) for q in np.quantile(h[picks].mean(axis=1), [(1 - level) / 2, (1 + level) / 2])
            )
        rows.append(
            {
                "estimator": name,
                "n_traces": n,
                "hits": float(h.sum()),
                "no_prediction": missing[name],
                "share": float(h.mean()),
                "lo": lo,
                "hi": hi,
            }
        )
    result.table = pd.DataFrame(rows, columns=LOCALIZATION_COLUMNS)
    return result
