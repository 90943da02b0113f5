"""The paper's figures from logged data (matplotlib, Agg), each saved as PDF and PNG atomically.

* :func:`training_curves` — training accuracy vs step and vs generated tokens per method, beside the base
  model's, steps to a threshold accuracy marked (sample efficiency); the reward too where it is not the
  accuracy.
* :func:`fig3_mc_cost` — MC value-estimation seconds vs segments per trace and vs number of questions, beside
  RREDCoT's value seconds for the same traces.
* :func:`fig7_mc_sd` — bootstrapped SD of the MC value vs samples per boundary × relative boundary position,
  over the boundaries whose rollouts have both outcomes (those the report's verdict reads).
* :func:`fig4_estimator_correlation` — Pearson and Spearman matrices of segment credits (MC, RREDCoT variants,
  gradient, LOO) pooled over traces, and correlation with MC by relative position with bootstrap intervals.
* :func:`ablation_segmentation`, :func:`ablation_estimator` — agreement with MC per segmentation / estimator
  variant; :func:`ablation_training` — training accuracy and test-split accuracy of any list of runs.
* :func:`delimiter_drift` — newlines and thinking lines per completion vs training step, per method.
* :func:`credit_agreement` — values and credits vs MC, pooled and per trace, by correct / incorrect trace
  and on non-degenerate boundaries; :func:`error_localization` — does the most-blamed segment hold the first
  error (both our additions, not paper figures).
* :func:`value_sanity` — estimator vs MC values at the base policy's own states and their corrupted twins,
  and the parts of log v̂ along the trace (our control, not a paper figure).

Colours and markers: :mod:`rredcot.artifacts.style`. Curves over seeds: with up to :data:`MAX_SEED_LINES`
seeds each seed is drawn beside the mean (a t-interval from so few is mostly noise), with more the mean and
its t-interval; intervals are clipped to the metric's range. Undefined numbers (a correlation of constant
credits) are drawn as "n/a".
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rredcot.artifacts.logs import (  # noqa: E402
    MC,
    bootstrap_over_traces,
    both_outcomes,
    correlation,
    correlation_matrix,
    estimator_columns,
    mc_bootstrap_sd,
    mean_sd,
    metric_label,
    pooled_credits,
    position_bins,
    rredcot_name,
    sample_efficiency,
    smoothed,
    t_interval,
    trace_costs,
)
from rredcot.artifacts.style import (  # noqa: E402
    BASE,
    PALETTE,
    POLICIES,
    Style,
    estimator_styles,
    policy_label,
    policy_styles,
    run_policy,
)
from rredcot.io import atomic_path  # noqa: E402
from rredcot.pipeline.metric_names import NEWLINES_METRIC, THINKING_LINES_METRIC  # noqa: E402

NA_NOTE = "n/a: undefined (constant credits, or fewer than 3 finite pairs)"
MAX_SEED_LINES = 3
ACCURACY_LIMITS = (-0.02, 1.02)  # [0, 1] and a margin, so that a curve at 0 or 1 stays visible
REFERENCE = {"color": "0.35", "ls": "-.", "lw": 1}  # a threshold that is no policy's level

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE.values())),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 9,
        "axes.titlesize": 10,
        "legend.fontsize": 8,
        "legend.frameon": True,  # a white box, so that no line runs through the legend's text
        "legend.framealpha": 0.85,
        "legend.edgecolor": "none",
    }
)


def save(fig, pdf: str | Path, png: str | Path) -> None:
    """PDF and PNG, each renamed into place only when complete; no timestamps, so reruns are byte-stable.

    The constrained layout is computed once and then frozen: matplotlib would redo it for every format.
    """
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
        fig.set_layout_engine("none")
    with atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None, "ModDate": None})
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def _no_data(ax, text: str = "no data logged") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


@contextlib.contextmanager
def _quiet():
    """Silence NumPy's warnings for all-NaN slices and single-seed SDs: NaN is the intended answer there."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ------------------------------------------------------------------------------------- curves over seeds
@dataclass(frozen=True)
class SeedCurves:
    """One series: ``per_seed`` holds one column per seed on the shared ``x``."""

    name: str
    style: Style
    x: np.ndarray
    per_seed: np.ndarray


def spread_note(ci_level: float) -> str:
    """What the thin lines and bands of :func:`draw_seed_curves` are, for a title."""
    return (
        f"thick: mean over seeds; thin: each seed (n ≤ {MAX_SEED_LINES}); "
        f"band: {ci_level:.0%} t-interval (n > {MAX_SEED_LINES})"
    )


