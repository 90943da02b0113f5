"""How often the policies of a credit-testbed scale stop thinking early on their own, and at what accuracy.

    python scripts/early_exits.py testbed_h4

The testbed's SFT data stops thinking early in a share of its traces (``early_exit_prob``), so the estimator's
forced exit is text the model has seen; RL may then move that share. Reads each policy's in-distribution
evaluation records (``results/<scale>/eval/<policy>/in_dist.records.jsonl``, committed beside the table) and
training logs, and writes ``paper_tables/<scale>/early_exits.{csv,md}``: per arm, the share of samples shorter
than a full trace (the base policy's most common length: every full trace of a chain of single digits has
the same length), the accuracy of full and of shorter samples, and the mean number of thinking lines over
the first 3 and the last 10 training steps. Length is a proxy: a sample can be short for another reason.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from rredcot.io import read_jsonl
from rredcot.pipeline.metric_names import THINKING_LINES_METRIC

ROOT = Path(__file__).resolve().parents[1]


def samples(path: Path) -> pd.DataFrame:
    """One row per sample: its length in tokens and its reward."""
    rows = read_jsonl(path)
    return pd.DataFrame(
        [
            {"length": n, "reward": r}
            for row in rows
            for n, r in zip(row["lengths"], row["rewards"], strict=True)
        ]
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scale")
    parser.add_argument("--benchmark", default="in_dist")
    args = parser.parse_args(argv)
    results = ROOT / "results" / args.scale
    base = samples(results / "eval" / "base" / f"{args.benchmark}.records.jsonl")
    full = Counter(base["length"]).most_common(1)[0][0]
    rows = []
    for arm in ["base", *sorted(p.name for p in (results / "train").iterdir() if p.is_dir())]:
        policies = (
            ["base"] if arm == "base" else sorted(p.name for p in (results / "train" / arm).glob("seed*"))
        )
        for policy in policies:
            tag = "base" if arm == "base" else f"{arm}/{policy}"
            table = samples(results / "eval" / tag / f"{args.benchmark}.records.jsonl")
            short = table["length"] < full
            row = {
                "arm": arm,
                "policy": tag,
                "short_share": short.mean(),
                "accuracy_full": table.loc[~short, "reward"].mean(),
                "accuracy_short": table.loc[short, "reward"].mean(),
            }
            if arm != "base":
                steps = pd.DataFrame(read_jsonl(results / "train" / arm / policy / "metrics.jsonl"))
                row["thinking_lines_first3"] = steps[THINKING_LINES_METRIC].head(3).mean()
                row["thinking_lines_last10"] = steps[THINKING_LINES_METRIC].tail(10).mean()
            rows.append(row)
    table = pd.DataFrame(rows)
    out = ROOT / "paper_tables" / args.scale
    table.to_csv(out / "early_exits.csv", index=False)
    arms = table.groupby("arm", sort=False).mean(numeric_only=True)
    lines = [
        f"**Early stops of the thinking ({args.scale}, {args.benchmark}, means over seeds)**",
        "",
        "| arm | samples shorter than a full trace | accuracy: full / shorter "
        "| thinking lines: first 3 → last 10 training steps |",
        "|---|---|---|---|",
    ]
    for arm, r in arms.iterrows():
        lines_moved = (
            "—"
            if np.isnan(r.get("thinking_lines_first3", np.nan))
            else (f"{r['thinking_lines_first3']:.2f} → {r['thinking_lines_last10']:.2f}")
        )
        lines.append(
            f"| {arm} | {r['short_share']:.1%} | {r['accuracy_full']:.3f} / {r['accuracy_short']:.3f} | "
            f"{lines_moved} |"
        )
    lines += ["", f"A full trace is {full} tokens long (the base policy's most common length).", ""]
    (out / "early_exits.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
