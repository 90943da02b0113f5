"""``rredcot <command>``: the pipeline stages that the Snakemake rules call.

Each command takes the config section it needs as one JSON argument (the Snakefile has already validated the
whole config against experiments/schema.yaml) and writes its declared outputs atomically.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

import yaml

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
        from rredcot.data.synthetic import generate_splits, write_split

        spec = data["synthetic"]
        splits = generate_splits(spec["train"], spec["benchmarks"], seed=data["seed"])
        for name, rows in splits.items():
            write_split(out / "train.jsonl" if name == "train" else out / "eval" / f"{name}.jsonl", rows)
            print(f"{name}: {len(rows)} problems")
        return

    from rredcot.data.hub import load_hub_dataset, write_rows

    hub = data["hub"]
    catalog = yaml.safe_load(Path(hub["catalog"]).read_text())["hub_datasets"]
    local_files = hub.get("data_files") or {}
    wanted = {"train": hub["train"], **{name: name for name in hub["benchmarks"]}}
    for split, name in wanted.items():
        if name not in catalog:
            raise ValueError(f"data.hub: dataset {name!r} is not in the catalog {hub['catalog']}")
        result = load_hub_dataset(name, catalog[name], data_files=local_files.get(name))
        rows = result.rows
        if split == "train" and hub.get("train_limit") is not None:
            rows = rows[: hub["train_limit"]]
        write_rows(out / "train.jsonl" if split == "train" else out / "eval" / f"{split}.jsonl", rows)
        print(f"{split} ({name}): {len(rows)} rows, {len(result.dropped)} dropped")
        for message in result.dropped:
            print(f"  dropped: {message}")


def sft(args) -> None:
    """Build and supervised-fine-tune the tiny base model."""
    from rredcot.base_model import train_base_model
    from rredcot.data.synthetic import load_split

    base = args.base_json
    summary = train_base_model(
        args.out, load_split(args.train), base["architecture"], base["sft"], seed=args.seed, num_threads=args.threads
    )
    print(json.dumps(summary))


def train(args) -> None:
    """One RL run; checkpoints stay in --run-dir, the finished model and log are copied to the outputs."""
    from rredcot.train import train_policy

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
    run_dir, model_out = Path(args.run_dir), Path(args.model_out)
    staging = model_out.with_name(model_out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(summary["final"], staging)
    shutil.rmtree(model_out, ignore_errors=True)
    staging.rename(model_out)
    with atomic_path(args.metrics_out) as tmp:
        shutil.copyfile(run_dir / "metrics.jsonl", tmp)
    print(json.dumps({k: str(v) for k, v in summary.items()}))


def evaluate(args) -> None:
    """avg@n / pass@k of one policy on one benchmark."""
    import torch

    from rredcot.data.synthetic import load_split
    from rredcot.evaluate import evaluate as run_evaluation

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rredcot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("prepare-data", help=prepare_data.__doc__)
    p.add_argument("--data-json", type=_json, required=True)
    p.add_argument("--out-dir", required=True)
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
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
