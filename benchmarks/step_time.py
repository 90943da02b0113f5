"""Benchmark: a GRPO step against an RREDCoT step on the same generations and the same model (issue 6).

For each repeat r the policy is reset to the base weights and the RNG to seed r, then one training step of
each method runs on the same prompts (``per_device_train_batch_size / num_generations`` training rows, each
repeated ``num_generations`` times, as TRL's sampler does). Same weights + same seed → the same sampled
completions, so the two steps differ only in what RREDCoT adds. A step is TRL's ``training_step``:
generation, rewards and advantages, the no-grad passes, RREDCoT's additions, the loss forward and the
backward (the optimizer update, identical for both, is left out). Repeat 0 is a warm-up, not reported.
Each step is split into:

- ``generation``: ``_generate`` (sampling the completions; also gives generated tokens/s);
- ``logprob_pass``: TRL's no-grad log-prob forwards (old/ref policy), when its settings need them;
- RREDCoT's addition: ``trace_pass`` (the no-grad forward over the traces that fills the KV cache, and the
  entropies from its hidden states), ``segmentation``, ``value_scoring`` (the reference continuations
  against the cache) and ``sigma_rest`` (σ, the advantages, statistics);
- ``loss_forward`` and ``backward``;
- ``other``: the rest of TRL's batch preparation (rewards, advantages, tokenisation, bookkeeping).

Peak memory of a step: on CPU the rise of the process's peak RSS (``VmHWM``, reset before the step through
``/proc/self/clear_refs``) over its RSS at the step's start; on GPU ``torch.cuda.max_memory_allocated``.
Prints min and median over the repeats; ``--csv`` appends them to ``paper_tables/<scale>/compute_cost.csv``
(see ``cost_log.py``); ``--profile`` prints a torch.profiler table of one RREDCoT step.

    .venv/bin/python benchmarks/step_time.py --model results/tiny/base_model --repeats 6 \
        --csv paper_tables/tiny/compute_cost.csv
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from statistics import median

import torch
import transformers
import yaml
from cost_log import append_rows, load_at_start

import rredcot.scoring
import rredcot.trainer
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data.synthetic import load_split
from rredcot.pipeline.settings import run_settings
from rredcot.pipeline.train import _config, deterministic_cpu, make_trainer, rl_dataset
from rredcot.trainer import RREDCoTTrainer

COMPONENTS = (
    "generation", "logprob_pass", "trace_pass", "segmentation", "value_scoring", "sigma_rest", "loss_forward",
    "backward", "other",
)  # fmt: skip
RREDCOT_PARTS = ("trace_pass", "segmentation", "value_scoring")
QUANTITIES = (*COMPONENTS, "total", "peak_mem_mib", "generation_tokens_per_s")
METHODS = ("grpo", "rredcot")


class Clock:
    """Wall seconds per name, accumulated by wrapping a trainer's methods on the instance."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, obj, method: str, name: str, only_no_grad: bool = False) -> None:
        original = getattr(obj, method)

        def timed(*args, **kwargs):
            if only_no_grad and torch.is_grad_enabled():
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        setattr(obj, method, timed)


def build_trainer(method: str, config: dict, model, tokenizer, dataset, output_dir: str):
    settings = run_settings(config["train"], method, 0, config["scale"])
    args = _config(method, Path(output_dir) / method, 0, settings["trl"], settings["rredcot"])
    trainer = make_trainer(method, args, model, tokenizer, dataset)
    trainer.current_gradient_accumulation_steps = args.gradient_accumulation_steps  # set by train() otherwise
    clock = Clock()
    clock.wrap(trainer, "_prepare_inputs", "prepare")
    clock.wrap(trainer, "_generate", "generation")
    clock.wrap(trainer, "_get_per_token_logps_and_entropies", "trl_logprob_pass", only_no_grad=True)
    clock.wrap(trainer, "compute_loss", "loss_forward")
    return trainer, clock


def instrument_rredcot(clock: Clock) -> None:
    """Time RREDCoT's parts through the module functions its trainer calls."""
    clock.wrap(rredcot.scoring, "_prefix_cache", "trace_pass")
    clock.wrap(rredcot.scoring, "_entropies", "trace_pass")
    clock.wrap(rredcot.trainer, "segment_completion", "segmentation")
    clock.wrap(rredcot.scoring, "_score_pairs", "value_scoring")


def one_step(trainer, clock: Clock, batch: list[dict], seed: int, base_state: dict) -> dict[str, float]:
    """One training step on ``batch`` from the base weights: seconds per component, peak memory, tokens."""
    trainer.model.load_state_dict(base_state)
    trainer.model.zero_grad(set_to_none=True)
    trainer._buffered_inputs, trainer._step = None, 0
    transformers.set_seed(seed)
    clock.seconds.clear()
    device = trainer.accelerator.device
    rss_at_start = reset_peak_memory(device)
    start = time.perf_counter()
    trainer.training_step(trainer.model, batch, num_items_in_batch=None)
    total = time.perf_counter() - start
    peak = read_peak_memory(device) - rss_at_start
    s = clock.seconds
    metrics = trainer._metrics["train"]
    added = metrics["rredcot/time_s"][-1] if isinstance(trainer, RREDCoTTrainer) else 0.0
    out = {
        "generation": s["generation"],
        "logprob_pass": s["trl_logprob_pass"],
        **{part: s[part] for part in RREDCOT_PARTS},
        "sigma_rest": added - sum(s[part] for part in RREDCOT_PARTS) if added else 0.0,
        "loss_forward": s["loss_forward"],
        "backward": total - s["prepare"] - s["loss_forward"],
        "other": s["prepare"] - s["generation"] - s["trl_logprob_pass"] - added,
        "total": total,
        "peak_mem_mib": peak,
    }
    tokens = metrics["completions/mean_length"][-1] * len(batch)
    out["generation_tokens_per_s"] = tokens / s["generation"]
    out["completion_tokens"] = tokens
    return out


