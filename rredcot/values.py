r"""Values at segment boundaries from the policy's own scoring of reference continuations (PAPER.md §3).

For a state s = prompt + completion[:b] and reference pairs (u, y), the importance-sampling estimate is
``v̂(s) = (1/N) Σ p(end_of_thinking + u + answer_template(y) | s)`` (ζ(y) = 1 for a reference pair). No
generation: every value is a sum of log-probabilities of known tokens.

Scoring reuses the trace's prefix. One forward over the trace fills a KV cache; then every (boundary,
continuation) pair is a row of a batched forward over the continuation alone, attending to the cached prefix
through a 4D mask that hides cache positions at or past its boundary, with explicit position ids. A pair costs
its continuation's tokens, not its prefix's; :func:`score_continuations_naive` (one full forward per pair) is
the test oracle. :func:`segment_and_estimate` also takes the policy's token entropies from that same forward,
so a trainer that segments by entropy needs no pass of its own for them. Supported: causal LMs with ``sdpa``
or ``eager`` attention and full (not sliding) attention layers, whose forward takes ``past_key_values``,
``position_ids`` and a 4D ``attention_mask``, and whose logits are ``get_output_embeddings()`` of the
decoder's last hidden state (the Llama/Qwen family in ``transformers`` 5).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from rredcot.rewards import extract_boxed

# "self" scores the other correct completions of a completion's group; "self_inclusive" also its own, which
# measures how well the model copies its own later text (an ablation, not a value).
SELF_ESTIMATORS = ("self", "self_inclusive")
ESTIMATORS = ("reference", "answer_only", *SELF_ESTIMATORS)
SPACES = ("log", "linear")
# Budget of one scoring forward in token slots (rows × (cached + new tokens)); bounds activations, the KV
# copy and the logits. Small batches also keep each batch's cache length close to its rows' own cuts: on 2 CPU
# cores 2k–8k slots ran fastest for the tiny model (benchmarks/value_scoring.py).
DEFAULT_MAX_TOKENS = 8192
# Budget of one chunk of logits in elements (256 MiB in fp32), whatever the vocabulary: scoring never holds
# rows × width × V logits, only chunks of rows (and, past the budget, of the vocabulary) through lm_head.
DEFAULT_MAX_LOGITS = 2**26


def reference_continuations(
    tokenizer,
    references: Sequence[tuple[str, str]],
    *,
    end_of_thinking: str = "</think>",
    answer_template: str = "\\boxed{{{answer}}}",
) -> list[list[int]]:
    """Token ids of ``end_of_thinking + u``, plus ``answer_template(y)`` when u does not already end in a
    ``\\boxed{}``, for each reference pair (u, y).

    A worked solution (NuminaMath-CoT's ``solution``, the synthetic write-up, a correct completion's text
    after the marker) already ends in its box: scoring a second one would add text the model never writes.
    Pairs with a missing (``None``) solution or answer are an error, so a dataset without a solution column
    fails loudly instead of silently scoring the answer alone.
    """
    for k, pair in enumerate(references):
        if len(pair) != 2 or any(not isinstance(part, str) for part in pair):
            raise ValueError(f"reference {k} must be a (solution, answer) pair of strings, got {pair!r}")
    texts = [
        end_of_thinking + u + ("" if has_boxed_answer(u) else answer_template.format(answer=y))
        for u, y in references
    ]
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def has_boxed_answer(solution: str) -> bool:
    """Whether a solution already states its answer in a closed ``\\boxed{…}`` (as the grader reads it)."""
    return extract_boxed(solution) is not None


VALUE_PARTS = ("marker", "body", "answer")


def reference_value_parts(
    model,
    tokenizer,
    prompt_ids: Sequence[int],
    completion_ids: Sequence[int],
    boundaries: Sequence[int],
    solution: str,
    answer: str,
    *,
    end_of_thinking: str = "</think>",
    answer_template: str = "\\boxed{{{answer}}}",
    max_tokens: int = DEFAULT_MAX_TOKENS,
) -> dict[str, list[float]]:
    """Per boundary (completion prefix length), log p of each part of the reference continuation: the
    marker, the solution body, the answer's box. They sum to the single reference's log v̂, so a reader
    sees which part moves it.

    The parts are scored as the full continuation and its token prefixes ending after the marker and before
    the box; the cuts are token counts of the marker and of marker + body tokenized alone: exact for the
    tiny model's character tokenizer, within a token at a BPE merge across a cut.
    """
    (full,) = reference_continuations(
        tokenizer, [(solution, answer)], end_of_thinking=end_of_thinking, answer_template=answer_template
    )
    box = solution.rfind("\\boxed{") if has_boxed_answer(solution) else len(solution)
    cuts = [
        len(tokenizer(text, add_special_tokens=False)["input_ids"])
        for text in (end_of_thinking, end_of_thinking + solution[:box])
    ]
    continuations = [full[: max(cut, 1)] for cut in cuts] + [full]
    prefix = [*prompt_ids, *completion_ids]
    absolute = [len(prompt_ids) + int(b) for b in boundaries]
    logp = score_continuations(model, prefix, absolute, continuations, max_tokens=max_tokens)
    parts = torch.stack([logp[:, 0], logp[:, 1] - logp[:, 0], logp[:, 2] - logp[:, 1]], dim=1)
    return {name: parts[:, k].tolist() for k, name in enumerate(VALUE_PARTS)}


def answer_only_continuations(
    tokenizer,
    answer: str,
    *,
    end_of_thinking: str = "</think>",
    exit_string: str = "The final answer is ",
    answer_template: str = "\\boxed{{{answer}}}",
) -> list[list[int]]:
    """The one continuation ``end_of_thinking + exit_string + answer_template(answer)``: u is a fixed exit."""
    if not isinstance(answer, str):
        raise ValueError(f"the answer_only estimator needs the reference answer, got {answer!r}")
    return reference_continuations(
        tokenizer, [(exit_string, answer)], end_of_thinking=end_of_thinking, answer_template=answer_template
    )


def self_references(
    tokenizer, completions: Sequence[Sequence[int]], answer: str, *, end_of_thinking: str = "</think>"
) -> list[tuple[str, str]]:
    """(u, y) pairs from the group's correct completions.

    u is what a completion wrote after ``end_of_thinking`` (its solution write-up, special tokens removed),
    the part a reference solution plays; a completion without the marker contributes u = "" (its answer
    alone). y is the reference answer, which a correct completion's answer matches.
    """
    specials = sorted(tokenizer.all_special_tokens, key=len, reverse=True)
    pairs = []
    for ids in completions:
        text = tokenizer.decode(list(ids), skip_special_tokens=False)
        _, marker, written = text.partition(end_of_thinking)
        solution = written if marker else ""
        for special in specials:
            solution = solution.replace(special, "")
        pairs.append((solution, answer))
    return pairs


def build_continuations(
    tokenizer,
    estimator: str = "reference",
    *,
    references: Sequence[tuple[str, str]] | None = None,
    group_correct: Sequence | None = None,
    answer: str | None = None,
    end_of_thinking: str = "</think>",
    exit_string: str = "The final answer is ",
    answer_template: str = "\\boxed{{{answer}}}",
) -> list[list[int]]:
    """The continuations an estimator scores at every boundary.

    ``group_correct`` holds the group's correct completions, each a (u, y) pair or its token ids; for
    the self estimators they replace ``references`` unless there are none (which completions they hold, the
    valued one included or not, is the caller's choice of ``"self"`` or ``"self_inclusive"``).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if estimator == "answer_only":
        return answer_only_continuations(
            tokenizer,
            answer,
            end_of_thinking=end_of_thinking,
            exit_string=exit_string,
            answer_template=answer_template,
        )
    pairs = list(references or [])
    if estimator in SELF_ESTIMATORS and group_correct:
        token_ids = [c for c in group_correct if not _is_text_pair(c)]
        pairs = [c for c in group_correct if _is_text_pair(c)]
        if token_ids:
            if answer is None:
                raise ValueError(
                    "the self estimator needs the answer to turn correct completions into (u, y)"
                )
            pairs += self_references(tokenizer, token_ids, answer, end_of_thinking=end_of_thinking)
    if not pairs:
        missing = "no correct completion in the group and no " if estimator in SELF_ESTIMATORS else "no "
        raise ValueError(f"{estimator} estimator: {missing}reference (solution, answer) pairs were given")
    return reference_continuations(
        tokenizer, pairs, end_of_thinking=end_of_thinking, answer_template=answer_template
    )


def _is_text_pair(item) -> bool:
    return isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(part, str) for part in item)


