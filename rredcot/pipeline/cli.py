"""``rredcot <command>``: the pipeline stages that the Snakemake rules call.

Each command takes the config section it needs as one JSON argument (the Snakefile has already validated the
whole config against experiments/schema.yaml) and writes its declared outputs atomically.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from pathlib import Path

from rredcot.io import atomic_path


def _json(text: str) -> dict:
    return json.loads(text)


def _flag(text: str) -> bool:
    if text not in ("True", "False", "true", "false"):
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return text.lower() == "true"


def prepare_data(args) -> None:
    """Write train.jsonl and eval/<benchmark>.jsonl in the common schema."""
    data = args.data_json
    out = Path(args.out_dir)
    if data["kind"] == "synthetic":
        from rredcot.pipeline.data.synthetic import VALIDATION, generate_splits, write_split

        spec = data["synthetic"]
        if set(spec["benchmarks"]) != set(args.benchmarks):
            raise ValueError(
                f"data.synthetic.benchmarks {sorted(spec['benchmarks'])} must equal"
                f" eval.benchmarks {args.benchmarks}"
            )
        # The validation split (recipe choices, never the test splits) is held out like a benchmark.
        held_out = {**spec["benchmarks"], VALIDATION: spec[VALIDATION]}
        splits = generate_splits(spec["train"], held_out, seed=data["seed"])
        for name, rows in splits.items():
            top_level = name in ("train", VALIDATION)
            write_split(out / f"{name}.jsonl" if top_level else out / "eval" / f"{name}.jsonl", rows)
            print(f"{name}: {len(rows)} problems")
        return

    from rredcot.pipeline.data.hub import load_hub_dataset, write_rows

    hub = data["hub"]
    local_files = hub.get("data_files") or {}
    if set(hub["benchmarks"]) != set(args.benchmarks):
        raise ValueError(
            f"data.hub.benchmarks {hub['benchmarks']} must equal eval.benchmarks {args.benchmarks}"
        )
    for split, name in [("train", hub["train"]), *((name, name) for name in hub["benchmarks"])]:
        result = load_hub_dataset(name, hub["datasets"][name], data_files=local_files.get(name))
        rows = result.rows
        if split == "train" and hub.get("train_limit") is not None:
            rows = rows[: hub["train_limit"]]
        write_rows(out / "train.jsonl" if split == "train" else out / "eval" / f"{split}.jsonl", rows)
        print(f"{split} ({name}): {len(rows)} rows, {len(result.dropped)} dropped")
        for message in result.dropped:
            print(f"  dropped: {message}")


def sft(args) -> None:
    """Build and supervised-fine-tune the tiny base model."""
    from rredcot.pipeline.base_model import train_base_model
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.machine import write_machine

    base = args.base_json
    summary = train_base_model(
        args.out,
        load_split(args.train),
        base["architecture"],
        base["sft"],
        seed=args.seed,
        num_threads=args.threads,
    )
    write_machine(args.out)  # after training: torch's thread count is the run's
    print(json.dumps(summary))


def train(args) -> None:
    """One RL run; checkpoints stay in --run-dir, the finished model and log are copied to the outputs.

    Under ``accelerate launch`` every process runs this; the main one copies, the others wait for it.
    """
    from accelerate import PartialState

    from rredcot.pipeline.machine import write_machine
    from rredcot.pipeline.train import train_policy

    section = args.train_json
    trl_args = {**section["trl"], **section["method_overrides"].get(args.method, {})}
    rredcot_args = section["rredcot"] if args.method == "rredcot" else None
    summary = train_policy(
        method=args.method,
        model_path=args.model,
        train_path=args.train,
        output_dir=args.run_dir,
        seed=args.seed,
        trl_args=trl_args,
        rredcot_args=rredcot_args,
        random_init=args.random_init,
        num_threads=args.threads,
    )
    state = PartialState()
    if state.is_main_process:
        run_dir, model_out = Path(args.run_dir), Path(args.model_out)
        staging = model_out.with_name(model_out.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(summary["final"], staging)
        write_machine(staging)
        shutil.rmtree(model_out, ignore_errors=True)
        staging.rename(model_out)
        with atomic_path(args.metrics_out) as tmp:
            shutil.copyfile(run_dir / "metrics.jsonl", tmp)
        print(json.dumps({k: str(v) for k, v in summary.items()}))
    state.wait_for_everyone()


def evaluate(args) -> None:
    """avg@n / pass@k of one policy on one benchmark."""
    import torch

    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.evaluate import evaluate as run_evaluation

    settings = args.eval_json
    benchmark = settings["benchmark"]
    torch.set_num_threads(args.threads)
    summary = run_evaluation(
        args.model,
        load_split(args.benchmark),
        benchmark=Path(args.benchmark).stem,
        n_samples=benchmark["n_samples"],
        pass_k=benchmark["pass_k"],
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        max_new_tokens=settings["max_new_tokens"],
        batch_size=settings["batch_size"],
        seed=args.seed,
        partial_path=args.partial,
        records_path=args.records_out,
        summary_path=args.summary_out,
        backend=settings["backend"],
        dtype=settings["dtype"],
        device=settings["device"],
        random_init=args.random_init,
    )
    print(json.dumps(summary))


def _analysis_settings(section: dict, n_mc_samples: int) -> dict:
    """Keyword arguments shared by both analyses: sampling, value options, model loading."""
    from rredcot.pipeline.analysis import Sampling, ValueOptions

    return {
        "n_mc_samples": n_mc_samples,
        "sampling": Sampling.from_config(section),
        "value_options": ValueOptions.from_config(section["value_options"]),
        "dtype": section["dtype"],
        "device": section["device"],
    }


def analyze_credit(args) -> None:
    """MC values, RREDCoT values of each estimator variant and attributions of sampled traces, stratified by
    correctness (Fig. 3/4/7)."""
    import torch

    from rredcot.pipeline.analysis import analyze_credit as run_analysis
    from rredcot.pipeline.data.synthetic import load_split

    section = args.analysis_json
    torch.set_num_threads(args.threads)
    records = run_analysis(
        args.model,
        load_split(args.benchmark),
        segmentation=section["segmentation"],
        estimators=section["estimators"],
        attribution_estimator=section["attribution_estimator"],
        seed=args.seed,
        partial_path=args.partial,
        out_path=args.out,
        draws_path=args.draws_out,
        random_init=args.random_init,
        n_traces=section["n_traces"],
        min_incorrect_share=section["min_incorrect_share"],
        min_correct_share=section["min_correct_share"],
        **_analysis_settings(section, section["n_mc_samples"]),
    )
    print(json.dumps({"traces": len(records), "correct": sum(r["correct"] for r in records)}))


def value_sanity(args) -> None:
    """Estimator vs MC values at the base policy's own states and corrupted twins (value sanity)."""
    import torch

    from rredcot.pipeline.analysis import ValueOptions
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.value_sanity import analyze_value_sanity

    settings = dict(args.settings_json)
    torch.set_num_threads(args.threads)
    summary = analyze_value_sanity(
        args.model,
        load_split(args.benchmark),
        value_options=ValueOptions.from_config(settings.pop("options")),
        out_path=args.out,
        seed=args.seed,
        random_init=args.random_init,
        **settings,
    )
    print(json.dumps(summary["estimators"]))


