"""The pipeline stages, one function per kind of rule, called with the rule's named inputs, named outputs and
params by name (the artifact rules call :mod:`rredcot.artifacts.make` the same way).

A rule runs ``python -m rredcot.pipeline.stages <stage> '<JSON>'`` (``experiments/rules/common.smk``:
``stage_params``), the JSON object holding those names and the job's ``threads`` (torch's CPU threads, set
here for every stage): a command line because
``accelerate launch`` and SLURM need one, but no flag table, so a value is named once, in the rule, under the
keyword it fills. The Snakefile has already validated the whole config against experiments/schema.yaml.
Every stage writes its declared outputs atomically.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rredcot.io import atomic_dir, atomic_path, remove_resume_state


def prepare_data(
    *, data: Mapping[str, Any], train: str, validation: str | list, benchmarks: list[str]
) -> None:
    """Write the training set, the validation split (synthetic data) and every evaluation benchmark in the
    common schema, each to its output path; a benchmark's name is its file's stem."""
    paths = {Path(path).stem: Path(path) for path in benchmarks}
    if data["kind"] == "synthetic":
        from rredcot.pipeline.data.synthetic import VALIDATION, generate_splits, write_split

        spec = data["synthetic"]
        if set(spec["benchmarks"]) != set(paths):
            raise ValueError(
                f"data.synthetic.benchmarks {sorted(spec['benchmarks'])}"
                f" must equal eval.benchmarks {sorted(paths)}"
            )
        # The validation split (recipe choices, never the test splits) is held out like a benchmark.
        held_out = {**spec["benchmarks"], VALIDATION: spec[VALIDATION]}
        splits = generate_splits(spec["train"], held_out, seed=data["seed"])
        paths.update({"train": Path(train), VALIDATION: Path(validation)})
        for name, rows in splits.items():
            write_split(paths[name], rows)
            print(f"{name}: {len(rows)} problems")
        return

    from rredcot.pipeline.data.hub import load_hub_dataset, write_rows

    hub = data["hub"]
    local_files = hub.get("data_files") or {}
    if set(hub["benchmarks"]) != set(paths):
        raise ValueError(
            f"data.hub.benchmarks {hub['benchmarks']} must equal eval.benchmarks {sorted(paths)}"
        )
    for split, name in [("train", hub["train"]), *((name, name) for name in hub["benchmarks"])]:
        result = load_hub_dataset(name, hub["datasets"][name], data_files=local_files.get(name))
        rows = result.rows
        if split == "train" and hub.get("train_limit") is not None:
            rows = rows[: hub["train_limit"]]
        write_rows(Path(train) if split == "train" else paths[split], rows)
        print(f"{split} ({name}): {len(rows)} rows, {len(result.dropped)} dropped")
        for message in result.dropped:
            print(f"  dropped: {message}")


def sft(*, base: Mapping[str, Any], train: str, seed: int, model: str) -> None:
    """Build and supervised-fine-tune the tiny base model."""
    from rredcot.pipeline.base_model import train_base_model
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.machine import write_machine

    summary = train_base_model(model, load_split(train), base["architecture"], base["sft"], seed=seed)
    write_machine(model)  # after training: torch's thread count is the run's
    print(json.dumps(summary))


def train(
    *,
    settings: Mapping[str, Any],
    seed: int,
    base: str,
    random_init: bool,
    train: str,
    run_dir: str,
    model: str,
    metrics: str,
) -> None:
    """One RL run of the base policy with the settings :func:`rredcot.pipeline.settings.run_settings`
    composed, unchanged; checkpoints stay in ``run_dir`` while the run is unfinished, the finished model and
    log go to the outputs, and then ``run_dir`` is removed (:func:`rredcot.io.remove_resume_state`).

    Under ``accelerate launch`` every process runs this; the main one copies, the others wait for it.
    """
    from accelerate import PartialState

    from rredcot.pipeline.machine import write_machine
    from rredcot.pipeline.train import train_policy

    summary = train_policy(
        method=settings["method"],
        model_path=base,
        train_path=train,
        output_dir=run_dir,
        seed=seed,
        trl_args=settings["trl"],
        rredcot_args=settings["rredcot"],
        random_init=random_init,
    )
    state = PartialState()
    if state.is_main_process:
        with atomic_dir(model) as staging:
            shutil.copytree(summary["final"], staging)
            write_machine(staging)
        with atomic_path(metrics) as tmp:
            shutil.copyfile(Path(run_dir) / "metrics.jsonl", tmp)
        print(json.dumps({k: str(v) for k, v in summary.items()}))
    state.wait_for_everyone()
    if state.is_main_process:
        remove_resume_state(run_dir)


def evaluate(
    *,
    settings: Mapping[str, Any],
    model: str,
    random_init: bool,
    benchmark: str,
    partial: str,
    seed: int,
    summary: str,
    records: str,
) -> None:
    """avg@n / pass@k of one policy on one benchmark (``settings``: eval's sampling, the benchmark's own)."""
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.evaluate import evaluate as run_evaluation

    result = run_evaluation(
        model,
        load_split(benchmark),
        benchmark=Path(benchmark).stem,
        n_samples=settings["benchmark"]["n_samples"],
        pass_k=settings["benchmark"]["pass_k"],
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        max_new_tokens=settings["max_new_tokens"],
        batch_size=settings["batch_size"],
        seed=seed,
        partial_path=partial,
        records_path=records,
        summary_path=summary,
        backend=settings["backend"],
        dtype=settings["dtype"],
        device=settings["device"],
        random_init=random_init,
    )
    print(json.dumps(result))


def _analysis_settings(analysis: Mapping[str, Any], n_mc_samples: int) -> dict:
    """Keyword arguments shared by both analyses: sampling, value options, model loading."""
    from rredcot.pipeline.analysis import Sampling, ValueOptions

    return {
        "n_mc_samples": n_mc_samples,
        "sampling": Sampling.from_config(analysis),
        "value_options": ValueOptions.from_config(analysis["value_options"]),
        "dtype": analysis["dtype"],
        "device": analysis["device"],
    }


def analyze_credit(
    *,
    analysis: Mapping[str, Any],
    model: str,
    random_init: bool,
    benchmark: str,
    partial: str,
    seed: int,
    credit: str,
    draws: str,
) -> None:
    """MC values, RREDCoT values of each estimator variant and attributions of sampled traces, stratified by
    correctness (Fig. 3/4/7)."""
    from rredcot.pipeline.analysis import analyze_credit as run_analysis
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.segmentation import Segmentation

    records = run_analysis(
        model,
        load_split(benchmark),
        segmentation=Segmentation.from_config(analysis["segmentation"], where="analysis.segmentation"),
        estimators=analysis["estimators"],
        attribution_estimator=analysis["attribution_estimator"],
        seed=seed,
        partial_path=partial,
        out_path=credit,
        draws_path=draws,
        random_init=random_init,
        n_traces=analysis["n_traces"],
        min_incorrect_share=analysis["min_incorrect_share"],
        min_correct_share=analysis["min_correct_share"],
        **_analysis_settings(analysis, analysis["n_mc_samples"]),
    )
    print(json.dumps({"traces": len(records), "correct": sum(r["correct"] for r in records)}))


def value_sanity(
    *,
    settings: Mapping[str, Any],
    model: str,
    random_init: bool,
    benchmark: str,
    seed: int,
    sanity: str,
) -> None:
    """Estimator vs MC values at the base policy's own states and corrupted twins (value sanity);
    ``settings`` are the analysis's keyword arguments, ``options`` its value options."""
    from rredcot.pipeline.analysis import ValueOptions
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.pipeline.value_sanity import analyze_value_sanity

    settings = dict(settings)
    summary = analyze_value_sanity(
        model,
        load_split(benchmark),
        value_options=ValueOptions.from_config(settings.pop("options")),
        out_path=sanity,
        seed=seed,
        random_init=random_init,
        **settings,
    )
    print(json.dumps(summary["estimators"]))


