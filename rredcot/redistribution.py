"""From segment values to per-token loss weights σ (docs/paper.md §1 and §4).

RUDDER's redistributed reward of a segment is the change in value across it; RREDCoT turns those rewards into
token weights σ that replace GRPO's uniform ``1/|o|``, so the sequence-level advantage is spent on the
segments that earned (or, for a wrong answer, lost) it. Σ_t σ(t) = 1 per completion keeps the scale of the
GRPO loss unchanged.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np
import torch

# "magnitude" is the only mode whose segment mass does not depend on the advantage's sign: values that carry
# no information about the outcome then add no push of their own (see permutation_push).
MODES = ("clip", "softmax", "magnitude")
SIGN_FREE_MODES = ("magnitude",)


def segment_rewards(values: Sequence[float]) -> np.ndarray:
    """``r_k = values[k] − values[k−1]`` for k = 1..K; ``values[0]`` is the state before the first segment.

    Values may be log-values (the default estimator returns log v̂), then r_k is a log probability ratio.
    The rewards telescope: Σ r_k = values[K] − values[0] (return equivalence).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-d sequence, got shape {values.shape}")
    return np.diff(values)


def token_weights(
    rewards: Sequence[float],
    spans: Sequence[tuple[int, int]],
    n_tokens: int,
    advantage: float,
    *,
    mode: str = "clip",
    mix: float = 0.5,
    temperature: float = 1.0,
) -> np.ndarray:
    """σ(t) ≥ 0 with Σ_t σ(t) = 1 over the ``n_tokens`` completion tokens.

    Segment mass ∝ ``|r_k|`` (``"magnitude"``: the advantage goes where the value moved, in either
    direction, whatever the outcome), ∝ ``max(0, sign(A)·r_k)`` (``"clip"``: credit the segments that raised
    the value of a correct trace, blame those that lowered the value of a wrong one) or
    ∝ ``exp(sign(A)·r_k / temperature)`` (``"softmax"``). ``clip`` and ``softmax`` read the sign of A, so a
    drift of the values shared by all traces gives correct and wrong traces different weights, an update
    that does not depend on the reward (:func:`permutation_push`). A segment's mass is spread evenly over its
    tokens, then ``σ = (1 − mix)/n_tokens + mix·σ_red``. σ is uniform when the advantage is 0, there are no
    spans, or all clipped (or magnitude) mass is zero. Tokens outside every span get only the uniform share.

    ``spans`` are non-empty, in order, non-overlapping and inside ``[0, n_tokens)``; gaps are allowed. One
    reward per span (the caller gives the answer segment reward 0). ``n_tokens == 0`` returns an empty array.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be in [0, 1], got {mix}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature}")
    if not math.isfinite(advantage):
        raise ValueError(f"advantage must be finite, got {advantage}")
    n_tokens = operator.index(n_tokens)
    if n_tokens < 0:
        raise ValueError(f"n_tokens must be >= 0, got {n_tokens}")
    rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if len(rewards) != len(spans):
        raise ValueError(f"got {len(rewards)} rewards for {len(spans)} spans")
    bad = np.flatnonzero(~np.isfinite(rewards))
    if bad.size:
        raise ValueError(f"rewards must be finite; rewards[{bad[0]}] = {rewards[bad[0]]}")
    starts, ends = _check_spans(spans, n_tokens)

    uniform = np.full(n_tokens, 1.0 / n_tokens) if n_tokens else np.zeros(0)
    if advantage == 0 or len(spans) == 0:
        return uniform
    signed = math.copysign(1.0, advantage) * rewards
    if mode == "magnitude":
        mass = np.abs(rewards)
    elif mode == "clip":
        mass = np.maximum(signed, 0.0)
    else:
        logits = signed / temperature
        mass = np.exp(logits - logits.max())
    total = mass.sum()
    if total == 0:
        return uniform
    lengths = ends - starts
    # Token positions of all spans, concatenated: start_k + j for j < length_k, without a loop over spans.
    positions = np.arange(lengths.sum()) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    redistributed = np.zeros(n_tokens)
    redistributed[positions] = np.repeat(mass / total / lengths, lengths)
    return (1.0 - mix) * uniform + mix * redistributed


def _check_spans(spans: Sequence[tuple[int, int]], n_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    if len(arr) != len(spans):
        raise ValueError(f"spans must be (start, end) pairs, got {spans!r}")
    starts, ends = arr[:, 0], arr[:, 1]
    for problem, bad in (
        ("is empty or reversed", ends <= starts),
        (f"lies outside [0, {n_tokens})", (starts < 0) | (ends > n_tokens)),
        ("overlaps or precedes the span before it", np.r_[False, starts[1:] < ends[:-1]]),
    ):
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(f"span {k} {tuple(arr[k].tolist())} {problem}")
    return starts, ends


def token_weight_matrix(
    rewards: Sequence[Sequence[float]],
    spans: Sequence[Sequence[tuple[int, int]]],
    n_tokens: Sequence[int],
    advantages: Sequence[float] | torch.Tensor,
    *,
    width: int | None = None,
    mode: str = "clip",
    mix: float = 0.5,
    temperature: float = 1.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """σ for a generation batch as a ``(B, width)`` tensor, one :func:`token_weights` row per completion.

    Completions are right-padded: row b's ``n_tokens[b]`` real tokens come first, padding positions get 0,
    so ``(per_token_loss * σ).sum(1)`` replaces GRPO's masked mean. ``width`` defaults to ``max(n_tokens)``.
    """
    if isinstance(advantages, torch.Tensor):
        advantages = advantages.detach().reshape(-1).tolist()
    batch = len(n_tokens)
    if not len(rewards) == len(spans) == len(advantages) == batch:
        raise ValueError(
            f"batch sizes differ: {len(rewards)} rewards, {len(spans)} spans, "
            f"{len(n_tokens)} n_tokens, {len(advantages)} advantages"
        )
    lengths = [operator.index(n) for n in n_tokens]
    width = max(lengths, default=0) if width is None else operator.index(width)
    if any(n > width for n in lengths):
        raise ValueError(f"n_tokens {max(lengths)} exceeds width {width}")
    sigma = np.zeros((batch, width))
    for b in range(batch):
        try:
            row = token_weights(
                rewards[b],
                spans[b],
                lengths[b],
                float(advantages[b]),
                mode=mode,
                mix=mix,
                temperature=temperature,
            )
        except ValueError as err:
            raise ValueError(f"row {b}: {err}") from err
        sigma[b, : lengths[b]] = row
    return torch.as_tensor(sigma, dtype=dtype, device=device)


# Token classes of the permutation diagnostic, by the role of a completion's span: the first, middle and last
# reasoning segments (on the synthetic task: the restated problem, the steps, the Result line) and the answer
# span (the write-up, its box and the end of sequence).
PUSH_CLASSES = ("first", "middle", "last", "answer")


def span_classes(n_spans: int, n_reasoning: int) -> list[int]:
    """The :data:`PUSH_CLASSES` index of each of a completion's spans (reasoning spans first)."""
    if not 0 <= n_reasoning <= n_spans:
        raise ValueError(f"n_reasoning must be in [0, {n_spans}], got {n_reasoning}")
    roles = [1] * n_reasoning + [3] * (n_spans - n_reasoning)
    if n_reasoning:
        roles[n_reasoning - 1] = 2
        roles[0] = 0
    return roles


