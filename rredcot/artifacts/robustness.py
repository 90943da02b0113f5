"""What moves a toy result besides the method, as report sections: the base model's spread, the machines
behind the numbers, delimiter drift in training, and the training ablations on the test splits.

Each function returns Markdown lines for ``REPLICATION.md`` (:mod:`rredcot.artifacts.report` places them) and
states its rule next to its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rredcot.artifacts.logs import SPREAD_BASE, difference_se, mean_sd, policy_mean, seed_means
from rredcot.artifacts.style import run_policy
from rredcot.artifacts.tables import fmt
from rredcot.pipeline.metric_names import NEWLINES_METRIC, THINKING_LINES_METRIC


def base_spread(evals: pd.DataFrame, benchmarks: Sequence[str]) -> dict:
    """The base models of every SFT seed on the mean over ``benchmarks``: ``{"bases": {policy: value},
    "spread": max − min, "grpo_gain": mean GRPO seed − base}`` (NaN where something is missing). The other
    seeds' bases come in the order of ``evals`` (the config's), not sorted as strings (seed10 < seed2)."""
    spread = list(dict.fromkeys(evals.loc[evals["method"] == SPREAD_BASE, "policy"]))
    bases = {policy: policy_mean(evals, policy, benchmarks) for policy in ["base", *spread]}
    finite = [v for v in bases.values() if math.isfinite(v)]
    grpo = seed_means(evals, "grpo", benchmarks)
    return {
        "bases": bases,
        "spread": max(finite) - min(finite) if len(finite) > 1 else math.nan,
        "grpo_gain": float(np.mean(grpo)) - bases["base"] if len(grpo) else math.nan,
    }


def base_spread_lines(evals: pd.DataFrame, benchmarks: Sequence[str], metric: str) -> list[str]:
    """The spread the base model alone adds, against the RL effect it could mask."""
    result = base_spread(evals, benchmarks)
    if len(result["bases"]) < 2:
        return []
    rows = [
        f"| {policy} | "
        + " | ".join(fmt(policy_mean(evals, policy, [b])) for b in benchmarks)
        + f" | {fmt(value)} |"
        for policy, value in result["bases"].items()
    ]
    spread, gain = result["spread"], result["grpo_gain"]
    ratio = gain / spread if math.isfinite(spread) and spread > 0 and math.isfinite(gain) else math.nan
    reading = (
        f"GRPO − base ({fmt(gain)}) is {fmt(ratio, 1)}× the spread between base models"
        if math.isfinite(ratio)
        else f"GRPO − base = {fmt(gain)}"
    )
    return [
        f"**Base-model spread** ({metric}; the same SFT recipe from other seeds, evaluated only: RL runs "
        "start from `base`, so the RL seeds' intervals do not include this spread):",
        "",
        "| base model | " + " | ".join(benchmarks) + " | mean |",
        "|---|" + "---|" * (len(benchmarks) + 1),
        *rows,
        "",
        f"- Spread of the mean over base models: {fmt(spread)}; {reading}. A difference between methods "
        "smaller than this spread may not survive another base model (or another machine, whose "
        "floating-point differences change the SFT base model in the same way).",
        "",
    ]


def machine_lines(machines: Mapping[str, dict]) -> list[str]:
    """The distinct machines (``machine.json`` records) behind the runs named by ``machines``' keys, machines
    and runs in the order of ``machines`` (the config's)."""
    if not machines:
        return []
    groups: dict[str, tuple[dict, list[str]]] = {}
    for run, record in machines.items():
        key = repr(sorted((k, str(v)) for k, v in record.items() if k not in ("torch_threads", "processes")))
        processes = f", {record['processes']} processes" if record.get("processes", 1) > 1 else ""
        label = f"{run} ({record.get('torch_threads')} threads{processes})"
        groups.setdefault(key, (record, []))[1].append(label)
    lines = [
        "**Machines behind these numbers** (each SFT and RL run's `machine.json`):",
        "",
        "| CPU | torch kernels | ISA flags | GPU | Python | libraries | runs (torch threads) |",
        "|---|---|---|---|---|---|---|",
    ]
    for record, runs in groups.values():
        libraries = ", ".join(f"{k} {v}" for k, v in sorted(record.get("libraries", {}).items()))
        lines.append(
            f"| {record.get('cpu_model')} ({record.get('logical_cpus')} logical CPUs) | "
            f"{record.get('torch_cpu_capability')} | {' '.join(record.get('cpu_flags', []))} | "
            f"{record.get('gpu') or '—'} | {record.get('python')} | {libraries} | {', '.join(runs)} |"
        )
    lines += [
        "",
        "- **Bit-reproducible**: every number here, rerun on the same machine type (CPU model and torch "
        "kernels) with the same thread counts and library versions: draws are seeded per purpose and CPU "
        "algorithms are deterministic. **Not bit-reproducible** across machines: other kernels or thread "
        "counts change floating-point sums, hence the SFT base model and everything downstream; a "
        "base-model spread (`base_model.spread_seeds`, shown above where configured) measures how large "
        "such a change can be.",
        "",
    ]
    return lines


def delimiter_drift(metrics: pd.DataFrame, *, final_window: int, column: str = NEWLINES_METRIC) -> dict:
    """Per method, each seed's mean of ``column`` over its first and its last ``final_window`` steps."""
    out: dict[str, dict[str, list[float]]] = {}
    if metrics.empty or column not in metrics:
        return out
    for (method, _), run in metrics.groupby(["method", "seed"], sort=False):
        values = run.sort_values("step")[column].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if values.size == 0:
            continue
        entry = out.setdefault(method, {"start": [], "end": []})
        entry["start"].append(float(values[:final_window].mean()))
        entry["end"].append(float(values[-final_window:].mean()))
    return out


def delimiter_drift_lines(metrics: pd.DataFrame, *, final_window: int, verdict_z: float) -> list[str]:
    """Newlines and thinking lines per completion, first vs last steps, and whether RREDCoT's traces drift
    apart from GRPO's: |Δ end| ≥ ``verdict_z`` × SE over seeds (Welch), with ≥ 2 seeds per method."""
    lines = []
    for column, what in ((NEWLINES_METRIC, "newlines"), (THINKING_LINES_METRIC, "thinking lines")):
        drift = delimiter_drift(metrics, final_window=final_window, column=column)
        if not {"grpo", "rredcot"} <= set(drift):
            continue
        cells = []
        for method in ("grpo", "rredcot"):
            start, _, _ = mean_sd(drift[method]["start"])
            end, _, n = mean_sd(drift[method]["end"])
            cells.append(f"{method} {fmt(start, 2)} → {fmt(end, 2)} (n = {n})")
        ends = {m: np.asarray(drift[m]["end"]) for m in ("grpo", "rredcot")}
        delta = float(ends["rredcot"].mean() - ends["grpo"].mean())
        enough = all(len(v) >= 2 for v in ends.values())
        se = difference_se(ends["rredcot"], ends["grpo"]) if enough else math.nan
        if not enough:
            reading = "fewer than 2 seeds per method: not testable"
        elif abs(delta) >= verdict_z * se:
            reading = f"**RREDCoT's traces drift apart from GRPO's** (|Δ| ≥ {verdict_z:g} SE)"
        else:
            reading = f"no drift apart detected (|Δ| < {verdict_z:g} SE)"
        lines.append(
            f"- {what} per completion, mean of the first → last {final_window} steps: {'; '.join(cells)}. "
            f"RREDCoT − GRPO at the end: {fmt(delta, 2)} (SE {fmt(se, 2)}): {reading}."
        )
    if not lines:
        return []
    return [
        "**Delimiter drift** (newline segmentation ties credit to `\\n`; a policy can learn to avoid it):",
        "",
        *lines,
        "",
    ]


def ablation_test_lines(
    ablations: Mapping[str, Mapping[str, Sequence[str]]],
    evals: pd.DataFrame,
    benchmarks: Sequence[str],
    main_methods: Sequence[str],
) -> list[str]:
    """Each training ablation's labels on the test splits: mean ± SD over runs of the mean over splits, per
    split, and the number of runs evaluated. Labels with no evaluated run are left out, and so is an ablation
    none of whose variant runs (runs of a policy outside ``main_methods``) was evaluated: its table would only
    repeat the main runs under the ablation's name."""
    lines = []
    for name, groups in ablations.items():
        rows, variant_evaluated = [], False
        for label, runs in groups.items():
            evaluated = {run: v for run in runs if math.isfinite(v := policy_mean(evals, run, benchmarks))}
            if not evaluated:
                continue
            variant_evaluated |= any(run_policy(run) not in main_methods for run in evaluated)
            m, sd, n = mean_sd(evaluated.values())
            splits = []
            for b in benchmarks:
                v = [policy_mean(evals, run, [b]) for run in runs]
                vm, vsd, vn = mean_sd(v)
                splits.append(f"{fmt(vm)}" + (f" ± {fmt(vsd)}" if vn > 1 else ""))
            rows.append(
                f"| {label} | {n} | {fmt(m)}"
                + (f" ± {fmt(sd)}" if n > 1 else "")
                + " | "
                + " | ".join(splits)
                + " |"
            )
        if variant_evaluated:
            lines += [
                f"*{name}*",
                "",
                "| variant | runs | mean over splits | " + " | ".join(benchmarks) + " |",
                "|---|---|---|" + "---|" * len(benchmarks),
                *rows,
                "",
            ]
    return lines