def draw_seed_curves(
    ax, curves: Sequence[SeedCurves], *, ci_level: float, bounds: tuple[float, float] = (-np.inf, np.inf)
) -> None:
    """Each series' mean over seeds, with its seeds or its t-band clipped to ``bounds`` (the metric's range).

    Markers are staggered between series, and a series equal to an earlier one is dashed and says so in its
    legend entry, so that no series hides under another."""
    means = []
    for index, curve in enumerate(curves):
        with _quiet():
            mean, half = t_interval(curve.per_seed, ci_level, axis=1)
        same = [
            earlier.name
            for earlier, other in zip(curves, means, strict=False)
            if earlier.x.shape == curve.x.shape
            and np.allclose(earlier.x, curve.x)
            and np.allclose(other, mean, equal_nan=True)
        ]
        means.append(mean)
        n_seeds = curve.per_seed.shape[1]
        if 1 < n_seeds <= MAX_SEED_LINES:
            ax.plot(curve.x, curve.per_seed, color=curve.style.color, lw=0.7, alpha=0.35)
        elif np.isfinite(half).any():
            low, high = np.clip(mean - half, *bounds), np.clip(mean + half, *bounds)
            ax.fill_between(curve.x, low, high, color=curve.style.color, alpha=0.2, lw=0)
        # each series its own marker positions, where the curve has enough points for all of them
        every = max(1, min(len(curve.x), max(len(curves), len(curve.x) // 8)))
        note = f"; same curve as {same[0]}" if same else ""
        ax.plot(
            curve.x,
            mean,
            **{**curve.style.line, **({"linestyle": (0, (4, 3))} if same else {})},
            lw=1.6,
            ms=5,
            markevery=(index % every, every),
            label=f"{curve.name} (n={n_seeds} seed{'s' if n_seeds != 1 else ''}{note})",
        )


def by_step(runs: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and ``column`` per (step, seed) of one series' runs."""
    wide = runs.pivot_table(index="step", columns="seed", values=column, aggfunc="mean")
    return wide.index.to_numpy(dtype=float), wide.to_numpy(dtype=float)


def _by_tokens(runs: pd.DataFrame, column: str, points: int = 200):
    """``column`` per seed interpolated on a grid of cumulative generated tokens that every seed covers."""
    if "generated_tokens" not in runs:
        return None
    curves = []
    for _, run in runs.groupby("seed"):
        run = run.sort_values("step")
        x = pd.to_numeric(run["generated_tokens"], errors="coerce").to_numpy(dtype=float)
        y = run[column].to_numpy(dtype=float)
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.sum() >= 1:
            curves.append((x[keep], y[keep]))
    if not curves:
        return None
    lo = max(c[0][0] for c in curves)
    hi = min(c[0][-1] for c in curves)
    if not hi >= lo:
        return None
    grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
    return grid, np.stack([np.interp(grid, x, y) for x, y in curves], axis=1)


def start_accuracy(metrics: pd.DataFrame) -> tuple[float, int]:
    """The base model's training accuracy: each run's accuracy at its first logged step, sampled before any
    update, averaged over runs; and the number of runs."""
    if metrics.empty or "accuracy" not in metrics:
        return math.nan, 0
    first = metrics.loc[metrics.groupby("run")["step"].idxmin(), "accuracy"]
    first = pd.to_numeric(first, errors="coerce").dropna()
    return (float(first.mean()), len(first)) if len(first) else (math.nan, 0)


def base_line(ax, value: float, text: str) -> None:
    """The base model's level, the reference an improvement (or a collapse) is read against."""
    if math.isfinite(value):
        base = POLICIES[BASE]
        ax.axhline(value, color=base.color, ls=base.linestyle, lw=1.2, label=f"{text} {value:.3f}")


def base_training_line(ax, metrics: pd.DataFrame) -> None:
    start, runs = start_accuracy(metrics)
    base_line(ax, start, f"base model (step-1 accuracy, {runs} run{'s' if runs != 1 else ''}):")


# ------------------------------------------------------------------------------------------ training curves
def _reward_is_accuracy(metrics: pd.DataFrame) -> bool:
    """True when the logged reward adds nothing to the accuracy: absent, or equal to it (a 0/1 reward)."""
    if "reward" not in metrics or not metrics["reward"].notna().any():
        return True
    if "accuracy" not in metrics:
        return False
    reward = pd.to_numeric(metrics["reward"], errors="coerce").to_numpy(dtype=float)
    accuracy = pd.to_numeric(metrics["accuracy"], errors="coerce").to_numpy(dtype=float)
    both = np.isfinite(reward) & np.isfinite(accuracy)
    return bool(both.any()) and np.allclose(reward[both], accuracy[both])


def training_curves(
    metrics: pd.DataFrame,
    *,
    pdf: str | Path,
    png: str | Path,
    threshold_fraction: float,
    smooth_window: int,
    final_window: int,
    ci_level: float = 0.95,
    baseline: str = "grpo",
    scale: str = "",
) -> None:
    """Accuracy vs step and vs generated tokens with the base model's level and the steps to a threshold; a
    reward row only where the reward is not the accuracy (a 0/1 reward's mean is: it would repeat it)."""
    rows = [("accuracy", "training accuracy (fraction correct)")]
    if not _reward_is_accuracy(metrics):
        rows.append(("reward", "mean reward per completion"))
    fig, axes = plt.subplots(
        len(rows), 2, figsize=(10, 0.8 + 3.6 * len(rows)), layout="constrained", squeeze=False
    )
    table = metrics.copy()
    for column, _ in rows:
        if column in table:
            table[column] = smoothed(table, column, smooth_window)
    styles = policy_styles(list(dict.fromkeys(table["method"]))) if not table.empty else {}
    efficiency = sample_efficiency(
        metrics,
        fraction=threshold_fraction,
        smooth_window=smooth_window,
        final_window=final_window,
        baseline=baseline,
    )
    for row, (column, ylabel) in enumerate(rows):
        for col, (by, xlabel) in enumerate(
            (("step", "training step"), ("tokens", "generated completion tokens (cumulative)"))
        ):
            ax = axes[row, col]
            curves = []
            if not table.empty and column in table:
                for method, runs in table.groupby("method", sort=False):
                    with _quiet():
                        curve = by_step(runs, column) if by == "step" else _by_tokens(runs, column)
                    if curve is not None and np.isfinite(curve[1]).any():
                        curves.append(SeedCurves(policy_label(method), styles[method], *curve))
            if not curves:
                _no_data(ax)
                continue
            accuracy = column == "accuracy"
            draw_seed_curves(ax, curves, ci_level=ci_level, bounds=(0, 1) if accuracy else (-np.inf, np.inf))
            if accuracy:
                ax.set_ylim(*ACCURACY_LIMITS)
                base_training_line(ax, metrics)
            if accuracy and efficiency.threshold > 0:
                ax.axhline(efficiency.threshold, **REFERENCE, label=f"threshold {efficiency.threshold:.3f}")
                for curve in curves:
                    with _quiet():
                        hits = np.flatnonzero(np.nanmean(curve.per_seed, axis=1) >= efficiency.threshold)
                    if hits.size:
                        at = curve.x[hits[0]]
                        ax.axvline(
                            at,
                            color=curve.style.color,
                            ls=":",
                            lw=1,
                            label=f"{curve.name}'s mean reaches it: "
                            + (f"step {at:g}" if by == "step" else f"{at:.3g} tokens"),
                        )
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.legend(loc="best", fontsize=7)
            if (row, col) != (0, 0):
                ax.set_title(f"{column} vs {'step' if by == 'step' else 'generated tokens'}", fontsize=9)
    if efficiency.threshold > 0:  # NaN or 0 (GRPO never correct): no threshold to reach
        parts = []
        for method, steps in efficiency.steps.items():
            mean, sd, n = mean_sd(steps)
            censored = efficiency.censored.get(method, 0)
            spread = f" ± {sd:.1f}" if math.isfinite(sd) else ""
            parts.append(
                f"{policy_label(method)} {mean:.1f}{spread} steps"
                + (f" ({censored}/{n} never reach it)" if censored else "")
            )
        axes[0, 0].set_title(
            f"steps to start + {threshold_fraction:g} × (final − start) of "
            f"{policy_label(baseline)}'s accuracy ({efficiency.start:.3f} → "
            f"{efficiency.baseline_final:.3f}: {efficiency.threshold:.3f}):\n" + "; ".join(parts),
            fontsize=8,
        )
    smoothing = f"trailing mean over {smooth_window} steps" if smooth_window > 1 else "no smoothing"
    fig.suptitle(
        f"Training curves{f' ({scale} scale)' if scale else ''}, {smoothing}\n{spread_note(ci_level)}",
        fontsize=10,
    )
    save(fig, pdf, png)


# ----------------------------------------------------------------------------------------------- Fig. 3
def fig3_mc_cost(
    traces: Sequence[dict],
    *,
    pdf: str | Path,
    png: str | Path,
    variant: str,
    extra_traces: Sequence[dict] = (),
    claims: dict[str, float] | None = None,
    scale: str = "",
) -> None:
    """Left: seconds per question vs segments (every logged trace, also the segmentation variants'); right:
    cumulative seconds vs number of questions (the main credit log, in logged order)."""
    claims = claims or {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    costs = trace_costs(list(traces), variant)
    every = trace_costs([*traces, *extra_traces], variant)
    series = (
        ("mc_seconds", "Monte Carlo values", MC),
        ("value_seconds", f"RREDCoT values ({variant})", rredcot_name(variant)),
    )
    styles = estimator_styles([name for _, _, name in series])
    drawn = False
    for column, label, name in series:
        style = styles[name]
        points = every[np.isfinite(every[column]) & (every[column] > 0)]
        # MC's cost grows with its samples per boundary: one band per count, the largest drawn filled.
        groups = [(label, points)]
        if column == "mc_seconds" and points["mc_samples"].nunique(dropna=False) > 1:
            by_count = sorted(points.groupby("mc_samples", dropna=False), key=lambda g: -np.nan_to_num(g[0]))
            count = lambda n: f"{n:g} samples per boundary" if np.isfinite(n) else "samples not logged"  # noqa: E731
            groups = [(f"{label}, {count(n)}", g) for n, g in by_count]
        for rank, (series_label, group) in enumerate(groups):
            if group.empty:
                continue
            drawn = True
            hollow = rank > 0
            left.scatter(
                group["segments"],
                group[column],
                s=14,
                alpha=0.5,
                edgecolors=style.color,
                facecolors="white" if hollow else style.color,
                marker=style.marker,
                label=series_label,
            )
            median = group.groupby("segments")[column].median()
            left.plot(
                median.index, median.values, color=style.color, ls="--" if hollow else style.linestyle, lw=1.5
            )
    if drawn:
        left.set_yscale("log")
        left.set_xlabel("reasoning segments per trace (K)")
        left.set_ylabel("wall-clock seconds per question")
        left.set_title("cost per question vs segments (points: traces; line: median)")
        left.legend()
    else:
        _no_data(left)

    drawn = False
    both = costs[np.isfinite(costs["mc_seconds"]) & np.isfinite(costs["value_seconds"])]
    for column, label, name in series:
        if both.empty:
            break
        cumulative = np.cumsum(both[column].to_numpy())
        if not (cumulative > 0).any():
            continue
        drawn = True
        right.plot(
            np.arange(1, len(cumulative) + 1),
            cumulative,
            color=styles[name].color,
            ls=styles[name].linestyle,
            lw=1.5,
            label=f"{label}: {cumulative[-1]:.3g} s total",
        )
    if drawn:
        right.set_yscale("log")
        ratio = (
            both["value_seconds"].sum() / both["mc_seconds"].sum()
            if both["mc_seconds"].sum() > 0
            else math.nan
        )
        note = f"RREDCoT / MC time = {ratio:.3g}" if math.isfinite(ratio) else "RREDCoT / MC time: n/a"
        if {"mc_gpu_hours", "mc_questions", "mc_max_segments"} <= claims.keys():
            note += (
                f"\npaper: {claims['mc_gpu_hours']:g} GPU-hours of MC for {claims['mc_questions']:g} "
                f"questions, ≤ {claims['mc_max_segments']:g} segments"
            )
        right.set_xlabel("questions (traces, in logged order)")
        right.set_ylabel("cumulative wall-clock seconds")
        right.set_title(f"cost vs number of questions\n{note}", fontsize=9)  # above the curves, over none
        right.legend(loc="lower right")
    else:
        _no_data(right)
    fig.suptitle(
        f"Fig. 3{f' ({scale} scale)' if scale else ''}: cost of Monte Carlo vs RREDCoT value estimation"
    )
    save(fig, pdf, png)


# ----------------------------------------------------------------------------------------------- Fig. 7
def mc_sd_grid(sd: np.ndarray, positions: np.ndarray, n_bins: int) -> np.ndarray:
    """Mean SD per (relative-position bin, sample size) of the boundaries given (rows of ``sd``)."""
    grid = np.full((n_bins, sd.shape[1] if sd.ndim == 2 else 0), np.nan)
    if sd.size:
        bins = position_bins(positions, n_bins)
        with _quiet():
            for b in range(n_bins):
                if (bins == b).any():
                    grid[b] = np.nanmean(sd[bins == b], axis=0)
    return grid


def fig7_mc_sd(
    traces: Sequence[dict],
    *,
    pdf: str | Path,
    png: str | Path,
    max_samples: int,
    n_resamples: int,
    n_bins: int,
    claims: dict[str, float] | None = None,
    scale: str = "",
    seed: int = 0,
) -> None:
    """Both panels average over the boundaries whose rollouts have both outcomes, as the report's verdict
    does (a boundary whose rollouts agree has SD 0 at any sample count); the mean over every boundary is drawn
    beside it, labelled so. The SD threshold and the paper's sample count come from ``claims``
    (``mc_sd_threshold``, default 0.1; ``mc_sd_samples``, not drawn if absent)."""
    claims = claims or {}
    threshold, paper_samples = claims.get("mc_sd_threshold", 0.1), claims.get("mc_sd_samples")
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]}, layout="constrained"
    )
    sizes, sd, positions = mc_bootstrap_sd(
        traces, max_samples=max_samples, n_resamples=n_resamples, seed=seed
    )
    varied = both_outcomes(traces) if sd.size else np.zeros(0, dtype=bool)
    n_varied, n_all = int(varied.sum()), sd.shape[0]
    mc = estimator_styles([MC])[MC]
    title = f"Fig. 7{f' ({scale} scale)' if scale else ''}: how many MC samples a stable value needs"
    if sd.size == 0:
        _no_data(left, "no MC outcomes logged")
        _no_data(right, "no MC outcomes logged")
        fig.suptitle(title)
        save(fig, pdf, png)
        return
    grid = mc_sd_grid(sd[varied], positions[varied], n_bins)
    if not np.isfinite(grid).any():
        _no_data(left, "no boundary whose rollouts have both outcomes")
    else:
        edges = np.linspace(0, 1, n_bins + 1)
        masked = np.ma.masked_invalid(grid)
        cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
        image = left.pcolormesh(
            np.arange(sizes.size + 1) + 0.5, edges, masked, cmap=cmap, vmin=0, vmax=max(0.5, np.nanmax(grid))
        )
        fig.colorbar(image, ax=left, label="bootstrapped SD of the MC value")
        finite = grid[np.isfinite(grid)]
        if grid.shape[0] >= 2 and grid.shape[1] >= 2 and finite.min() < threshold < finite.max():
            centres = (edges[:-1] + edges[1:]) / 2
            left.contour(sizes, centres, masked, levels=[threshold], colors="white", linewidths=1.5)
        left.grid(False)
        left.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        left.set_xlabel("MC samples per boundary")
        left.set_ylabel("relative boundary position (b_k / b_K)")
        left.set_title(
            f"mean SD per position bin, {n_varied} boundaries with both outcomes (white: SD = {threshold:g})",
            fontsize=9,
        )
    with _quiet():
        every = np.nanmean(sd, axis=0)
    if n_varied < n_all:  # equal to the mean over the varied ones otherwise: drawn once
        right.plot(
            sizes,
            every,
            color=PALETTE["grey"],
            lw=1,
            ls="--",
            label=f"mean over all {n_all} boundaries ({n_all - n_varied} with SD 0 included)",
        )
    if n_varied:
        with _quiet():
            mean = np.nanmean(sd[varied], axis=0)
            lo, hi = np.nanquantile(sd[varied], [0.1, 0.9], axis=0)
        right.plot(
            sizes, mean, **mc.line, ms=3, label=f"mean over the {n_varied} boundaries with both outcomes"
        )
        right.fill_between(
            sizes, lo, hi, color=mc.color, alpha=0.15, lw=0, label="their 10th–90th percentile"
        )
        below = np.flatnonzero(mean < threshold)
        right.annotate(
            f"below {threshold:g} from {sizes[below[0]]} samples"
            if below.size
            else f"not below {threshold:g}",
            (sizes[below[0]], mean[below[0]]) if below.size else (sizes[-1], mean[-1]),
            xytext=(10, 20),
            textcoords="offset points",
            arrowprops={"arrowstyle": "->", "color": "0.3"},
            fontsize=8,
        )
    else:
        right.text(
            0.5,
            0.6,
            "no boundary whose rollouts have both outcomes:\nevery SD is 0, the claim is not testable",
            ha="center",
            transform=right.transAxes,
            color="0.4",
        )
    right.axhline(threshold, **REFERENCE, label=f"SD = {threshold:g}")
    if paper_samples is not None:
        right.axvline(paper_samples, color="0.4", ls=":", lw=1, label=f"paper: {paper_samples:g} samples")
    right.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    right.set_xlabel("MC samples per boundary")
    right.set_ylabel("bootstrapped SD of the MC value")
    right.set_title(
        f"{n_varied} of {n_all} boundaries have both outcomes; {n_resamples} bootstrap resamples", fontsize=9
    )
    right.legend(fontsize=7, loc="upper right")  # the SD falls with the samples: the upper right stays empty
    fig.suptitle(title)
    save(fig, pdf, png)


# ----------------------------------------------------------------------------------------------- Fig. 4
def _heatmap(ax, matrix: pd.DataFrame, title: str) -> None:
    values = matrix.to_numpy(dtype=float)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1, vmax=1)
    labels = [c.replace("RREDCoT ", "RREDCoT\n") for c in matrix.columns]
    # one line per column label: two-line labels, rotated, run into their neighbours'
    ax.set_xticks(
        range(len(labels)), matrix.columns, rotation=45, ha="right", rotation_mode="anchor", fontsize=7
    )
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.grid(False)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            text = "n/a" if not math.isfinite(v) else f"{v:.2f}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if math.isfinite(v) and abs(v) > 0.6 else "black",
            )
    ax.set_title(title)
    return image