@dataclass(frozen=True)
class ValueRequest:
    """One completion to value: the trainer builds one per completion of a generation batch.

    ``boundaries`` are completion prefix lengths (0 = the prompt-only state), strictly increasing (``None``
    for :func:`segment_and_estimate`, which picks them from the entropies). Pass the token ids to score as
    ``continuations``, or leave them ``None`` and give ``tokenizer`` plus the estimator fields (see
    :func:`build_continuations`). ``space`` is the space of the returned values.
    """

    prompt_ids: Sequence[int]
    completion_ids: Sequence[int]
    boundaries: Sequence[int] | None = None
    continuations: Sequence[Sequence[int]] | None = None
    tokenizer: object = None
    estimator: str = "reference"
    references: Sequence[tuple[str, str]] | None = None
    group_correct: Sequence | None = None
    answer: str | None = None
    space: str = "log"
    end_of_thinking: str = "</think>"
    exit_string: str = "The final answer is "
    answer_template: str = "\\boxed{{{answer}}}"

    def resolved_continuations(self) -> list[list[int]]:
        if self.continuations is not None:
            return [list(c) for c in self.continuations]
        if self.tokenizer is None:
            raise ValueError(
                "ValueRequest needs continuations, or a tokenizer to build them from the estimator"
            )
        return build_continuations(
            self.tokenizer,
            self.estimator,
            references=self.references,
            group_correct=self.group_correct,
            answer=self.answer,
            end_of_thinking=self.end_of_thinking,
            exit_string=self.exit_string,
            answer_template=self.answer_template,
        )