def reset_peak_memory(device: torch.device) -> float:
    """Reset the peak-memory counter; the baseline (MiB) a step's peak is measured from."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return 0.0
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    return _proc_status_mib("VmRSS")


def read_peak_memory(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() / 2**20
    return _proc_status_mib("VmHWM")


def _proc_status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field} field")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=Path("experiments/tiny.yaml"))
    parser.add_argument(
        "--model",
        required=True,
        help="the base policy (a trained one: a random model's "
        "groups all score 0, so RREDCoT would have nothing to redistribute)",
    )
    parser.add_argument(
        "--train", type=Path, help="training rows (default: results/<scale>/data/train.jsonl)"
    )
    parser.add_argument("--random-init", action="store_true", help="the model's architecture, random weights")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=6, help="measured steps per method, after a warm-up")
    parser.add_argument("--profile", action="store_true", help="torch.profiler table of one RREDCoT step")
    parser.add_argument("--csv", type=Path, help="append the results to this compute_cost.csv")
    args = parser.parse_args(argv)
    load = load_at_start()

    config = yaml.safe_load(args.config.read_text())
    train_path = args.train or Path(f"results/{config['scale']}/data/train.jsonl")
    torch.set_num_threads(args.threads)
    if not torch.cuda.is_available():
        deterministic_cpu()  # as a training run does
    model, tokenizer = load_model_and_tokenizer(
        args.model,
        dtype="float32",
        device="cuda" if torch.cuda.is_available() else "cpu",
        random_init=args.random_init,
    )
    base_state = copy.deepcopy(model.state_dict())
    dataset = rl_dataset(load_split(train_path))
    trl_args = config["train"]["trl"]
    per_step = trl_args["per_device_train_batch_size"] // trl_args["num_generations"]

    with tempfile.TemporaryDirectory() as tmp:
        trainers = {m: build_trainer(m, config, model, tokenizer, dataset, tmp) for m in METHODS}
        instrument_rredcot(trainers["rredcot"][1])
        results: dict[str, list[dict]] = {m: [] for m in METHODS}
        for repeat in range(args.repeats + 1):
            prompts = [dataset[i] for i in range(repeat * per_step, (repeat + 1) * per_step)]
            batch = [row for row in prompts for _ in range(trl_args["num_generations"])]
            for method in METHODS:
                out = one_step(*trainers[method], batch, seed=repeat, base_state=base_state)
                if repeat:
                    results[method].append(out)
                print(f"repeat {repeat} {method}: {out['total']:.2f} s", file=sys.stderr)
        if args.profile:
            profile_step(*trainers["rredcot"], batch, base_state)

    n_params = sum(p.numel() for p in model.parameters())
    table = report(results)
    print(
        f"\n{args.model} ({n_params / 1e6:.2f}M params), {args.threads} thread(s), {args.repeats} repeats, "
        f"load average at start {load:.2f}\n"
    )
    print(table)
    if args.csv:
        rows = [
            (f"method={m}", q, min(r[q] for r in results[m]), median(r[q] for r in results[m]), args.repeats)
            for m in METHODS
            for q in QUANTITIES
        ]
        ratio = step_time_ratios(results)
        rows.append(("rredcot/grpo", "step_time_ratio", min(ratio), median(ratio), args.repeats))
        append_rows(
            args.csv,
            "step_time",
            rows,
            model=str(args.model),
            params=n_params,
            threads=args.threads,
            load=load,
        )
    return 0


def report(results: dict[str, list[dict]]) -> str:
    lines = [f"{'component':<24}" + "".join(f"{m + ' min':>14}{m + ' med':>14}" for m in METHODS)]
    for q in (*QUANTITIES, "completion_tokens"):
        cells = "".join(
            f"{min(r[q] for r in results[m]):>14.3f}{median(r[q] for r in results[m]):>14.3f}"
            for m in METHODS
        )
        lines.append(f"{q:<24}{cells}")
    ratio = sorted(step_time_ratios(results))
    lines.append(f"\nstep time RREDCoT / GRPO, per repeat: {', '.join(f'{r:.3f}' for r in ratio)}")
    lines.append(f"median {median(ratio):.3f}")
    return "\n".join(lines)


def step_time_ratios(results: dict[str, list[dict]]) -> list[float]:
    """RREDCoT / GRPO step time of each repeat (the two steps of a repeat share generations)."""
    return [a["total"] / b["total"] for a, b in zip(results["rredcot"], results["grpo"], strict=True)]


def profile_step(trainer, clock, batch, base_state) -> None:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        one_step(trainer, clock, batch, seed=0, base_state=base_state)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=25))


if __name__ == "__main__":
    sys.exit(main())
