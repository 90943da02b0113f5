"""Choose an RL recipe on the validation split: train each point of a pilot grid, score it on validation.

    python scripts/recipe_pilot.py experiments/pilots/tiny_recipe.yaml [--workers 2]

A grid file names its scale's config files (``configfiles``, merged as Snakemake merges several
``--configfile``), a pilot ``seed``, ``eval`` (samples per validation problem and the sampling seed), ``base``
(GRPOConfig fields every point shares) and ``points``: each is a run of the config (``run``: a method or a
``train.variants`` name, default ``grpo``) with GRPOConfig fields over ``base``. Settings are composed by
``run_settings``, as the train rule composes them. Needs the scale's base model and data
(``snakemake --cores 2 results/<scale>/base_model``). Each point trains one run (one thread) and samples
``eval.n_samples`` completions per validation problem; the base model is scored as the first row. Writes
``paper_tables/<scale>/recipe_pilot.{csv,md}``; runs live under ``results/<scale>/pilot/`` and a finished
point is not rerun (its training resumes at its last checkpoint, its validation summary is read back): a
point's name stands for its settings, so rename a point whose settings change.
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

from rredcot.pipeline.settings import layered_config

ROOT = Path(__file__).resolve().parents[1]


def _evaluate(model: Path, out: Path, results: Path, settings: dict, pilot: dict) -> dict:
    """The point's validation summary: the one written by an earlier run of the pilot, else a new one."""
    from rredcot.io import read_json
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.evaluate import evaluate

    if (out / "validation.json").exists():
        return read_json(out / "validation.json")
    return evaluate(
        model,
        load_split(results / "data" / "validation.jsonl"),
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


def run_point(name: str, point: dict | None, config: dict, pilot: dict, out_root: Path) -> dict:
    """Train (unless ``point`` is None: the base model) and score one point; returns its table row."""
    torch.set_num_threads(1)
    from rredcot.pipeline.settings import run_settings
    from rredcot.pipeline.train import train_policy

    results = ROOT / config.get("results_root", "results") / config["scale"]
    start, metrics, model = time.perf_counter(), [], results / "base_model"
    trained = point is not None
    point = dict(point or {})
    run = point.pop("run", "grpo")
    settings = run_settings(config["train"], run, pilot["seed"], config["scale"])
    trl = {**settings["trl"], **pilot["base"], **point}
    if trained:
        summary = train_policy(
            method=settings["method"],
            model_path=model,
            train_path=results / "data" / "train.jsonl",
            output_dir=out_root / name / "run",
            seed=pilot["seed"],
            trl_args=trl,
            rredcot_args=settings["rredcot"],
            num_threads=1,
        )
        model = Path(summary["final"])
        metrics = [json.loads(line) for line in (model.parent / "metrics.jsonl").read_text().splitlines()]
    train_s = time.perf_counter() - start
    result = _evaluate(model, out_root / name, results, config["eval"], pilot)
    rewards = [m["reward"] for m in metrics if "reward" in m]
    return {
        "point": name,
        "run": run if trained else "—",
        "prompts_x_completions": f"{trl['per_device_train_batch_size'] // trl['num_generations']}"
        f"x{trl['num_generations']}"
        if trained
        else "—",
        "learning_rate": trl["learning_rate"] if trained else "—",
        "warmup_steps": trl.get("warmup_steps", 0) if trained else "—",
        "max_steps": trl["max_steps"] if trained else "—",
        "validation_avg_at_n": round(result["avg_at_n"], 4),
        "train_reward_first5": round(sum(rewards[:5]) / len(rewards[:5]), 4) if rewards else "—",
        "train_reward_last5": round(sum(rewards[-5:]) / len(rewards[-5:]), 4) if rewards else "—",
        "wall_s": round(train_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    pilot = yaml.safe_load(args.grid.read_text())
    config = layered_config([ROOT / path for path in pilot["configfiles"]])
    out_root = ROOT / config.get("results_root", "results") / config["scale"] / "pilot"
    points = [("base", None), *pilot["points"].items()]
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_point, name, point, config, pilot, out_root) for name, point in points]
        rows = [f.result() for f in futures]
    out = ROOT / "paper_tables" / config["scale"] / "recipe_pilot"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    header = "| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row.values()) + " |\n" for row in rows)
    out.with_suffix(".md").write_text(
        f"RL pilot grid (seed {pilot['seed']}), validation avg@{pilot['eval']['n_samples']}; "
        f"grid: experiments/pilots/{args.grid.name}\n\n" + header + body
    )
    print(header + body)


if __name__ == "__main__":
    main()
