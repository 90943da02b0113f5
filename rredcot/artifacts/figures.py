"""The paper's figures from logged data (matplotlib, Agg), each saved as PDF and PNG atomically.

* :func:`training_curves` — accuracy and reward vs step and vs generated tokens, mean and CI over seeds,
  steps to a threshold accuracy annotated (sample efficiency).
* :func:`fig3_mc_cost` — MC value-estimation seconds vs segments per trace and vs number of questions, beside
  RREDCoT's value seconds for the same traces.
* :func:`fig7_mc_sd` — bootstrapped SD of the MC value vs samples per boundary × relative boundary position.
* :func:`fig4_estimator_correlation` — Pearson and Spearman matrices of segment credits (MC, RREDCoT variants,
  gradient, LOO) pooled over traces, and correlation with MC by relative position.
* :func:`ablation_segmentation`, :func:`ablation_estimator` — agreement with MC per segmentation / estimator
  variant; :func:`ablation_training` — training accuracy and test-split accuracy of any list of runs.
* :func:`delimiter_drift` — newlines and thinking lines per completion vs training step, per method.
* :func:`credit_agreement` — values and credits vs MC, pooled and per trace, by correct / incorrect trace
  and on non-degenerate boundaries; :func:`error_localization` — does the most-blamed segment hold the first
  error (both our additions, not paper figures).
* :func:`value_sanity` — estimator vs MC values at the base policy's own states and their corrupted twins,
  and the parts of log v̂ along the trace (our control, not a paper figure).

Colours: the Okabe–Ito palette. Undefined numbers (a correlation of constant credits) are drawn as "n/a".
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rredcot.artifacts.logs import (  # noqa: E402
    GRADIENT,
    LOO,
    MC,
    bootstrap_over_traces,
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
from rredcot.io import atomic_path  # noqa: E402
from rredcot.pipeline.metric_names import NEWLINES_METRIC, THINKING_LINES_METRIC  # noqa: E402

OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
CYCLE = [OKABE_ITO[c] for c in ("blue", "vermillion", "green", "orange", "purple", "sky", "yellow", "black")]
COLORS = {
    "grpo": OKABE_ITO["blue"],
    "rredcot": OKABE_ITO["vermillion"],
    "base": OKABE_ITO["black"],
    MC: OKABE_ITO["black"],
    GRADIENT: OKABE_ITO["green"],
    LOO: OKABE_ITO["purple"],
}
LABELS = {"grpo": "GRPO", "rredcot": "RREDCoT", "base": "base"}
NA_NOTE = "n/a: undefined (constant credits, or fewer than 3 finite pairs)"

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 9,
        "axes.titlesize": 10,
        "legend.fontsize": 8,
        "legend.frameon": False,
    }
)


# RREDCoT variants take the colours that MC, gradient and LOO do not use in the same panel.
VARIANT_CYCLE = [OKABE_ITO[c] for c in ("vermillion", "orange", "sky", "blue", "yellow", "black")]


def color_of(name: str, index: int = 0) -> str:
    return COLORS.get(name, CYCLE[index % len(CYCLE)])


def estimator_colors(columns: Sequence[str]) -> dict[str, str]:
    """Fixed colours for MC / gradient / LOO, the variant cycle for RREDCoT variants in order."""
    variants = [c for c in columns if c not in COLORS]
    colors = {c: VARIANT_CYCLE[i % len(VARIANT_CYCLE)] for i, c in enumerate(variants)}
    return {c: COLORS.get(c, colors.get(c)) for c in columns}


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


# ------------------------------------------------------------------------------------------ training curves
def _curve_by_step(runs: pd.DataFrame, column: str, level: float):
    wide = runs.pivot_table(index="step", columns="seed", values=column, aggfunc="mean")
    mean, half = t_interval(wide.to_numpy(), level, axis=1)
    return wide.index.to_numpy(dtype=float), mean, half


def _curve_by_tokens(runs: pd.DataFrame, column: str, level: float, points: int = 200):
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
    stacked = np.stack([np.interp(grid, x, y) for x, y in curves], axis=1)
    mean, half = t_interval(stacked, level, axis=1)
    return grid, mean, half


def _band(ax, x, mean, half, color, label):
    ax.plot(x, mean, color=color, label=label, lw=1.5)
    if np.isfinite(half).any():
        ax.fill_between(x, mean - half, mean + half, color=color, alpha=0.2, lw=0)


def _step_bands(ax, table: pd.DataFrame, column: str, ci_level: float, color, legend) -> None:
    """One band per ``method`` of ``table`` (in order of appearance): ``column``'s mean and CI over seeds
    vs step; ``color(name, index)`` and ``legend(name, n_seeds)`` say how each is drawn."""
    for index, (name, runs) in enumerate(table.groupby("method", sort=False)):
        with _quiet():
            x, mean, half = _curve_by_step(runs, column, ci_level)
        _band(ax, x, mean, half, color(name, index), legend(name, runs["seed"].nunique()))


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
    """2 × 2 panels: accuracy / reward vs step / generated tokens; steps to threshold annotated."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
    n_seeds = metrics.groupby("method")["seed"].nunique().to_dict() if not metrics.empty else {}
    table = metrics.copy()
    if not table.empty:
        for column in ("accuracy", "reward"):
            table[column] = smoothed(table, column, smooth_window)
    efficiency = sample_efficiency(
        metrics,
        fraction=threshold_fraction,
        smooth_window=smooth_window,
        final_window=final_window,
        baseline=baseline,
    )
    for row, (column, ylabel) in enumerate(
        (("accuracy", "training accuracy (fraction correct)"), ("reward", "mean reward per completion"))
    ):
        for col, (by, xlabel) in enumerate(
            (("step", "training step"), ("tokens", "generated completion tokens (cumulative)"))
        ):
            ax = axes[row, col]
            drawn = False
            if not table.empty and column in table:
                for index, (method, runs) in enumerate(table.groupby("method", sort=False)):
                    with _quiet():
                        curve = (
                            _curve_by_step(runs, column, ci_level)
                            if by == "step"
                            else _curve_by_tokens(runs, column, ci_level)
                        )
                    if curve is None or not np.isfinite(curve[1]).any():
                        continue
                    label = f"{LABELS.get(method, method)} (n={n_seeds.get(method, 0)} seeds)"
                    _band(ax, *curve, color_of(method, index), label)
                    drawn = True
                    if column == "accuracy" and efficiency.threshold > 0:
                        x, mean = curve[0], curve[1]
                        hits = np.flatnonzero(mean >= efficiency.threshold)
                        if hits.size:
                            ax.axvline(x[hits[0]], color=color_of(method, index), ls=":", lw=1)
            if not drawn:
                _no_data(ax)
                continue
            if column == "accuracy":
                ax.set_ylim(-0.02, 1.02)
            if column == "accuracy" and efficiency.threshold > 0:
                ax.axhline(
                    efficiency.threshold,
                    color="0.3",
                    ls="--",
                    lw=1,
                    label=f"threshold {efficiency.threshold:.3f}",
                )
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.legend(loc="lower right")
            if (row, col) != (0, 0):
                ax.set_title(f"{column} vs {'step' if by == 'step' else 'generated tokens'}", fontsize=9)
    if efficiency.threshold > 0:  # NaN or 0 (GRPO never correct): no threshold to reach
        parts = []
        for method, steps in efficiency.steps.items():
            mean, sd, n = mean_sd(steps)
            censored = efficiency.censored.get(method, 0)
            spread = f" ± {sd:.1f}" if math.isfinite(sd) else ""
            parts.append(
                f"{LABELS.get(method, method)} {mean:.1f}{spread} steps"
                + (f" ({censored}/{n} never reach it)" if censored else "")
            )
        axes[0, 0].set_title(
            f"steps to start + {threshold_fraction:g} × (final − start) of "
            f"{LABELS.get(baseline, baseline)}'s accuracy ({efficiency.start:.3f} → "
            f"{efficiency.baseline_final:.3f}: {efficiency.threshold:.3f}):\n" + "; ".join(parts),
            fontsize=8,
        )
    smoothing = f"trailing mean over {smooth_window} steps" if smooth_window > 1 else "no smoothing"
    fig.suptitle(
        f"Training curves{f' ({scale} scale)' if scale else ''}: mean and {ci_level:.0%} CI over seeds, "
        f"{smoothing}"
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
    drawn = False
    for index, (column, label, marker) in enumerate(
        (("mc_seconds", "Monte Carlo values", "o"), ("value_seconds", f"RREDCoT values ({variant})", "s"))
    ):
        color = color_of(MC if column == "mc_seconds" else "rredcot", index)
        points = every[np.isfinite(every[column]) & (every[column] > 0)]
        if points.empty:
            continue
        drawn = True
        left.scatter(
            points["segments"], points[column], s=14, alpha=0.5, color=color, marker=marker, label=label
        )
        median = points.groupby("segments")[column].median()
        left.plot(median.index, median.values, color=color, lw=1.5)
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
    for index, (column, label) in enumerate(
        (("mc_seconds", "Monte Carlo values"), ("value_seconds", f"RREDCoT values ({variant})"))
    ):
        if both.empty:
            break
        cumulative = np.cumsum(both[column].to_numpy())
        if not (cumulative > 0).any():
            continue
        drawn = True
        color = color_of(MC if column == "mc_seconds" else "rredcot", index)
        right.plot(
            np.arange(1, len(cumulative) + 1),
            cumulative,
            color=color,
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
        right.text(0.02, 0.98, note, transform=right.transAxes, va="top", fontsize=8)
        right.set_xlabel("questions (traces, in logged order)")
        right.set_ylabel("cumulative wall-clock seconds")
        right.set_title("cost vs number of questions")
        right.legend(loc="lower right")
    else:
        _no_data(right)
    fig.suptitle(
        f"Fig. 3{f' ({scale} scale)' if scale else ''}: cost of Monte Carlo vs RREDCoT value estimation"
    )
    save(fig, pdf, png)


# ----------------------------------------------------------------------------------------------- Fig. 7
def mc_sd_grid(
    traces: Sequence[dict], *, max_samples: int, n_resamples: int, n_bins: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample sizes, per-boundary SDs (n_boundaries, S), mean SD per (position bin, sample size))."""
    sizes, sd, positions = mc_bootstrap_sd(
        traces, max_samples=max_samples, n_resamples=n_resamples, seed=seed
    )
    grid = np.full((n_bins, sizes.size), np.nan)
    if sd.size:
        bins = position_bins(positions, n_bins)
        with _quiet():
            for b in range(n_bins):
                if (bins == b).any():
                    grid[b] = np.nanmean(sd[bins == b], axis=0)
    return sizes, sd, grid


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
    """The SD threshold and the paper's sample count come from ``claims`` (``mc_sd_threshold``, default 0.1;
    ``mc_sd_samples``, not drawn if absent)."""
    claims = claims or {}
    threshold, paper_samples = claims.get("mc_sd_threshold", 0.1), claims.get("mc_sd_samples")
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]}, layout="constrained"
    )
    sizes, sd, grid = mc_sd_grid(
        traces, max_samples=max_samples, n_resamples=n_resamples, n_bins=n_bins, seed=seed
    )
    if sd.size == 0 or not np.isfinite(grid).any():
        _no_data(left, "no MC outcomes logged")
        _no_data(right, "no MC outcomes logged")
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
            left.plot([], [], color="white", label=f"SD = {threshold:g}")
        left.grid(False)
        left.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        right.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        left.set_xlabel("MC samples per boundary")
        left.set_ylabel("relative boundary position (b_k / b_K)")
        left.set_title(f"mean SD per position bin (white line: SD = {threshold:g})", fontsize=9)
        with _quiet():
            mean = np.nanmean(sd, axis=0)
            lo, hi = np.nanquantile(sd, [0.1, 0.9], axis=0)
        right.plot(sizes, mean, color=OKABE_ITO["blue"], marker="o", ms=3, label="mean over boundaries")
        right.fill_between(
            sizes, lo, hi, color=OKABE_ITO["blue"], alpha=0.2, lw=0, label="10th–90th percentile"
        )
        right.axhline(threshold, color=OKABE_ITO["vermillion"], ls="--", lw=1, label=f"SD = {threshold:g}")
        if paper_samples is not None:
            right.axvline(paper_samples, color="0.4", ls=":", lw=1, label=f"paper: {paper_samples:g} samples")
        below = np.flatnonzero(mean < threshold)
        if below.size:
            right.annotate(
                f"ours: {sizes[below[0]]} samples",
                (sizes[below[0]], mean[below[0]]),
                xytext=(10, 20),
                textcoords="offset points",
                arrowprops={"arrowstyle": "->", "color": "0.3"},
                fontsize=8,
            )
        right.set_xlabel("MC samples per boundary")
        right.set_ylabel("bootstrapped SD of the MC value")
        right.set_title(f"{sd.shape[0]} boundaries, {n_resamples} bootstrap resamples", fontsize=9)
        right.legend()
    fig.suptitle(f"Fig. 7{f' ({scale} scale)' if scale else ''}: how many MC samples a stable value needs")
    save(fig, pdf, png)


# ----------------------------------------------------------------------------------------------- Fig. 4
def _heatmap(ax, matrix: pd.DataFrame, title: str) -> None:
    values = matrix.to_numpy(dtype=float)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1, vmax=1)
    labels = [c.replace("RREDCoT ", "RREDCoT\n") for c in matrix.columns]
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
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


def position_correlations(credits: pd.DataFrame, n_bins: int, method: str) -> pd.DataFrame:
    """Correlation with MC of every other estimator within each relative-position bin."""
    columns = [c for c in estimator_columns(credits) if c != MC]
    bins = position_bins(credits["rel_position"].to_numpy(dtype=float), n_bins)
    rows = []
    for b in range(n_bins):
        here = credits[bins == b]
        row = {"bin": b, "centre": (b + 0.5) / n_bins, "n": len(here)}
        for c in columns:
            row[c] = correlation(here[c], here[MC], method) if MC in here else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def fig4_estimator_correlation(
    traces: Sequence[dict],
    *,
    pdf: str | Path,
    png: str | Path,
    n_bins: int,
    method: str = "spearman",
    scale: str = "",
) -> None:
    """Left, middle: correlation matrices; right: ``method`` correlation with MC per position bin."""
    credits = pooled_credits(traces)
    columns = estimator_columns(credits)
    fig = plt.figure(figsize=(15, 5.5), layout="constrained")
    axes = [fig.add_subplot(1, 3, i) for i in (1, 2, 3)]
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
            by_bin = position_correlations(credits, n_bins, method)
            colors = estimator_colors(columns)
            for c in (col for col in columns if col != MC):
                ax.plot(
                    by_bin["centre"],
                    by_bin[c],
                    marker="o",
                    ms=3,
                    color=colors[c],
                    label=c,
                    ls="--" if c in (GRADIENT, LOO) else "-",
                )
            ax.set_xticks(
                (np.arange(n_bins) + 0.5) / n_bins,
                [f"{b / n_bins:.2f}–{(b + 1) / n_bins:.2f}\nn={n}" for b, n in enumerate(by_bin["n"])],
                fontsize=7,
            )
            ax.set_xlim(0, 1)
            ax.set_ylim(-1.05, 1.05)
            ax.axhline(0, color="0.5", lw=0.8)
            ax.set_xlabel("relative position of the segment in the trace (bin)")
            ax.set_ylabel(f"{method.capitalize()} correlation with MC credit")
            ax.set_title("agreement with MC by position", fontsize=9)
            ax.legend(fontsize=7, loc="lower left")
            others = by_bin[[c for c in columns if c != MC]].to_numpy(dtype=float)
            if not np.isfinite(others).any():
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
        fig.text(
            0.01,
            0.01,
            f"{credits['trace'].nunique()} traces, {len(credits)} segments pooled. {NA_NOTE}.",
            fontsize=7,
            color="0.3",
        )
    fig.suptitle(
        f"Fig. 4{f' ({scale} scale)' if scale else ''}: agreement of segment credits between estimators"
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
    for offset, method, color in (
        (-width / 2, "pearson", OKABE_ITO["blue"]),
        (width / 2, "spearman", OKABE_ITO["orange"]),
    ):
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
    evaluated): mean ± SD over runs with every run drawn as a dot; a label with one run draws no bar, n = 1.

    ``groups`` is one ablation of ``artifacts.training_ablations``: label -> runs (``<run>/seed<n>``, under
    results/<scale>/train). ``metrics`` holds the runs' steps (:func:`rredcot.artifacts.logs.load_metrics`),
    ``evals`` their evaluation summaries in ``metric`` (:func:`rredcot.artifacts.logs.load_eval`) on the test
    splits ``benchmarks``. Labels and splits keep the config's order.
    """
    label_of = {run: label for label, runs in groups.items() for run in runs}
    position = {label: index for index, label in enumerate(groups)}
    if not metrics.empty:
        runs = [f"{Path(run).parent.name}/{Path(run).name}" for run in metrics["run"]]
        metrics = metrics.assign(method=[label_of.get(run) for run in runs])
        metrics = metrics.dropna(subset=["method"])
        metrics = metrics.sort_values("method", key=lambda labels: labels.map(position), kind="stable")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
    if metrics.empty or "accuracy" not in metrics:
        _no_data(left)
        _no_data(right)
        fig.suptitle(title or "Training ablation")
        save(fig, pdf, png)
        return
    table = metrics.assign(accuracy=smoothed(metrics, "accuracy", smooth_window))
    labels = list(dict.fromkeys(table["method"]))
    _step_bands(
        left,
        table,
        "accuracy",
        ci_level,
        color=lambda _, index: CYCLE[index % len(CYCLE)],
        legend=lambda label, n: f"{label} (n={n})",
    )
    left.set_xlabel("training step")
    left.set_ylabel("training accuracy (fraction correct)")
    left.set_title("training batches")
    left.legend()

    policies = {  # label -> evaluated policies, from the runs' directories (…/train/<run>/seed<n>)
        label: {
            f"{Path(run).parent.name}/{Path(run).name}" for run in table.loc[table["method"] == label, "run"]
        }
        for label in labels
    }
    splits = [split for split in benchmarks if split in set(evals["benchmark"])]
    if not splits:
        _no_data(right, "no evaluation of these runs")
    width = 0.8 / max(len(splits), 1)
    for j, split in enumerate(splits):
        rows = evals[evals["benchmark"] == split]
        for i, label in enumerate(labels):
            values = rows.loc[rows["policy"].isin(policies[label]), "value"].to_numpy(dtype=float)
            m, sd, n = mean_sd(values)
            xpos = i + (j - (len(splits) - 1) / 2) * width
            right.bar(
                xpos,
                np.nan_to_num(m),
                width=width,
                yerr=sd if n > 1 else None,
                capsize=3,
                color=CYCLE[j % len(CYCLE)],
                label=split if i == 0 else None,
            )
            right.scatter(np.full(n, xpos), values[np.isfinite(values)], s=10, color="black", zorder=3)
            if n == 1:
                right.annotate(
                    "n = 1", (xpos, m), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7
                )
    if splits:
        right.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
        right.set_ylabel(f"test accuracy ({metric_label(metric)})")
        right.set_title("test splits: mean ± SD over runs (dots: runs)")
        right.legend(fontsize=8)
    fig.suptitle(title or "Training ablation")
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
    """Newlines and thinking lines per completion vs training step, per method (mean and CI over seeds)."""
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
        _step_bands(
            ax,
            table,
            column,
            ci_level,
            color=color_of,
            legend=lambda method, n: f"{LABELS.get(method, method)} (n={n} seeds)",
        )
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
        ax.legend()
    fig.suptitle(f"Delimiter drift{f' ({scale} scale)' if scale else ''}")
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
    for ax, name in zip(axes, names, strict=False):
        stats = summary["estimators"][name]
        clean = [(v, m) for r in records for v, m in zip(r["values"][name], r["mc"], strict=True)]
        twins = [(r["twin"]["values"][name], r["twin"]["mc"]) for r in records if r["twin"]]
        for points, label, color, marker in (
            (clean, "line-end states", OKABE_ITO["blue"], "o"),
            (twins, "corrupted first step", OKABE_ITO["vermillion"], "x"),
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
        ax.legend(fontsize=8, loc="lower right")
    if with_parts:
        ax = axes[-1]
        width = max(len(r["boundaries"]) for r in records if "value_parts" in r)
        for k, part in enumerate(("marker", "body", "answer")):
            rows = [
                r["value_parts"][part] + [np.nan] * (width - len(r["boundaries"]))
                for r in records
                if "value_parts" in r
            ]
            ax.plot(
                np.arange(width),
                np.nanmean(np.asarray(rows, dtype=float), axis=0),
                marker="o",
                color=color_of(part, k),
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
AGREEMENT_CELLS = (  # (stratum, subset, label, colour)
    ("all", "all", "all traces, all", OKABE_ITO["black"]),
    ("all", "non-degenerate", "all traces, non-degenerate", OKABE_ITO["blue"]),
    ("correct", "non-degenerate", "correct traces, non-degenerate", OKABE_ITO["green"]),
    ("incorrect", "non-degenerate", "incorrect traces, non-degenerate", OKABE_ITO["vermillion"]),
)


def _interval_bars(ax, names, cells, width=0.8) -> None:
    """Grouped bars: ``cells`` = [(label, colour, points, lo, hi)], one value per name each."""
    x = np.arange(len(names))
    step = width / max(len(cells), 1)
    for j, (label, color, points, lo, hi) in enumerate(cells):
        points, lo, hi = (np.asarray(v, dtype=float) for v in (points, lo, hi))
        with _quiet():
            err = np.vstack(
                [np.where(np.isfinite(lo), points - lo, 0), np.where(np.isfinite(hi), hi - points, 0)]
            )
        err = np.clip(np.nan_to_num(err), 0, None)
        xs = x - width / 2 + (j + 0.5) * step
        ax.bar(xs, np.nan_to_num(points), step, color=color, label=label, yerr=err, capsize=2, ecolor="0.3")
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
            for stratum, subset, label, color in AGREEMENT_CELLS:
                sel = part[(part["stratum"] == stratum) & (part["subset"] == subset)].set_index("estimator")
                sel = sel.reindex(names)
                lo, hi = ("pooled_lo", "pooled_hi") if stat == "pooled" else ("per_trace_lo", "per_trace_hi")
                cells.append((label, color, sel[stat], sel[lo], sel[hi]))
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
        colors = estimator_colors(list(table["estimator"]))
        x = np.arange(len(names))
        share, lo, hi = (table[c].to_numpy(dtype=float) for c in ("share", "lo", "hi"))
        with _quiet():
            err = np.vstack(
                [np.where(np.isfinite(lo), share - lo, 0), np.where(np.isfinite(hi), hi - share, 0)]
            )
        err = np.clip(np.nan_to_num(err), 0, None)
        for xi, name, s, e in zip(x, table["estimator"], share, err.T, strict=True):
            random = name == RANDOM
            ax.bar(
                xi,
                s,
                0.7,
                color="white" if random else colors.get(name) or "0.5",
                edgecolor="0.3",
                hatch="//" if random else None,
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
            f"({loc.n_outside} with it after them left out)\ndashed: uniform random (mean 1/K); "
            "error bars: 95% bootstrap interval over traces",
            fontsize=8,
        )
    where = f" ({scale} scale)" if scale else ""
    fig.suptitle(f"First-error localization{where} (our addition, not a paper figure)")
    save(fig, pdf, png)
