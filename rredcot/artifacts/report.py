"""REPLICATION.md: each claim of the paper, what was run, the paper's number, ours and a verdict, then the
controls, the robustness checks, the tables and figures, the verdict rules, the assumptions and the command
behind each artifact.

The claims and their verdicts come from :mod:`rredcot.artifacts.claims`; this module only lays them out.
Every artifact path it writes is one that the rule ``replication_report`` passes
(``experiments/rules/report.smk``), so the paths are written once, in the rules.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rredcot.artifacts import verdicts
from rredcot.artifacts.assumptions import PAPER, assumptions_table
from rredcot.artifacts.claims import Logs, evaluate_claims, headroom_reading, mc_samples
from rredcot.artifacts.logs import (
    default_variant,
    load_benchmark_cost,
    load_eval,
    policy_mean,
    rredcot_name,
    seed_means,
    step_cost,
)
from rredcot.artifacts.makers import MAKERS
from rredcot.artifacts.robustness import (
    ablation_test_lines,
    base_spread_lines,
    delimiter_drift_lines,
    machine_lines,
)
from rredcot.artifacts.tables import MEAN_ROW, fmt, pct, signed
from rredcot.io import read_json, write_text


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
            shown += _figure(path, captions[str(path)], out)
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
        lines.append(f"- [{title}]({_rel(path, out)}): {reading}")
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


# ------------------------------------------------------------------------------------------------- render
def _rel(path: str | Path, out: str | Path) -> str:
    return Path(os.path.relpath(Path(path), Path(out).parent)).as_posix()


def _describe_run(logs: Logs) -> list[str]:
    cfg = logs.config
    base = cfg["base_model"]
    if base["kind"] == "sft":
        arch = base.get("architecture", {})
        model = (
            f"small Qwen3 built and SFT-trained by the pipeline ({arch.get('num_hidden_layers')} layers, "
            f"hidden size {arch.get('hidden_size')})"
        )
    else:
        model = f"`{base['name_or_path']}`" + (" with random weights" if base.get("random_init") else "")
    data = cfg["data"]
    train_data = (
        f"synthetic arithmetic task ({data['synthetic']['train']['n']} training problems)"
        if data["kind"] == "synthetic"
        else f"`{data['hub']['train']}` from the hub"
    )
    trl = cfg["train"]["trl"]
    benches = ", ".join(f"{b} (avg@{s['n_samples']})" for b, s in cfg["eval"]["benchmarks"].items())
    controls = [run for runs in cfg["artifacts"].get("controls", {}).values() for run in runs]
    lines = [
        f"- **Scale** `{cfg['scale']}`: base model {model}; training data {train_data}.",
        f"- **Training**: {', '.join(cfg['train']['methods'])} × seeds {cfg['train']['seeds']}, "
        f"{trl['max_steps']} steps, group size {trl['num_generations']}, completions ≤ "
        f"{trl['max_completion_length']} tokens"
        + (f"; controls {', '.join(f'`{run}`' for run in controls)}." if controls else "."),
        f"- **Evaluation**: {benches}.",
    ]
    if logs.traces is not None:
        correct = sum(t.get("correct") == 1 for t in logs.traces)
        line = (
            f"- **Credit analysis**: {len(logs.traces)} traces ({correct} correct, "
            f"{sum(t.get('correct') == 0 for t in logs.traces)} incorrect), MC with "
            f"{mc_samples(logs.traces)} samples per boundary."
        )
        if logs.draws:
            accepted = sum(bool(d.get("accepted")) for d in logs.draws)
            solved = np.mean([bool(d.get("correct")) for d in logs.draws])
            line += (
                f" Traces drawn until both classes were represented: {len(logs.draws)} draws, "
                f"{pct(float(solved))} of them correct (the base policy's accuracy on these draws), "
                f"{accepted} accepted."
            )
        lines.append(line)
    return lines


def render(
    logs: Logs,
    *,
    out: str | Path,
    schema: Mapping,
    tables_md: Sequence[str | Path] = (),
    figures_png: Sequence[str | Path] = (),
    named_only_figures: Sequence[str | Path] = (),
    headroom: Sequence[str] = (),
    readings: Sequence[str] = (),
    captions: Mapping[str, str] | None = None,
    targets: Mapping[str, str] | None = None,
    snakemake_command: str = "snakemake --cores 2 {target}",
    benchmark_cost: str | Path | None = None,
) -> str:
    """The Markdown text of the report; links are relative to ``out``'s folder. ``schema``: the config's JSON
    schema, whose descriptions the assumptions table prints. ``tables_md`` and ``figures_png``, shown in
    full, are also the files each claim links; ``headroom``: the positive control's table and figure;
    ``readings``: that control's committed tables under other designs.
    ``captions``: each figure's caption (reStructuredText, as ``snakemake --report`` shows it), printed under
    the figure; every figure needs one. ``targets``: each artifact file listed under *How to regenerate*, and
    the rule that makes it (:data:`rredcot.artifacts.makers.MAKERS` names its function).
    ``snakemake_command``: the command that rebuilds one artifact, ``{target}`` standing for it (appended if
    absent)."""
    uncaptioned = [str(p) for p in [*figures_png, *named_only_figures] if not (captions or {}).get(str(p))]
    if uncaptioned:
        raise ValueError(f"figures without a caption: {uncaptioned}")
    claims = evaluate_claims(logs)
    scale = logs.config["scale"]
    lines = [
        f"# Replication report — `{scale}` scale",
        "",
        "Generated by `rredcot.artifacts.report.write_report` from the logged data of this scale "
        "(training metrics, evaluation summaries, credit analysis) and the paper's numbers in "
        "`paper_tables/paper/`; do not edit by hand. Each verdict is decided by the rule in its row "
        "(see *Verdict rules*), never written by hand. The claims, their sections (§) and confidence tags "
        f"are those of [{PAPER}]({_rel(PAPER, out)}), this repository's account of the paper.",
        "",
        "## What was run",
        "",
        *_describe_run(logs),
        "",
        "## Verdicts",
        "",
        f"| claim ({PAPER} §5) | paper | ours | verdict |",
        "|---|---|---|---|",
    ]
    for c in claims:
        lines.append(f"| {c.claim} | {c.paper} | {c.ours} | **{c.verdict.verdict}** |")
    counts = {v: sum(c.verdict.verdict == v for c in claims) for v in verdicts.VERDICTS}
    lines += [
        "",
        "Summary: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".",
        "",
        *controls_section(logs, headroom, readings, out, captions),
        *robustness_section(logs),
        *credit_section(logs),
        "## Claims in detail",
        "",
    ]
    cost_rows = [benchmark_cost] if benchmark_cost and Path(benchmark_cost).exists() else []
    linked = {Path(p).name: p for p in [*tables_md, *figures_png, *cost_rows]}  # claims name files
    for c in claims:
        links = ", ".join(f"[{name}]({_rel(linked[name], out)})" for name in c.artifacts if name in linked)
        lines += [
            f"### {c.claim}",
            "",
            f"- What was run: {c.run}",
            f"- Paper: {c.paper}",
            f"- Ours: {c.ours}",
            f"- Rule: {c.rule}",
            f"- Verdict: **{c.verdict.verdict}** — {c.verdict.reason}",
            f"- Artifacts: {links}" if links else "- Artifacts: —",
            "",
        ]
    if tables_md:
        lines += ["## Tables", ""]
        for path in tables_md:
            lines += [Path(path).read_text().rstrip(), "", f"([{Path(path).name}]({_rel(path, out)}))", ""]
    if cost_rows:
        lines += [
            "The cost verdicts read the benchmark scripts' timings (`benchmarks/`: the methods side by side "
            "in one process, on a quiet machine), not the pipeline's: "
            f"[{Path(benchmark_cost).name}]({_rel(benchmark_cost, out)}).",
            "",
        ]
    if figures_png:
        lines += ["## Figures", ""]
        for path in figures_png:
            lines += _figure(path, captions[str(path)], out)
    if named_only_figures:
        built = [path for path in named_only_figures if Path(path).exists()]
        lines += [
            "## Training ablations (a named target, outside the default run)",
            "",
            "RL runs per variant with the seeds `artifacts.training_ablations` names, evaluated on the test "
            "splits like the main runs: built by "
            f"`{snakemake_command.replace('{target}', 'training_ablations')}` and shown here when they "
            "existed as this report was written.",
            "",
            *ablation_test_lines(
                logs.artifacts.get("training_ablations", {}),
                logs.evals,
                logs.benchmarks,
                logs.config["train"]["methods"],
            ),
        ]
        lines += [line for path in built for line in _figure(path, captions[str(path)], out)]
        missing = [Path(path).stem for path in named_only_figures if path not in built]
        if missing:
            lines += [f"Not built: {', '.join(missing)}.", ""]
    lines += [
        "## Verdict rules",
        "",
        *(verdicts.__doc__ or "").split("\n\n", 1)[-1].splitlines(),
        "",
        "## Assumptions (where the paper is silent)",
        "",
        assumptions_table(logs.config, schema).rstrip(),
        "",
        *regenerate_section(targets or {}, out=out, snakemake_command=snakemake_command),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _figure(path: str | Path, caption: str, out: str | Path) -> list[str]:
    """A figure and, under it, its caption: the reStructuredText of ``experiments/report/`` as one Markdown
    paragraph (``literal`` → `literal`)."""
    text = " ".join(caption.split()).replace("``", "`")
    return [f"![{Path(path).stem}]({_rel(path, out)})", "", text, ""]


def regenerate_section(targets: Mapping[str, str], *, out: str | Path, snakemake_command: str) -> list[str]:
    """*How to regenerate each artifact*: one row per artifact (its PDF and PNG, or its CSV, LaTeX and
    Markdown) with the function that makes it and the command that rebuilds it; links relative to ``out``,
    to the files that exist."""
    lines = [
        "## How to regenerate each artifact",
        "",
        "Figures and tables read only logged data; none of these commands retrains anything once the "
        "logs exist. Each artifact's rule calls the function beside it (`rredcot/artifacts/make.py`), with "
        "the rule's inputs, outputs and params by name.",
        "",
        "| artifact | made by | command |",
        "|---|---|---|",
    ]
    groups: dict[str, list[str]] = {}
    for target in targets:
        groups.setdefault(str(Path(target).with_suffix("")), []).append(target)
    for files in groups.values():
        built = [f for f in files if Path(f).exists()]  # a named target not built yet gets no dead link
        links = ", ".join(f"[{Path(f).suffix[1:]}]({_rel(f, out)})" for f in built) or "not built"
        command = (
            snakemake_command.replace("{target}", files[0])
            if "{target}" in snakemake_command
            else f"{snakemake_command} {files[0]}"
        )
        made_by = f"`rredcot.artifacts.{MAKERS[targets[files[0]]]}`"
        lines.append(f"| `{Path(files[0]).with_suffix('')}` ({links}) | {made_by} | `{command}` |")
    return lines


def write_report(
    *,
    evals: pd.DataFrame,
    metrics: pd.DataFrame,
    traces: list[dict] | None,
    paper_tables: dict[str, pd.DataFrame],
    claims: dict[str, float],
    tables_md: Sequence[str],
    figures_png: Sequence[str],
    config: dict,
    schema: dict,
    metric: str,
    optional_evals: Sequence[str],
    machines: Sequence[str],
    named_only_figures: Sequence[str],
    headroom: Sequence[str],
    captions: Mapping[str, str],
    targets: Mapping[str, str],
    snakemake_command: str,
    benchmark_cost: str | None,
    out: str,
    readings: Sequence[str] = (),
    published: str | None = None,
    sanity: dict | None = None,
    draws: list[dict] | None = None,
) -> None:
    """REPLICATION.md of one scale and, if ``published``, its copy with links relative to that file.

    ``optional_evals`` (training-ablation runs outside the default target) and the ``machine.json`` of the
    ``machines`` model dirs are read where they exist."""
    optional = [path for path in optional_evals if Path(path).exists()]
    logs = Logs(
        config=config,
        evals=pd.concat([evals, load_eval(optional, metric=metric)], ignore_index=True)
        if optional
        else evals,
        metrics=metrics,
        traces=traces,
        paper_tables=paper_tables,
        paper_claims=claims,
        value_sanity=sanity,
        machines={
            d: read_json(Path(d) / "machine.json") for d in machines if (Path(d) / "machine.json").exists()
        },
        draws=draws,
        benchmark_cost=load_benchmark_cost(benchmark_cost),
    )
    for path in [out, *([published] if published else [])]:
        text = render(
            logs,
            out=path,
            schema=schema,
            tables_md=tables_md,
            figures_png=figures_png,
            named_only_figures=named_only_figures,
            headroom=headroom,
            readings=readings,
            captions=captions,
            targets=targets,
            snakemake_command=snakemake_command,
            benchmark_cost=benchmark_cost,
        )
        write_text(path, text)
