"""REPLICATION.md: each claim of the paper, what was run, the paper's number, ours and a verdict, then the
controls, the robustness checks, the tables and figures, the verdict rules, the assumptions and the command
behind each artifact.

The claims and their verdicts come from :mod:`rredcot.artifacts.claims`, the sections on checks that are not
claims (controls, robustness, credit) from :mod:`rredcot.artifacts.sections`; this module lays them out.
Every artifact path it writes is one that the rule ``replication_report`` passes
(``experiments/rules/report.smk``), so the paths are written once, in the rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rredcot.artifacts import verdicts
from rredcot.artifacts.assumptions import PAPER, assumptions_table
from rredcot.artifacts.claims import Logs, evaluate_claims, mc_samples
from rredcot.artifacts.logs import load_benchmark_cost, load_eval
from rredcot.artifacts.makers import MAKERS
from rredcot.artifacts.markdown import figure, link
from rredcot.artifacts.robustness import ablation_test_lines
from rredcot.artifacts.sections import controls_section, credit_section, robustness_section
from rredcot.artifacts.tables import pct
from rredcot.io import write_text


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
        f"are those of [{PAPER}]({link(PAPER, out)}), this repository's account of the paper.",
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
        links = ", ".join(f"[{name}]({link(linked[name], out)})" for name in c.artifacts if name in linked)
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
            lines += [Path(path).read_text().rstrip(), "", f"([{Path(path).name}]({link(path, out)}))", ""]
    if cost_rows:
        lines += [
            "The cost verdicts read the benchmark scripts' timings (`benchmarks/`: the methods side by side "
            "in one process, on a quiet machine), not the pipeline's: "
            f"[{Path(benchmark_cost).name}]({link(benchmark_cost, out)}).",
            "",
        ]
    if figures_png:
        lines += ["## Figures", ""]
        for path in figures_png:
            lines += figure(path, captions[str(path)], out)
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
        lines += [line for path in built for line in figure(path, captions[str(path)], out)]
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
        links = ", ".join(f"[{Path(f).suffix[1:]}]({link(f, out)})" for f in built) or "not built"
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
    machines: Mapping[str, dict],
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

    ``optional_evals`` (training-ablation runs outside the default target) are read where they exist;
    ``machines``: each model directory's ``machine.json`` record (the rule ``machine_records``'s log)."""
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
        machines=dict(machines),
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