def analyze_segmentation(args) -> None:
    """Segmentation ablation: MC and default-estimator values at each segmentation variant's boundaries, on
    the credit analysis's accepted traces."""
    import torch

    from rredcot.io import read_jsonl
    from rredcot.pipeline.analysis import analyze_segmentations
    from rredcot.pipeline.data.synthetic import load_split

    section = args.analysis_json
    variants = section["segmentation_variants"]
    torch.set_num_threads(args.threads)
    rows = load_split(args.benchmark)
    results = analyze_segmentations(
        args.model,
        rows,
        ids=[draw["id"] for draw in read_jsonl(args.draws) if draw["accepted"]],
        variants=variants,
        keywords=section["segmentation"]["keywords"],
        estimator=section["ablation_estimator"],
        seed=args.seed,
        partial_dir=args.partial_dir,
        out_paths={name: Path(args.out_dir) / f"{name}.jsonl" for name in variants},
        random_init=args.random_init,
        **_analysis_settings(section, section["n_mc_samples_ablation"]),
    )
    print(json.dumps({name: len(records) for name, records in results.items()}))


# --------------------------------------------------------------------------------- tables, figures, report
# These read only logged data (results/<scale>/...) and the paper's numbers (paper_tables/paper/).
def _out_args(p: argparse.ArgumentParser, kinds: tuple[str, ...]) -> None:
    for kind in kinds:
        p.add_argument(f"--out-{kind}", required=True)


