"""Monte Carlo values: the expensive, unbiased reference for RREDCoT's estimator (Fig. 3, 4, 7).

The value of the state at boundary b is the probability that the policy, continuing from prompt +
completion[:b], ends with a correct answer. It is estimated from ``n_samples`` sampled continuations per
boundary, all boundaries and samples generated together: in left-padded batches of HF ``generate``, or by vLLM
where the analyses' backend is vLLM.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import torch
from tqdm.auto import tqdm

from rredcot.end_of_sequence import cut_at_end, end_token_ids
from rredcot.vllm_engine import VLLMPolicy, sampling_params


@dataclass(frozen=True)
class MCResult:
    """``outcomes[k, j]`` is the 0/1 grade of sample j from boundary k; ``means`` their per-boundary mean."""

    outcomes: np.ndarray
    means: np.ndarray
    generated_tokens: int


@dataclass(frozen=True)
class MCRequest:
    """One completion whose boundary states (completion prefix lengths, 0 = prompt only) need MC values."""

    prompt_ids: Sequence[int]
    completion_ids: Sequence[int]
    boundaries: Sequence[int]
    reference_answer: str


def mc_values(
    model,
    tokenizer,
    prompt_ids: Sequence[int],
    completion_ids: Sequence[int],
    boundaries: Sequence[int],
    reference_answer: str,
    **options,
) -> MCResult:
    """MC values at the boundaries of one completion: :func:`mc_values_batch` of one request."""
    request = MCRequest(prompt_ids, completion_ids, boundaries, reference_answer)
    return mc_values_batch(model, tokenizer, [request], **options)[0]


def mc_values_batch(
    model,
    tokenizer,
    requests: Sequence[MCRequest],
    *,
    n_samples: int = 5,
    temperature: float = 1.0,
    max_new_tokens: int = 256,
    batch_size: int = 64,
    grade_fn: Callable[[str, str], float] | None = None,
    seed: int = 0,
    progress: str | None = None,
) -> list[MCResult]:
    """MC values of every boundary of every request, all rollouts generated together.

    ``model`` is the policy: an HF causal LM, sampled with ``generate`` in left-padded batches of
    ``batch_size`` rows, or a :class:`~rredcot.vllm_engine.VLLMPolicy`, given the states of one request per
    call, token ids in, and batching them itself; both stop on the end ids of
    :mod:`rredcot.end_of_sequence`. Sampling is plain ancestral sampling at ``temperature`` (no top-k /
    top-p), so the estimate is of the policy's own value. A sample is graded on the completed completion,
    ``completion[:b]`` + the continuation up to its first end id, decoded without special tokens: exactly
    what the reward function would see had the policy produced it, so an answer already in the prefix counts
    unless the continuation gives another. A state that several requests share (a group's prompt-only
    state, a common first line) is sampled once and its outcomes are given to each; ``generated_tokens`` of
    a request counts the rollouts of the states it met first (HF: each batch's generated width, padding
    included, as generate computes it; vLLM: each sample's own tokens). ``progress`` names a progress bar
    over the generation calls (none by default: the trainer calls this every step).
    """
    if grade_fn is None:
        from rredcot.rewards import grade as grade_fn
    if n_samples < 1 or batch_size < 1 or max_new_tokens < 1 or not temperature > 0:
        raise ValueError("n_samples, batch_size, max_new_tokens must be >= 1 and temperature > 0")
    states: dict[tuple, int] = {}  # (prompt + completion[:b], answer) → index of its first occurrence
    firsts, owners = [], []  # the distinct states (request, b), and each request's state indices
    for k, request in enumerate(requests):
        bounds = [int(b) for b in request.boundaries]
        n = len(request.completion_ids)
        if not bounds or any(b < 0 or b > n for b in bounds):
            raise ValueError(f"request {k}: boundaries must be non-empty and lie in [0, {n}], got {bounds}")
        if not request.prompt_ids:
            raise ValueError(f"request {k}: MC values need a non-empty prompt")
        owner = []
        for b in bounds:
            key = (*request.prompt_ids, *request.completion_ids[:b], None, request.reference_answer)
            if key not in states:
                states[key] = len(firsts)
                firsts.append((k, b))
            owner.append(states[key])
        owners.append(owner)

    heads = [[int(t) for t in requests[k].completion_ids[:b]] for k, b in firsts]
    prefixes = [
        [*map(int, requests[k].prompt_ids), *head] for (k, _), head in zip(firsts, heads, strict=True)
    ]
    ends = end_token_ids(tokenizer, model.generation_config)
    sampling = dict(n_samples=n_samples, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
    if isinstance(model, VLLMPolicy):
        # A request's first-met states are consecutive: one call each, states in order as with HF.
        calls = [list(group) for _, group in groupby(range(len(firsts)), key=lambda s: firsts[s][0])]
        rollouts, n_calls = _vllm_rollouts(model, prefixes, ends, calls, **sampling), len(calls)
    else:
        rollouts = _hf_rollouts(model, tokenizer.pad_token_id, prefixes, ends, batch_size, **sampling)
        n_calls = -(-len(firsts) * n_samples // batch_size)
    grades, tokens = [], np.zeros(len(firsts), dtype=np.int64)
    for rows, continuations, generated in (
        tqdm(rollouts, desc=progress, unit="call", total=n_calls) if progress else rollouts
    ):
        texts = tokenizer.batch_decode(
            [heads[s] + cut_at_end(cont, ends)[0] for s, cont in zip(rows, continuations, strict=True)],
            skip_special_tokens=True,
        )
        grades += [
            float(grade_fn(text, requests[firsts[s][0]].reference_answer))
            for s, text in zip(rows, texts, strict=True)
        ]
        np.add.at(tokens, rows, generated)
    by_state = np.asarray(grades).reshape(len(firsts), n_samples)
    results, counted = [], set()
    for owner in owners:
        outcomes = by_state[owner]
        new = [s for s in dict.fromkeys(owner) if s not in counted]
        counted.update(new)
        results.append(MCResult(outcomes, outcomes.mean(axis=1), int(tokens[new].sum())))
    return results


def _hf_rollouts(model, pad_id, prefixes, ends, batch_size, *, n_samples, temperature, max_new_tokens, seed):
    """``n_samples`` rows per state, state after state, in left-padded ``generate`` batches: per batch its
    states, their continuations and the batch's generated width."""
    rows = [state for state in range(len(prefixes)) for _ in range(n_samples)]
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode():
        torch.manual_seed(seed)
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            ids, mask = _left_pad([prefixes[s] for s in chunk], pad_id, device)
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=True,
                temperature=temperature,
                top_k=0,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                pad_token_id=pad_id,
                eos_token_id=sorted(ends),
            )[:, ids.shape[1] :]
            yield chunk, out.tolist(), out.shape[1]


