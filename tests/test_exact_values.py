"""Exact values of the synthetic testbed against brute-force Monte Carlo, on a policy of known accuracy."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rredcot.pipeline.data.exact_values import exact_values, step_accuracy, trace_counts
from rredcot.pipeline.data.first_error import judge_thinking, true_chain
from rredcot.pipeline.data.synthetic import SplitSpec, _wrong_result, apply_step, generate_split

SLIP = 0.15
HORIZON = 6
SPEC = SplitSpec(
    n=60, min_ops=HORIZON, max_ops=HORIZON, max_operand=9, max_value=9, check_prob=0.0, mistake_prob=0.0,
    modulus=10, slip_prob=SLIP,
)  # fmt: skip
MARKER = "</think>\n"


def line_ends(text: str) -> list[int]:
    """Character offsets right after every newline of the thinking: the states a segmenter by line gives."""
    thinking_end = text.index(MARKER)
    return [0] + [k + 1 for k, char in enumerate(text[:thinking_end]) if char == "\n"]


def rollout_value(row: dict, text: str, cut: int, rng: random.Random, n: int = 3000) -> float:
    """Brute force: the policy (slip probability SLIP per step) goes on from text[:cut] n times."""
    chain = true_chain(row)
    modulus = int(row["problem"].split()[-1])
    steps = [line for line in text[:cut].split("\n")[2:] if "=" in line]  # after <think> and the restatement
    value = int(steps[-1].split("=")[1]) if steps else chain[0][0]
    wins = 0
    for _ in range(n):
        current = value
        for _, op, b, _ in chain[len(steps) :]:
            current = apply_step(current, op, b, modulus)
            if rng.random() < SLIP:
                current = _wrong_result(current, rng, modulus)
        wins += current == chain[-1][3]
    return wins / n


@pytest.fixture(scope="module")
def batch():
    rows = generate_split("train", SPEC, seed=0) * 10  # 600 completions: p is measured on them
    return rows, [row["trace"] for row in rows]


def test_the_measured_step_accuracy_is_the_policy_s(batch):
    rows, texts = batch
    judged = [
        judge_thinking(row, text, end_of_thinking=MARKER) for row, text in zip(rows, texts, strict=True)
    ]
    counts = [trace_counts(lines) for lines in judged]
    p = step_accuracy(sum(right for right, _ in counts), sum(failed for _, failed in counts))
    assert abs(p - (1 - SLIP)) < 0.02


def test_exact_values_agree_with_brute_force_rollouts(batch):
    rows, texts = batch
    cuts = [line_ends(text) for text in texts]
    values, stats = exact_values(rows, texts, cuts, end_of_thinking=MARKER)
    assert abs(stats["oracle_step_accuracy"][0] - (1 - SLIP)) < 0.02
    rng = random.Random(0)
    clean, after_error = [], []
    for i in range(12):  # the first 12 distinct completions, every boundary
        for cut, value in zip(cuts[i], values[i], strict=True):
            mc = rollout_value(rows[i], texts[i], cut, rng)
            (clean if value > 0 else after_error).append((value, mc))
    clean, after_error = np.array(clean), np.array(after_error)
    assert len(clean) > 40 and len(after_error) > 5
    assert np.abs(clean[:, 0] - clean[:, 1]).max() < 0.05
    # After a wrong step the value is 0 but for a second slip that cancels the first: rare, never large.
    assert (after_error[:, 0] == 0).all() and after_error[:, 1].max() < 0.12


def test_values_fall_to_zero_at_the_first_slip_and_rise_before_it():
    row = generate_split("in_dist", SPEC, seed=1)[0]
    chain = true_chain(row)
    wrong = _wrong_result(chain[2][3], random.Random(0), 10)
    a, op, b, _ = chain[2]
    lines = [row["problem"], *(f"{a}{op}{b}={c}" for a, op, b, c in chain[:2]), f"{a}{op}{b}={wrong}"]
    text = "<think>\n" + "".join(line + "\n" for line in lines) + MARKER
    (values,), _ = exact_values([row], [text], [line_ends(text)], end_of_thinking=MARKER)
    p = (2 + 1) / (2 + 1 + 2)  # the batch: 2 steps right, then one wrong; one pseudo-count each way
    # states: prompt, after <think>, after the restatement, after step 1, after step 2, after the slip
    assert values.tolist() == pytest.approx([p**6, p**6, p**6, p**5, p**4, 0.0])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="1 rows, 2 texts"):
        exact_values([{}], ["", ""], [[], []], end_of_thinking=MARKER)


def test_an_aside_changes_no_state_s_value():
    """Exact credit gives the testbed's free choices none: the value after an aside is the value before it."""
    spec = SplitSpec(**{**SPEC.__dict__, "aside_length": 3})
    rows = generate_split("in_dist", spec, seed=4)
    texts = [row["trace"] for row in rows]
    cuts = [line_ends(text) for text in texts]
    values, _ = exact_values(rows, texts, cuts, end_of_thinking=MARKER)
    checked = 0
    for text, ends, value in zip(texts, cuts, values, strict=True):
        lines = text[: text.index(MARKER)].split("\n")  # "<think>", restatement, then the lines
        for k in range(1, len(ends)):
            if lines[k].startswith("Aside: "):
                assert value[k + 1] == value[k]  # the boundary after the aside line vs the one before it
                checked += 1
    assert checked == len(rows) * HORIZON
