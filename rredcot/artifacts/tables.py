"""Paper tables from logged evaluations and costs, written as CSV, LaTeX and Markdown.

* :func:`comparison_table` — Table 1 (base vs GRPO vs RREDCoT per benchmark) and Table 2 (GRPO baseline vs
  RREDCoT): mean ± SD over seeds of the configured metric (avg@n), plus a ``mean`` row (per seed, the metric
  averaged over the benchmarks; then mean ± SD over seeds), with the paper's published numbers as side
  columns where the config maps a benchmark to a row of the paper's table (``artifacts.paper_rows``).
* :func:`cost_table` — per-step wall time GRPO vs RREDCoT and value-estimation time (medians over the steps of
  every seed, from ``metrics.jsonl``) and, per trace of the credit analysis, value vs MC seconds.

The paper's numbers live in ``paper_tables/paper/*.csv``, transcribed from docs/paper.md (a test checks them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rredcot.artifacts import credit
from rredcot.artifacts.logs import mean_sd, metric_label, seed_means, step_cost, trace_costs
from rredcot.artifacts.style import policy_label
from rredcot.io import write_text

# The paper's column labels (as in docs/paper.md) -> our method names.
PAPER_COLUMNS = {
    "table1": {"base": "base", "GRPO": "grpo", "RREDCoT": "rredcot"},
    "table2": {"Open-RS": "grpo", "RREDCoT-Nano": "rredcot"},
}
MEAN_ROW = "mean"


def read_paper_table(path: str | Path) -> pd.DataFrame:
    """A published table, indexed by the paper's benchmark label, columns as the paper labels them."""
    return pd.read_csv(path, dtype={"benchmark": str}).set_index("benchmark")


def read_paper_claims(path: str | Path) -> dict[str, float]:
    """``key -> value`` of the paper's non-table numbers (``paper_tables/paper/claims.csv``)."""
    table = pd.read_csv(path)
    return {str(k): float(v) for k, v in zip(table["key"], table["value"], strict=True)}


def comparison_table(
    evals: pd.DataFrame,
    *,
    methods: Sequence[str],
    benchmarks: Sequence[str],
    include_base: bool,
    paper: pd.DataFrame | None = None,
    paper_columns: dict[str, str] | None = None,
    paper_rows: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per benchmark (config order) and a ``mean`` row.

    Columns: ``benchmark``, ``n_samples``, ``base`` (single evaluation, if ``include_base``),
    ``<method>_mean/_sd/_n`` over seeds, ``paper_benchmark`` and ``paper_<method>`` for the mapped rows.
    """
    paper_rows = paper_rows or {}
    paper_columns = paper_columns or {}
    rows = []
    for bench in [*benchmarks, MEAN_ROW]:
        row: dict = {"benchmark": bench}
        if bench == MEAN_ROW:
            row["n_samples"] = math.nan
            if include_base:
                base = evals[(evals["method"] == "base") & evals["benchmark"].isin(benchmarks)]
                complete = base["benchmark"].nunique() == len(benchmarks)
                row["base"] = float(base["value"].mean()) if complete else math.nan
            for method in methods:
                mean, sd, n = mean_sd(seed_means(evals, method, benchmarks))
                row.update({f"{method}_mean": mean, f"{method}_sd": sd, f"{method}_n": n})
            mapped = [paper_rows[b] for b in benchmarks if b in paper_rows]
            complete_map = paper is not None and len(mapped) == len(benchmarks) and len(mapped) > 0
            row["paper_benchmark"] = "mean" if complete_map else ""
            for label, method in paper_columns.items():
                row[f"paper_{method}"] = float(paper.loc[mapped, label].mean()) if complete_map else math.nan
            rows.append(row)
            continue
        here = evals[evals["benchmark"] == bench]
        row["n_samples"] = float(here["n_samples"].max()) if len(here) else math.nan
        if include_base:
            base = here.loc[here["method"] == "base", "value"]
            row["base"] = float(base.mean()) if len(base) else math.nan
        for method in methods:
            mean, sd, n = mean_sd(here.loc[here["method"] == method, "value"])
            row.update({f"{method}_mean": mean, f"{method}_sd": sd, f"{method}_n": n})
        label = paper_rows.get(bench, "")
        if label and (paper is None or label not in paper.index):
            raise ValueError(
                f"artifacts.paper_rows maps {bench!r} to {label!r}, which is not a row of the paper table"
            )
        row["paper_benchmark"] = label
        for column, method in paper_columns.items():
            row[f"paper_{method}"] = float(paper.loc[label, column]) if label else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if not include_base:
        table = table.drop(columns=["paper_base"], errors="ignore")
    return table


# -------------------------------------------------------------------------------------------- formatting
def fmt(value: float, digits: int = 3) -> str:
    """A number for display; NaN (undefined, e.g. a correlation of a constant) as ``n/a``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def signed(value: float, digits: int = 3) -> str:
    """A difference for display, with its sign; NaN as ``n/a``."""
    return "n/a" if not math.isfinite(value) else f"{value:+.{digits}f}"


def pct(x) -> str:
    """A share as a whole percentage; missing or NaN as ``n/a``."""
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.0f} %"


