"""Dose-response of the credit testbed's positive control: does exact credit's gain over GRPO grow with the
horizon H, or with the free choices of the asides?

    snakemake --cores 2 headroom --configfile experiments/testbed.yaml experiments/overlays/testbed_h4.yaml
    snakemake --cores 2 headroom --configfile experiments/testbed.yaml
    snakemake --cores 2 headroom --configfile experiments/testbed.yaml experiments/overlays/testbed_h16.yaml
    python scripts/testbed_dose_response.py           # dose: H (dose_response.*)
    python scripts/testbed_dose_response.py asides    # dose: aside length at H = 4 (dose_response_asides.*)

Reads each horizon's committed ``paper_tables/<scale>/headroom.csv`` (per arm and seed: final training
accuracy, steps to GRPO's final accuracy, in-distribution evaluation) and writes
``paper_tables/testbed/dose_response.{csv,md}``: per H, the oracle's and GRPO's seed means and the gap
(oracle − GRPO) on the evaluation and in final training accuracy, with 95 % percentile intervals from
resampling the seeds (paired: the arms share seeds).

Pre-registered before any H = 4 or H = 16 run was looked at: the dose-response is **shown** when the
evaluation gap's seed mean grows at every step of H = 4 → 8 → 16 and the 95 % interval of gap(16) − gap(4)
(seeds resampled within each H) lies above 0; **not shown** when the interval lies at or below 0; otherwise
**inconclusive**. It is **not decided** while any of the three horizons lacks 3 seeds per arm, or (added
after the H = 16 runs, whose GRPO stayed at chance) where a horizon's control is not testable because GRPO
does not learn there: its verdict in ``headroom.md``.

The same rule over the asides' length at H = 4 (0, 2, 4 random letters after every step: ``testbed_h4``,
``testbed_h4_asides2``, ``testbed_h4_asides``), pre-registered before any run with letter asides was looked
at: **shown** when the in_dist gap grows at every step 0 → 2 → 4 and the interval of gap(4) − gap(0) lies
above 0.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


class Dose(NamedTuple):
    """One dose axis: its symbol (the table's first column), what it is, and the scale run at each dose."""

    symbol: str
    label: str
    scales: dict[int, str]
    out: str


DOSES = {
    "horizon": Dose("H", "horizon H", {4: "testbed_h4", 8: "testbed", 16: "testbed_h16"}, "dose_response"),
    "asides": Dose(
        "asides",
        "aside length at H = 4 (random letters after every step)",
        {0: "testbed_h4", 2: "testbed_h4_asides2", 4: "testbed_h4_asides"},
        "dose_response_asides",
    ),
}
BASELINE, CONTROL = "grpo", "oracle"
MIN_SEEDS, RESAMPLES, LEVEL = 3, 10_000, 0.95


def paired_gaps(table: pd.DataFrame, column: str) -> np.ndarray:
    """Per shared seed: control − baseline on ``column``."""
    wide = table.pivot(index="seed", columns="arm", values=column)[[BASELINE, CONTROL]].dropna()
    return (wide[CONTROL] - wide[BASELINE]).to_numpy()


def interval(draws: np.ndarray) -> tuple[float, float]:
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def resampled_means(gaps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Means of the gaps over seeds drawn with replacement, ``RESAMPLES`` times."""
    return gaps[rng.integers(0, len(gaps), size=(RESAMPLES, len(gaps)))].mean(axis=1)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dose", nargs="?", choices=sorted(DOSES), default="horizon")
    axis = DOSES[parser.parse_args(argv).dose]
    rng = np.random.default_rng(0)
    rows, draws = [], {}
    for level, scale in axis.scales.items():
        path = ROOT / "paper_tables" / scale / "headroom.csv"
        if not path.exists():
            rows.append({axis.symbol: level, "scale": scale, "seeds": 0})
            continue
        table = pd.read_csv(path)
        control = re.search(r"headroom \*\*(.+?)\*\*", path.with_suffix(".md").read_text())[1]
        gaps = paired_gaps(table, "eval")
        train_gaps = paired_gaps(table, "final_train_accuracy")
        draws[level] = resampled_means(gaps, rng)
        means = table.groupby("arm")["eval"].mean()
        rows.append(
            {
                axis.symbol: level,
                "scale": scale,
                "seeds": len(gaps),
                "control": control,
                "grpo_eval": means[BASELINE],
                "oracle_eval": means[CONTROL],
                "gap_eval": gaps.mean(),
                "gap_eval_ci": interval(draws[level]),
                "gap_train": train_gaps.mean(),
                "gap_train_ci": interval(resampled_means(train_gaps, rng)),
            }
        )
    write(axis, rows, reading(rows, draws, axis.symbol))


def reading(rows: list[dict], draws: dict[int, np.ndarray], symbol: str = "H") -> str:
    """The pre-registered verdict (module docstring) with the contrast it rests on."""
    if missing := [f"{symbol} = {row[symbol]}" for row in rows if row["seeds"] < MIN_SEEDS]:
        return f"dose-response **not decided**: {', '.join(missing)} not run with {MIN_SEEDS} seeds per arm"
    if untestable := [
        f"{symbol} = {row[symbol]} ({row['control']})"
        for row in rows
        if row["control"].startswith("not testable")
    ]:
        return f"dose-response **not decided**: the control is {'; '.join(untestable)}"
    gap = [row["gap_eval"] for row in sorted(rows, key=lambda row: row[symbol])]
    low, high = interval(draws[max(draws)] - draws[min(draws)])
    if all(a < b for a, b in zip(gap, gap[1:], strict=False)) and low > 0:
        verdict = "shown"
    elif high <= 0:
        verdict = "not shown"
    else:
        verdict = "inconclusive"
    contrast = draws[max(draws)].mean() - draws[min(draws)].mean()
    top, bottom = max(draws), min(draws)
    contrast_text = f"gap({top}) − gap({bottom}) = {contrast:+.3f} [{low:+.3f}, {high:+.3f}]"
    return f"{contrast_text}: dose-response **{verdict}**"


def write(axis: Dose, rows: list[dict], reading: str) -> None:
    out = ROOT / "paper_tables" / "testbed"
    fields = [
        axis.symbol,
        "scale",
        "seeds",
        "control",
        "grpo_eval",
        "oracle_eval",
        "gap_eval",
        "gap_eval_ci",
        "gap_train",
        "gap_train_ci",
    ]
    with open(out / f"{axis.out}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    def ci(pair) -> str:
        return f"[{pair[0]:+.3f}, {pair[1]:+.3f}]"

    levels = " → ".join(str(level) for level in axis.scales)
    top, bottom = max(axis.scales), min(axis.scales)
    lines = [
        f"**Dose-response of the positive control: exact credit (oracle) minus GRPO, per {axis.label}**",
        "",
        f"| {axis.symbol} | seeds per arm | positive control | GRPO in_dist | oracle in_dist "
        "| gap in_dist [95 %] | gap in final training accuracy [95 %] |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if not row["seeds"]:
            lines.append(f"| {row[axis.symbol]} | not run | | | | | |")
            continue
        lines.append(
            f"| {row[axis.symbol]} | {row['seeds']} | {row['control']} | "
            f"{row['grpo_eval']:.3f} | {row['oracle_eval']:.3f} | "
            f"{row['gap_eval']:+.3f} {ci(row['gap_eval_ci'])} | "
            f"{row['gap_train']:+.3f} {ci(row['gap_train_ci'])} |"
        )
    lines += [
        "",
        f"- {reading}. Pre-registered: shown when the in_dist gap grows at every step of "
        f"{axis.symbol} = {levels} and the 95 % interval of gap({top}) − gap({bottom}) lies above 0 (seeds "
        f"resampled within each {axis.symbol}).",
        f"- Each {axis.symbol} has its own data and SFT base and the same RL recipe (60 steps, 16 prompts "
        "× 8 completions).",
        "",
    ]
    (out / f"{axis.out}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
