"""avg@n and pass@k of a policy on one benchmark, from n sampled completions per problem.

Each finished problem is appended to a partial JSONL log at once, and a rerun skips the problems already
there: cluster jobs get preempted, and an AIME-sized evaluation at 25k tokens is hours of GPU time. The final
records and the summary are written atomically, and then the partial log is removed, so that a rerun of a
finished evaluation (say of a retrained policy) starts over. HF ``generate`` is the default backend;
``backend="vllm"`` imports vLLM (the optional ``gpu`` extra) only when asked for.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoTokenizer

from rredcot.end_of_sequence import cut_at_end, end_token_ids
from rredcot.io import append_jsonl, remove_resume_state, resume_records, write_json, write_jsonl
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data import prompt_messages
from rredcot.rewards import grade, grading_stats
from rredcot.vllm_engine import load_vllm, sampling_params

BACKENDS = ("hf", "vllm")  # the samplers of evaluation and of the analyses' MC rollouts


@dataclasses.dataclass(frozen=True)
class Completion:
    text: str
    length: int  # generated tokens, the end-of-sequence token included
    truncated: bool  # hit max_new_tokens before the end-of-sequence token


Sampler = Callable[[list[str]], list[list[Completion]]]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021); plain pass@n when k == n."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def summarize(records: Sequence[dict], n_samples: int, pass_k: Sequence[int]) -> dict:
    """Benchmark-level metrics from per-problem records.

    ``grading_timeouts`` counts samples that scored 0 because math-verify timed out, not because they were
    wrong (partial logs written before records carried the count add none).
    """
    if not records:
        raise ValueError("no records to summarize: the benchmark is empty")
    rewards = np.array([r["rewards"] for r in records], dtype=float).reshape(len(records), n_samples)
    correct = (rewards > 0.5).sum(axis=1).tolist()
    return {
        "num_problems": len(records),
        "n_samples": n_samples,
        "avg_at_n": float(rewards.mean()),
        "pass_at_k": {
            str(k): float(np.mean([pass_at_k(n_samples, int(c), k) for c in correct])) for k in pass_k
        },
        "mean_length": float(np.mean([r["lengths"] for r in records])),
        "truncated_frac": float(np.mean([r["truncated"] for r in records])),
        "grading_timeouts": sum(r.get("grading_timeouts", 0) for r in records),
    }


def hf_sampler(
    model, tokenizer, *, n: int, temperature: float, top_p: float, max_new_tokens: int, device: str
) -> Sampler:
    """Batched HF ``generate`` with left padding; temperature 0 means greedy decoding.

    ``top_k=0`` switches off the top-k filter that hub generation configs carry (Qwen3's is 20), so sampling
    follows only the settings passed here, as with vLLM.
    """
    tokenizer.padding_side = "left"
    ends = end_token_ids(tokenizer, model.generation_config)
    sampling = {"temperature": temperature, "top_p": top_p, "top_k": 0} if temperature > 0 else {}

    def sample(prompts: list[str]) -> list[list[Completion]]:
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.no_grad():
            output = model.generate(
                **batch,
                **sampling,
                do_sample=temperature > 0,
                num_return_sequences=n,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=sorted(ends),
            )
        completions = []
        for tokens in output[:, batch["input_ids"].shape[1] :].tolist():
            kept, ended = cut_at_end(tokens, ends)
            text = tokenizer.decode(kept, skip_special_tokens=False)
            completions.append(Completion(text, len(kept) + ended, not ended))
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    return sample


def vllm_sampler(
    model_path: str | os.PathLike,
    tokenizer,
    *,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    dtype: str,
    seed: int,
    random_init: bool,
) -> Sampler:
    """vLLM generation from the shared engine (:mod:`rredcot.vllm_engine`), stopping on the end ids of
    :mod:`rredcot.end_of_sequence`."""
    policy = load_vllm(model_path, dtype=dtype, seed=seed, random_init=random_init)
    ends = end_token_ids(tokenizer, policy.generation_config)
    params = sampling_params(ends, n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)

    def sample(prompts: list[str]) -> list[list[Completion]]:
        outputs = policy.llm.generate(prompts, params, use_tqdm=False)
        return [
            [Completion(o.text, len(o.token_ids), o.finish_reason == "length") for o in out.outputs]
            for out in outputs
        ]

    return sample


def _finished_records(partial_path: Path, ids: set[str], n_samples: int) -> dict[str, dict]:
    """Records of a previous, interrupted run with as many samples per problem."""

    def settings_differ(record: dict) -> str | None:
        samples = len(record.get("rewards", []))
        return f"{samples} samples, expected {n_samples}" if samples != n_samples else None

    return resume_records(partial_path, ids, settings_differ)


def evaluate(
    model_path: str | os.PathLike,
    rows: Sequence[dict],
    *,
    benchmark: str,
    n_samples: int,
    pass_k: Sequence[int],
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    partial_path: str | os.PathLike,
    records_path: str | os.PathLike,
    summary_path: str | os.PathLike,
    backend: str = "hf",
    dtype: str = "float32",
    device: str = "cpu",
    random_init: bool = False,
) -> dict:
    """Sample ``n_samples`` completions per problem, ``batch_size`` problems per call, and grade them.

    Returns the summary that is also written to ``summary_path``; per-problem records (id, rewards, lengths,
    truncated flags, grading timeouts) go to ``records_path`` in benchmark order.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if any(not 1 <= k <= n_samples for k in pass_k):
        raise ValueError(f"every pass_k must lie in [1, n_samples={n_samples}], got {list(pass_k)}")
    ids = [row["id"] for row in rows]
    if len(set(ids)) != len(ids):
        raise ValueError(f"benchmark {benchmark!r} has duplicate problem ids")
    partial_path = Path(partial_path)
    finished = _finished_records(partial_path, set(ids), n_samples)
    pending = [row for row in rows if row["id"] not in finished]

    if pending:
        torch.manual_seed(seed)
        settings = dict(n=n_samples, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        if backend == "vllm":
            tokenizer = AutoTokenizer.from_pretrained(model_path)
            sample = vllm_sampler(
                model_path, tokenizer, **settings, dtype=dtype, seed=seed, random_init=random_init
            )
        else:
            model, tokenizer = load_model_and_tokenizer(
                model_path, dtype=dtype, device=device, random_init=random_init
            )
            sample = hf_sampler(model, tokenizer, **settings, device=device)
        progress = tqdm(total=len(rows), initial=len(finished), desc=f"evaluate {benchmark}", unit="problem")
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            prompts = [
                tokenizer.apply_chat_template(
                    prompt_messages(row["problem"]), add_generation_prompt=True, tokenize=False
                )
                for row in batch
            ]
            for row, completions in zip(batch, sample(prompts), strict=True):
                timeouts = grading_stats()["timed_out"]
                rewards = [grade(c.text, row["answer"]) for c in completions]
                record = {
                    "id": row["id"],
                    "rewards": rewards,
                    "lengths": [c.length for c in completions],
                    "truncated": [c.truncated for c in completions],
                    "grading_timeouts": grading_stats()["timed_out"] - timeouts,
                }
                append_jsonl(partial_path, record)
                finished[row["id"]] = record
            progress.update(len(batch))
        progress.close()

    records = [finished[i] for i in ids]
    summary = {
        "benchmark": benchmark,
        **summarize(records, n_samples, pass_k),
        "settings": {
            "model": str(model_path),
            "random_init": random_init,
            "backend": backend,
            "temperature": temperature,
            "top_p": top_p,
            "max_new_tokens": max_new_tokens,
            "seed": seed,
        },
    }
    write_jsonl(records_path, records)
    write_json(summary_path, summary)
    remove_resume_state(partial_path)
    return summary