def position_correlations(
    credits: pd.DataFrame, n_bins: int, method: str, n_resamples: int = 0
) -> pd.DataFrame:
    """Correlation with MC of every other estimator within each relative-position bin; with ``n_resamples``,
    also its 95% bootstrap interval over traces (columns ``<estimator> lo`` and ``<estimator> hi``)."""
    columns = [c for c in estimator_columns(credits) if c != MC]
    bins = position_bins(credits["rel_position"].to_numpy(dtype=float), n_bins)
    rows = []
    for b in range(n_bins):
        here = credits[bins == b]
        row = {"bin": b, "centre": (b + 0.5) / n_bins, "n": len(here)}
        for c in columns:
            if MC not in here:
                row[c] = row[f"{c} lo"] = row[f"{c} hi"] = math.nan
            elif n_resamples:
                statistic = lambda t, c=c: correlation(t[c], t[MC], method)  # noqa: E731
                row[c], row[f"{c} lo"], row[f"{c} hi"] = bootstrap_over_traces(
                    here, statistic, n_resamples=n_resamples
                )
            else:
                row[c] = correlation(here[c], here[MC], method)
        rows.append(row)
    return pd.DataFrame(rows)


def fig4_estimator_correlation(
    traces: Sequence[dict],
    *,
    pdf: str | Path,
    png: str | Path,
    n_bins: int,
    n_resamples: int,
    method: str = "spearman",
    scale: str = "",
) -> None:
    """Left, middle: correlation matrices; right: ``method`` correlation with MC per position bin, each
    estimator a point with its bootstrap interval over traces, side by side within the bin (lines joining
    estimators that agree would lie on top of each other)."""
    credits = pooled_credits(traces)
    columns = estimator_columns(credits)
    fig = plt.figure(figsize=(15, 6.5), layout="constrained")  # room for the long rotated tick labels
    axes = [fig.add_subplot(1, 3, i) for i in (1, 2, 3)]
    note = ""
    if len(columns) < 2 or credits.empty:
        for ax in axes:
            _no_data(ax, "no segment credits logged")
    else:
        image = None
        for ax, kind in zip(axes[:2], ("pearson", "spearman"), strict=True):
            image = _heatmap(
                ax, correlation_matrix(credits, columns, kind), f"{kind.capitalize()} correlation"
            )
        fig.colorbar(image, ax=axes[:2], shrink=0.8, label="correlation of segment credits")
        ax = axes[2]
        if MC in columns:
            by_bin = position_correlations(credits, n_bins, method, n_resamples)
            others = [c for c in columns if c != MC]
            styles = estimator_styles(others)
            width = 0.8 / n_bins
            for i, c in enumerate(others):
                point, lo, hi = (by_bin[k].to_numpy(dtype=float) for k in (c, f"{c} lo", f"{c} hi"))
                with _quiet():
                    err = np.vstack([point - lo, hi - point])
                style = styles[c]
                ax.errorbar(
                    by_bin["centre"] + (i + 0.5 - len(others) / 2) * width / len(others),
                    point,
                    yerr=np.clip(np.nan_to_num(err), 0, None),
                    fmt=style.marker,
                    color=style.color,
                    mfc="white" if style.hollow else style.color,
                    ms=4,
                    elinewidth=1,
                    capsize=0,
                    label=c,
                )
            ax.set_xticks(
                (np.arange(n_bins) + 0.5) / n_bins,
                [f"{b / n_bins:.2f}–{(b + 1) / n_bins:.2f}\nn={n}" for b, n in enumerate(by_bin["n"])],
                fontsize=7,
            )
            for edge in np.arange(1, n_bins) / n_bins:
                ax.axvline(edge, color="0.85", lw=0.8)
            ax.set_xlim(0, 1)
            ax.set_ylim(-1.05, 1.05)
            ax.axhline(0, color="0.5", lw=0.8)
            ax.set_xlabel("relative position in the trace (bin; n: segments)")
            ax.set_ylabel(f"{method.capitalize()} correlation with MC credit")
            ax.set_title(
                "agreement with MC by position\n(bars: 95% bootstrap interval over traces)", fontsize=9
            )
            ax.legend(fontsize=7, loc="lower left")
            if not np.isfinite(by_bin[others].to_numpy(dtype=float)).any():
                ax.text(
                    0.5,
                    0.6,
                    "n/a in every bin\n(constant MC credits, or < 3 segments per bin)",
                    ha="center",
                    transform=ax.transAxes,
                    color="0.4",
                )
        else:
            _no_data(ax, "no MC credits logged")
        note = f"\n{credits['trace'].nunique()} traces, {len(credits)} segments pooled. {NA_NOTE}."
    fig.suptitle(  # the pooling note under the title: at the bottom it ran into the rotated tick labels
        f"Fig. 4{f' ({scale} scale)' if scale else ''}: agreement of segment credits between estimators{note}"
    )
    save(fig, pdf, png)


