r"""Values at segment boundaries from the policy's own scoring of reference continuations (docs/paper.md §3).

For a state s = prompt + completion[:b] and reference pairs (u, y), the importance-sampling estimate is
``v̂(s) = (1/N) Σ p(end_of_thinking + u + answer_template(y) | s)`` (ζ(y) = 1 for a reference pair). No
generation: every value is a sum of log-probabilities of known tokens.

Three layers: what an estimator scores (the token ids of a :class:`~rredcot.continuation.Continuation`, the
parts of a reference's value, the mean over references), the requests the trainer and the analyses make
(:class:`ValueRequest`, :func:`estimate_values_batch`, :func:`segment_and_estimate`), and beneath them the
one-pass scoring engine, :mod:`rredcot.scoring`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rredcot.continuation import DEFAULT_CONTINUATION, SELF_ESTIMATORS, Continuation
from rredcot.rewards import extract_boxed
from rredcot.scoring import (
    DEFAULT_MAX_LOGITS,
    DEFAULT_VALUE_BATCH_TOKENS,
    check_boundaries,
    score_continuations,
    score_traces,
)

SPACES = ("log", "linear")


def reference_continuations(
    tokenizer,
    references: Sequence[tuple[str, str]],
    *,
    continuation: Continuation = DEFAULT_CONTINUATION,
) -> list[list[int]]:
    """Token ids of ``end_of_thinking + u``, plus ``answer_template(y)`` when u does not already end in a
    ``\\boxed{}``, for each reference pair (u, y), in ``continuation``'s marker and template.

    A worked solution (NuminaMath-CoT's ``solution``, the synthetic write-up, a correct completion's text
    after the marker) already ends in its box: scoring a second one would add text the model never writes.
    Pairs with a missing (``None``) solution or answer are an error, so a dataset without a solution column
    fails loudly instead of silently scoring the answer alone.
    """
    for k, pair in enumerate(references):
        if len(pair) != 2 or any(not isinstance(part, str) for part in pair):
            raise ValueError(f"reference {k} must be a (solution, answer) pair of strings, got {pair!r}")
    marker, template = continuation.end_of_thinking, continuation.answer_template
    texts = [marker + u + ("" if has_boxed_answer(u) else template.format(answer=y)) for u, y in references]
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
    continuation: Continuation = DEFAULT_CONTINUATION,
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS,
) -> dict[str, list[float]]:
    """Per boundary (completion prefix length), log p of each part of the reference continuation: the
    marker, the solution body, the answer's box. They sum to the single reference's log v̂, so a reader
    sees which part moves it.

    The parts are scored as the full continuation and its token prefixes ending after the marker and before
    the box; the cuts are token counts of the marker and of marker + body tokenized alone: exact for the
    tiny model's character tokenizer, within a token at a BPE merge across a cut.
    """
    (full,) = reference_continuations(tokenizer, [(solution, answer)], continuation=continuation)
    box = solution.rfind("\\boxed{") if has_boxed_answer(solution) else len(solution)
    marker = continuation.end_of_thinking
    cuts = [
        len(tokenizer(text, add_special_tokens=False)["input_ids"])
        for text in (marker, marker + solution[:box])
    ]
    continuations = [full[: max(cut, 1)] for cut in cuts] + [full]
    prefix = [*prompt_ids, *completion_ids]
    absolute = [len(prompt_ids) + int(b) for b in boundaries]
    logp = score_continuations(model, prefix, absolute, continuations, value_batch_tokens=value_batch_tokens)
    parts = torch.stack([logp[:, 0], logp[:, 1] - logp[:, 0], logp[:, 2] - logp[:, 1]], dim=1)
    return {name: parts[:, k].tolist() for k, name in enumerate(VALUE_PARTS)}


def answer_only_continuations(
    tokenizer, answer: str, *, continuation: Continuation = DEFAULT_CONTINUATION
) -> list[list[int]]:
    """The one continuation ``end_of_thinking + exit_string + answer_template(answer)``: u is a fixed exit."""
    if not isinstance(answer, str):
        raise ValueError(f"the answer_only estimator needs the reference answer, got {answer!r}")
    return reference_continuations(tokenizer, [(continuation.exit_string, answer)], continuation=continuation)


def self_references(
    tokenizer,
    completions: Sequence[Sequence[int]],
    answer: str,
    *,
    continuation: Continuation = DEFAULT_CONTINUATION,
) -> list[tuple[str, str]]:
    """(u, y) pairs from the group's correct completions.

    u is what a completion wrote after the continuation's ``end_of_thinking`` (its solution write-up, special
    tokens removed), the part a reference solution plays; a completion without the marker contributes u = ""
    (its answer alone). y is the reference answer, which a correct completion's answer matches.
    """
    specials = sorted(tokenizer.all_special_tokens, key=len, reverse=True)
    pairs = []
    for ids in completions:
        text = tokenizer.decode(list(ids), skip_special_tokens=False)
        _, marker, written = text.partition(continuation.end_of_thinking)
        solution = written if marker else ""
        for special in specials:
            solution = solution.replace(special, "")
        pairs.append((solution, answer))
    return pairs


def build_continuations(
    tokenizer,
    continuation: Continuation = DEFAULT_CONTINUATION,
    *,
    references: Sequence[tuple[str, str]] | None = None,
    group_correct: Sequence | None = None,
    answer: str | None = None,
) -> list[list[int]]:
    """The continuations ``continuation``'s estimator scores at every boundary.

    ``group_correct`` holds the group's correct completions, each a (u, y) pair or its token ids; for
    the self estimators they replace ``references`` unless there are none (which completions they hold, the
    valued one included or not, is the caller's choice of ``"self"`` or ``"self_inclusive"``).
    """
    estimator = continuation.estimator
    if estimator == "answer_only":
        return answer_only_continuations(tokenizer, answer, continuation=continuation)
    pairs = list(references or [])
    if estimator in SELF_ESTIMATORS and group_correct:
        token_ids = [c for c in group_correct if not _is_text_pair(c)]
        pairs = [c for c in group_correct if _is_text_pair(c)]
        if token_ids:
            if answer is None:
                raise ValueError(
                    "the self estimator needs the answer to turn correct completions into (u, y)"
                )
            pairs += self_references(tokenizer, token_ids, answer, continuation=continuation)
    if not pairs:
        missing = "no correct completion in the group and no " if estimator in SELF_ESTIMATORS else "no "
        raise ValueError(f"{estimator} estimator: {missing}reference (solution, answer) pairs were given")
    return reference_continuations(tokenizer, pairs, continuation=continuation)


def _is_text_pair(item) -> bool:
    return isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(part, str) for part in item)


@dataclass(frozen=True)
class ValueRequest:
    """One completion to value: the trainer builds one per completion of a generation batch.

    ``boundaries`` are completion prefix lengths (0 = the prompt-only state), strictly increasing (``None``
    for :func:`segment_and_estimate`, which picks them from the entropies). Pass the token ids to score as
    ``continuation_ids``, or leave them ``None`` and give ``tokenizer``, the ``continuation`` spec and what
    its estimator needs (see :func:`build_continuations`). ``space`` is the space of the returned values.
    """

    prompt_ids: Sequence[int]
    completion_ids: Sequence[int]
    boundaries: Sequence[int] | None = None
    continuation_ids: Sequence[Sequence[int]] | None = None
    tokenizer: object = None
    continuation: Continuation = DEFAULT_CONTINUATION
    references: Sequence[tuple[str, str]] | None = None
    group_correct: Sequence | None = None
    answer: str | None = None
    space: str = "log"

    def resolved_continuations(self) -> list[list[int]]:
        if self.continuation_ids is not None:
            return [list(c) for c in self.continuation_ids]
        if self.tokenizer is None:
            raise ValueError(
                "ValueRequest needs continuation_ids, or a tokenizer to build them from its continuation"
            )
        return build_continuations(
            self.tokenizer,
            self.continuation,
            references=self.references,
            group_correct=self.group_correct,
            answer=self.answer,
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
    continuation: Continuation = DEFAULT_CONTINUATION,
    references: Sequence[tuple[str, str]] | None = None,
    group_correct: Sequence | None = None,
    answer: str | None = None,
    space: str = "log",
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> np.ndarray:
    """Values (log v̂ by default) at completion prefix lengths ``boundaries`` (0 = prompt only)."""
    request = ValueRequest(
        prompt_ids,
        completion_ids,
        boundaries,
        tokenizer=tokenizer,
        continuation=continuation,
        references=references,
        group_correct=group_correct,
        answer=answer,
        space=space,
    )
    return estimate_values_batch(
        model, [request], value_batch_tokens=value_batch_tokens, max_logits=max_logits
    )[0]


def estimate_values_batch(
    model,
    items: Sequence[ValueRequest],
    *,
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> list[np.ndarray]:
    """Values for every boundary of every request, all scored together."""
    for k, item in enumerate(items):
        if item.boundaries is None:
            raise ValueError(f"request {k}: no boundaries given")
    prefixes, continuations = _prepare(items)
    absolute = [_absolute(k, item, item.boundaries) for k, item in enumerate(items)]
    logps, _ = score_traces(
        model, prefixes, absolute, continuations, value_batch_tokens, max_logits=max_logits
    )
    return [aggregate_values(logp, item.space) for logp, item in zip(logps, items, strict=True)]


def segment_and_estimate(
    model,
    items: Sequence[ValueRequest],
    boundaries_of: Callable[[int, np.ndarray], Sequence[int]],
    *,
    temperature: float = 1.0,
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS,
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
    logps, entropies = score_traces(
        model,
        prefixes,
        lambda k, entropies: _absolute(k, items[k], boundaries_of(k, entropies)),
        continuations,
        value_batch_tokens,
        max_logits=max_logits,
        n_prompts=[len(item.prompt_ids) for item in items],
        temperature=temperature,
    )
    return [
        (entropy, aggregate_values(logp, item.space))
        for entropy, logp, item in zip(entropies, logps, items, strict=True)
    ]


def _prepare(items: Sequence[ValueRequest]) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Each request's prefix (prompt + completion) and continuations."""
    for k, item in enumerate(items):
        if item.space not in SPACES:
            raise ValueError(f"request {k}: space must be one of {SPACES}, got {item.space!r}")
    prefixes = [[*item.prompt_ids, *item.completion_ids] for item in items]
    return prefixes, [item.resolved_continuations() for item in items]


def _absolute(k: int, item: ValueRequest, boundaries: Sequence[int]) -> list[int]:
    """Request k's boundaries, checked in completion coordinates, as prefix lengths of prompt + completion."""
    bounds = check_boundaries(
        boundaries, 0, len(item.completion_ids), f"request {k} (completion coordinates)"
    )
    if len(item.prompt_ids) + bounds[0] < 1:
        raise ValueError(f"request {k}: boundary 0 needs a non-empty prompt to condition on")
    return [len(item.prompt_ids) + b for b in bounds]
