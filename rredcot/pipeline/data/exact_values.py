"""Exact values of the synthetic task's states under the policy: credit at no rollout cost.

The positive control of the credit testbed.

A state is the prompt plus a prefix of one of the policy's completions, cut at a segment boundary. Its value
is the probability that the policy, going on from there, ends with the right answer. On the credit testbed's
task (+ and - modulo m, :mod:`rredcot.pipeline.data.synthetic`) every step is a bijection, so once the
thinking holds a wrong line (:func:`~rredcot.pipeline.data.first_error.judge_thinking`) the answer is lost
unless a second slip cancels the first: the value is 0. Before that, the policy still has to compute the
``H - done`` steps it has not written, each right with its per-step accuracy p, so ``v = p^(H - done)``.

p is measured on the generation batch being valued, from every completion's thinking: steps computed right
before the first wrong line over steps attempted (the geometric maximum-likelihood estimate, with one
pseudo-count each way so that a batch without errors does not give p = 1). What the formula leaves out: a
second slip that cancels the first, and a write-up that miscopies a right thinking; both are rare, and
``tests/test_exact_values.py`` checks the formula against brute-force rollouts of a policy with known p.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rredcot.pipeline.data.first_error import judge_thinking, true_chain


def step_accuracy(right: int, failed: int) -> float:
    """p from ``right`` steps computed before the first wrong line and ``failed`` traces that went wrong
    (steps attempted: right + failed), smoothed by one pseudo-count each way."""
    return (right + 1) / (right + failed + 2)


def trace_counts(judged: Sequence) -> tuple[int, bool]:
    """One judged thinking's share of :func:`step_accuracy`: steps right before its first wrong line, and
    whether one came."""
    return (judged[-1].done, judged[-1].error is not None) if judged else (0, False)


def boundary_states(row: Mapping, judged: Sequence, cuts: Sequence[int]) -> dict:
    """What the checker knows at each boundary (character offset into the judged text): ``horizon`` H, the
    steps ``done`` by then and whether a ``wrong`` line came before it. The value is
    :func:`value_of` these and the policy's step accuracy."""
    ends = np.array([line.offset + len(line.line) + 1 for line in judged], dtype=np.int64)
    done, wrong = [], []
    for cut in cuts:
        read = [line for line, end in zip(judged, ends, strict=True) if end <= cut]
        wrong.append(any(line.error is not None for line in read))
        done.append(read[-1].done if read else 0)
    return {"horizon": len(true_chain(row)), "done": done, "wrong": wrong}


def value_of(states: Mapping, p: float) -> np.ndarray:
    """``p^(H − done)`` at every boundary before a wrong line, 0 after one (module docstring)."""
    done, wrong = np.asarray(states["done"], dtype=float), np.asarray(states["wrong"], dtype=bool)
    return np.where(wrong, 0.0, p ** (states["horizon"] - done))


def exact_values(
    rows: Sequence[Mapping],
    texts: Sequence[str],
    boundaries: Sequence[Sequence[int]],
    *,
    end_of_thinking: str,
) -> tuple[list[np.ndarray], dict[str, list[float]]]:
    """Values at ``boundaries[i]`` (character offsets into ``texts[i]``, the completion with special tokens
    kept) of each completion on synthetic ``rows[i]``, and ``{"oracle_step_accuracy": [p]}``.

    Every completion counts towards p, also those without boundaries to value (their ``boundaries`` empty).
    """
    if not len(rows) == len(texts) == len(boundaries):
        raise ValueError(f"got {len(rows)} rows, {len(texts)} texts and {len(boundaries)} boundary lists")
    judged = [
        judge_thinking(row, text, end_of_thinking=end_of_thinking)
        for row, text in zip(rows, texts, strict=True)
    ]
    counts = [trace_counts(lines) for lines in judged]
    p = step_accuracy(sum(right for right, _ in counts), sum(failed for _, failed in counts))
    values = [
        value_of(boundary_states(row, lines, cuts), p)
        for row, lines, cuts in zip(rows, judged, boundaries, strict=True)
    ]
    return values, {"oracle_step_accuracy": [p]}


__all__ = ["boundary_states", "exact_values", "step_accuracy", "trace_counts", "value_of"]