def fmt_mean_sd(mean: float, sd: float, n: int, digits: int = 3) -> str:
    if not n:
        return "n/a"
    if n == 1 or not math.isfinite(sd):
        return f"{fmt(mean, digits)} (1 seed)" if n == 1 else fmt(mean, digits)
    return f"{fmt(mean, digits)} ± {fmt(sd, digits)}"


def display_frame(
    table: pd.DataFrame, methods: Sequence[str], include_base: bool, paper_labels: dict
) -> pd.DataFrame:
    """The human-readable version of a comparison table (strings, one column per method)."""
    out = pd.DataFrame({"benchmark": table["benchmark"]})
    out["avg@n"] = [("" if not math.isfinite(n) else f"n={int(n)}") for n in table["n_samples"]]
    if include_base:
        out["base"] = [fmt(v) for v in table["base"]]
    for method in methods:
        out[policy_label(method)] = [
            fmt_mean_sd(m, s, int(n))
            for m, s, n in zip(
                table[f"{method}_mean"], table[f"{method}_sd"], table[f"{method}_n"], strict=True
            )
        ]
    if table["paper_benchmark"].astype(bool).any():
        out["paper row"] = table["paper_benchmark"]
        for label, method in paper_labels.items():
            if f"paper_{method}" in table:
                out[f"paper {label}"] = [fmt(v) for v in table[f"paper_{method}"]]
    return out


def to_markdown(frame: pd.DataFrame, title: str = "", notes: Sequence[str] = ()) -> str:
    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join(str(c) for c in frame.columns) + " |")
    lines.append("|" + "|".join("---" for _ in frame.columns) + "|")
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    text = str(text)
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"), ("_", r"\_")):
        text = text.replace(a, b)
    return text.replace("±", r"$\pm$").replace("≈", r"$\approx$").replace("×", r"$\times$")