def analyze_segmentation(
    *,
    analysis: Mapping[str, Any],
    model: str,
    random_init: bool,
    benchmark: str,
    draws: str,
    partial_dir: str,
    seed: int,
    variants: list[str],
) -> None:
    """Segmentation ablation: MC and default-estimator values at each segmentation variant's boundaries, on
    the credit analysis's accepted traces (its ``draws``); one output per variant, named by its stem."""
    from rredcot.io import read_jsonl
    from rredcot.pipeline.analysis import analyze_segmentations
    from rredcot.pipeline.data.synthetic import load_split
    from rredcot.segmentation import Segmentation

    out_paths = {Path(path).stem: Path(path) for path in variants}
    if set(out_paths) != set(analysis["segmentation_variants"]):
        raise ValueError(
            f"outputs {sorted(out_paths)} must be analysis.segmentation_variants"
            f" {sorted(analysis['segmentation_variants'])}"
        )
    results = analyze_segmentations(
        model,
        load_split(benchmark),
        ids=[draw["id"] for draw in read_jsonl(draws) if draw["accepted"]],
        segmentation=Segmentation.from_config(analysis["segmentation"], where="analysis.segmentation"),
        variants=analysis["segmentation_variants"],
        estimator=analysis["ablation_estimator"],
        seed=seed,
        partial_dir=partial_dir,
        out_paths=out_paths,
        random_init=random_init,
        **_analysis_settings(analysis, analysis["n_mc_samples_ablation"]),
    )
    print(json.dumps({name: len(records) for name, records in results.items()}))


STAGES = {
    stage.__name__: stage
    for stage in (prepare_data, sft, train, evaluate, analyze_credit, value_sanity, analyze_segmentation)
}


def main(argv: list[str] | None = None) -> None:
    """``<stage> '<JSON of its keyword arguments>'``: run one stage (``argv``: the command line's)."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(argv) != 2 or argv[0] not in STAGES:
        raise SystemExit(f"usage: python -m rredcot.pipeline.stages {{{','.join(STAGES)}}} '<JSON>'")
    stage, kwargs = STAGES[argv[0]], json.loads(argv[1])
    import torch

    torch.set_num_threads(kwargs.pop("threads"))
    # Provenance in every rule's log: which cluster job (if any) ran this stage.
    logging.getLogger("rredcot").info("%s: SLURM_JOB_ID=%s", argv[0], os.environ.get("SLURM_JOB_ID", "none"))
    stage(**kwargs)


if __name__ == "__main__":
    main()