# ---------------------------------------------------------------------------------------------- ablations
def agreement_with_mc(
    credits: pd.DataFrame, column: str, *, n_resamples: int, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """Pearson and Spearman correlation of ``column`` with MC, each with a trace-bootstrap 95% interval."""
    out = {}
    for method in ("pearson", "spearman"):
        if column not in credits or MC not in credits or credits.empty:
            out[method] = (math.nan, math.nan, math.nan)
            continue
        out[method] = bootstrap_over_traces(
            credits, lambda t, m=method: correlation(t[column], t[MC], m), n_resamples=n_resamples, seed=seed
        )
    return out


def _agreement_bars(ax, names: Sequence[str], results: Sequence[dict], xlabel: str) -> None:
    width = 0.38
    x = np.arange(len(names))
    # greys: a kind of correlation is neither a policy nor an estimator, whose colours these would borrow
    for offset, method, color in ((-width / 2, "pearson", "0.35"), (width / 2, "spearman", "0.75")):
        points = np.array([r[method][0] for r in results], dtype=float)
        lo = np.array([r[method][1] for r in results], dtype=float)
        hi = np.array([r[method][2] for r in results], dtype=float)
        heights = np.nan_to_num(points)
        # A percentile interval need not contain the point estimate: clip the bar's error lengths at 0.
        with _quiet():
            err = np.vstack(
                [np.where(np.isfinite(lo), points - lo, 0), np.where(np.isfinite(hi), hi - points, 0)]
            )
        err = np.clip(np.nan_to_num(err), 0, None)
        ax.bar(
            x + offset,
            heights,
            width,
            color=color,
            label=method.capitalize(),
            yerr=err,
            capsize=2,
            ecolor="0.3",
        )
        for xi, p, top, bottom in zip(x + offset, points, hi, lo, strict=True):
            if not math.isfinite(p):
                ax.text(xi, 0.03, "n/a", ha="center", fontsize=7)
            elif p >= 0:
                ax.text(xi, (top if math.isfinite(top) else p) + 0.03, f"{p:.2f}", ha="center", fontsize=7)
            else:
                ax.text(
                    xi,
                    (bottom if math.isfinite(bottom) else p) - 0.03,
                    f"{p:.2f}",
                    ha="center",
                    va="top",
                    fontsize=7,
                )
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylim(-1.05, 1.1)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("correlation with MC segment credit")
    ax.legend(loc="upper right")


def ablation_segmentation(
    variants: dict[str, Sequence[dict]],
    *,
    pdf: str | Path,
    png: str | Path,
    variant: str,
    n_resamples: int,
    scale: str = "",
) -> None:
    """Agreement of RREDCoT (``variant``) credits with MC credits, per segmentation strategy / K."""
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(variants) + 3), 4.2), layout="constrained")
    names, results = [], []
    column = rredcot_name(variant)
    for name, traces in variants.items():
        credits = pooled_credits(traces)
        segments = [len(t["boundaries"]) - 1 for t in traces]
        names.append(f"{name}\nK̄={np.mean(segments):.1f}" if segments else f"{name}\n(no traces)")
        results.append(agreement_with_mc(credits, column, n_resamples=n_resamples))
    if names:
        _agreement_bars(ax, names, results, "segmentation (K̄: mean reasoning segments per trace)")
        ax.set_title(f"error bars: 95% bootstrap interval over traces; {NA_NOTE}", fontsize=8)
    else:
        _no_data(ax)
    where = f" ({scale} scale)" if scale else ""
    fig.suptitle(f"Segmentation ablation{where}: RREDCoT ({variant}) credit vs MC credit")
    save(fig, pdf, png)