def aggregate_values(logp: torch.Tensor, space: str = "log") -> np.ndarray:
    """Per-boundary value from the (n_boundaries, N) continuation log-probs: mean over the N references.

    ``"log"``: ``log v̂ = logsumexp_j logp_j − log N`` (stable when long references make v̂ underflow);
    ``"linear"``: ``v̂ = mean_j exp(logp_j)``.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    logp = torch.as_tensor(logp).detach().to("cpu", torch.float64)
    if logp.ndim != 2 or logp.shape[1] == 0:
        raise ValueError(f"logp must be (n_boundaries, N >= 1), got shape {tuple(logp.shape)}")
    log_v = torch.logsumexp(logp, dim=1) - math.log(logp.shape[1])
    return (log_v if space == "log" else log_v.exp()).numpy()


def estimate_values(
    model,
    tokenizer,
    prompt_ids: Sequence[int],
    completion_ids: Sequence[int],
    boundaries: Sequence[int],
    *,
    estimator: str = "reference",
    references: Sequence[tuple[str, str]] | None = None,
    group_correct: Sequence | None = None,
    answer: str | None = None,
    space: str = "log",
    end_of_thinking: str = "</think>",
    exit_string: str = "The final answer is ",
    answer_template: str = "\\boxed{{{answer}}}",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> np.ndarray:
    """Values (log v̂ by default) at completion prefix lengths ``boundaries`` (0 = prompt only)."""
    request = ValueRequest(
        prompt_ids,
        completion_ids,
        boundaries,
        tokenizer=tokenizer,
        estimator=estimator,
        references=references,
        group_correct=group_correct,
        answer=answer,
        space=space,
        end_of_thinking=end_of_thinking,
        exit_string=exit_string,
        answer_template=answer_template,
    )
    return estimate_values_batch(model, [request], max_tokens=max_tokens, max_logits=max_logits)[0]


def estimate_values_batch(
    model,
    items: Sequence[ValueRequest],
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> list[np.ndarray]:
    """Values for every boundary of every request, all scored together."""
    for k, item in enumerate(items):
        if item.boundaries is None:
            raise ValueError(f"request {k}: no boundaries given")
    prefixes, continuations = _prepare(items)
    absolute = [_absolute(k, item, item.boundaries) for k, item in enumerate(items)]
    logps, _ = _score(model, prefixes, absolute, continuations, max_tokens, max_logits=max_logits)
    return [aggregate_values(logp, item.space) for logp, item in zip(logps, items, strict=True)]


def segment_and_estimate(
    model,
    items: Sequence[ValueRequest],
    boundaries_of: Callable[[int, np.ndarray], Sequence[int]],
    *,
    temperature: float = 1.0,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(entropies, values) of every request from one forward per trace (the trainer's entry point).

    The forward that fills a trace's KV cache also yields the entropy of every completion token (of the
    policy's ``logits / temperature``, as TRL computes them, in fp32); ``boundaries_of(k, entropies)`` turns
    request k's entropies into its boundaries (completion prefix lengths; the requests' own ``boundaries``
    are not used), and the values are scored there against the same cache.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    for k, item in enumerate(items):
        if not item.completion_ids:
            raise ValueError(f"request {k}: an empty completion has no entropies to segment by")
    prefixes, continuations = _prepare(items)
    logps, entropies = _score(
        model,
        prefixes,
        lambda k, entropies: _absolute(k, items[k], boundaries_of(k, entropies)),
        continuations,
        max_tokens,
        max_logits=max_logits,
        n_prompts=[len(item.prompt_ids) for item in items],
        temperature=temperature,
    )
    return [
        (entropy, aggregate_values(logp, item.space))
        for entropy, logp, item in zip(entropies, logps, items, strict=True)
    ]


def completion_entropies(
    model,
    prompt_ids: Sequence[Sequence[int]],
    completion_ids: Sequence[Sequence[int]],
    *,
    temperature: float = 1.0,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> list[np.ndarray]:
    """The policy's entropy (of ``logits / temperature``, fp32) at every completion token, one no-grad
    decoder forward per batch of traces: what a segmenter needs when no values are scored against the trace
    (the Monte Carlo oracle), computed as :func:`segment_and_estimate` computes it."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    _check_budget("max_tokens", max_tokens)
    _check_budget("max_logits", max_logits)
    for k, ids in enumerate(completion_ids):
        if not ids:
            raise ValueError(f"trace {k}: an empty completion has no entropies")
    contexts = [[*p, *c][:-1] for p, c in zip(prompt_ids, completion_ids, strict=True)]
    device = _device(model)
    out: list[np.ndarray | None] = [None] * len(contexts)
    with torch.inference_mode(), eval_mode(model):
        by_length = sorted(range(len(contexts)), key=lambda k: len(contexts[k]))
        for group in _chunks(by_length, [np.asarray([len(c) for c in contexts])], max_tokens):
            _, _, hidden = _prefix_cache(model, [contexts[k] for k in group], device)
            for row, k in enumerate(group):
                states = hidden[row, len(prompt_ids[k]) - 1 : len(contexts[k])]
                out[k] = _entropies(model, states, temperature, max_logits)
    return out