def table(args) -> None:
    """Table 1 or Table 2 (mean ± SD over seeds, the paper's numbers beside) as CSV, LaTeX and Markdown."""
    from rredcot.artifacts.logs import load_eval
    from rredcot.artifacts.tables import build_comparison, read_paper_table, write_table

    artifacts = args.artifacts_json
    evals = load_eval(args.eval, metric=artifacts["metric"])
    data, display, title, notes = build_comparison(
        args.name,
        evals,
        methods=args.methods,
        benchmarks=args.benchmarks,
        paper=read_paper_table(args.paper_table),
        paper_rows=artifacts["paper_rows"].get(args.name, {}),
        scale=args.scale,
        metric=artifacts["metric"],
    )
    write_table(
        data,
        display,
        csv=args.out_csv,
        tex=args.out_tex,
        md=args.out_md,
        title=title,
        notes=notes,
        label=f"tab:{args.name}-{args.scale}",
    )


def cost_table(args) -> None:
    """Per-step wall time GRPO vs RREDCoT and value vs MC seconds per trace, from the logs."""
    from rredcot.artifacts.logs import load_credit, load_metrics
    from rredcot.artifacts.tables import cost_display, read_paper_claims, write_table
    from rredcot.artifacts.tables import cost_table as build

    data = build(
        load_metrics(args.metrics),
        load_credit(args.credit) if args.credit else None,
        variant=args.variant,
        claims=read_paper_claims(args.paper_claims),
    )
    title = f"Compute cost ({args.scale} scale), from the training metrics and the credit-analysis log"
    notes = [
        "Medians over steps (all seeds) and over traces; `paper`: the paper's number where it gives one."
    ]
    write_table(
        data,
        cost_display(data),
        csv=args.out_csv,
        tex=args.out_tex,
        md=args.out_md,
        title=title,
        notes=notes,
        label=f"tab:cost-{args.scale}",
    )


def credit_table(args) -> None:
    """Agreement with MC (values and credits) or first-error localization, from the credit-analysis log."""
    from rredcot.artifacts import credit
    from rredcot.artifacts.logs import load_credit
    from rredcot.artifacts.tables import credit_agreement_display, error_localization_display, write_table

    traces = load_credit(args.credit)
    a = args.artifacts_json
    if args.name == "credit_agreement":
        data = credit.agreement(traces, method=a["correlation"], n_resamples=a["bootstrap_resamples"])
        display, title, notes = credit_agreement_display(data, method=a["correlation"], scale=args.scale)
        share = credit.degenerate_share(traces)
        notes.append(
            f"Degenerate boundaries: {share.n_degenerate} of {share.n_boundaries} ({share.n_all_zero} all 0, "
            f"{share.n_all_one} all 1); segments between two of them: {share.n_segments_degenerate} of "
            f"{share.n_segments}."
        )
    else:
        loc = credit.error_localization(traces, n_resamples=a["bootstrap_resamples"])
        data = loc.table
        display, title, notes = error_localization_display(loc, scale=args.scale)
    write_table(
        data,
        display,
        csv=args.out_csv,
        tex=args.out_tex,
        md=args.out_md,
        title=title,
        notes=notes,
        label=f"tab:{args.name.replace('_', '-')}-{args.scale}",
    )


