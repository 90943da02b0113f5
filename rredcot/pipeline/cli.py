"""``rredcot <command>``: the pipeline stages that the Snakemake rules call (the artifact rules call
:mod:`rredcot.artifacts.make` instead).

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

from rredcot.io import atomic_dir, atomic_path


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
    """One RL run with the settings :func:`rredcot.pipeline.settings.run_settings` composed, unchanged;
    checkpoints stay in --run-dir, the finished model and log are copied to the outputs.

    Under ``accelerate launch`` every process runs this; the main one copies, the others wait for it.
    """
    from accelerate import PartialState

    from rredcot.pipeline.machine import write_machine
    from rredcot.pipeline.train import train_policy

    settings = args.settings_json
    summary = train_policy(
        method=settings["method"],
        model_path=args.model,
        train_path=args.train,
        output_dir=args.run_dir,
        seed=args.seed,
        trl_args=settings["trl"],
        rredcot_args=settings["rredcot"],
        random_init=args.random_init,
        num_threads=args.threads,
    )
    state = PartialState()
    if state.is_main_process:
        with atomic_dir(args.model_out) as staging:
            shutil.copytree(summary["final"], staging)
            write_machine(staging)
        with atomic_path(args.metrics_out) as tmp:
            shutil.copyfile(Path(args.run_dir) / "metrics.jsonl", tmp)
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
    from rredcot.segmentation import Segmentation

    section = args.analysis_json
    torch.set_num_threads(args.threads)
    records = run_analysis(
        args.model,
        load_split(args.benchmark),
        segmentation=Segmentation.from_config(section["segmentation"], where="analysis.segmentation"),
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
    from rredcot.segmentation import Segmentation

    section = args.analysis_json
    variants = section["segmentation_variants"]
    torch.set_num_threads(args.threads)
    rows = load_split(args.benchmark)
    results = analyze_segmentations(
        args.model,
        rows,
        ids=[draw["id"] for draw in read_jsonl(args.draws) if draw["accepted"]],
        segmentation=Segmentation.from_config(section["segmentation"], where="analysis.segmentation"),
        variants=variants,
        estimator=section["ablation_estimator"],
        seed=args.seed,
        partial_dir=args.partial_dir,
        out_paths={name: Path(args.out_dir) / f"{name}.jsonl" for name in variants},
        random_init=args.random_init,
        **_analysis_settings(section, section["n_mc_samples_ablation"]),
    )
    print(json.dumps({name: len(records) for name, records in results.items()}))


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
    p.add_argument(
        "--settings-json", type=_json, required=True, help="the run's method, trl and rredcot settings"
    )
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--random-init", type=_flag, default=False)
    p.add_argument("--train", required=True)
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