def _vllm_rollouts(policy, prefixes, ends, calls, *, n_samples, temperature, max_new_tokens, seed):
    """One vLLM call per list of states in ``calls``, ``n_samples`` samples of each: per call its rows, their
    continuations and each one's generated tokens. State s is seeded with ``seed + s·n_samples``, so that
    every rollout has its own seed and none depends on what vLLM batches it with."""
    for call in calls:
        params = [
            sampling_params(
                ends,
                n=n_samples,
                temperature=temperature,
                top_p=1.0,
                max_new_tokens=max_new_tokens,
                seed=seed + s * n_samples,
            )
            for s in call
        ]
        outputs = policy.llm.generate(
            [{"prompt_token_ids": prefixes[s]} for s in call], params, use_tqdm=False
        )
        continuations = [[list(o.token_ids) for o in out.outputs] for out in outputs]
        rows = [s for s, samples in zip(call, continuations, strict=True) for _ in samples]
        flat = [tokens for samples in continuations for tokens in samples]
        yield rows, flat, [len(tokens) for tokens in flat]


def _left_pad(sequences: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    return ids.to(device), mask.to(device)


def bootstrap_sd(
    outcomes: np.ndarray,
    n_resamples: int = 1000,
    sample_sizes: Sequence[int] = (1, 2, 5, 10, 20),
    seed: int = 0,
) -> np.ndarray:
    """(n_boundaries, len(sample_sizes)) standard deviation of the MC mean of ``s`` outcomes per boundary,
    resampling the observed outcomes with replacement (Fig. 7: how many rollouts a stable value needs)."""
    outcomes = np.asarray(outcomes, dtype=np.float64)
    if outcomes.ndim != 2 or outcomes.shape[1] == 0:
        raise ValueError(f"outcomes must be (n_boundaries, n_samples >= 1), got shape {outcomes.shape}")
    if n_resamples < 2 or any(int(s) < 1 for s in sample_sizes):
        raise ValueError("n_resamples must be >= 2 and every sample size >= 1")
    rng = np.random.default_rng(seed)
    n_b, n = outcomes.shape
    sds = np.empty((n_b, len(sample_sizes)))
    for col, size in enumerate(sample_sizes):
        picks = rng.integers(0, n, size=(n_b, n_resamples, int(size)))
        sds[:, col] = outcomes[np.arange(n_b)[:, None, None], picks].mean(axis=2).std(axis=1, ddof=1)
    return sds