def _prepare(items: Sequence[ValueRequest]) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Each request's prefix (prompt + completion) and continuations."""
    for k, item in enumerate(items):
        if item.space not in SPACES:
            raise ValueError(f"request {k}: space must be one of {SPACES}, got {item.space!r}")
    prefixes = [[*item.prompt_ids, *item.completion_ids] for item in items]
    return prefixes, [item.resolved_continuations() for item in items]


def _absolute(k: int, item: ValueRequest, boundaries: Sequence[int]) -> list[int]:
    """Request k's boundaries, checked in completion coordinates, as prefix lengths of prompt + completion."""
    bounds = _check_boundaries(
        boundaries, 0, len(item.completion_ids), f"request {k} (completion coordinates)"
    )
    if len(item.prompt_ids) + bounds[0] < 1:
        raise ValueError(f"request {k}: boundary 0 needs a non-empty prompt to condition on")
    return [len(item.prompt_ids) + b for b in bounds]


def score_continuations(
    model,
    prefix_ids,
    boundaries: Sequence[int],
    continuations: Sequence[Sequence[int]],
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> torch.Tensor:
    """(len(boundaries), len(continuations)) ``log p(continuation | prefix_ids[:b])`` per boundary b.

    Token log-probs are fp32; their sums are float64, because at |log p| ≈ 500 (a 100-token reference) an
    fp32 step is 6e-5, as large as the value differences between close boundaries. ``prefix_ids`` is prompt +
    completion (no padding); boundaries are absolute prefix lengths, strictly increasing, in
    ``[1, len(prefix_ids)]``. One forward over the prefix, then batched continuation rows against its KV
    cache, ``max_tokens`` token slots per forward, at most ``max_logits`` logits at a time.
    """
    prefix = [_as_list(prefix_ids)]
    return _score(model, prefix, [boundaries], [continuations], max_tokens, max_logits=max_logits)[0][0]


def score_continuations_naive(
    model, prefix_ids, boundaries: Sequence[int], continuations: Sequence[Sequence[int]]
) -> torch.Tensor:
    """The test oracle of :func:`score_continuations`: one full forward per (boundary, continuation)."""
    prefix = _as_list(prefix_ids)
    bounds = _check_boundaries(boundaries, 1, len(prefix), "boundaries")
    conts = _check_continuations(continuations)
    device = _device(model)
    out = torch.empty(len(bounds), len(conts), dtype=torch.float64, device=device)
    with torch.inference_mode(), eval_mode(model):
        for i, b in enumerate(bounds):
            for j, cont in enumerate(conts):
                ids = torch.tensor([prefix[:b] + cont], device=device)
                logits = model(ids, logits_to_keep=len(cont) + 1).logits[0, :-1].float()
                target = ids[0, b:, None]
                out[i, j] = logits.log_softmax(-1).gather(-1, target).double().sum()
    return out


def logprobs_and_entropies(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    *,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs and entropies (B, logits_to_keep) of the last ``logits_to_keep`` tokens, from the
    same distribution of one no-grad decoder forward, in fp32, ``max_logits`` logits at a time.

    For segmentation outside a trainer (analyses, MC comparisons). Inside the trainer, TRL's
    ``GRPOTrainer._get_per_token_logps_and_entropies`` already returns both from its own pass (with its
    temperature scaling); use that instead of a second forward.
    """
    _check_budget("max_logits", max_logits)
    with torch.inference_mode(), eval_mode(model):
        decoder = model.get_decoder()
        hidden = decoder(input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        states = hidden[:, -logits_to_keep - 1 : -1]
        target = input_ids[:, -logits_to_keep:]
        token_logp, entropy = _head_logprobs(
            model, states.flatten(0, 1), target.flatten(), entropy=True, max_logits=max_logits
        )
    return token_logp.view(target.shape), entropy.view(target.shape)


@contextlib.contextmanager
def eval_mode(model):
    """Score in eval mode: no dropout, and gradient checkpointing (which drops the cache) stays off."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------------------------------------
# One-pass scoring engine


def _score(
    model,
    prefixes,
    boundaries,
    continuations,
    max_tokens: int,
    *,
    max_logits: int,
    n_prompts=None,
    temperature: float = 1.0,
) -> tuple[list[torch.Tensor], list[np.ndarray | None]]:
    """Score every (boundary, continuation) pair of every item: one (n_b, n_c) tensor per item.

    ``boundaries`` holds each item's absolute boundaries, or is a callable ``(k, entropies) -> boundaries``:
    then the cache covers the whole trace, and its forward also gives the entropies of the completion
    tokens (the last ``len(prefix) − n_prompts[k]``), returned alongside (``None`` otherwise).
    """
    _check_budget("max_tokens", max_tokens)
    _check_budget("max_logits", max_logits)
    _check_model(model)
    device = _device(model)
    fused = callable(boundaries)
    conts = [_check_continuations(c) for c in continuations]
    if fused:
        bounds = [None] * len(prefixes)
        contexts = [p[:-1] for p in prefixes]  # the last token's prediction is never used
    else:
        bounds = [
            _check_boundaries(b, 1, len(p), f"item {k} boundaries")
            for k, (p, b) in enumerate(zip(prefixes, boundaries, strict=True))
        ]
        # Cache only what some boundary attends to: tokens before the last boundary's re-fed token.
        contexts = [p[: max(b[-1] - 1, 1)] for p, b in zip(prefixes, bounds, strict=True)]
    results: list[torch.Tensor | None] = [None] * len(prefixes)
    entropies: list[np.ndarray | None] = [None] * len(prefixes)
    first: dict[bytes, tuple[int, int]] = {}  # pair digest → (item, flat index) of its first occurrence
    copies: list[tuple[int, int, int, int]] = []
    with torch.inference_mode(), eval_mode(model):
        by_length = sorted(range(len(prefixes)), key=lambda k: len(contexts[k]))
        for group in _chunks(by_length, [np.asarray([len(c) for c in contexts])], max_tokens):
            keys, values, hidden = _prefix_cache(model, [contexts[k] for k in group], device)
            for row, k in enumerate(group):
                if fused:
                    states = hidden[row, n_prompts[k] - 1 : len(contexts[k])]
                    entropies[k] = _entropies(model, states, temperature, max_logits)
                    bounds[k] = boundaries(k, entropies[k])
                results[k] = torch.empty(len(bounds[k]), len(conts[k]), dtype=torch.float64, device=device)
            pairs = _pairs(group, prefixes, bounds, conts)
            unique = _first_occurrences(pairs, group, prefixes, bounds, conts, first, copies)
            _score_pairs(model, keys, values, pairs.subset(unique), results, max_tokens, max_logits)
        for item, out, source_item, source_out in copies:
            results[item].view(-1)[out] = results[source_item].view(-1)[source_out]
    return results, entropies


def _entropies(model, hidden: torch.Tensor, temperature: float, max_logits: int) -> np.ndarray:
    """Entropy (nats, fp32) of ``softmax(lm_head(hidden) / temperature)`` per position."""
    _, entropy = _head_logprobs(model, hidden, temperature=temperature, entropy=True, max_logits=max_logits)
    return entropy.cpu().numpy()


def _head_logprobs(
    model,
    hidden: torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    entropy: bool = False,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """fp32 ``log p(target)`` and/or entropy per row of ``hidden`` (n, hidden_size), of the distribution
    ``softmax(get_output_embeddings()(hidden) / temperature)``, never holding more than ``max_logits`` logits.

    Rows go in chunks of ``max_logits // V``; when one row's V logits exceed the budget, the vocabulary is
    split too and combined by an online log-sum-exp (running max, rescaled sums of ``exp`` and of
    ``exp · logit``). While the vocabulary fits in one chunk the arithmetic is that of full logits
    (logsumexp, or log_softmax when the entropy is wanted), so scores equal full-logits scoring bit for bit.
    """
    head = model.get_output_embeddings()
    vocab = head.weight.shape[0]
    cols = min(vocab, max_logits)
    step = max(1, max_logits // cols)
    logps, entropies = [], []
    for start in range(0, hidden.shape[0], step):
        rows = hidden[start : start + step]
        target = None if targets is None else targets[start : start + step, None]
        if cols == vocab:
            logits = _scaled(head(rows), temperature)
            if entropy:
                logp = logits.log_softmax(-1)
                entropies.append(-(logp.exp() * logp).sum(-1))
                if target is not None:
                    logps.append(logp.gather(-1, target).squeeze(-1))
            else:
                logps.append(logits.gather(-1, target).squeeze(-1) - torch.logsumexp(logits, dim=-1))
        else:
            log_z, spread, picked = _split_vocab(head, rows, target, temperature, cols)
            if entropy:
                entropies.append(spread)
            if target is not None:
                logps.append(picked - log_z)
    cat = torch.cat
    return (cat(logps) if targets is not None else None), (cat(entropies) if entropy else None)


def _scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """fp32 ``logits / temperature``; at temperature 1 without the copy (x / 1 is x, bit for bit)."""
    logits = logits.float()
    return logits if temperature == 1.0 else logits / temperature


def _split_vocab(head, rows: torch.Tensor, target, temperature: float, cols: int):
    """(log Z, entropy, target logit) per row from vocabulary chunks of ``cols`` logits each.

    Sums are kept relative to the running max m: ``s = Σ exp(z − m)``, ``t = Σ exp(z − m)(z − m)``, rescaled
    when m grows; then ``log Z = m + log s`` and the entropy ``log Z − E_p[z] = log s − t / s``.
    """
    weight, bias = head.weight, head.bias
    peak = sums = tilted = picked = None
    for low in range(0, weight.shape[0], cols):
        high = min(low + cols, weight.shape[0])
        part = torch.nn.functional.linear(rows, weight[low:high], None if bias is None else bias[low:high])
        z = _scaled(part, temperature)
        top = z.amax(-1)
        new_peak = top if peak is None else torch.maximum(peak, top)
        shifted = z - new_peak[:, None]
        e = shifted.exp()
        if peak is None:
            sums, tilted = e.sum(-1), (e * shifted).sum(-1)
            picked = torch.zeros_like(top)
        else:
            delta = peak - new_peak
            scale = delta.exp()
            tilted = (tilted + delta * sums) * scale + (e * shifted).sum(-1)
            sums = sums * scale + e.sum(-1)
        peak = new_peak
        if target is not None:
            inside = (target[:, 0] >= low) & (target[:, 0] < high)
            local = z.gather(-1, (target - low).clamp(0, high - low - 1)).squeeze(-1)
            picked = torch.where(inside, local, picked)
    log_sums = sums.log()
    return peak + log_sums, log_sums - tilted / sums, picked


@dataclass
class _Pairs:
    """Flat arrays over the (boundary, continuation) pairs of a group of items."""

    row: np.ndarray  # index of the item within the group's cache
    cut: np.ndarray  # cache positions the pair attends to (= boundary − 1)
    first: np.ndarray  # the prefix token at boundary − 1, re-fed as the first input of the row
    cont: np.ndarray  # index into ``tokens``
    length: np.ndarray  # continuation length
    item: np.ndarray  # item index, for the output
    out: np.ndarray  # flat index into that item's (n_b, n_c) result
    tokens: torch.Tensor  # (n_continuations, max_len) padded continuation ids

    def subset(self, keep: np.ndarray) -> _Pairs:
        arrays = ("row", "cut", "first", "cont", "length", "item", "out")
        return _Pairs(**{name: getattr(self, name)[keep] for name in arrays}, tokens=self.tokens)


def _first_occurrences(
    pairs: _Pairs, group, prefixes, bounds, conts, first: dict, copies: list
) -> np.ndarray:
    """Mask of the pairs to score: a pair whose (prefix up to its boundary, continuation) was already met is
    recorded in ``copies`` instead. A group's completions share the prompt-only state, and often their first
    lines, with the same references: those values are scored once."""
    keys = itertools.chain.from_iterable(_pair_digests(prefixes[k], bounds[k], conts[k]) for k in group)
    keep = np.ones(len(pairs.item), dtype=bool)
    for p, key in enumerate(keys):
        here = (int(pairs.item[p]), int(pairs.out[p]))
        source = first.setdefault(key, here)
        if source != here:
            keep[p] = False
            copies.append((*here, *source))
    return keep


def _pair_digests(prefix, bounds, conts) -> list[bytes]:
    """Digest of (prefix[:b], continuation) for each pair of one item, in :func:`_pairs` order; the prefix is
    hashed incrementally, so an item costs O(its length), not O(length × boundaries)."""
    ids = np.asarray(prefix, dtype=np.int64)
    cont_digests = [_digest(np.asarray(c, dtype=np.int64).tobytes()) for c in conts]
    running, done, out = hashlib.blake2b(digest_size=16), 0, []
    for b in bounds:
        running.update(ids[done:b].tobytes())
        done = b
        state = running.copy().digest()
        out.extend(state + c for c in cont_digests)
    return out


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _pairs(group, prefixes, bounds, conts) -> _Pairs:
    rows, cuts, firsts, cont_idx, lengths, items, outs, tokens = [], [], [], [], [], [], [], []
    for row, k in enumerate(group):
        b = np.asarray(bounds[k])
        lens = np.asarray([len(c) for c in conts[k]])
        n_b, n_c = len(b), len(lens)
        rows.append(np.full(n_b * n_c, row))
        cuts.append(np.repeat(b - 1, n_c))
        firsts.append(np.repeat(np.asarray(prefixes[k])[b - 1], n_c))
        cont_idx.append(np.tile(np.arange(n_c) + len(tokens), n_b))
        lengths.append(np.tile(lens, n_b))
        items.append(np.full(n_b * n_c, k))
        outs.append(np.arange(n_b * n_c))
        tokens.extend(torch.tensor(c) for c in conts[k])
    padded = torch.nn.utils.rnn.pad_sequence(tokens, batch_first=True)
    cat = np.concatenate
    return _Pairs(
        cat(rows), cat(cuts), cat(firsts), cat(cont_idx), cat(lengths), cat(items), cat(outs), padded
    )


def _prefix_cache(model, contexts: list[list[int]], device) -> tuple[list, list, torch.Tensor]:
    """Per-layer keys and values (n, kv_heads, max_len, head_dim) of right-padded contexts, and the last
    hidden states (n, max_len, hidden), from one forward of the decoder (no logits).

    Right padding keeps positions 0..len−1; padded slots hold finite states that no pair attends to.
    """
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(c) for c in contexts], batch_first=True).to(device)
    lengths = torch.tensor([len(c) for c in contexts], device=device)
    mask = (torch.arange(ids.shape[1], device=device) < lengths[:, None]).long()
    out = model.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=True)
    layers = out.past_key_values.layers
    return [layer.keys for layer in layers], [layer.values for layer in layers], out.last_hidden_state


def _score_pairs(model, keys, values, pairs: _Pairs, results, max_tokens: int, max_logits: int) -> None:
    """Batched decoder forwards over continuation rows, each attending to its item's cache below its cut;
    the target log-probs of the real (unpadded) positions then go through lm_head in logits chunks."""
    device = keys[0].device
    order = np.lexsort((pairs.cut, pairs.length))  # similar lengths and cuts share a batch: little padding
    tokens = pairs.tokens.to(device)
    blocked = torch.finfo(model.dtype).min
    for batch in _chunks(order, (pairs.cut, pairs.length), max_tokens):
        n_cache, width = int(pairs.cut[batch].max()), int(pairs.length[batch].max())
        cut = torch.as_tensor(pairs.cut[batch], device=device)
        target = tokens[torch.as_tensor(pairs.cont[batch], device=device), :width]
        inputs = torch.cat(
            [torch.as_tensor(pairs.first[batch], device=device)[:, None], target[:, :-1]], dim=1
        )
        positions = torch.arange(max(n_cache, width), device=device)
        # Additive mask (rows, 1, width, n_cache + width), built once for all layers: cache slots below the
        # cut, then causal attention within the row (padding sits at the end, so no real token sees it).
        mask = torch.full((len(batch), 1, width, n_cache + width), blocked, dtype=model.dtype, device=device)
        mask[..., :n_cache].masked_fill_((positions[:n_cache] < cut[:, None])[:, None, None, :], 0.0)
        mask[..., n_cache:].masked_fill_(positions[:width, None] >= positions[None, :width], 0.0)
        cache = _prefilled_cache(*(_rows_of(layers, pairs.row[batch], n_cache) for layers in (keys, values)))
        hidden = model.get_decoder()(
            inputs,
            attention_mask=mask,
            position_ids=cut[:, None] + positions[:width],
            past_key_values=cache,
            use_cache=True,
        ).last_hidden_state
        valid = positions[:width] < torch.as_tensor(pairs.length[batch], device=device)[:, None]
        logp = torch.zeros(valid.shape, dtype=torch.float32, device=device)
        logp[valid] = _head_logprobs(model, hidden[valid], target[valid], max_logits=max_logits)[0]
        totals = logp.double().sum(-1)
        for item in np.unique(pairs.item[batch]):
            sel = np.flatnonzero(pairs.item[batch] == item)
            out = torch.as_tensor(pairs.out[batch][sel], device=device)
            results[item].view(-1)[out] = totals[torch.as_tensor(sel, device=device)]


def _rows_of(layers: list[torch.Tensor], rows: np.ndarray, n_cache: int) -> list[torch.Tensor]:
    """Each layer's cache for these rows, first ``n_cache`` slots. One item: a broadcast view, no copy."""
    if (rows == rows[0]).all():
        return [t[rows[0] : rows[0] + 1, :, :n_cache].expand(len(rows), -1, -1, -1) for t in layers]
    index = torch.as_tensor(rows, device=layers[0].device)
    return [t[:, :, :n_cache].index_select(0, index) for t in layers]


def _prefilled_cache(keys: list[torch.Tensor], values: list[torch.Tensor]) -> DynamicCache:
    """A DynamicCache holding these tensors as they are (``DynamicCache(ddp_cache_data=...)`` copies them);
    the forward's concatenation with the new tokens makes the one copy."""
    cache = DynamicCache()
    for k, v in zip(keys, values, strict=True):
        layer = DynamicLayer()
        layer.lazy_initialization(k, v)
        layer.keys, layer.values = k, v
        cache.layers.append(layer)
    return cache


def _chunks(order, widths: Sequence[np.ndarray], budget: int):
    """Consecutive runs of ``order`` whose rows × Σ max(width) stay within ``budget`` (at least one row).

    A batch is padded to its widest row in each width (cache length, continuation length): that is its cost.
    """
    batch, widest = [], np.zeros(len(widths), dtype=np.int64)
    for index in order:
        wider = np.maximum(widest, [int(w[index]) for w in widths])
        if batch and (len(batch) + 1) * int(wider.sum()) > budget:
            yield np.asarray(batch)
            batch, wider = [], np.asarray([int(w[index]) for w in widths])
        batch.append(index)
        widest = wider
    if batch:
        yield np.asarray(batch)


# ---------------------------------------------------------------------------------------------------------
# Input checks


def _check_model(model) -> None:
    config = model.config
    if config._attn_implementation not in ("sdpa", "eager"):
        raise ValueError(
            "one-pass scoring needs sdpa or eager attention (custom 4D masks), "
            f"got {config._attn_implementation!r}"
        )
    layer_types = set(getattr(config, "layer_types", None) or ["full_attention"])
    if layer_types != {"full_attention"}:
        raise ValueError(f"one-pass scoring supports full-attention layers only, got {sorted(layer_types)}")


def _check_budget(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def _check_boundaries(boundaries: Sequence[int], low: int, high: int, what: str) -> list[int]:
    bounds = [int(b) for b in boundaries]
    if not bounds:
        raise ValueError(f"{what}: no boundaries given")
    if any(b < low or b > high for b in bounds):
        raise ValueError(f"{what} must lie in [{low}, {high}], got {bounds}")
    if any(a >= b for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"{what} must be strictly increasing, got {bounds}")
    return bounds


def _check_continuations(continuations: Sequence[Sequence[int]]) -> list[list[int]]:
    conts = [_as_list(c) for c in continuations]
    if not conts:
        raise ValueError(
            "no continuations to score: the estimator needs at least one reference (solution, answer)"
        )
    if any(not c for c in conts):
        raise ValueError("every continuation needs at least one token")
    return conts


def _as_list(ids) -> list[int]:
    if isinstance(ids, torch.Tensor):
        if ids.ndim != 1:
            raise ValueError(f"token ids must be 1-D, got shape {tuple(ids.shape)}")
        return ids.tolist()
    return [int(i) for i in ids]


def _device(model) -> torch.device:
    return next(model.parameters()).device