def figure_credit_agreement(args) -> None:
    """Values and credits vs MC: pooled and per trace, by correct / incorrect trace, without degenerate
    boundaries (our addition)."""
    from rredcot.artifacts.figures import credit_agreement
    from rredcot.artifacts.logs import load_credit

    credit_agreement(
        load_credit(args.credit),
        pdf=args.out_pdf,
        png=args.out_png,
        method=args.artifacts_json["correlation"],
        n_resamples=args.artifacts_json["bootstrap_resamples"],
        scale=args.scale,
    )


def figure_error_localization(args) -> None:
    """Share of incorrect traces whose most-blamed segment holds the first error (our addition)."""
    from rredcot.artifacts.figures import error_localization
    from rredcot.artifacts.logs import load_credit

    error_localization(
        load_credit(args.credit),
        pdf=args.out_pdf,
        png=args.out_png,
        n_resamples=args.artifacts_json["bootstrap_resamples"],
        scale=args.scale,
    )


def figure_training_curves(args) -> None:
    """Accuracy and reward vs step and vs generated tokens, mean and CI over seeds."""
    from rredcot.artifacts.figures import training_curves
    from rredcot.artifacts.logs import load_metrics

    a = args.artifacts_json
    training_curves(
        load_metrics(args.metrics),
        pdf=args.out_pdf,
        png=args.out_png,
        threshold_fraction=a["threshold_fraction"],
        smooth_window=a["smooth_window"],
        final_window=a["final_window"],
        ci_level=a["ci_level"],
        scale=args.scale,
    )


def figure_delimiter_drift(args) -> None:
    """Newlines and thinking lines per completion vs training step, mean and CI over seeds."""
    from rredcot.artifacts.figures import delimiter_drift
    from rredcot.artifacts.logs import load_metrics

    a = args.artifacts_json
    delimiter_drift(
        load_metrics(args.metrics),
        pdf=args.out_pdf,
        png=args.out_png,
        smooth_window=a["smooth_window"],
        ci_level=a["ci_level"],
        scale=args.scale,
    )


def figure_mc_cost(args) -> None:
    """Fig. 3: MC vs RREDCoT value seconds, vs segments and vs number of questions."""
    from rredcot.artifacts.figures import fig3_mc_cost
    from rredcot.artifacts.logs import load_credit
    from rredcot.artifacts.tables import read_paper_claims

    extra = [trace for path in args.extra_credit for trace in load_credit(path)]
    fig3_mc_cost(
        load_credit(args.credit),
        pdf=args.out_pdf,
        png=args.out_png,
        variant=args.variant,
        extra_traces=extra,
        claims=read_paper_claims(args.paper_claims),
        scale=args.scale,
    )


def figure_mc_sd(args) -> None:
    """Fig. 7: bootstrapped SD of MC values vs samples per boundary × boundary position."""
    from rredcot.artifacts.figures import fig7_mc_sd
    from rredcot.artifacts.logs import load_credit
    from rredcot.artifacts.tables import read_paper_claims

    a, claims = args.artifacts_json, read_paper_claims(args.paper_claims)
    fig7_mc_sd(
        load_credit(args.credit),
        pdf=args.out_pdf,
        png=args.out_png,
        max_samples=a["mc_sd_max_samples"],
        n_resamples=a["bootstrap_resamples"],
        n_bins=a["position_bins"],
        threshold=claims["mc_sd_threshold"],
        paper_samples=claims["mc_sd_samples"],
        scale=args.scale,
    )


def figure_value_sanity(args) -> None:
    """Value sanity: estimator vs MC values at the base policy's states and corrupted twins."""
    from rredcot.artifacts.figures import value_sanity
    from rredcot.io import read_json

    value_sanity(read_json(args.sanity), pdf=args.out_pdf, png=args.out_png, scale=args.scale)