def ablation_estimator(
    traces: Sequence[dict],
    *,
    pdf: str | Path,
    png: str | Path,
    n_resamples: int,
    scale: str = "",
) -> None:
    """Agreement with MC of every value-estimator variant logged (and the two attributions, for reference)."""
    credits = pooled_credits(traces)
    columns = [c for c in estimator_columns(credits) if c != MC]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(columns) + 3), 4.2), layout="constrained")
    if columns:
        results = [agreement_with_mc(credits, c, n_resamples=n_resamples) for c in columns]
        _agreement_bars(
            ax, [c.replace("RREDCoT ", "") for c in columns], results, "value estimator / attribution"
        )
        ax.set_title(f"error bars: 95% bootstrap interval over traces; {NA_NOTE}", fontsize=8)
    else:
        _no_data(ax, "no segment credits logged")
    fig.suptitle(f"Value-estimator ablation{f' ({scale} scale)' if scale else ''}: agreement with MC credit")
    save(fig, pdf, png)


def ablation_training(
    metrics: pd.DataFrame,
    evals: pd.DataFrame,
    *,
    groups: dict[str, Sequence[str]],
    benchmarks: Sequence[str],
    metric: str,
    pdf: str | Path,
    png: str | Path,
    smooth_window: int,
    ci_level: float = 0.95,
    title: str = "",
) -> None:
    """Training accuracy vs step, and the test-split accuracy of each label's runs (as the main runs are
    evaluated), each beside the base model's; a label is drawn as the policy of its runs
    (:func:`rredcot.artifacts.style.run_policy`). Test bars: mean over runs, every run a dot, ± SD only with
    more than :data:`MAX_SEED_LINES` runs (clipped to [0, 1]).

    ``groups`` is one ablation of ``artifacts.training_ablations``: label -> runs (``<run>/seed<n>``, under
    results/<scale>/train). ``metrics`` holds the runs' steps (:func:`rredcot.artifacts.logs.load_metrics`),
    ``evals`` their evaluation summaries in ``metric`` (:func:`rredcot.artifacts.logs.load_eval`) on the test
    splits ``benchmarks``, and the base model's (policy ``base``) where given. Labels and splits keep the
    config's order.
    """
    label_of = {run: label for label, runs in groups.items() for run in runs}
    position = {label: index for index, label in enumerate(groups)}
    policy_of = {label: run_policy(runs[0]) if runs else label for label, runs in groups.items()}
    by_policy = policy_styles(list(policy_of.values()))
    styles = {label: by_policy[policy] for label, policy in policy_of.items()}
    if not metrics.empty:
        runs = [f"{Path(run).parent.name}/{Path(run).name}" for run in metrics["run"]]
        metrics = metrics.assign(method=[label_of.get(run) for run in runs])
        metrics = metrics.dropna(subset=["method"])
        metrics = metrics.sort_values("method", key=lambda labels: labels.map(position), kind="stable")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    fig.suptitle(title or "Training ablation")
    if metrics.empty or "accuracy" not in metrics:
        _no_data(left)
        _no_data(right)
        save(fig, pdf, png)
        return
    table = metrics.assign(accuracy=smoothed(metrics, "accuracy", smooth_window))
    labels = list(dict.fromkeys(table["method"]))
    curves = []
    for label in labels:
        with _quiet():
            x, per_seed = by_step(table[table["method"] == label], "accuracy")
        curves.append(SeedCurves(label, styles[label], x, per_seed))
    draw_seed_curves(left, curves, ci_level=ci_level, bounds=(0, 1))
    base_training_line(left, metrics)
    left.set_ylim(*ACCURACY_LIMITS)
    left.set_xlabel("training step")
    left.set_ylabel("training accuracy (fraction correct)")
    left.set_title(f"training batches; {spread_note(ci_level)}", fontsize=8)
    left.legend(fontsize=7)

    policies = {  # label -> evaluated policies, from the runs' directories (…/train/<run>/seed<n>)
        label: {
            f"{Path(run).parent.name}/{Path(run).name}" for run in table.loc[table["method"] == label, "run"]
        }
        for label in labels
    }
    splits = [split for split in benchmarks if split in set(evals["benchmark"])]
    if not splits:
        _no_data(right, "no evaluation of these runs")
    width = 0.8 / max(len(labels), 1)
    for j, split in enumerate(splits):
        rows = evals[evals["benchmark"] == split]
        for i, label in enumerate(labels):
            values = rows.loc[rows["policy"].isin(policies[label]), "value"].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            m, sd, n = mean_sd(values)
            xpos = j + (i - (len(labels) - 1) / 2) * width
            spread = None
            if n > MAX_SEED_LINES:
                spread = [[m - max(m - sd, 0.0)], [min(m + sd, 1.0) - m]]
            style = styles[label]
            right.bar(
                xpos,
                np.nan_to_num(m),
                width=width,
                yerr=spread,
                capsize=3,
                **style.bar,
                label=f"{label} (n={len(policies[label])})" if j == 0 else None,
            )
            right.scatter(np.full(n, xpos), values, s=12, color="black", marker=style.marker, zorder=3)
    base = evals[evals["policy"] == BASE].groupby("benchmark")["value"].mean().reindex(splits)
    at = np.flatnonzero(np.isfinite(base.to_numpy(dtype=float)))
    if at.size:  # one artist: one legend entry for the base model's level on every split
        right.hlines(
            base.to_numpy()[at],
            at - 0.45,
            at + 0.45,
            color=POLICIES[BASE].color,
            ls=POLICIES[BASE].linestyle,
            lw=1.2,
            label="base model",
        )
    if splits:
        right.set_xticks(range(len(splits)), splits)
        right.set_ylim(ACCURACY_LIMITS[0], min(right.get_ylim()[1], ACCURACY_LIMITS[1]))
        right.set_ylabel(f"test accuracy ({metric_label(metric)})")
        right.set_title(
            f"test splits: bars: mean over runs; dots: runs; ± SD where n > {MAX_SEED_LINES}", fontsize=8
        )
        right.legend(fontsize=7)
    save(fig, pdf, png)


