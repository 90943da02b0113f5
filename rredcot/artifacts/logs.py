"""Reading logged data, and the statistics that tables, figures and the report share.

Everything here reads only what the pipeline logged (``results/<scale>/``): training metrics
(``train/<method>/seed<seed>/metrics.jsonl``), evaluation summaries (``eval/<policy>/<benchmark>.json``) and
the credit analysis (``analysis/credit.jsonl``, ``analysis/segmentation/<variant>.jsonl``). Nothing trains or
samples. Degenerate data gives NaN (a correlation of a constant, a standard deviation of one seed), never an
exception; the callers show NaN as "n/a".
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from rredcot.io import read_json, read_jsonl

# rredcot.mc and rredcot.redistribution import torch; they are imported where used, so that reading the
# training and evaluation logs (tables) does not pay for it.

CORRELATIONS = ("pearson", "spearman")
MC = "MC"
GRADIENT = "gradient"
LOO = "LOO"
_RUN = re.compile(r"(?P<method>[A-Za-z0-9_.-]+)/seed(?P<seed>\d+)/metrics\.jsonl$")
_EVAL = re.compile(r"eval/(?P<policy>base|[A-Za-z0-9_.-]+/seed\d+)/(?P<benchmark>[^/]+)\.json$")


def rredcot_name(variant: str) -> str:
    """Column name of an RREDCoT value variant's credits, e.g. ``RREDCoT reference/log``."""
    return f"RREDCoT {variant}"


