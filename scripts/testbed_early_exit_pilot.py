"""Choose the testbed's early-exit rate on the validation split, by value sanity alone.

    snakemake --cores 2 results/testbed/analysis/value_sanity_validation.json \
        --configfile experiments/testbed.yaml
    snakemake --cores 2 results/testbed_exit0/analysis/value_sanity_validation.json \\
        --configfile experiments/testbed.yaml experiments/overlays/testbed_exit0.yaml
    python scripts/testbed_early_exit_pilot.py

Each candidate is a scale whose SFT data has that rate of early-exit examples (the testbed's own rate, and
rate 0 from the overlay in experiments/pilots/). Its base model's value sanity on the validation split is
read back; by value sanity alone, a candidate whose configured estimator meets both targets beats one that
does not, then the higher Spearman wins. Writes ``paper_tables/testbed/early_exit_pilot.{csv,md}``
with the martingale check (mean step of the value per state index, estimator and MC) beside it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from rredcot.pipeline.settings import layered_config

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = {"testbed": [], "testbed_exit0": ["experiments/overlays/testbed_exit0.yaml"]}


def _config(overlays: list[str]) -> dict:
    """experiments/testbed.yaml with the overlays merged in, as Snakemake merges several --configfile."""
    return layered_config([ROOT / "experiments" / "testbed.yaml", *(ROOT / overlay for overlay in overlays)])


def _steps(values) -> str:
    return " ".join("—" if v is None else f"{v:+.2f}" for v in values)


def main() -> None:
    rows = []
    for scale, overlays in CANDIDATES.items():
        config = _config(overlays)
        estimator = config["train"]["rredcot"]["value_estimator"]
        path = ROOT / "results" / scale / "analysis" / "value_sanity_validation.json"
        summary = yaml.safe_load(path.read_text())["summary"]  # JSON is YAML
        e = summary["estimators"][estimator]
        rows.append(
            {
                "scale": scale,
                "early_exit_prob": config["data"]["synthetic"]["train"]["early_exit_prob"],
                "estimator": estimator,
                "spearman": e["spearman"],
                "spearman_ci": e["spearman_ci"],
                "drop_share": e["drop_share"],
                "meets_targets": e["meets_targets"],
                "estimator_mean_step": _steps(e["mean_step_by_index"]),
                "mc_mean_step": _steps(summary["mc_mean_step_by_index"]),
            }
        )
    chosen = max(rows, key=lambda r: (r["meets_targets"], r["spearman"]))
    out = ROOT / "paper_tables" / "testbed"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "early_exit_pilot.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], "chosen"])
        writer.writeheader()
        writer.writerows({**r, "chosen": r is chosen} for r in rows)
    martingale = [
        f"| {r['early_exit_prob']:g} | {r['estimator_mean_step']} | {r['mc_mean_step']} |" for r in rows
    ]
    lines = [
        "**Early-exit rate of the SFT data, chosen on the validation split by value sanity alone**",
        "",
        "| early-exit rate | estimator | Spearman(log v̂, MC) [95 %] | drops at the corrupted twin | "
        "meets both targets | chosen |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["spearman_ci"]
        lines.append(
            f"| {r['early_exit_prob']:g} | {r['estimator']} | {r['spearman']:.2f} [{lo:.2f}, {hi:.2f}] | "
            f"{r['drop_share']:.0%} | {'yes' if r['meets_targets'] else 'no'} | "
            f"{'yes' if r is chosen else ''} |"
        )
    lines += [
        "",
        "Martingale check (mean change of the value from one state to the next, per state index: the prompt, "
        "then every line end of the thinking; log v̂ in nats, MC in probability):",
        "",
        "| early-exit rate | estimator | MC |",
        "|---|---|---|",
        *martingale,
        "",
        "Targets: Spearman ≥ 0.5 and a drop in ≥ 90 % of problems. Chosen by value sanity alone: a rate "
        "whose configured estimator meets both targets beats one that does not, then the higher Spearman "
        "wins. "
        "The first step (prompt → after `<think>`) is large for every estimator: the marker forced straight "
        "after the prompt is text the model never saw.",
    ]
    (out / "early_exit_pilot.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