def delimiter_drift(
    metrics: pd.DataFrame,
    *,
    pdf: str | Path,
    png: str | Path,
    smooth_window: int,
    ci_level: float = 0.95,
    scale: str = "",
) -> None:
    """Newlines and thinking lines per completion vs training step, per method."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for ax, (column, ylabel) in zip(
        axes,
        (
            (NEWLINES_METRIC, "newlines per completion"),
            (THINKING_LINES_METRIC, "thinking lines per completion"),
        ),
        strict=True,
    ):
        if metrics.empty or column not in metrics or not metrics[column].notna().any():
            _no_data(ax, "no delimiter statistics logged")
            continue
        table = metrics.assign(**{column: smoothed(metrics, column, smooth_window)})
        styles = policy_styles(list(dict.fromkeys(table["method"])))
        curves = []
        for method, runs in table.groupby("method", sort=False):
            with _quiet():
                curves.append(SeedCurves(policy_label(method), styles[method], *by_step(runs, column)))
        draw_seed_curves(ax, curves, ci_level=ci_level, bounds=(0, np.inf))
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.legend()
    fig.suptitle(
        f"Delimiter drift{f' ({scale} scale)' if scale else ''}\n{spread_note(ci_level)}", fontsize=10
    )
    save(fig, pdf, png)


def value_sanity(sanity: dict, *, pdf: str | Path, png: str | Path, scale: str = "") -> None:
    """One scatter of log v̂ vs MC value per estimator (clean states, corrupted twins), and the reference
    estimator's parts of log v̂ (marker, body, answer) by line position, mean over problems."""
    summary, records = sanity["summary"], sanity["records"]
    names = list(summary["estimators"])
    with_parts = any("value_parts" in r for r in records)
    fig, axes = plt.subplots(
        1, len(names) + with_parts, figsize=(4.6 * (len(names) + with_parts), 4.2), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    styles = estimator_styles([rredcot_name(f"{name}/log") for name in names])  # the scatter shows log v̂
    for ax, name in zip(axes, names, strict=False):
        stats = summary["estimators"][name]
        clean = [(v, m) for r in records for v, m in zip(r["values"][name], r["mc"], strict=True)]
        twins = [(r["twin"]["values"][name], r["twin"]["mc"]) for r in records if r["twin"]]
        color = styles[rredcot_name(f"{name}/log")].color
        for points, label, marker in (
            (clean, "prompt and line ends", "o"),
            (twins, "corrupted first step", "x"),
        ):
            if points:
                v, m = np.asarray(points).T
                ax.scatter(m, v, s=14, alpha=0.6, color=color, marker=marker, label=label)
        lo, hi = stats["spearman_ci"]
        share = stats["drop_share"]
        ax.set_title(
            f"{name}: Spearman {_num(stats['spearman'])} [{_num(lo)}, {_num(hi)}]\n"
            f"estimate drops at the twin in {_num(share, pct=True)} of problems",
            fontsize=9,
        )
        ax.set_xlabel(f"MC value ({summary['n_mc_samples']} rollouts)")
        ax.set_ylabel("log v̂")
        ax.legend(fontsize=8, loc="best")
    if with_parts:
        ax = axes[-1]
        width = max(len(r["boundaries"]) for r in records if "value_parts" in r)
        # greys: the parts of one estimator's value are not estimators, whose colours these would borrow
        for part, color, marker in (("marker", "0.25", "d"), ("body", "0.5", "s"), ("answer", "0.7", "^")):
            rows = [
                r["value_parts"][part] + [np.nan] * (width - len(r["boundaries"]))
                for r in records
                if "value_parts" in r
            ]
            ax.plot(
                np.arange(width),
                np.nanmean(np.asarray(rows, dtype=float), axis=0),
                marker=marker,
                color=color,
                label=part,
            )
        ax.set_xlabel("state (0 = prompt, then each line end of the thinking)")
        ax.set_ylabel("mean log p of the part (nats)")
        ax.set_title("reference estimator: what moves log v̂", fontsize=9)
        ax.legend(fontsize=8)
    where = f" ({scale} scale)" if scale else ""
    fig.suptitle(f"Value sanity{where}: {summary['n_problems']} problems, {summary['n_states']} states")
    save(fig, pdf, png)


def _num(x, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{100 * x:.0f} %" if pct else f"{x:.2f}"


# ------------------------------------------------------------------------------ credit agreement (ours)
# (stratum, subset, label, bar keywords): greys and a hatch, as strata are neither policies nor estimators
AGREEMENT_CELLS = (
    ("all", "all", "all traces, all", {"color": "0.85"}),
    ("all", "non-degenerate", "all traces, non-degenerate", {"color": "0.55"}),
    ("correct", "non-degenerate", "correct traces, non-degenerate", {"color": "0.25"}),
    ("incorrect", "non-degenerate", "incorrect traces, non-degenerate", {"color": "white", "hatch": "////"}),
)


def _interval_bars(ax, names, cells, width=0.8) -> None:
    """Grouped bars: ``cells`` = [(label, bar keywords, points, lo, hi)], one value per name each."""
    x = np.arange(len(names))
    step = width / max(len(cells), 1)
    for j, (label, look, points, lo, hi) in enumerate(cells):
        points, lo, hi = (np.asarray(v, dtype=float) for v in (points, lo, hi))
        with _quiet():
            err = np.vstack(
                [np.where(np.isfinite(lo), points - lo, 0), np.where(np.isfinite(hi), hi - points, 0)]
            )
        err = np.clip(np.nan_to_num(err), 0, None)
        xs = x - width / 2 + (j + 0.5) * step
        ax.bar(
            xs,
            np.nan_to_num(points),
            step,
            **look,
            edgecolor="0.3",
            label=label,
            yerr=err,
            capsize=2,
            ecolor="0.3",
        )
        for xi, p in zip(xs, points, strict=True):
            if not math.isfinite(p):
                ax.text(xi, 0.03, "n/a", ha="center", fontsize=6, rotation=90)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.axhline(0, color="0.5", lw=0.8)


def credit_agreement(
    traces: Sequence[dict],
    *,
    pdf: str | Path,
    png: str | Path,
    method: str = "spearman",
    n_resamples: int = 1000,
    data: pd.DataFrame | None = None,
    scale: str = "",
) -> None:
    """2 × 2 panels: values / credits vs MC, pooled / per-trace median, by traces and boundaries
    (:func:`rredcot.artifacts.credit.agreement`; ``data``: its result, when already computed)."""
    from rredcot.artifacts.credit import CREDIT, VALUE, agreement, degenerate_share

    if data is None:
        data = agreement(traces, method=method, n_resamples=n_resamples)
    fig, axes = plt.subplots(2, 2, figsize=(13, 8), layout="constrained", sharey=True)
    for col, quantity in enumerate((VALUE, CREDIT)):
        part = data[data["quantity"] == quantity]
        names = list(dict.fromkeys(part["estimator"]))
        for row, (stat, what) in enumerate(
            (("pooled", "pooled over traces"), ("per_trace_median", "median of per-trace correlations"))
        ):
            ax = axes[row, col]
            if not names:
                _no_data(ax, f"no {quantity}s logged")
                continue
            cells = []
            for stratum, subset, label, look in AGREEMENT_CELLS:
                sel = part[(part["stratum"] == stratum) & (part["subset"] == subset)].set_index("estimator")
                sel = sel.reindex(names)
                lo, hi = ("pooled_lo", "pooled_hi") if stat == "pooled" else ("per_trace_lo", "per_trace_hi")
                cells.append((label, look, sel[stat], sel[lo], sel[hi]))
            _interval_bars(ax, [n.removeprefix("RREDCoT ") for n in names], cells)
            ax.set_ylim(-1.05, 1.05)
            ax.set_ylabel(f"{method.capitalize()} with MC")
            ax.set_title(f"{quantity}s, {what}", fontsize=9)
            if row == 0 and col == 1:
                ax.legend(loc="lower left", fontsize=7)
    share = degenerate_share(traces)
    where = f" ({scale} scale)" if scale else ""
    fig.suptitle(
        f"Agreement with MC{where}: {len(traces)} traces; {share.n_degenerate}/{share.n_boundaries} "
        "boundaries degenerate (all rollouts agree)\n"
        "error bars: 95% bootstrap interval over traces; n/a: undefined"
    )
    save(fig, pdf, png)


def error_localization(
    traces: Sequence[dict], *, pdf: str | Path, png: str | Path, n_resamples: int = 1000, scale: str = ""
) -> None:
    """Share of incorrect traces whose most-blamed segment holds the first error, per estimator, beside the
    uniform-random baseline (:func:`rredcot.artifacts.credit.error_localization`; our addition)."""
    from rredcot.artifacts.credit import RANDOM
    from rredcot.artifacts.credit import error_localization as localize

    loc = localize(traces, n_resamples=n_resamples)
    table = loc.table
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(table) + 3), 4.4), layout="constrained")
    if table.empty:
        _no_data(ax, "no incorrect trace with a located first error")
    else:
        names = [e.removeprefix("RREDCoT ") for e in table["estimator"]]
        styles = estimator_styles([e for e in table["estimator"] if e != RANDOM])
        x = np.arange(len(names))
        share, lo, hi = (table[c].to_numpy(dtype=float) for c in ("share", "lo", "hi"))
        with _quiet():
            err = np.vstack(
                [np.where(np.isfinite(lo), share - lo, 0), np.where(np.isfinite(hi), hi - share, 0)]
            )
        err = np.clip(np.nan_to_num(err), 0, None)
        for xi, name, s, e in zip(x, table["estimator"], share, err.T, strict=True):
            look = (
                {"color": "white", "edgecolor": "0.3", "hatch": ".."} if name == RANDOM else styles[name].bar
            )
            ax.bar(
                xi,
                s,
                0.7,
                **look,
                yerr=e[:, None],
                capsize=3,
                ecolor="0.3",
            )
            ax.text(xi, min(s + e[1] + 0.03, 1.02), f"{s:.2f}", ha="center", fontsize=7)
        ax.axhline(float(share[list(table["estimator"]).index(RANDOM)]), color="0.4", ls="--", lw=1)
        ax.set_xticks(x, names, rotation=20, ha="right")
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("share of traces: most-blamed segment holds the first error")
        ax.set_title(
            f"{loc.n_scored} incorrect traces with the first error in a reasoning segment "
            f"({loc.n_outside} with it after them left out)\ndotted bar and dashed line: uniform random "
            "(mean 1/K); hatched: linear value space; error bars: 95% bootstrap interval over traces",
            fontsize=8,
        )
    where = f", {scale} scale" if scale else ""
    fig.suptitle(f"First-error localization (our addition, not a paper figure{where})")
    save(fig, pdf, png)
