"""The nano architecture on a GPU machine, with random weights: GRPO and RREDCoT steps, memory, one-pass
values, MC rollouts through vLLM, and ZeRO-3 with 2 processes where there are 2 GPUs.

``scripts/gpu_check.sh`` runs this after installing the wheels; it needs no network. The model is
DeepSeek-R1-Distill-Qwen-1.5B's architecture (its ``config.json`` in ``tests/fixtures/models``) with random
bf16 weights on the character tokenizer, whose 102 entries against 151,936 output rows also exercise the
model-sized token table. Settings are ``experiments/nano.yaml``'s, except: HF generation (no vLLM), a few
steps, ``--batch`` completions per step, a reward that varies with the sampled ids (a random policy never
answers correctly, so all advantages would be 0), and fixed-length segments, 40 per completion (a random
policy writes no paragraph breaks). Written to ``--out``, one JSON object: per method the step times
(``step_time`` of TRL's logs, after one untimed warm-up step; the first timed step is left out of the
median too), their medians and ratio, RREDCoT's own seconds per step and share of the step, peak GPU
memory; one-pass vs naive scoring of one 1,024-token completion at 40 boundaries (values, max |Δ|,
seconds); MC rollouts through vLLM on the trained weights (:func:`vllm_rollouts`); and, on a machine with 2
GPUs, two RREDCoT steps of the train stage under ZeRO-3 with 2 processes (:func:`zero3_steps`). A check
that cannot run says why in its entry. ``--shrink`` builds a small two-layer version with 16-token
completions for a CPU run (``tests/test_gpu_check.py``, which also runs the two-process launch with DDP).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
import yaml
from transformers import AutoTokenizer

import rredcot.pipeline.train as train_module
from rredcot.io import read_jsonl, write_jsonl
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data.synthetic import SplitSpec, generate_split
from rredcot.pipeline.tokenizer import build_char_tokenizer
from rredcot.scoring import score_continuations, score_continuations_naive
from rredcot.values import reference_continuations

REPO = Path(__file__).resolve().parents[1]
NANO_CONFIG = REPO / "tests" / "fixtures" / "models" / "deepseek-r1-distill-qwen-1.5b" / "config.json"
# Their versions go into the report: the machine's own stack, or the wheels installed over it.
PACKAGES = ("torch", "transformers", "trl", "datasets", "accelerate", "tokenizers", "huggingface_hub")
# --shrink: two small layers, and 1,024 output rows (still more than the tokenizer's 102).
SHRUNK = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=1024,
)


def varied_reward(completions, completion_ids, **kwargs):
    """Parity of the sampled ids' sum: varied rewards, hence non-zero advantages, for a random policy."""
    return [float(sum(ids) % 2) for ids in completion_ids]


varied_reward.__name__ = "accuracy_reward"


def model_dir(root: Path, shrink: bool) -> Path:
    """config.json of the nano architecture (shrunk: two small layers) and the character tokenizer."""
    config = json.loads(NANO_CONFIG.read_text())
    if shrink:
        config.update(SHRUNK)
    tokenizer = build_char_tokenizer()
    config.update(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    path = root / "model"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config, indent=2))
    tokenizer.save_pretrained(path)
    return path