def figure_estimator_correlation(args) -> None:
    """Fig. 4: Pearson / Spearman matrices of segment credits and agreement with MC by position."""
    from rredcot.artifacts.figures import fig4_estimator_correlation
    from rredcot.artifacts.logs import load_credit

    fig4_estimator_correlation(
        load_credit(args.credit),
        pdf=args.out_pdf,
        png=args.out_png,
        n_bins=args.artifacts_json["position_bins"],
        method=args.artifacts_json["correlation"],
        scale=args.scale,
    )


def figure_ablation_segmentation(args) -> None:
    """Agreement of RREDCoT credits with MC per segmentation variant (one credit log per variant)."""
    from rredcot.artifacts.figures import ablation_segmentation
    from rredcot.artifacts.logs import load_credit

    variants = {Path(path).stem: load_credit(path) for path in args.credit}
    ablation_segmentation(
        variants,
        pdf=args.out_pdf,
        png=args.out_png,
        variant=args.variant,
        n_resamples=args.artifacts_json["bootstrap_resamples"],
        scale=args.scale,
    )


def figure_ablation_estimator(args) -> None:
    """Agreement with MC of every value-estimator variant in the credit log."""
    from rredcot.artifacts.figures import ablation_estimator
    from rredcot.artifacts.logs import load_credit

    ablation_estimator(
        load_credit(args.credit),
        pdf=args.out_pdf,
        png=args.out_png,
        n_resamples=args.artifacts_json["bootstrap_resamples"],
        scale=args.scale,
    )


def figure_ablation_training(args) -> None:
    """Training and test accuracy of groups of runs: --group LABEL METRICS.jsonl [METRICS.jsonl ...],
    repeated, and the runs' evaluation summaries (--eval)."""
    from rredcot.artifacts.figures import ablation_training
    from rredcot.artifacts.logs import load_eval, load_metrics

    paths, labels = [], []
    for label, *group in args.group:
        paths += group
        labels += [label] * len(group)
    a = args.artifacts_json
    ablation_training(
        load_metrics(paths, labels=labels),
        load_eval(args.eval, metric=a["metric"]),
        pdf=args.out_pdf,
        png=args.out_png,
        smooth_window=a["smooth_window"],
        ci_level=a["ci_level"],
        title=args.title,
    )


