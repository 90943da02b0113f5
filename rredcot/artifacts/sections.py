"""The report's sections on checks that are not paper claims: the controls that come before any verdict, what
could move the toy result besides the method, and the credit diagnostics. Each returns Markdown lines for
:mod:`rredcot.artifacts.report` to place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rredcot.artifacts.claims import Logs, headroom_reading
from rredcot.artifacts.logs import default_variant, policy_mean, rredcot_name, seed_means, step_cost
from rredcot.artifacts.markdown import figure, link
from rredcot.artifacts.robustness import base_spread_lines, delimiter_drift_lines, machine_lines
from rredcot.artifacts.tables import MEAN_ROW, fmt, pct, signed


# ------------------------------------------------------------------------------------- credit (our additions)
def credit_section(logs: Logs) -> list[str]:
    """Degenerate boundaries, where the agreement tables are, and first-error localization (our additions)."""
    from rredcot.artifacts.credit import RANDOM, degenerate_share, error_localization, first_segment_share

    lines = ["## Credit agreement and error localization (our additions, not paper claims)", ""]
    if not logs.traces:
        return lines + ["No credit-analysis log.", ""]
    d = degenerate_share(logs.traces)
    lines += [
        f"**Degenerate MC boundaries**: {d.n_degenerate} of {d.n_boundaries} ({pct(d.share)}) have rollouts "
        f"that all agree ({d.n_all_zero} all 0, {d.n_all_one} all 1), so their MC value is 0 or 1 whatever "
        f"the true value; {d.n_segments_degenerate} of {d.n_segments} reasoning segments lie between two "
        "of them (their MC credit is a tie). The agreement of values and credits with MC, pooled and per "
        "trace, by correct / incorrect trace and without the degenerate boundaries, is in the table "
        "*credit_agreement* (Tables) and the figure *credit_agreement*.",
        "",
    ]
    shares = first_segment_share(logs.traces)
    if shares:
        configured = rredcot_name(default_variant(logs.config["train"]["rredcot"]))
        listed = ", ".join(
            f"{name.removeprefix('RREDCoT ')}{' (configured)' if name == configured else ''} {fmt(share, 2)}"
            for name, share in shares.items()
        )
        lines += [
            "**Credit on the first segment** (the tokens before the first boundary after the prompt, the "
            "same in every trace; median over traces of its share of the trace's |credit|): "
            f"{listed}. A σ that follows credit spends about this share of its redistributed mass there, "
            "whatever the outcome.",
            "",
        ]
    loc = error_localization(logs.traces, n_resamples=logs.artifacts["bootstrap_resamples"])
    head = (
        "**First-error localization** (incorrect traces whose first wrong line is known: does the "
        "most-blamed reasoning segment, the most negative credit with ties to the earliest, hold it?)"
    )
    if loc.table.empty:
        why = (
            "the credit log records no first errors (`first_error`)"
            if loc.n_unknown == loc.n_incorrect
            else "no incorrect trace has a first error inside a reasoning segment"
        )
        lines += [f"{head}: not testable here: {why}. {_left_out(loc)}", ""]
        return lines
    variant = rredcot_name(default_variant(logs.config["train"]["rredcot"]))
    shown = []
    for row in loc.table.to_dict("records"):
        name = row["estimator"].removeprefix("RREDCoT ")
        if row["estimator"] == variant:
            name += " (configured)"
        if row["estimator"] == RANDOM:
            name += " (mean 1/K)"
        shown.append(f"{name} {fmt(row['share'], 2)} [{fmt(row['lo'], 2)}, {fmt(row['hi'], 2)}]")
    lines += [
        f"{head}: share of the {loc.n_scored} scored traces, 95 % bootstrap interval over traces: "
        + "; ".join(shown)
        + f". {_left_out(loc)} Table *error_localization*, figure *error_localization*.",
        "",
    ]
    return lines


def _left_out(loc) -> str:
    parts = [
        (loc.n_outside, "first error after the reasoning segments (e.g. in the answer), counted apart"),
        (loc.n_not_found, "no wrong line found"),
        (loc.n_unchecked, "no checker for the row"),
        (loc.n_unknown, "first error not logged"),
        (loc.n_no_segments, "no reasoning segment"),
    ]
    shown = [f"{n} {what}" for n, what in parts if n]
    return f"Of {loc.n_incorrect} incorrect traces (of {loc.n_traces}): " + (
        "; ".join(shown) + "." if shown else "all scored."
    )


# ------------------------------------------------------------------------------------------------ controls
def controls_section(
    logs: Logs,
    headroom: Sequence[str] = (),
    readings: Sequence[str | Path] = (),
    out: str | Path = ".",
    captions: Mapping[str, str] | None = None,
) -> list[str]:
    """Checks of the mechanism that come before any verdict (our additions, not paper claims): value sanity,
    the positive control (``headroom``: its table and figure, shown with the figure's caption from
    ``captions``; ``readings``: the committed tables of its other designs, linked relative to ``out``), the
    learning-rate-0 control and the MC oracle, each against its stated target."""
    lines = [
        "## Controls (our additions, not paper claims)",
        "",
        "A toy verdict counts only where the toy realises the paper's premise, so these checks come first.",
        "",
    ]
    sanity = logs.value_sanity
    if sanity is not None:
        s = sanity["summary"]
        t = s["targets"]
        lines += [
            f"**Value sanity** ({s['n_problems']} problems, {s['n_states']} states of the base policy's "
            "greedy traces: the prompt, every line end of the thinking and "
            f"{s['n_twins']} corrupted twins of the state after the first step; MC values from "
            f"{s['n_mc_samples']} rollouts per state; {int(100 * s['ci_level'])} % bootstrap intervals over "
            f"problems). Targets: Spearman(log v̂, MC) ≥ {t['spearman']}, estimate drops at the corrupted "
            f"twin in ≥ {100 * t['drop_share']:.0f} % of problems.",
            "",
            "| estimator | Spearman(log v̂, MC) | drops at the corrupted twin | meets both targets |",
            "|---|---|---|---|",
        ]
        configured = logs.config["train"]["rredcot"]["value_estimator"]
        for name, e in s["estimators"].items():
            lo, hi = e["spearman_ci"]
            dlo, dhi = e["drop_share_ci"]
            mark = " (configured)" if name == configured else ""
            lines.append(
                f"| {name}{mark} | {fmt(e['spearman'], 2)} [{fmt(lo, 2)}, {fmt(hi, 2)}] | "
                f"{pct(e['drop_share'])} [{pct(dlo)}, {pct(dhi)}] | "
                f"{'yes' if e['meets_targets'] else 'no'} |"
            )
        lines += ["", f"MC values themselves drop at the twin in {pct(s['mc_drop_share'])} of problems.", ""]
    shown = []
    for path in headroom:  # the control's own table and figure, where the scale has one
        if path.endswith(".md"):
            shown += [Path(path).read_text().rstrip(), ""]
        elif (captions or {}).get(str(path)):
            shown += figure(path, captions[str(path)], out)
    lines += _headroom_lines(logs, headroom) + shown + _other_designs(readings, out) + _control_runs(logs)
    return lines


def _other_designs(readings: Sequence[str | Path], out: str | Path) -> list[str]:
    """One line per committed reading of the control under other designs (another scale's ``headroom.md``, a
    dose-response table): its title and verdict, linked, so the reader sees whether the result is this
    design's alone."""
    if not readings:
        return []
    lines = [
        "**The same control under other designs** (each its own runs; the README gives their commands):",
        "",
    ]
    for path in readings:
        text = Path(path).read_text()
        title = text.splitlines()[0].strip().strip("*")
        verdict = re.search(r"(headroom|dose-response) \*\*([^*]+)\*\*", text)
        crossing = re.search(r"by step (\S+) of (\S+) \((\d+%)", text)
        reading = f"{verdict.group(1)} **{verdict.group(2)}**" if verdict else "no verdict in the table"
        if crossing and verdict and not verdict.group(2).startswith("not testable"):  # else meaningless
            reading += f" (step {crossing.group(1)} of {crossing.group(2)}, {crossing.group(3)})"
        lines.append(f"- [{title}]({link(path, out)}): {reading}")
    return [*lines, ""]