# ---------------------------------------------------------------------------------------------- statistics
def mean_sd(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean, sample SD (ddof = 1; NaN for fewer than two values) and count of the finite values."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, 0
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan, int(x.size)


def t_interval(values: np.ndarray, level: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and half-width of the Student-t confidence interval along ``axis``, ignoring NaNs.

    The half-width is NaN where fewer than two values exist (no band is drawn from one seed).
    """
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        n = np.sum(np.isfinite(values), axis=axis)
        mean = np.nanmean(values, axis=axis)
        sd = np.nanstd(values, axis=axis, ddof=1)
        t = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, t * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    return mean, half


def correlation(x: Sequence[float], y: Sequence[float], method: str = "pearson") -> float:
    """Pearson or Spearman correlation over the pairs where both are finite; NaN with fewer than 3 pairs or
    a constant side (the correlation is undefined, not zero)."""
    if method not in CORRELATIONS:
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    if method == "spearman":
        x, y = stats.rankdata(x), stats.rankdata(y)
    return float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))


def correlation_matrix(table: pd.DataFrame, columns: Sequence[str], method: str) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=list(columns), columns=list(columns))
    for i, a in enumerate(columns):
        for b in columns[i:]:
            out.loc[a, b] = out.loc[b, a] = correlation(table[a], table[b], method)
    return out


def position_bins(rel_position: np.ndarray, n_bins: int) -> np.ndarray:
    """Index of the equal-width bin of [0, 1] that each relative position falls in (1.0 in the last bin)."""
    return np.clip((np.asarray(rel_position, dtype=float) * n_bins).astype(int), 0, n_bins - 1)


# ------------------------------------------------------------------------------------------ training runs
def run_label(path: str | Path) -> tuple[str, int]:
    """(method, seed) of ``.../<method>/seed<seed>/metrics.jsonl``."""
    match = _RUN.search(Path(path).as_posix())
    if not match:
        raise ValueError(f"{path}: expected a path ending in <method>/seed<seed>/metrics.jsonl")
    return match["method"], int(match["seed"])


def load_metrics(paths: Sequence[str | Path], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per logged step of every run: ``method`` (or the given label), ``seed``, ``step`` and the
    logged columns. Runs with no lines contribute nothing.

    Runs keep the order of ``paths`` (the rule lists them in the config's order), each sorted by step, so
    figures and tables show methods in the config's order rather than alphabetically."""
    frames = []
    for i, path in enumerate(paths):
        method, seed = run_label(path)
        rows = read_jsonl(path)
        if not rows:
            continue
        frame = pd.DataFrame(rows).sort_values("step", kind="stable")
        frame["method"] = labels[i] if labels is not None else method
        frame["seed"] = seed
        frame["run"] = str(Path(path).parent)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["method", "seed", "run", "step"])
    return pd.concat(frames, ignore_index=True)


def smoothed(table: pd.DataFrame, column: str, window: int) -> pd.Series:
    """Trailing rolling mean of ``column`` within each run (``window`` = 1: unchanged)."""
    if column not in table:
        return pd.Series(np.nan, index=table.index)
    values = pd.to_numeric(table[column], errors="coerce")
    return values.groupby([table["method"], table["seed"]]).transform(
        lambda s: s.rolling(max(int(window), 1), min_periods=1).mean()
    )


def first_crossing(x: np.ndarray, y: np.ndarray, threshold: float) -> float:
    """The first x where y ≥ threshold; NaN if never."""
    hits = np.flatnonzero(np.asarray(y, dtype=float) >= threshold)
    return float(np.asarray(x, dtype=float)[hits[0]]) if hits.size else math.nan


@dataclass
class SampleEfficiency:
    """Steps (and generated tokens) each run needs to reach ``threshold`` = start + fraction × (baseline final
    − start)."""

    threshold: float
    baseline_final: float
    steps: dict[str, list[float]]  # method -> per seed, censored runs at last step + 1
    tokens: dict[str, list[float]]  # method -> per seed, NaN when censored
    censored: dict[str, int]
    mean_curve_steps: dict[str, float]  # first step where the seed-mean curve reaches the threshold
    start: float = math.nan  # the baseline's accuracy at its first logged step, mean over seeds


def sample_efficiency(
    table: pd.DataFrame,
    *,
    fraction: float,
    smooth_window: int,
    final_window: int,
    baseline: str = "grpo",
) -> SampleEfficiency:
    """Steps to ``start + fraction × (final − start)``: ``start`` is the baseline's accuracy at its first
    logged step (the initial policy's, before any update) and ``final`` its final accuracy (the smoothed
    accuracy over the last ``final_window`` steps), each a mean over the baseline's seeds; fraction 0.5 is
    the midpoint. A run that never reaches it counts as last step + 1 (censored)."""
    empty = SampleEfficiency(math.nan, math.nan, {}, {}, {}, {})
    if table.empty or "accuracy" not in table:
        return empty
    raw = pd.to_numeric(table["accuracy"], errors="coerce")
    table = table.assign(acc=smoothed(table, "accuracy", smooth_window), raw=raw)
    base = table[table["method"] == baseline]
    if base.empty:
        return empty
    runs = [g.sort_values("step") for _, g in base.groupby("seed")]
    finals = [g["acc"].tail(max(final_window, 1)).mean() for g in runs]
    starts = [g["raw"].iloc[0] for g in runs]
    baseline_final = float(np.nanmean(finals)) if finals else math.nan
    start = float(np.nanmean(starts)) if np.isfinite(starts).any() else math.nan
    threshold = start + fraction * (baseline_final - start)
    result = SampleEfficiency(threshold, baseline_final, {}, {}, {}, {}, start=start)
    if not math.isfinite(threshold):
        return result
    for method, runs in table.groupby("method", sort=False):
        steps, tokens, censored = [], [], 0
        for _, run in runs.groupby("seed"):
            run = run.sort_values("step")
            step = first_crossing(run["step"], run["acc"], threshold)
            if math.isnan(step):
                censored += 1
                steps.append(float(run["step"].max()) + 1)
                tokens.append(math.nan)
            else:
                steps.append(step)
                gen = run["generated_tokens"] if "generated_tokens" in run else pd.Series(np.nan, run.index)
                tokens.append(float(gen[run["step"] == step].iloc[0]))
        result.steps[str(method)] = steps
        result.tokens[str(method)] = tokens
        result.censored[str(method)] = censored
        curve = runs.groupby("step")["acc"].mean()
        result.mean_curve_steps[str(method)] = first_crossing(curve.index.values, curve.values, threshold)
    return result


def step_cost(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: median step time and value-estimation time over all steps of all seeds (seconds)."""
    rows = []
    for method, runs in table.groupby("method", sort=False):
        row = {"method": method, "n_steps": len(runs), "n_seeds": runs["seed"].nunique()}
        for key, column in (
            ("step_time_s", "step_time"),
            ("value_time_s", "rredcot/value_time_s"),
            ("rredcot_time_s", "rredcot/time_s"),
        ):
            values = (
                pd.to_numeric(runs[column], errors="coerce") if column in runs else pd.Series(dtype=float)
            )
            values = values[np.isfinite(values)]
            row[key] = float(values.median()) if len(values) else math.nan
        if "wall_s" in runs:
            row["run_wall_s"] = float(runs.groupby("seed")["wall_s"].max().mean())
        rows.append(row)
    return pd.DataFrame(rows)


BENCHMARK_COST_COLUMNS = (
    "benchmark", "setting", "quantity", "min", "median", "repeats", "model", "params", "machine", "versions",
    "recorded_at", "load_1min",
)  # fmt: skip


def load_benchmark_cost(path: str | Path | None) -> pd.DataFrame:
    """The rows ``benchmarks/`` appended to ``compute_cost.csv`` (see ``benchmarks/cost_log.py``); an empty
    table where there is no such file. ``load_1min`` is NaN for rows measured before it was recorded."""
    if not path or not Path(path).exists():
        return pd.DataFrame(columns=BENCHMARK_COST_COLUMNS)
    table = pd.read_csv(path, dtype={"setting": str, "quantity": str, "benchmark": str})
    missing = [c for c in BENCHMARK_COST_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: no column {missing}; rerun the benchmarks/ scripts into a new file")
    for column in ("min", "median", "repeats", "load_1min"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


# ---------------------------------------------------------------------------------------------- evaluation
SPREAD_BASE = "base_spread"


def metric_label(metric: str) -> str:
    """How tables and figures name an evaluation metric: ``avg_at_n`` -> avg@n."""
    return "avg@n" if metric == "avg_at_n" else metric


def load_eval(paths: Sequence[str | Path], metric: str = "avg_at_n") -> pd.DataFrame:
    """One row per evaluation summary: policy, method (``base`` for the base model, :data:`SPREAD_BASE` for
    the base models of other SFT seeds, policies ``base/seed<n>``), seed, benchmark, n_samples and the
    metric (``avg_at_n`` or ``pass_at_k/<k>``)."""
    rows = []
    for path in paths:
        match = _EVAL.search(Path(path).as_posix())
        if not match:
            raise ValueError(f"{path}: expected a path ending in eval/<policy>/<benchmark>.json")
        summary = read_json(path)
        policy = match["policy"]
        method, _, seed = policy.partition("/seed")
        method = SPREAD_BASE if method == "base" and seed else method
        if metric.startswith("pass_at_k/"):
            value = summary.get("pass_at_k", {}).get(metric.split("/", 1)[1], math.nan)
        else:
            value = summary.get(metric, math.nan)
        rows.append(
            {
                "policy": policy,
                "method": method,
                "seed": int(seed) if seed else math.nan,
                "benchmark": summary.get("benchmark", match["benchmark"]),
                "n_samples": summary.get("n_samples", math.nan),
                "num_problems": summary.get("num_problems", math.nan),
                "value": float(value),
            }
        )
    return pd.DataFrame(
        rows, columns=["policy", "method", "seed", "benchmark", "n_samples", "num_problems", "value"]
    )


def seed_means(table: pd.DataFrame, method: str, benchmarks: Sequence[str]) -> np.ndarray:
    """Per seed of ``method``, the metric averaged over ``benchmarks`` (seeds missing a benchmark dropped)."""
    rows = table[(table["method"] == method) & table["benchmark"].isin(benchmarks)]
    per_seed = rows.pivot_table(index="seed", columns="benchmark", values="value", aggfunc="mean")
    per_seed = per_seed.reindex(columns=list(benchmarks)).dropna()
    return per_seed.mean(axis=1).to_numpy(dtype=float)


def policy_mean(table: pd.DataFrame, policy: str, benchmarks: Sequence[str]) -> float:
    """One policy's metric averaged over ``benchmarks``; NaN unless it was evaluated on all of them."""
    rows = table[(table["policy"] == policy) & table["benchmark"].isin(benchmarks)]
    return float(rows["value"].mean()) if rows["benchmark"].nunique() == len(benchmarks) else math.nan


def difference_se(a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of ``mean(a) − mean(b)`` (Welch: unpooled); a side with fewer than two values
    contributes no variance (a single evaluation, e.g. the base model)."""
    return float(
        math.sqrt(sum(x.var(ddof=1) / x.size if x.size > 1 else 0.0 for x in (np.asarray(a), np.asarray(b))))
    )


# ------------------------------------------------------------------------------------------ credit analysis
def load_credit(path: str | Path) -> list[dict]:
    """Traces of a credit-analysis log, checked for consistent lengths (a bad line names its id)."""
    traces = read_jsonl(path)
    for number, trace in enumerate(traces, start=1):
        where = f"{path}, line {number} (id {trace.get('id')!r})"
        bounds = trace.get("boundaries")
        if not isinstance(bounds, list) or len(bounds) < 1:
            raise ValueError(f"{where}: 'boundaries' must be a non-empty list")
        n_seg = len(bounds) - 1
        if len(trace.get("rel_position", [])) != n_seg:
            raise ValueError(
                f"{where}: rel_position has {len(trace.get('rel_position', []))} entries, expected {n_seg}"
            )
        for variant, values in trace.get("values", {}).items():
            if len(values) != len(bounds):
                raise ValueError(
                    f"{where}: values[{variant!r}] has {len(values)} entries, expected {len(bounds)}"
                )
        outcomes = trace.get("mc", {}).get("outcomes")
        if outcomes is not None and len(outcomes) != len(bounds):
            raise ValueError(f"{where}: mc.outcomes has {len(outcomes)} rows, expected {len(bounds)}")
        for kind, credits in trace.get("attribution", {}).items():
            if len(credits) != n_seg:
                raise ValueError(
                    f"{where}: attribution[{kind!r}] has {len(credits)} entries, expected {n_seg}"
                )
    return with_exact_values(traces)


EXACT = "oracle/linear"  # the exact values' name among the logged variants (the trainer's oracle estimator)


def with_exact_values(traces: list[dict]) -> list[dict]:
    """Traces whose log holds the synthetic checker's states (``exact``) get the exact values as one more
    variant, :data:`EXACT`, with the step accuracy measured on all of the log's traces, as the oracle
    estimator measures it on a training batch: every agreement table and figure then checks them against
    the MC rollouts of the same boundaries."""
    from rredcot.pipeline.data.exact_values import step_accuracy, value_of

    checked = [t["exact"] for t in traces if "exact" in t]
    if not checked:
        return traces
    p = step_accuracy(sum(e["steps_right"] for e in checked), sum(e["failed"] for e in checked))
    for trace in traces:
        if "exact" in trace:
            trace["values"] = {**trace.get("values", {}), EXACT: value_of(trace["exact"], p).tolist()}
    return traces


def _as_float(values) -> np.ndarray:
    return np.asarray([math.nan if v is None else v for v in values], dtype=float)


def segment_credits(trace: dict) -> dict[str, np.ndarray]:
    """Per estimator, the credit of each reasoning segment of one trace.

    MC: ``mean(outcomes[k]) − mean(outcomes[k−1])``; RREDCoT: ``segment_rewards(values[variant])``
    (non-finite values, e.g. log 0, give NaN credits); gradient and LOO: the logged attributions.
    """
    from rredcot.redistribution import segment_rewards

    n_seg = len(trace["boundaries"]) - 1
    credits: dict[str, np.ndarray] = {}
    outcomes = trace.get("mc", {}).get("outcomes")
    if outcomes is not None:
        means = np.array([np.mean(row) if len(row) else np.nan for row in outcomes], dtype=float)
        credits[MC] = np.diff(means)
    with np.errstate(invalid="ignore"):
        for variant, values in trace.get("values", {}).items():
            values = _as_float(values)
            credits[rredcot_name(variant)] = (
                segment_rewards(values) if values.size else np.full(n_seg, np.nan)
            )
    for kind, name in (("gradient", GRADIENT), ("loo", LOO)):
        if kind in trace.get("attribution", {}):
            credits[name] = _as_float(trace["attribution"][kind])
    for name, values in credits.items():
        credits[name] = np.where(np.isfinite(values), values, np.nan)
    return credits


def pooled_credits(traces: Sequence[dict]) -> pd.DataFrame:
    """One row per (trace, reasoning segment): ``trace`` index, ``id``, ``segment``, ``rel_position``,
    ``correct`` and one credit column per estimator (NaN where a trace lacks that estimator)."""
    frames = []
    for index, trace in enumerate(traces):
        n_seg = len(trace["boundaries"]) - 1
        if n_seg == 0:
            continue
        frame = pd.DataFrame(
            {
                "trace": index,
                "id": str(trace.get("id", index)),
                "segment": np.arange(n_seg),
                "rel_position": _as_float(trace["rel_position"]),
                "correct": trace.get("correct", math.nan),
            }
        )
        for name, values in segment_credits(trace).items():
            frame[name] = values
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["trace", "id", "segment", "rel_position", "correct"])
    return pd.concat(frames, ignore_index=True)


def estimator_columns(table: pd.DataFrame) -> list[str]:
    """Credit columns in display order: MC, RREDCoT variants (reference, answer-only, self; log before
    linear; unknown names last), gradient, LOO."""
    order = {"reference": 0, "answer_only": 1, "self": 2, "log": 0, "linear": 1}

    def key(column: str):
        estimator, _, space = column.removeprefix("RREDCoT ").partition("/")
        return order.get(estimator, 9), order.get(space, 9), column

    variants = sorted((c for c in table.columns if c.startswith("RREDCoT ")), key=key)
    return [c for c in [MC, *variants, GRADIENT, LOO] if c in table.columns]


def percentile_interval(
    statistic: Callable[[np.ndarray], float], n_units: int, *, n_resamples: int, level: float, seed: int
) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over resamples of ``n_units`` units with replacement;
    NaN when fewer than half the replicates are finite (or there are fewer than 2 units)."""
    if n_units < 2 or n_resamples < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    samples = np.array(
        [statistic(rng.integers(0, n_units, n_units)) for _ in range(n_resamples)], dtype=float
    )
    samples = samples[np.isfinite(samples)]
    if samples.size < n_resamples / 2:
        return math.nan, math.nan
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_over_traces(
    table: pd.DataFrame,
    statistic: Callable[[pd.DataFrame], float],
    *,
    n_resamples: int,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Statistic on the pooled table and its :func:`percentile_interval`, resampling whole traces (none where
    the pooled statistic is NaN)."""
    point = statistic(table)
    if not math.isfinite(point):
        return point, math.nan, math.nan
    traces = table["trace"].to_numpy()
    groups = [np.flatnonzero(traces == t) for t in np.unique(traces)]
    lo, hi = percentile_interval(
        lambda picks: statistic(table.iloc[np.concatenate([groups[p] for p in picks])]),
        len(groups),
        n_resamples=n_resamples,
        level=level,
        seed=seed,
    )
    return point, lo, hi


def correlation_with(target: str, others: Sequence[str], method: str) -> Callable[[pd.DataFrame], float]:
    """Statistic: corr(target, MC) − max over ``others`` of corr(other, MC); NaN if any is undefined."""

    def statistic(table: pd.DataFrame) -> float:
        mine = correlation(table[target], table[MC], method)
        rivals = [correlation(table[o], table[MC], method) for o in others]
        if not math.isfinite(mine) or not all(math.isfinite(r) for r in rivals):
            return math.nan
        return mine - max(rivals)

    return statistic


def mc_bootstrap_sd(
    traces: Sequence[dict], *, max_samples: int, n_resamples: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrapped SD of the MC value at every boundary of every trace, for 1..S samples per boundary.

    Returns (sample_sizes, sd of shape (n_boundaries, S), relative boundary position b_k / b_K). S is
    ``max_samples`` capped at the largest number of logged samples; a boundary with fewer samples than s has
    NaN in that column (resampling more draws than were observed would understate the SD's noise).
    """
    from rredcot.mc import bootstrap_sd

    rows, positions = [], []
    n_max = max((len(r) for t in traces for r in t.get("mc", {}).get("outcomes", [])), default=0)
    sizes = np.arange(1, min(max_samples, n_max) + 1)
    if sizes.size == 0:
        return sizes, np.empty((0, 0)), np.empty(0)
    for index, trace in enumerate(traces):
        outcomes = trace.get("mc", {}).get("outcomes")
        if not outcomes:
            continue
        bounds = np.asarray(trace["boundaries"], dtype=float)
        last = bounds[-1] if bounds[-1] > 0 else 1.0
        by_n: dict[int, list[int]] = {}
        for k, row in enumerate(outcomes):
            by_n.setdefault(len(row), []).append(k)
        sd = np.full((len(outcomes), sizes.size), np.nan)
        for n, ks in by_n.items():
            if n == 0:
                continue
            usable = sizes[sizes <= n]
            block = np.asarray([outcomes[k] for k in ks], dtype=float)
            sd[np.ix_(ks, np.arange(usable.size))] = bootstrap_sd(
                block, n_resamples=n_resamples, sample_sizes=usable.tolist(), seed=seed + index
            )
        rows.append(sd)
        positions.append(bounds / last)
    if not rows:
        return sizes, np.empty((0, sizes.size)), np.empty(0)
    return sizes, np.concatenate(rows), np.concatenate(positions)


def both_outcomes(traces: Sequence[dict]) -> np.ndarray:
    """Per boundary, in :func:`mc_bootstrap_sd`'s order: do its rollouts have both outcomes? A boundary
    whose rollouts agree has SD 0 at every sample count, which says nothing about how many samples suffice."""
    return np.array(
        [len(set(row)) > 1 for t in traces for row in (t.get("mc", {}).get("outcomes") or [])], dtype=bool
    )


def trace_costs(traces: Sequence[dict], variant: str) -> pd.DataFrame:
    """Per trace: segments, MC seconds / samples / generated tokens, and the value seconds of ``variant``."""
    rows = []
    for trace in traces:
        mc = trace.get("mc", {})
        rows.append(
            {
                "id": str(trace.get("id")),
                "segments": len(trace["boundaries"]) - 1,
                "mc_seconds": float(mc.get("seconds", math.nan)),
                "mc_samples": float(mc.get("n_samples", math.nan)),
                "mc_generated_tokens": float(mc.get("generated_tokens", math.nan)),
                "value_seconds": float(trace.get("value_seconds", {}).get(variant, math.nan)),
                "gradient_seconds": float(trace.get("attribution_seconds", {}).get("gradient", math.nan)),
                "loo_seconds": float(trace.get("attribution_seconds", {}).get("loo", math.nan)),
            }
        )
    numeric = [
        "segments",
        "mc_seconds",
        "mc_samples",
        "mc_generated_tokens",
        "value_seconds",
        "gradient_seconds",
        "loo_seconds",
    ]
    table = pd.DataFrame(rows, columns=["id", *numeric])
    return table.astype(dict.fromkeys(numeric, float))


def default_variant(rredcot_section: dict) -> str:
    """The configured estimator as a credit-log variant name, e.g. ``reference/log``."""
    return f"{rredcot_section['value_estimator']}/{rredcot_section['value_space']}"
