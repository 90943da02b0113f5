"""The credit testbed's positive control and the comparison it guards (a table and a figure).

Headroom: does perfect credit, fed through the configured σ, learn faster than GRPO? The control arm (the
exact oracle) passes when the mean over its seeds of its smoothed training accuracy reaches GRPO's final
training accuracy (mean of the last ``final_window`` steps over GRPO's seeds) within ``max_step_fraction`` of
GRPO's steps, with at least ``min_seeds`` seeds per arm. Training accuracy is the in-distribution accuracy of
the policy's own samples at every step, so it gives a curve where the evaluation gives one point. These
criteria are fixed in the config before any run is looked at. The control is not testable where GRPO itself
does not learn (its final accuracy is not ``min_baseline_gain`` above its first steps'): any arm would reach
that level at once.

The comparison it guards: the share of the oracle's gain over GRPO that RREDCoT recovers on the evaluation
benchmark, ``(R − G) / (O − G)`` of the means over seeds, with a percentile interval from resampling the
seeds jointly (the arms share seeds, so the draws are paired), and each arm's steps to GRPO's final accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rredcot.artifacts.figures import (
    ACCURACY_LIMITS,
    REFERENCE,
    SeedCurves,
    base_line,
    base_training_line,
    by_step,
    draw_seed_curves,
    plt,
    save,
    spread_note,
)
from rredcot.artifacts.logs import first_crossing, percentile_interval, smoothed
from rredcot.artifacts.style import policy_label, policy_styles
from rredcot.artifacts.tables import write_table


def arm_summary(
    metrics: pd.DataFrame,
    evals: pd.DataFrame,
    arm: str,
    benchmark: str,
    threshold: float,
    window: int,
    last: int,
) -> pd.DataFrame:
    """Per seed of ``arm``: final training accuracy, first step whose smoothed accuracy reaches ``threshold``
    (NaN: never) and the evaluation on ``benchmark``."""
    rows = []
    runs = metrics[metrics["method"] == arm]
    curve = smoothed(runs, "accuracy", window)
    for seed, run in runs.groupby("seed"):
        scored = evals[(evals["policy"] == f"{arm}/seed{seed}") & (evals["benchmark"] == benchmark)]
        rows.append(
            {
                "arm": arm,
                "seed": int(seed),
                "final_train_accuracy": float(run["accuracy"].tail(last).mean()),
                "steps_to_threshold": first_crossing(run["step"], curve[run.index], threshold),
                "eval": float(scored["value"].mean()) if len(scored) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=["arm", "seed", "final_train_accuracy", "steps_to_threshold", "eval"])


def recovered_share(
    per_seed: pd.DataFrame,
    baseline: str,
    control: str,
    compared: str,
    resamples: int,
    level: float,
    seed: int,
) -> tuple[float, list[float]]:
    """``(R − G)/(O − G)`` of the evaluation means over the seeds all three arms share, and its percentile
    interval over seeds resampled jointly. Undefined (NaN, interval too) where the oracle gains nothing over
    the seeds as drawn, or in more than half the resamples (``percentile_interval``): an interval over the
    draws that happen to show a gain would describe a gain the data do not show."""
    table = per_seed.pivot_table(index="seed", columns="arm", values="eval").dropna()
    if not {baseline, control, compared} <= set(table.columns) or len(table) == 0:
        return math.nan, [math.nan, math.nan]
    g, o, r = (table[name].to_numpy() for name in (baseline, control, compared))

    def share(pick) -> float:
        gain = o[pick].mean() - g[pick].mean()
        return (r[pick].mean() - g[pick].mean()) / gain if gain > 0 else math.nan

    point = share(np.arange(len(g)))
    low, high = percentile_interval(share, len(g), n_resamples=resamples, level=level, seed=seed)
    if math.isnan(point) or math.isnan(low):
        return math.nan, [math.nan, math.nan]
    return point, [low, high]


@dataclass(frozen=True)
class Headroom:
    """The positive control's reading: GRPO's final training accuracy (``threshold``), the step at which the
    control's seed-mean smoothed curve reaches it (``crossing``, NaN: never) of ``horizon``, the seeds per
    arm, and the verdict (``shown``, ``not shown`` or ``not testable: …``)."""

    threshold: float
    crossing: float
    horizon: float
    seeds: dict[str, int]
    verdict: str

    @property
    def shown(self) -> bool:
        return self.verdict == "shown"

    @property
    def fraction(self) -> float:
        return self.crossing / self.horizon if self.horizon else math.nan


def headroom_control(
    metrics: pd.DataFrame,
    *,
    baseline: str,
    control: str,
    smooth_window: int,
    final_window: int,
    max_step_fraction: float,
    min_seeds: int,
    min_baseline_gain: float,
) -> Headroom:
    """Read the positive control from the training metrics (module docstring)."""
    base = metrics[metrics["method"] == baseline]
    by_seed = base.groupby("seed")["accuracy"]
    threshold = float(by_seed.apply(lambda s: s.tail(final_window).mean()).mean())
    start = float(by_seed.apply(lambda s: s.head(final_window).mean()).mean())
    horizon = float(base["step"].max()) if len(base) else math.nan
    runs = metrics[metrics["method"] == control]
    mean_curve = smoothed(runs, "accuracy", smooth_window).groupby(runs["step"]).mean()
    crossing = first_crossing(mean_curve.index, mean_curve.to_numpy(), threshold)
    seeds = {arm: int(metrics.loc[metrics["method"] == arm, "seed"].nunique()) for arm in (baseline, control)}
    if min(seeds.values()) < min_seeds:
        verdict = (
            f"not testable: {seeds[baseline]} {baseline} and {seeds[control]} {control} seeds, "
            f"{min_seeds} needed"
        )
    elif not threshold - start >= min_baseline_gain:  # a baseline that does not learn is reached at once
        verdict = (
            f"not testable: {policy_label(baseline)} does not learn here ({start:.3f} over its first "
            f"{final_window} steps, "
            f"{threshold:.3f} over its last; {min_baseline_gain:+.3f} needed)"
        )
    else:
        verdict = "shown" if crossing <= max_step_fraction * horizon else "not shown"  # NaN: never, not shown
    return Headroom(threshold, crossing, horizon, seeds, verdict)


def write_headroom(
    metrics: pd.DataFrame,
    evals: pd.DataFrame,
    *,
    csv: str | Path,
    tex: str | Path,
    md: str | Path,
    pdf: str | Path,
    png: str | Path,
    baseline: str,
    control: str,
    compared: Sequence[str],
    benchmark: str,
    smooth_window: int,
    final_window: int,
    max_step_fraction: float,
    min_seeds: int,
    min_baseline_gain: float,
    ci_level: float,
    bootstrap_resamples: int,
    seed: int,
    scale: str = "",
    metric: str = "avg_at_n",
) -> None:
    """The headroom table (per arm and seed; the control's verdict and RREDCoT's recovered share in its
    notes; the evaluation in ``metric``, read by the loader) and figure (training curves with GRPO's final
    level and the base model's, evaluation per seed with the base model's)."""
    control_reading = headroom_control(
        metrics,
        baseline=baseline,
        control=control,
        smooth_window=smooth_window,
        final_window=final_window,
        max_step_fraction=max_step_fraction,
        min_seeds=min_seeds,
        min_baseline_gain=min_baseline_gain,
    )
    threshold, crossing, horizon = (
        control_reading.threshold,
        control_reading.crossing,
        control_reading.horizon,
    )
    fraction, verdict, passed = control_reading.fraction, control_reading.verdict, control_reading.shown
    arms = [baseline, control, *compared]
    per_seed = pd.concat(
        [arm_summary(metrics, evals, a, benchmark, threshold, smooth_window, final_window) for a in arms],
        ignore_index=True,
    )
    notes = [
        f"- Positive control (pre-registered): the {control} arm's seed-mean smoothed training accuracy "
        f"(window {smooth_window}) reaches {baseline}'s final training accuracy {threshold:.3f} (mean of its "
        f"last {final_window} steps over seeds) by step {crossing:g} of {horizon:g} "
        f"({fraction:.0%}; needed ≤ {max_step_fraction:.0%}): headroom **{verdict}**.",
    ]
    means = per_seed.groupby("arm")["eval"].mean()
    gain = means.get(control, math.nan) - means.get(baseline, math.nan)
    for arm in compared:
        share, (low, high) = recovered_share(
            per_seed, baseline, control, arm, bootstrap_resamples, ci_level, seed
        )
        recovered = (
            f"recovers {share:.2f} [{low:.2f}, {high:.2f}] ({ci_level:.0%}, seeds resampled jointly) of"
            if not math.isnan(share)
            else "recovers an undefined share (no interval) of"
        )
        notes.append(
            f"- {arm} {recovered} the {control} arm's gain over {baseline} on {benchmark}"
            + (
                f" (here {gain:+.3f}: the share needs a gain in most resamples of the seeds)"
                if math.isnan(share)
                else ""
            )
            + ("." if passed else f", read only where the headroom is shown (here: {verdict}).")
        )
    evaluated = [arm for arm in arms if np.isfinite(means.get(arm, math.nan))]
    seed_means = ", ".join(f"{arm} {means[arm]:.3f}" for arm in evaluated)
    if seed_means:
        notes.append(f"- Mean over seeds on {benchmark}: {seed_means}.")
    base_eval = evals[(evals["policy"] == "base") & (evals["benchmark"] == benchmark)]["value"]
    if len(base_eval):
        notes.append(f"- Base model on {benchmark}: {base_eval.mean():.3f}.")

    display = per_seed.assign(
        final_train_accuracy=per_seed["final_train_accuracy"].map("{:.3f}".format),
        steps_to_threshold=per_seed["steps_to_threshold"].map(lambda v: "never" if np.isnan(v) else f"{v:g}"),
        eval=per_seed["eval"].map("{:.3f}".format),
    ).rename(
        columns={
            "final_train_accuracy": "final train accuracy",
            "steps_to_threshold": f"steps to {threshold:.3f}",
            "eval": f"{benchmark} (eval)",
        }
    )
    write_table(
        per_seed, display, csv=csv, tex=tex, md=md, title=f"Headroom of exact credit ({scale})", notes=notes
    )

    styles = policy_styles(arms)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained", width_ratios=[2, 1])
    runs = metrics[metrics["method"].isin(arms)]
    runs = runs.assign(accuracy=smoothed(runs, "accuracy", smooth_window))
    curves = [
        SeedCurves(policy_label(arm), styles[arm], *by_step(runs[runs["method"] == arm], "accuracy"))
        for arm in arms
        if (runs["method"] == arm).any()
    ]
    draw_seed_curves(left, curves, ci_level=ci_level, bounds=(0, 1))
    base_training_line(left, metrics[metrics["method"].isin(arms)])
    left.axhline(threshold, **REFERENCE, label=f"{policy_label(baseline)} final {threshold:.3f}")
    left.axvline(
        max_step_fraction * horizon, color="0.3", ls=":", lw=1, label=f"{max_step_fraction:.0%} of steps"
    )
    left.set(
        xlabel="step", ylabel=f"training accuracy (smoothed, {smooth_window} steps)", ylim=ACCURACY_LIMITS
    )
    left.set_title(f"Headroom: {verdict}\n{spread_note(ci_level)}", fontsize=8)
    handles, labels = left.get_legend_handles_labels()  # below the panels: over them it hid a line
    fig.legend(handles, labels, loc="outside lower left", ncols=min(len(labels), 4), fontsize=7)
    for k, arm in enumerate(arms):
        values = per_seed.loc[per_seed["arm"] == arm, "eval"].to_numpy()
        style = styles[arm]
        face = "white" if style.hollow else style.color
        x = k + (
            np.linspace(-0.15, 0.15, values.size) if values.size > 1 else np.zeros(values.size)
        )  # side by side
        right.scatter(x, values, edgecolors=style.color, c=face, marker=style.marker, s=18, zorder=3)
        if values.size:
            right.hlines(np.nanmean(values), k - 0.25, k + 0.25, color=style.color, lw=2)
    if len(base_eval):
        base_line(right, base_eval.mean(), "base model:")
        right.legend(loc="lower right", fontsize=7)
    # more than three names side by side would run into each other
    labels = [policy_label(arm) for arm in arms]
    right.set_xticks(range(len(arms)), labels, rotation=20 if len(arms) > 3 else 0)
    right.set(ylabel=f"{benchmark} accuracy (eval), per seed", ylim=ACCURACY_LIMITS)
    right.set_title("dots: seeds; short line: their mean", fontsize=8)
    save(fig, pdf, png)


__all__ = ["Headroom", "arm_summary", "headroom_control", "recovered_share", "write_headroom"]