def _headroom_lines(logs: Logs, headroom: Sequence[str]) -> list[str]:
    """The positive control's reading, where the config defines one (``artifacts.headroom``), and the files
    ``headroom`` that show it per seed."""
    h = logs.artifacts.get("headroom")
    if h is None:
        return ["**Positive control**: none at this scale, so no claim about training is judged.", ""]
    reading = headroom_reading(logs)
    shown = ", ".join(f"`{path}`" for path in headroom)
    return [
        f"**Positive control: exact-credit headroom {reading.verdict}.** The `{h['control']}` arm (exact "
        f"values through the configured σ) reaches `{h['baseline']}`'s final training accuracy "
        f"{fmt(reading.threshold)} at step {reading.crossing:g} of {reading.horizon:g} (seed means, "
        f"{reading.seeds[h['control']]} and {reading.seeds[h['baseline']]} seeds; pre-registered target: "
        f"within {h['max_step_fraction']:.0%} of the steps)."
        + (f" Per seed, and the share of its gain RREDCoT recovers: {shown}." if headroom else ""),
        "",
    ]


def _control_runs(logs: Logs) -> list[str]:
    controls = logs.artifacts.get("controls", {})
    runs = {name: [r.split("/seed")[0] for r in tags] for name, tags in controls.items() if tags}
    if not runs:
        return []
    evals, benchmarks = logs.evals, logs.benchmarks
    columns = [("base", "base"), ("GRPO", "grpo"), ("RREDCoT", "rredcot")]
    columns += [
        (f"{name}: {method}", method) for name, methods in runs.items() for method in dict.fromkeys(methods)
    ]
    lines = [
        f"**Control runs on the test splits** ({logs.artifacts['metric']}; mean ± SD over seeds where "
        "there are several):",
        "",
        "| split | " + " | ".join(label for label, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    means = {}
    for split in [*benchmarks, MEAN_ROW]:
        cells = []
        for _, method in columns:
            per_seed = _run_means(evals, method, benchmarks if split == MEAN_ROW else [split])
            means[split, method] = per_seed
            sd = f" ± {fmt(float(np.std(per_seed, ddof=1)))}" if len(per_seed) > 1 else ""
            cells.append(f"{fmt(float(np.mean(per_seed)))}{sd}" if len(per_seed) else "—")
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    lines.append("")
    for method in dict.fromkeys(runs.get("lr0", [])):
        gaps = [abs(float(np.mean(means[b, method])) - float(np.mean(means[b, "base"]))) for b in benchmarks]
        same = all(len(means[b, method]) and len(means[b, "base"]) for b in benchmarks) and max(gaps) == 0.0
        lines.append(
            f"- Learning rate 0 (`{method}`) {'reproduces' if same else 'does **not** reproduce'} the base "
            f"model's evaluation: largest |Δ| over splits {fmt(max(gaps))} (target: exactly 0)."
        )
    for method in dict.fromkeys(runs.get("oracle", [])):
        oracle, grpo, red = (
            float(np.mean(means[MEAN_ROW, m])) if len(means[MEAN_ROW, m]) else math.nan
            for m in (method, "grpo", "rredcot")
        )
        gain = oracle - grpo
        share = (red - grpo) / gain if math.isfinite(gain) and gain > 0 else math.nan
        cost = _step_cost(logs.metrics, method)
        lines.append(
            f"- Oracle (`{method}`) − GRPO on the mean: {signed(gain)}; "
            f"RREDCoT − GRPO: {signed(red - grpo)}"
            + (
                f"; RREDCoT recovers {fmt(share, 2)} of the oracle's gain on the mean over splits, a point "
                "estimate (the positive control's table gives it on its own split, with an interval)"
                if math.isfinite(share)
                else "; the oracle shows no gain over GRPO, so there is nothing for RREDCoT to recover"
            )
            + f". Median step time: {cost}."
        )
    lines.append("")
    return lines


def _run_means(evals: pd.DataFrame, method: str, benchmarks: Sequence[str]) -> np.ndarray:
    """Per seed of ``method``, the metric averaged over ``benchmarks``; the base model is one run."""
    if method != "base":
        return seed_means(evals, method, benchmarks)
    mean = policy_mean(evals, "base", benchmarks)
    return np.asarray([mean]) if math.isfinite(mean) else np.zeros(0)


def _step_cost(metrics: pd.DataFrame, oracle: str) -> str:
    """Median seconds per step of GRPO, RREDCoT and the oracle (:func:`rredcot.artifacts.logs.step_cost`)."""
    by = {r["method"]: r for r in step_cost(metrics).to_dict("records")} if not metrics.empty else {}
    return ", ".join(
        f"{label} {fmt(by[m]['step_time_s'], 2)} s" if m in by else f"{label} n/a"
        for label, m in (("GRPO", "grpo"), ("RREDCoT", "rredcot"), ("oracle", oracle))
    )


def robustness_section(logs: Logs) -> list[str]:
    """What could move the toy result besides the method (:mod:`rredcot.artifacts.robustness`)."""
    a = logs.artifacts
    lines = [
        *base_spread_lines(logs.evals, logs.benchmarks, a["metric"]),
        *delimiter_drift_lines(logs.metrics, final_window=a["final_window"], verdict_z=a["verdict_z"]),
        *machine_lines(logs.machines),
    ]
    if not lines:
        return []
    return ["## Robustness of the toy result (our additions)", "", *lines]
