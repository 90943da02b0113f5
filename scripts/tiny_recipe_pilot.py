"""Choose the tiny RL recipe on the validation split: train GRPO at every point of a pilot grid, score it.

    python scripts/tiny_recipe_pilot.py [experiments/pilots/tiny_recipe.yaml] [--workers 2]

Needs the tiny base model and data (``snakemake --cores 2 results/tiny/base_model``). Each point trains one
GRPO run (one thread) from the base model with ``train.trl`` of ``experiments/tiny.yaml`` overridden by the
point, then samples ``eval.n_samples`` completions per validation problem. Writes
``paper_tables/tiny/recipe_pilot.{csv,md}`` (the base model is the first row); runs live under
``results/tiny/pilot/`` and a finished point is not rerun.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "tiny"


def _evaluate(model: Path, name: str, settings: dict, pilot: dict) -> dict:
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.evaluate import evaluate

    out = RESULTS / "pilot" / name
    return evaluate(
        model,
        load_split(RESULTS / "data" / "validation.jsonl"),
        benchmark="validation",
        n_samples=pilot["eval"]["n_samples"],
        pass_k=[1],
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        max_new_tokens=settings["max_new_tokens"],
        batch_size=settings["batch_size"],
        seed=pilot["eval"]["seed"],
        partial_path=out / "validation.partial.jsonl",
        records_path=out / "validation.records.jsonl",
        summary_path=out / "validation.json",
    )


def run_point(name: str, overrides: dict | None, config: dict, pilot: dict) -> dict:
    """Train (unless ``overrides`` is None: the base model) and score one point; returns its table row."""
    torch.set_num_threads(1)
    from rredcot.pipeline.train import train_policy

    start, metrics = time.perf_counter(), []
    model = RESULTS / "base_model"
    trl = {**config["train"]["trl"], **pilot["base"], **(overrides or {})}
    if overrides is not None:
        summary = train_policy(
            method="grpo",
            model_path=model,
            train_path=RESULTS / "data" / "train.jsonl",
            output_dir=RESULTS / "pilot" / name / "run",
            seed=pilot["seed"],
            trl_args=trl,
            num_threads=1,
        )
        model = Path(summary["final"])
        metrics = [json.loads(line) for line in (model.parent / "metrics.jsonl").read_text().splitlines()]
    train_s = time.perf_counter() - start
    result = _evaluate(model, name, config["eval"], pilot)
    rewards = [m["reward"] for m in metrics if "reward" in m]
    return {
        "point": name,
        "prompts_x_completions": "—"
        if overrides is None
        else f"{trl['per_device_train_batch_size'] // trl['num_generations']}x{trl['num_generations']}",
        "learning_rate": "—" if overrides is None else trl["learning_rate"],
        "warmup_steps": "—" if overrides is None else trl.get("warmup_steps", 0),
        "max_steps": "—" if overrides is None else trl["max_steps"],
        "validation_avg_at_n": round(result["avg_at_n"], 4),
        "train_reward_first5": round(sum(rewards[:5]) / max(len(rewards[:5]), 1), 4) if rewards else "—",
        "train_reward_last5": round(sum(rewards[-5:]) / max(len(rewards[-5:]), 1), 4) if rewards else "—",
        "wall_s": round(train_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", nargs="?", default=ROOT / "experiments" / "pilots" / "tiny_recipe.yaml")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "experiments" / "tiny.yaml").read_text())
    pilot = yaml.safe_load(Path(args.grid).read_text())
    points = [("base", None), *pilot["points"].items()]
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_point, name, over, config, pilot) for name, over in points]
        rows = [f.result() for f in futures]
    out = ROOT / "paper_tables" / "tiny" / "recipe_pilot"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    header = "| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row.values()) + " |\n" for row in rows)
    out.with_suffix(".md").write_text(
        f"GRPO pilot grid (seed {pilot['seed']}), validation avg@{pilot['eval']['n_samples']}; "
        f"grid: experiments/pilots/{Path(args.grid).name}\n\n" + header + body
    )
    print(header + body)


if __name__ == "__main__":
    main()