def settings(shrink: bool, steps: int, batch: int, completion_tokens: int) -> tuple[dict, dict]:
    """nano.yaml's TRL and RREDCoT fields with the check's changes (see the module docstring)."""
    nano = yaml.safe_load((REPO / "experiments" / "nano.yaml").read_text())["train"]
    trl = {
        **nano["trl"],
        "max_steps": steps,
        "per_device_train_batch_size": batch,
        "gradient_accumulation_steps": 1,
        "max_completion_length": completion_tokens,
        "save_steps": steps + 1,  # no checkpoint inside the check
        "use_vllm": False,
        "model_init_kwargs": {"dtype": "float32" if shrink else "bfloat16"},
        "bf16": not shrink,
        "gradient_checkpointing": not shrink,
    }
    trl = {k: v for k, v in trl.items() if not k.startswith("vllm_")}
    segments = 40
    rredcot = {
        **nano["rredcot"],
        "segmentation": {
            "strategy": "fixed",
            "max_segments": segments,
            "keywords": nano["rredcot"]["segmentation"]["keywords"],
            "chunk_size": max(1, completion_tokens // segments),
        },
    }
    return trl, rredcot


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None


def train_steps(method: str, root: Path, model: Path, train: Path, trl: dict, rredcot: dict, device) -> dict:
    """A few steps of one method from random weights: step times, RREDCoT's share, peak memory."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    train_module.train_policy(
        method=method,
        model_path=model,
        train_path=train,
        output_dir=root / method,
        seed=0,
        trl_args=trl,
        rredcot_args=rredcot if method == "rredcot" else None,
        random_init=True,
    )
    rows = read_jsonl(root / method / train_module.METRICS_FILE)
    steps = [row["step_time"] for row in rows]
    timed = steps[1:] or steps
    out = {
        "step_time_s": steps,
        "step_time_median_s": statistics.median(timed),
        "completion_tokens_mean": statistics.mean(row["completions/mean_length"] for row in rows),
        "peak_gpu_gib": peak_gib(device),
        "wall_s": time.perf_counter() - start,
    }
    if method == "rredcot":
        out["rredcot_time_s"] = [row["rredcot/time_s"] for row in rows]
        out["rredcot_share_of_step"] = statistics.median(
            row["rredcot/time_s"] / row["step_time"] for row in rows
        )
        out["active_frac"] = [row["rredcot/active_frac"] for row in rows]
    return out


def one_pass_vs_naive(model_path: Path, completion_tokens: int, device: torch.device, dtype: str) -> dict:
    """One-pass and naive scores of one random completion at 40 boundaries against two references."""
    model, tokenizer = load_model_and_tokenizer(model_path, dtype=dtype, device=device)
    generator = torch.Generator().manual_seed(0)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Start with 3. Add 4."}], add_generation_prompt=True, tokenize=False
    )
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    completion = torch.randint(0, model.config.vocab_size, (completion_tokens,), generator=generator).tolist()
    prefix = prompt + completion
    references = [("Start with 3. Add 4: 3+4=7. ", "7"), ("3 and 4 make 7, so the result is 7. ", "7")]
    conts = reference_continuations(tokenizer, references)
    bounds = sorted({len(prompt) + int(b) for b in np.linspace(0, completion_tokens, 40)})
    timings, results = {}, {}
    for name, fn in (("one_pass", score_continuations), ("naive", score_continuations_naive)):
        for _ in range(2):  # the first call warms up kernels
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            results[name] = fn(model, prefix, bounds, conts)
            if device.type == "cuda":
                torch.cuda.synchronize()
            timings[name] = time.perf_counter() - start
    diff = (results["one_pass"] - results["naive"]).abs()
    return {
        "boundaries": len(bounds),
        "continuation_tokens": [len(c) for c in conts],
        "one_pass_s": timings["one_pass"],
        "naive_s": timings["naive"],
        "naive_over_one_pass": timings["naive"] / timings["one_pass"],
        "max_abs_diff": diff.max().item(),
        "max_rel_diff": (diff / results["naive"].abs()).max().item(),
        "one_pass_logp": results["one_pass"].tolist(),
        "naive_logp": results["naive"].tolist(),
    }


def vllm_rollouts(model_path: Path, completion_tokens: int, device: torch.device) -> dict:
    """MC rollouts through vLLM, as the credit analysis and value sanity sample where their backend is vLLM
    (:func:`rredcot.mc.mc_values_batch` on a :class:`~rredcot.vllm_engine.VLLMPolicy`): one random
    completion, 10 boundaries, 4 samples each, on the trained check model's weights. Skipped, with the
    reason, without a GPU or without vLLM."""
    if device.type != "cuda":
        return {"skipped": "no GPU"}
    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vllm is not installed"}
    from rredcot.end_of_sequence import end_token_ids
    from rredcot.mc import MCRequest, mc_values_batch
    from rredcot.vllm_engine import load_vllm

    policy = load_vllm(model_path, dtype="bfloat16", seed=0, random_init=False, gpu_memory_utilization=0.3)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    generator = torch.Generator().manual_seed(1)
    prompt = tokenizer("Start with 3. Add 4.", add_special_tokens=False)["input_ids"]
    completion = torch.randint(0, len(tokenizer), (completion_tokens,), generator=generator).tolist()
    bounds = sorted({int(b) for b in np.linspace(0, completion_tokens, 10)})
    request = MCRequest(prompt, completion, bounds, reference_answer="7")
    start = time.perf_counter()
    (result,) = mc_values_batch(
        policy, tokenizer, [request], n_samples=4, max_new_tokens=completion_tokens, seed=0
    )
    seconds = time.perf_counter() - start
    return {
        "boundaries": len(bounds),
        "samples_per_boundary": 4,
        "end_ids": sorted(end_token_ids(tokenizer, policy.generation_config)),
        "outcomes_shape": list(result.outcomes.shape),
        "generated_tokens": int(result.generated_tokens),
        "seconds": seconds,
        "tokens_per_s": result.generated_tokens / seconds,
    }


# What each rank runs: the train stage, with the check's varied reward.
TWO_PROCESS_DRIVER = """
import sys
sys.path.insert(0, sys.argv.pop(1))  # scripts/, for gpu_check's reward
import gpu_check
import rredcot.pipeline.train
rredcot.pipeline.train.accuracy_reward = gpu_check.varied_reward
from rredcot.pipeline.stages import main
main(sys.argv[1:])
"""


def zero3_steps(root: Path, model: Path, train: Path, trl: dict, rredcot: dict) -> dict:
    """Two RREDCoT steps with 2 processes under ``experiments/accelerate/zero3.yaml`` (its free port
    included; :func:`two_process_steps`). Skipped, with the reason, below 2 GPUs or without DeepSpeed."""
    gpus = torch.cuda.device_count()
    if gpus < 2:
        return {"skipped": f"{gpus} GPU(s); the ZeRO-3 step needs 2"}
    if importlib.util.find_spec("deepspeed") is None:
        return {"skipped": "deepspeed is not installed"}
    config = REPO / "experiments" / "accelerate" / "zero3.yaml"
    return two_process_steps(root / "zero3", config, model, train, trl, rredcot)


def two_process_steps(
    out: Path, config: Path, model: Path, train: Path, trl: dict, rredcot: dict, timeout_s: float = 180
) -> dict:
    """Two RREDCoT steps under ``accelerate launch --config_file config`` with 2 processes, through the train
    stage as ``train.smk`` runs it: the ranks score different numbers of completions, so a collective that
    one rank skips hangs here, not on the cluster. The launch's return code, wall time and, if it finished,
    the steps' times and the processes its ``machine.json`` records; after ``timeout_s`` both ranks are
    killed and the entry says so."""
    out.mkdir(parents=True)
    driver = out / "driver.py"
    driver.write_text(TWO_PROCESS_DRIVER)
    stage = {
        "settings": {"method": "rredcot", "trl": {**trl, "max_steps": 2}, "rredcot": rredcot},
        "seed": 0, "base": str(model), "random_init": True, "train": str(train),
        "run_dir": str(out / "checkpoints"), "model": str(out / "model"),
        "metrics": str(out / "metrics.jsonl"), "threads": 1,
    }  # fmt: skip
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
        "--num_processes", "2", str(driver), str(Path(__file__).parent), "train", json.dumps(stage),
    ]  # fmt: skip
    start = time.perf_counter()
    # its own session, so that a hang (what this check looks for) is killed with both ranks, freeing the GPUs
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return {"timed_out_s": timeout_s, "output_tail": output[-3000:]}
    result = {"returncode": proc.returncode, "wall_s": time.perf_counter() - start}
    if proc.returncode != 0:
        return {**result, "output_tail": output[-3000:]}
    rows = read_jsonl(out / "metrics.jsonl")
    return {
        **result,
        "steps": [row["step"] for row in rows],
        "step_time_s": [row["step_time"] for row in rows],
        "rredcot_active_frac": [row["rredcot/active_frac"] for row in rows],
        "processes": json.loads((out / "model" / "machine.json").read_text())["processes"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=12, help="completions per step (whole groups)")
    parser.add_argument("--completion-tokens", type=int, default=1024)
    parser.add_argument("--shrink", action="store_true", help="a two-layer model and 16 tokens, for CPU")
    args = parser.parse_args(argv)
    if args.shrink:
        args.completion_tokens = min(args.completion_tokens, 16)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_module.accuracy_reward = varied_reward
    report = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "packages": {name: metadata.version(name) for name in PACKAGES},
        "shrink": args.shrink,
        "completion_tokens": args.completion_tokens,
        "steps": args.steps,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = model_dir(root, args.shrink)
        train = root / "train.jsonl"
        spec = SplitSpec(
            n=64, min_ops=1, max_ops=3, max_operand=9, max_value=50, check_prob=0.3, mistake_prob=0.15
        )
        write_jsonl(train, generate_split("train", spec, seed=0))
        trl, rredcot = settings(args.shrink, args.steps, args.batch, args.completion_tokens)
        # One untimed step first: CUDA's start-up and kernel choice otherwise land in the first method's steps
        # (seen on an H200: GRPO's first two steps took 66 s and 62 s, its third 25 s).
        train_steps("grpo", root / "warmup", model, train, {**trl, "max_steps": 1}, rredcot, device)
        for method in ("grpo", "rredcot"):
            report[method] = train_steps(method, root, model, train, trl, rredcot, device)
            print(json.dumps({method: report[method]}), flush=True)
        report["rredcot_over_grpo_step_time"] = (
            report["rredcot"]["step_time_median_s"] / report["grpo"]["step_time_median_s"]
        )
        dtype = trl["model_init_kwargs"]["dtype"]
        trained = root / "rredcot" / train_module.FINAL_DIR
        report["values"] = one_pass_vs_naive(trained, args.completion_tokens, device, dtype)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))  # what ran so far, whatever the checks below do
        for name, check in (
            ("vllm_rollouts", lambda: vllm_rollouts(trained, args.completion_tokens, device)),
            ("zero3", lambda: zero3_steps(root, model, train, trl, rredcot)),
        ):
            try:
                report[name] = check()
            except Exception as err:  # noqa: BLE001 (a failed check is a result; the others still run)
                report[name] = {"error": f"{type(err).__name__}: {err}"}
            print(json.dumps({name: report[name]}), flush=True)
            args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report["values"].items() if not k.endswith("_logp")}))
    print(f"rredcot / grpo step time: {report['rredcot_over_grpo_step_time']:.2f}; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
