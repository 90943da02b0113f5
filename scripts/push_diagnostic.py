"""The permutation diagnostic on real training batches, for every σ mode side by side.

    snakemake --cores 2 headroom --configfile experiments/testbed.yaml experiments/overlays/testbed_h4.yaml
    python scripts/push_diagnostic.py testbed_h4

Every RREDCoT step logs, for each σ mode on that step's values, the push σ adds of its own: the expected
``Σ_i A_i σ_i`` per token class over the permutations of the rewards within each group
(``rredcot/push_<mode>_<class>``; see :func:`rredcot.redistribution.permutation_push`). A σ with no push of
its own gives 0 in every class. This reads the logs of the scale's configured ``rredcot`` runs (those that
logged every mode) and writes ``paper_tables/<scale>/push_diagnostic.{csv,md}``: per mode and class, the mean
over steps of each seed, and their mean and range over seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from rredcot.io import read_jsonl
from rredcot.redistribution import MODES, PUSH_CLASSES

ROOT = Path(__file__).resolve().parents[1]


def per_seed(scale: str, method: str) -> pd.DataFrame:
    """Per seed, mode and class: the mean push over the run's steps."""
    rows = []
    for path in sorted((ROOT / "results" / scale / "train" / method).glob("seed*/metrics.jsonl")):
        steps = pd.DataFrame(read_jsonl(path))
        for mode in MODES:
            columns = [f"rredcot/push_{mode}_{name}" for name in PUSH_CLASSES]
            if not set(columns) <= set(steps.columns):  # a run from before the trainer logged every mode
                print(f"skipped {path.relative_to(ROOT)}: no push_{mode}_* logged")
                break
            means = steps[columns].mean()
            rows += [
                {"seed": path.parent.name, "mode": mode, "class": name, "push": means[column]}
                for name, column in zip(PUSH_CLASSES, columns, strict=True)
            ]
    if not rows:
        raise FileNotFoundError(f"no runs of {method!r} with every mode's push under results/{scale}/train/")
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scale")
    parser.add_argument("--method", default="rredcot")
    args = parser.parse_args(argv)
    table = per_seed(args.scale, args.method)
    out = ROOT / "paper_tables" / args.scale
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "push_diagnostic.csv", index=False)
    summary = table.groupby(["mode", "class"], sort=False)["push"].agg(["mean", "min", "max"])
    seeds = table["seed"].nunique()
    lines = [
        f"**Push σ adds of its own on real batches ({args.scale}, {args.method} runs, {seeds} seeds)**",
        "",
        "Mean over each run's steps of the expected Σ_i A_i σ_i per group over the permutations of the "
        "rewards within each group; mean over seeds [min, max]. 0 everywhere: no push of its own.",
        "",
        "| σ mode | " + " | ".join(PUSH_CLASSES) + " |",
        "|---|" + "---|" * len(PUSH_CLASSES),
    ]
    for mode in MODES:
        cells = [
            f"{summary.loc[(mode, name), 'mean']:+.3f} "
            f"[{summary.loc[(mode, name), 'min']:+.3f}, {summary.loc[(mode, name), 'max']:+.3f}]"
            for name in PUSH_CLASSES
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Classes: the first reasoning segment, the middle ones, the last one, and the answer span (write-up "
        "and end of sequence). All modes are computed on the same values and advantages; only the configured "
        "one trained.",
        "",
    ]
    (out / "push_diagnostic.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