def permutation_push(
    rewards: Sequence[Sequence[float]],
    spans: Sequence[Sequence[tuple[int, int]]],
    classes: Sequence[Sequence[int]],
    n_tokens: Sequence[int],
    advantages: Sequence[float],
    group_size: int,
    *,
    mode: str = "clip",
    mix: float = 0.5,
    temperature: float = 1.0,
) -> np.ndarray:
    """The push σ adds of its own: ``Σ_i A_i Σ_(t in class) σ_i(t)`` per :data:`PUSH_CLASSES` class, in
    expectation over every permutation of the advantages within each group, averaged over the groups whose
    advantages are not all 0.

    Shuffling the rewards within a group keeps the values and makes them carry no information about the
    outcome, so the expected update per class should be GRPO's, which is 0. It is computed exactly, not by
    sampling: σ reads only the sign of A, and each completion receives each of its group's advantages with
    probability 1/n, so the expectation is ``(S⁺/n) Σ_i (m_i⁺ − m_i⁻)``, with S⁺ the group's summed positive
    advantages and m_i^± the class masses of σ_i under a positive or a negative advantage. A sign-free mode
    gives exactly 0; ``clip`` and ``softmax`` do not when the values drift along every trace.

    Completions come in consecutive groups of ``group_size``; ``classes[i]`` gives each span's class.
    """
    batch = len(n_tokens)
    if not len(rewards) == len(spans) == len(classes) == len(advantages) == batch:
        raise ValueError(
            "rewards, spans, classes, n_tokens and advantages must have one entry per completion"
        )
    if group_size < 1 or batch % group_size:
        raise ValueError(f"{batch} completions do not form groups of {group_size}")
    advantages = np.asarray(advantages, dtype=np.float64)
    totals, groups = np.zeros(len(PUSH_CLASSES)), 0
    for start in range(0, batch, group_size):
        members = range(start, start + group_size)
        positive = advantages[start : start + group_size].clip(min=0).sum()
        if positive == 0:
            continue
        groups += 1
        for i in members:
            if not spans[i]:
                continue
            masses = []
            for sign in (1.0, -1.0):
                sigma = token_weights(
                    rewards[i], spans[i], n_tokens[i], sign, mode=mode, mix=mix, temperature=temperature
                )
                per_span = [sigma[a:b].sum() for a, b in spans[i]]
                masses.append(np.bincount(classes[i], weights=per_span, minlength=len(PUSH_CLASSES)))
            totals += positive / group_size * (masses[0] - masses[1])
    return totals / max(groups, 1)


__all__ = [
    "MODES",
    "PUSH_CLASSES",
    "SIGN_FREE_MODES",
    "permutation_push",
    "segment_rewards",
    "span_classes",
    "token_weight_matrix",
    "token_weights",
]