def to_latex(frame: pd.DataFrame, caption: str = "", label: str = "") -> str:
    cols = "l" + "r" * (len(frame.columns) - 1)
    lines = [
        "% Generated by rredcot.artifacts.tables from logged data; do not edit by hand.",
        r"\begin{table}[t]",
        r"\centering",
    ]
    if caption:
        lines.append(rf"\caption{{{_tex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{cols}}}", r"\toprule"]
    lines.append(" & ".join(_tex_escape(c) for c in frame.columns) + r" \\")
    lines.append(r"\midrule")
    for row in frame.itertuples(index=False):
        lines.append(" & ".join(_tex_escape(v) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(
    data: pd.DataFrame,
    display: pd.DataFrame,
    *,
    csv: str | Path,
    tex: str | Path,
    md: str | Path,
    title: str,
    notes: Sequence[str] = (),
    label: str = "",
) -> None:
    """CSV (numbers, full precision), LaTeX and Markdown (formatted), each written atomically."""
    write_text(csv, data.to_csv(index=False))
    write_text(tex, to_latex(display, caption=" ".join([title, *notes]), label=label))
    write_text(md, to_markdown(display, title=title, notes=notes))


def build_comparison(
    name: str,
    evals: pd.DataFrame,
    *,
    methods: Sequence[str],
    benchmarks: Sequence[str],
    paper: pd.DataFrame,
    paper_rows: dict[str, str],
    scale: str,
    metric: str,
) -> tuple[pd.DataFrame, pd.DataFrame, str, list[str]]:
    """(numbers, display, title, notes) of ``table1`` or ``table2`` at one scale."""
    include_base = name == "table1"
    methods = [m for m in methods if m != "base"]
    columns = PAPER_COLUMNS[name]
    data = comparison_table(
        evals,
        methods=methods,
        benchmarks=benchmarks,
        include_base=include_base,
        paper=paper,
        paper_columns={k: v for k, v in columns.items() if include_base or v != "base"},
        paper_rows=paper_rows,
    )
    display = display_frame(data, methods, include_base, columns)
    comparable = bool(paper_rows)
    if name == "table1":
        title = (
            f"Table 1 ({scale} scale): base vs GRPO vs RREDCoT, {metric_label(metric)}, mean ± SD over seeds"
        )
    else:
        title = (
            f"Table 2 ({scale} scale): GRPO baseline vs RREDCoT, {metric_label(metric)}, mean ± SD over seeds"
        )
    notes = [
        "`mean` row: per seed, the metric averaged over the benchmarks above; then mean ± SD over seeds.",
    ]
    if not comparable:
        what = (
            "Qwen3-4B trained on NuminaMath-CoT"
            if name == "table1"
            else "DeepSeek-R1-Distill-Qwen-1.5B on open-rs, RREDCoT-Nano vs Open-RS"
        )
        notes.append(
            f"No benchmark at this scale corresponds to a row of the paper's "
            f"{name.replace('table', 'Table ')} ({what}); the paper's numbers are not comparable here and "
            "are not shown beside ours."
        )
    return data, display, title, notes


def write_comparison(
    evals: pd.DataFrame,
    paper: pd.DataFrame,
    *,
    name: str,
    methods: Sequence[str],
    benchmarks: Sequence[str],
    paper_rows: dict[str, str],
    scale: str,
    metric: str,
    csv: str | Path,
    tex: str | Path,
    md: str | Path,
) -> None:
    """Table 1 or Table 2 (mean ± SD over seeds, the paper's numbers beside) as CSV, LaTeX and Markdown."""
    data, display, title, notes = build_comparison(
        name,
        evals,
        methods=methods,
        benchmarks=benchmarks,
        paper=paper,
        paper_rows=paper_rows,
        scale=scale,
        metric=metric,
    )
    write_table(data, display, csv=csv, tex=tex, md=md, title=title, notes=notes, label=f"tab:{name}-{scale}")


# ----------------------------------------------------------------------------------------------- costs
def cost_table(
    metrics: pd.DataFrame,
    traces: Sequence[dict] | None,
    *,
    variant: str,
    claims: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Long table: ``quantity``, ``subject``, ``value``, ``unit``, ``n``, ``paper``, ``definition``."""
    claims = claims or {}
    rows = []

    def add(quantity, subject, value, unit, n, definition, paper=""):
        rows.append(
            {
                "quantity": quantity,
                "subject": subject,
                "value": value,
                "unit": unit,
                "n": n,
                "paper": paper,
                "definition": definition,
            }
        )

    per_method = step_cost(metrics) if not metrics.empty else pd.DataFrame()
    by = {row["method"]: row for row in per_method.to_dict("records")}
    for method, row in by.items():
        add(
            "step time",
            method,
            row["step_time_s"],
            "s",
            row["n_steps"],
            "median over all steps of all seeds of TRL's step_time",
        )
    for method, row in by.items():
        if math.isfinite(row.get("value_time_s", math.nan)):
            add(
                "value estimation time per step",
                method,
                row["value_time_s"],
                "s",
                row["n_steps"],
                "median over steps of rredcot/value_time_s",
            )
        if math.isfinite(row.get("rredcot_time_s", math.nan)):
            add(
                "RREDCoT overhead per step",
                method,
                row["rredcot_time_s"],
                "s",
                row["n_steps"],
                "median over steps of rredcot/time_s (entropies, segmentation, values, weights)",
            )
    for method, row in by.items():
        if math.isfinite(row.get("run_wall_s", math.nan)):
            add(
                "training wall time per run",
                method,
                row["run_wall_s"],
                "s",
                row["n_seeds"],
                "mean over seeds of the last wall_s",
            )
    if "grpo" in by and "rredcot" in by:
        ratio = (
            by["rredcot"]["step_time_s"] / by["grpo"]["step_time_s"]
            if by["grpo"]["step_time_s"]
            else math.nan
        )
        paper = (
            f"{claims['train_cost_ratio_low']:g}–{claims['train_cost_ratio_high']:g}"
            if "train_cost_ratio_low" in claims and "train_cost_ratio_high" in claims
            else ""
        )
        add(
            "step time ratio",
            "rredcot/grpo",
            ratio,
            "×",
            min(by["grpo"]["n_steps"], by["rredcot"]["n_steps"]),
            "median RREDCoT step time / median GRPO step time",
            paper,
        )
    if traces:
        costs = trace_costs(traces, variant)
        both = costs[np.isfinite(costs["mc_seconds"]) & np.isfinite(costs["value_seconds"])]
        for column, subject, definition in (
            ("mc_seconds", "MC", "median over traces of the MC seconds of all boundaries of a trace"),
            ("value_seconds", f"RREDCoT {variant}", "median over traces of the value-estimation seconds"),
            ("gradient_seconds", "gradient", "median over traces of the gradient-attribution seconds"),
            ("loo_seconds", "LOO", "median over traces of the leave-one-out seconds"),
        ):
            values = costs[column][np.isfinite(costs[column])]
            if len(values):
                add("seconds per trace", subject, float(values.median()), "s", len(values), definition)
        tokens = costs["mc_generated_tokens"][np.isfinite(costs["mc_generated_tokens"])]
        if len(tokens):
            add(
                "MC generated tokens per trace",
                "MC",
                float(tokens.median()),
                "tokens",
                len(tokens),
                "median over traces of the tokens sampled for the MC values",
            )
        ratio = (
            both["value_seconds"].sum() / both["mc_seconds"].sum()
            if both["mc_seconds"].sum() > 0
            else math.nan
        )
        add(
            "value / MC time",
            f"RREDCoT {variant} / MC",
            ratio,
            "×",
            len(both),
            "Σ value seconds / Σ MC seconds over the traces that have both",
            f"{claims['value_cost_ratio']:g}" if "value_cost_ratio" in claims else "",
        )
    return pd.DataFrame(rows, columns=["quantity", "subject", "value", "unit", "n", "paper", "definition"])


def cost_display(table: pd.DataFrame) -> pd.DataFrame:
    out = table[["quantity", "subject"]].copy()
    out["value"] = [
        fmt(v, 4) if u != "tokens" else (fmt(v, 0))
        for v, u in zip(table["value"], table["unit"], strict=True)
    ]
    out["unit"] = table["unit"]
    out["n"] = table["n"]
    out["paper"] = table["paper"]
    return out


def write_cost_table(
    metrics: pd.DataFrame,
    traces: Sequence[dict] | None,
    claims: dict[str, float],
    *,
    variant: str,
    scale: str,
    csv: str | Path,
    tex: str | Path,
    md: str | Path,
) -> None:
    """Per-step wall time GRPO vs RREDCoT and value vs MC seconds per trace, from the logs."""
    data = cost_table(metrics, traces, variant=variant, claims=claims)
    write_table(
        data,
        cost_display(data),
        csv=csv,
        tex=tex,
        md=md,
        title=f"Compute cost ({scale} scale), from the training metrics and the credit-analysis log",
        notes=[
            "Medians over steps (all seeds) and over traces; `paper`: the paper's number where it gives one. "
            "What the pipeline's jobs took, beside whatever else ran on the machine: the cost verdicts read "
            "the benchmark scripts' quiet rows (`compute_cost.csv`) instead."
        ],
        label=f"tab:cost-{scale}",
    )


# ------------------------------------------------------------------------------------------ credit tables
def _interval_cell(point: float, lo: float, hi: float, n: int | None = None, digits: int = 2) -> str:
    if not math.isfinite(point):
        text = "n/a"
    else:
        interval = f" [{fmt(lo, digits)}, {fmt(hi, digits)}]" if math.isfinite(lo) else " [n/a]"
        text = f"{fmt(point, digits)}{interval}"
    return text if n is None else f"{text} (n={n})"


def credit_agreement_display(
    data: pd.DataFrame, *, method: str, scale: str = ""
) -> tuple[pd.DataFrame, str, list[str]]:
    """Display of :func:`rredcot.artifacts.credit.agreement`: one row per (quantity, estimator, statistic),
    one column per (traces, boundaries) cell. Returns (display, title, notes)."""
    columns = [(s, b) for s in credit.STRATA for b in credit.SUBSETS]
    counts = {
        (s, b): int(data.loc[(data["stratum"] == s) & (data["subset"] == b), "n_traces"].max())
        if ((data["stratum"] == s) & (data["subset"] == b)).any()
        else 0
        for s, b in columns
    }
    header = {
        (s, b): f"{s} traces ({counts[s, b]}), {'all' if b == 'all' else 'non-degenerate'}"
        for s, b in columns
    }
    rows = []
    for (quantity, estimator), group in data.groupby(["quantity", "estimator"], sort=False):
        cells = {(r["stratum"], r["subset"]): r for r in group.to_dict("records")}
        for statistic in ("pooled", "per-trace median"):
            row = {
                "quantity": quantity,
                "estimator": estimator.removeprefix("RREDCoT "),
                "statistic": statistic,
            }
            for key in columns:
                r = cells.get(key)
                if r is None:
                    row[header[key]] = "—"
                elif statistic == "pooled":
                    row[header[key]] = _interval_cell(r["pooled"], r["pooled_lo"], r["pooled_hi"])
                else:
                    row[header[key]] = _interval_cell(
                        r["per_trace_median"], r["per_trace_lo"], r["per_trace_hi"], r["per_trace_n"]
                    )
            rows.append(row)
    display = pd.DataFrame(rows, columns=["quantity", "estimator", "statistic", *header.values()])
    title = (
        f"Agreement with MC ({scale} scale): {method.capitalize()} correlation of values at the boundaries "
        "and of segment credits"
    )
    notes = [
        "Pooled: one correlation over the pairs of all traces, 95 % percentile bootstrap interval resampling "
        "traces. Per-trace median: median of the per-trace correlations (n = traces where it is defined: "
        "≥ 3 finite pairs, neither side constant), bootstrap over those traces. Non-degenerate: boundaries "
        "whose MC rollouts disagree (for credits: segments whose two boundaries are not both degenerate). "
        "Column headers give the traces with at least one pair; gradient and LOO have credits only."
    ]
    return display, title, notes


def error_localization_display(loc, *, scale: str = "") -> tuple[pd.DataFrame, str, list[str]]:
    """Display of :func:`rredcot.artifacts.credit.error_localization`. Returns (display, title, notes)."""
    table = loc.table
    display = pd.DataFrame(
        {
            "estimator": [e.removeprefix("RREDCoT ") for e in table["estimator"]],
            "most-blamed segment holds the first error": [
                _interval_cell(s, lo, hi)
                for s, lo, hi in zip(table["share"], table["lo"], table["hi"], strict=True)
            ],
            "hits / traces": [
                "expected" if e == "uniform random" else f"{int(h)}/{n}"
                for e, h, n in zip(table["estimator"], table["hits"], table["n_traces"], strict=True)
            ],
        }
    )
    title = f"First-error localization ({scale} scale; our addition, not a paper claim)"
    notes = [
        f"Incorrect traces: {loc.n_incorrect} of {loc.n_traces}; scored: {loc.n_scored} (first error "
        "inside a reasoning segment); first error after the reasoning segments (e.g. in the answer): "
        f"{loc.n_outside}; "
        f"no wrong line found: {loc.n_not_found}; no checker for the row: {loc.n_unchecked}; "
        f"not logged: {loc.n_unknown}.",
        "Most-blamed: the most negative credit, ties to the earliest segment; uniform random: the mean of "
        "1/K (exact expectation). 95 % percentile bootstrap intervals over traces.",
    ]
    if loc.n_no_segments:
        notes[0] += f" Traces without reasoning segments: {loc.n_no_segments}."
    return display, title, notes


def write_credit_table(
    traces: Sequence[dict],
    *,
    name: str,
    method: str,
    n_resamples: int,
    scale: str,
    csv: str | Path,
    tex: str | Path,
    md: str | Path,
) -> None:
    """``credit_agreement`` (values and credits vs MC) or ``error_localization`` (first error vs most-blamed
    segment), from the credit-analysis log."""
    if name == "credit_agreement":
        data = credit.agreement(traces, method=method, n_resamples=n_resamples)
        display, title, notes = credit_agreement_display(data, method=method, scale=scale)
        share = credit.degenerate_share(traces)
        notes.append(
            f"Degenerate boundaries: {share.n_degenerate} of {share.n_boundaries} ({share.n_all_zero} all 0, "
            f"{share.n_all_one} all 1); segments between two of them: {share.n_segments_degenerate} of "
            f"{share.n_segments}."
        )
    elif name == "error_localization":
        loc = credit.error_localization(traces, n_resamples=n_resamples)
        data = loc.table
        display, title, notes = error_localization_display(loc, scale=scale)
    else:
        raise ValueError(f"credit table {name!r}: expected credit_agreement or error_localization")
    label = f"tab:{name.replace('_', '-')}-{scale}"
    write_table(data, display, csv=csv, tex=tex, md=md, title=title, notes=notes, label=label)