def report(args) -> None:
    """REPLICATION.md of one scale: claims, paper vs ours, rule-based verdicts, assumptions, regeneration."""
    from rredcot.artifacts.logs import load_credit, load_eval, load_metrics
    from rredcot.artifacts.report import Logs, render
    from rredcot.artifacts.tables import read_paper_claims, read_paper_table
    from rredcot.io import read_json, read_jsonl, write_text

    config = args.config_json
    paper = Path(args.paper_dir)
    optional = [path for path in args.optional_eval if Path(path).exists()]  # training ablations, if built
    machines = {
        directory: read_json(Path(directory) / "machine.json")
        for directory in args.machines
        if (Path(directory) / "machine.json").exists()
    }
    logs = Logs(
        config=config,
        evals=load_eval([*args.eval, *optional], metric=config["artifacts"]["metric"]),
        metrics=load_metrics(args.metrics),
        traces=load_credit(args.credit) if args.credit else None,
        paper_tables={name: read_paper_table(paper / f"{name}.csv") for name in ("table1", "table2")},
        paper_claims=read_paper_claims(paper / "claims.csv"),
        value_sanity=read_json(args.value_sanity) if args.value_sanity else None,
        machines=machines,
        draws=read_jsonl(args.credit_draws) if args.credit_draws else None,
    )
    for out in args.out:
        text = render(
            logs,
            out=out,
            tables_md=args.tables_md,
            figures_png=args.figures_png,
            named_only_figures=args.named_only_figures,
            targets=args.targets,
            snakemake_command=args.snakemake_command,
            benchmark_cost=args.benchmark_cost,
        )
        write_text(out, text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rredcot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("prepare-data", help=prepare_data.__doc__)
    p.add_argument("--data-json", type=_json, required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--benchmarks", nargs="+", required=True, help="eval.benchmarks: the splits to write")
    p.set_defaults(func=prepare_data)

    p = commands.add_parser("sft", help=sft.__doc__)
    p.add_argument("--base-json", type=_json, required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=sft)

    p = commands.add_parser("train", help=train.__doc__)
    p.add_argument("--method", required=True, choices=("grpo", "rredcot"))
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--random-init", type=_flag, default=False)
    p.add_argument("--train", required=True)
    p.add_argument("--train-json", type=_json, required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--model-out", required=True)
    p.add_argument("--metrics-out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=train)

    p = commands.add_parser("evaluate", help=evaluate.__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--random-init", type=_flag, default=False)
    p.add_argument("--benchmark", required=True, help="benchmark JSONL in the common schema")
    p.add_argument("--eval-json", type=_json, required=True)
    p.add_argument("--partial", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--summary-out", required=True)
    p.add_argument("--records-out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=evaluate)

    p = commands.add_parser("value-sanity", help=value_sanity.__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--random-init", type=_flag, default=False)
    p.add_argument("--benchmark", required=True, help="problems JSONL in the common schema")
    p.add_argument("--settings-json", type=_json, required=True, help="keyword arguments of the analysis")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=value_sanity)

    p = commands.add_parser("analyze-credit", help=analyze_credit.__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--random-init", type=_flag, default=False)
    p.add_argument("--benchmark", required=True, help="problems JSONL in the common schema")
    p.add_argument("--analysis-json", type=_json, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--partial", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--draws-out", required=True, help="every draw of the stratified selection, in order")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=analyze_credit)

    p = commands.add_parser("analyze-segmentation", help=analyze_segmentation.__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--random-init", type=_flag, default=False)
    p.add_argument("--benchmark", required=True, help="problems JSONL in the common schema")
    p.add_argument("--analysis-json", type=_json, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--partial-dir", required=True)
    p.add_argument(
        "--draws", required=True, help="the credit analysis's draws: its accepted traces are analysed"
    )
    p.add_argument("--out-dir", required=True, help="one <variant>.jsonl per segmentation variant")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=analyze_segmentation)

    p = commands.add_parser("table", help=table.__doc__)
    p.add_argument("--name", required=True, choices=("table1", "table2"))
    p.add_argument(
        "--eval", nargs="*", default=[], help="evaluation summaries eval/<policy>/<benchmark>.json"
    )
    p.add_argument("--paper-table", required=True)
    p.add_argument("--methods", nargs="+", required=True)
    p.add_argument("--benchmarks", nargs="+", required=True)
    p.add_argument("--scale", required=True)
    p.add_argument("--artifacts-json", type=_json, required=True)
    _out_args(p, ("csv", "tex", "md"))
    p.set_defaults(func=table)

    p = commands.add_parser("cost-table", help=cost_table.__doc__)
    p.add_argument("--metrics", nargs="*", default=[])
    p.add_argument("--credit", default=None)
    p.add_argument("--variant", required=True, help="value variant of the credit log, e.g. reference/log")
    p.add_argument("--paper-claims", required=True)
    p.add_argument("--scale", required=True)
    _out_args(p, ("csv", "tex", "md"))
    p.set_defaults(func=cost_table)

    p = commands.add_parser("credit-table", help=credit_table.__doc__)
    p.add_argument("--name", required=True, choices=["credit_agreement", "error_localization"])
    p.add_argument("--credit", required=True, help="analysis/credit.jsonl")
    p.add_argument("--artifacts-json", type=_json, required=True, help="the config's artifacts section")
    p.add_argument("--scale", required=True)
    _out_args(p, ("csv", "tex", "md"))
    p.set_defaults(func=credit_table)

    figure_commands = (
        ("figure-training-curves", figure_training_curves, ("metrics", "artifacts")),
        ("figure-mc-cost", figure_mc_cost, ("credit", "extra_credit", "variant", "paper_claims")),
        ("figure-mc-sd", figure_mc_sd, ("credit", "paper_claims", "artifacts")),
        ("figure-estimator-correlation", figure_estimator_correlation, ("credit", "artifacts")),
        ("figure-ablation-segmentation", figure_ablation_segmentation, ("credits", "variant", "artifacts")),
        ("figure-ablation-estimator", figure_ablation_estimator, ("credit", "artifacts")),
        ("figure-delimiter-drift", figure_delimiter_drift, ("metrics", "artifacts")),
        ("figure-ablation-training", figure_ablation_training, ("group", "eval", "artifacts")),
        ("figure-value-sanity", figure_value_sanity, ("sanity",)),
        ("figure-credit-agreement", figure_credit_agreement, ("credit", "artifacts")),
        ("figure-error-localization", figure_error_localization, ("credit", "artifacts")),
    )
    for name, func, inputs in figure_commands:
        p = commands.add_parser(name, help=func.__doc__)
        if "metrics" in inputs:
            p.add_argument("--metrics", nargs="*", default=[], help="train/<method>/seed<seed>/metrics.jsonl")
        if "eval" in inputs:
            p.add_argument("--eval", nargs="*", default=[], help="eval/<policy>/<benchmark>.json")
        if "credit" in inputs:
            p.add_argument("--credit", required=True, help="analysis/credit.jsonl")
        if "credits" in inputs:
            p.add_argument("--credit", nargs="*", default=[], help="analysis/segmentation/<variant>.jsonl")
        if "sanity" in inputs:
            p.add_argument("--sanity", required=True, help="analysis/value_sanity.json")
        if "extra_credit" in inputs:
            p.add_argument("--extra-credit", nargs="*", default=[])
        if "variant" in inputs:
            p.add_argument("--variant", required=True)
        if "paper_claims" in inputs:
            p.add_argument("--paper-claims", required=True)
        if "group" in inputs:
            p.add_argument("--group", nargs="+", action="append", required=True, metavar="LABEL_THEN_PATHS")
            p.add_argument("--title", default="")
        if "artifacts" in inputs:
            p.add_argument(
                "--artifacts-json", type=_json, required=True, help="the config's artifacts section"
            )
        p.add_argument("--scale", default="")
        _out_args(p, ("pdf", "png"))
        p.set_defaults(func=func)

    p = commands.add_parser("report", help=report.__doc__)
    p.add_argument("--config-json", type=_json, required=True, help="the whole (validated) config")
    p.add_argument("--eval", nargs="*", default=[])
    p.add_argument(
        "--optional-eval", nargs="*", default=[], help="evaluations read if they exist (training ablations)"
    )
    p.add_argument(
        "--machines", nargs="*", default=[], help="model dirs whose machine.json the report lists, if present"
    )
    p.add_argument("--metrics", nargs="*", default=[])
    p.add_argument("--credit", default=None)
    p.add_argument("--value-sanity", default=None, help="analysis/value_sanity.json")
    p.add_argument("--credit-draws", default=None, help="analysis/credit_draws.jsonl, where logged")
    p.add_argument("--paper-dir", required=True)
    p.add_argument("--tables-md", nargs="*", default=[])
    p.add_argument("--figures-png", nargs="*", default=[])
    p.add_argument(
        "--named-only-figures",
        nargs="*",
        default=[],
        help="figures outside the default target (training ablations): shown when they exist",
    )
    p.add_argument("--targets", nargs="*", default=[], help="artifacts listed with their snakemake command")
    p.add_argument(
        "--snakemake-command", default="snakemake --cores 2 {target}", help="{target}: the artifact"
    )
    p.add_argument("--benchmark-cost", default=None, help="benchmarks' compute_cost.csv, linked if it exists")
    p.add_argument("--out", nargs="+", required=True)
    p.set_defaults(func=report)
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    # Provenance in every rule's log: which cluster job (if any) ran this stage.
    logging.getLogger("rredcot").info(
        "%s: SLURM_JOB_ID=%s", args.command, os.environ.get("SLURM_JOB_ID", "none")
    )
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
