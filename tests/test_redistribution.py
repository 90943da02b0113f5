"""Redistributed rewards and token weights σ: hand-worked numbers, invariants, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from rredcot.redistribution import (
    MODES,
    SIGN_FREE_MODES,
    permutation_push,
    segment_rewards,
    span_classes,
    token_weight_matrix,
    token_weights,
)

# ---------------------------------------------------------------- segment_rewards


def test_segment_rewards_are_value_differences():
    assert_allclose(segment_rewards([0.0, 0.5, 0.25, 1.0]), [0.5, -0.25, 0.75])
    assert_allclose(segment_rewards([-2.0, -1.0, -1.5]), [1.0, -0.5])  # log-values
    assert segment_rewards([0.3]).shape == (0,)


def test_segment_rewards_need_values():
    with pytest.raises(ValueError, match="values"):
        segment_rewards([])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=50))
def test_segment_rewards_telescope(values):
    rewards = segment_rewards(values)
    assert len(rewards) == len(values) - 1
    assert math.isclose(rewards.sum(), values[-1] - values[0], abs_tol=1e-9)


# ---------------------------------------------------------------- token_weights, hand-worked

# Three spans over 8 tokens; token 7 lies outside every span.
SPANS = [(0, 2), (2, 3), (3, 7)]
REWARDS = [0.6, -0.2, 0.2]


def test_clip_positive_advantage():
    # clipped mass 0.6, 0, 0.2 -> shares .75, 0, .25 -> per token .375 (x2), 0, .0625 (x4); uniform 1/8
    sigma = token_weights(REWARDS, SPANS, 8, 1.0, mix=0.5)
    assert_allclose(sigma, [0.25, 0.25, 0.0625, 0.09375, 0.09375, 0.09375, 0.09375, 0.0625])


def test_clip_mix_endpoints():
    assert_allclose(token_weights(REWARDS, SPANS, 8, 1.0, mix=1.0), [0.375, 0.375, 0, *[0.0625] * 4, 0])
    assert_allclose(token_weights(REWARDS, SPANS, 8, 1.0, mix=0.0), [0.125] * 8)


def test_clip_negative_advantage_blames_segments_that_lowered_the_value():
    # sign(A)·r = -0.6, 0.2, -0.2 -> all mass on span 1 (token 2); the size of A does not matter
    sigma = token_weights(REWARDS, SPANS, 8, -2.0, mix=0.5)
    assert_allclose(sigma, [0.0625, 0.0625, 0.5625, *[0.0625] * 5])


def test_zero_advantage_is_uniform():
    assert_allclose(token_weights(REWARDS, SPANS, 8, 0.0, mix=0.5), [0.125] * 8)
    assert_allclose(token_weights(REWARDS, SPANS, 8, 0.0, mode="softmax", mix=1.0), [0.125] * 8)


def test_all_zero_clipped_mass_is_uniform():
    assert_allclose(token_weights([-0.1, 0.0, -0.3], SPANS, 8, 1.0, mix=0.5), [0.125] * 8)
    assert_allclose(token_weights([0.1, 0.0, 0.3], SPANS, 8, -1.0, mix=1.0), [0.125] * 8)


def test_no_spans_is_uniform():
    assert_allclose(token_weights([], [], 4, 1.0, mix=1.0), [0.25] * 4)


def test_softmax_positive_advantage():
    # exp(r) = 2, 1, 5 -> shares .25, .125, .625 -> per token .125 (x2), .125, .15625 (x4)
    rewards = [math.log(2), 0.0, math.log(5)]
    expected = [0.125, 0.125, 0.125, *[0.15625] * 4, 0.0]
    assert_allclose(token_weights(rewards, SPANS, 8, 1.0, mode="softmax", mix=1.0), expected)
    doubled = [2 * r for r in rewards]
    assert_allclose(token_weights(doubled, SPANS, 8, 1.0, mode="softmax", mix=1.0, temperature=2.0), expected)
    # mix 0.5: halve and add 1/16
    half = [0.0625 + e / 2 for e in expected]
    assert_allclose(token_weights(rewards, SPANS, 8, 1.0, mode="softmax", mix=0.5), half)


def test_softmax_negative_advantage():
    # exp(-r) = 3, 1, 1/2 -> shares 2/3, 2/9, 1/9 -> per token 1/3 (x2), 2/9, 1/36 (x4)
    rewards = [-math.log(3), 0.0, math.log(2)]
    sigma = token_weights(rewards, SPANS, 8, -0.5, mode="softmax", mix=1.0)
    assert_allclose(sigma, [1 / 3, 1 / 3, 2 / 9, *[1 / 36] * 4, 0.0])


def test_softmax_is_stable_for_large_rewards():
    sigma = token_weights([1000.0, 0.0, 1000.0], [(0, 1), (1, 2), (2, 3)], 3, 1.0, mode="softmax", mix=1.0)
    assert_allclose(sigma, [0.5, 0.0, 0.5], atol=1e-300)


def test_magnitude_weighs_by_the_size_of_the_value_change_whatever_the_sign():
    rewards, spans = [3.0, -1.0, 0.0], [(0, 1), (1, 3), (3, 4)]
    for advantage in (1.0, -2.0):  # hand-worked: masses 3/4, 1/4 (1/8 per token), 0
        assert_allclose(
            token_weights(rewards, spans, 4, advantage, mode="magnitude", mix=1.0), [0.75, 0.125, 0.125, 0]
        )


def test_empty_completion_has_no_weights():
    assert token_weights([], [], 0, 1.0).shape == (0,)


# ---------------------------------------------------------------- token_weights, properties


@st.composite
def weight_problems(draw):
    n = draw(st.integers(1, 40))
    cuts = sorted(draw(st.sets(st.integers(0, n), min_size=1, max_size=12)) | {0, n})
    pairs = list(zip(cuts[:-1], cuts[1:], strict=True))
    spans = [p for p in pairs if draw(st.booleans()) or len(pairs) == 1]  # leave gaps, sometimes
    rewards = draw(st.lists(st.floats(-50, 50), min_size=len(spans), max_size=len(spans)))
    return n, spans, rewards


@settings(max_examples=200, deadline=None)
@given(
    problem=weight_problems(),
    advantage=st.floats(-5, 5),
    mode=st.sampled_from(MODES),
    mix=st.floats(0, 1),
    temperature=st.floats(0.05, 10),
)
def test_weights_are_a_distribution_even_within_spans(problem, advantage, mode, mix, temperature):
    n, spans, rewards = problem
    sigma = token_weights(rewards, spans, n, advantage, mode=mode, mix=mix, temperature=temperature)
    assert sigma.shape == (n,)
    assert (sigma >= 0).all()
    assert math.isclose(sigma.sum(), 1.0, abs_tol=1e-9)
    inside = np.zeros(n, dtype=bool)
    for s, e in spans:
        inside[s:e] = True
        assert np.ptp(sigma[s:e]) <= 1e-12  # a segment's mass is spread evenly
    signed = [math.copysign(1, advantage) * r for r in rewards]
    fallback = (
        advantage == 0
        or not spans
        or (mode == "clip" and max(signed) <= 0)
        or (mode == "magnitude" and not any(rewards))
    )
    outside_share = 1 / n if fallback else (1 - mix) / n  # the fallback is uniform everywhere
    assert_allclose(sigma[~inside], outside_share)  # outside every span: only the uniform share


@settings(max_examples=100, deadline=None)
@given(problem=weight_problems(), advantage=st.floats(-5, 5), mode=st.sampled_from(MODES))
def test_mix_zero_is_uniform(problem, advantage, mode):
    n, spans, rewards = problem
    assert_allclose(token_weights(rewards, spans, n, advantage, mode=mode, mix=0.0), np.full(n, 1 / n))


# ---------------------------------------------------------------- token_weights, bad input


@pytest.mark.parametrize(
    ("spans", "match"),
    [
        ([(0, 3), (2, 4)], "overlaps"),
        ([(2, 4), (0, 2)], "precedes"),
        ([(0, 2), (2, 2)], "empty"),
        ([(0, 2), (2, 9)], "outside"),
        ([(-1, 2), (2, 4)], "outside"),
    ],
)
def test_bad_spans(spans, match):
    with pytest.raises(ValueError, match=match):
        token_weights([0.1, 0.2], spans, 8, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rewards": [0.1]}, "1 rewards for 2 spans"),
        ({"rewards": [0.1, float("nan")]}, r"rewards\[1\]"),
        ({"rewards": [float("inf"), 0.1]}, r"rewards\[0\]"),
        ({"mix": -0.1}, "mix"),
        ({"mix": 1.1}, "mix"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"mode": "linear"}, "mode"),
        ({"n_tokens": -1}, "n_tokens"),
        ({"advantage": float("nan")}, "advantage"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"rewards": [0.1, 0.2], "spans": [(0, 2), (2, 4)], "n_tokens": 4, "advantage": 1.0} | kwargs
    with pytest.raises(ValueError, match=match):
        token_weights(**args)


# ---------------------------------------------------------------- batched matrix


def test_matrix_rows_match_token_weights_and_padding_is_zero():
    rewards = [[1.0, 0.0], [0.5, -0.5, 0.0]]
    spans = [[(0, 1), (1, 3)], [(0, 2), (2, 4), (4, 5)]]
    sigma = token_weight_matrix(rewards, spans, [3, 5], torch.tensor([1.0, -1.0]), width=6, mix=1.0)
    assert sigma.shape == (2, 6) and sigma.dtype == torch.float32
    assert_allclose(sigma[0].numpy(), [1, 0, 0, 0, 0, 0])
    assert_allclose(sigma[1].numpy(), [0, 0, 0.5, 0.5, 0, 0])
    wide = token_weight_matrix(rewards, spans, [3, 5], [1.0, 0.0], dtype=torch.float64)
    assert wide.shape == (2, 5)
    assert_allclose(wide[1].numpy(), [0.2] * 5)  # zero advantage: uniform over the row's own tokens
    assert_allclose(wide[0].numpy(), [*token_weights(rewards[0], spans[0], 3, 1.0), 0, 0])


def test_matrix_bad_input_names_the_row():
    with pytest.raises(ValueError, match="batch sizes"):
        token_weight_matrix([[1.0]], [[(0, 1)]], [1, 2], [1.0])
    with pytest.raises(ValueError, match="width"):
        token_weight_matrix([[1.0]], [[(0, 3)]], [3], [1.0], width=2)
    with pytest.raises(ValueError, match=r"row 1: .*rewards\[0\]"):
        token_weight_matrix([[1.0], [float("nan")]], [[(0, 1)], [(0, 1)]], [1, 1], [1.0, 1.0])


# ---------------------------------------------------------------- permutation_push


def test_permutation_push_hand_worked_group():
    """One group of two, A = (+1, −1), one reasoning span and the answer span each of one token.

    clip, mix 1, rewards (r, 0): σ⁺ puts everything on the reasoning span when r > 0, σ⁻ falls back to
    uniform (1/2 each). Completion 0 has r = 2, completion 1 has r = −2 (σ⁺ uniform, σ⁻ all on reasoning).
    S⁺/n = 1/2, so push = 1/2 · [(1, 0) − (1/2, 1/2) + (1/2, 1/2) − (1, 0)] = 0 on both classes; with
    completion 1 also at r = 2: 1/2 · 2 · [(1, 0) − (1/2, 1/2)] = (1/2, −1/2) on (first, answer).
    """
    spans = [[(0, 1), (1, 2)]] * 2
    classes = [span_classes(2, 1)] * 2
    symmetric = permutation_push([[2.0, 0.0], [-2.0, 0.0]], spans, classes, [2, 2], [1.0, -1.0], 2, mix=1.0)
    assert_allclose(symmetric, 0.0)
    drift = permutation_push([[2.0, 0.0], [2.0, 0.0]], spans, classes, [2, 2], [1.0, -1.0], 2, mix=1.0)
    assert_allclose(drift, [0.5, 0.0, 0.0, -0.5])


def _drifting_groups(rng, n_groups=300, size=8, accuracy=0.35):
    """Values that carry no information about the outcome: a drift shared by every completion plus noise."""
    drift = np.array([45.0, -3.0, -5.0, 2.0, -4.0, 30.0])
    rewards, spans, classes, lengths, advantages = [], [], [], [], []
    for _ in range(n_groups):
        outcome = (rng.random(size) < accuracy).astype(float)
        spread = outcome.std(ddof=1) if outcome.std() else 1.0
        for i in range(size):
            values = np.concatenate([[0.0], np.cumsum(drift + rng.normal(0, 3, drift.size))])
            widths = rng.integers(3, 12, drift.size + 1)
            ends = np.cumsum(widths)
            rewards.append([*segment_rewards(values), 0.0])
            spans.append(list(zip((ends - widths).tolist(), ends.tolist(), strict=True)))
            classes.append(span_classes(drift.size + 1, drift.size))
            lengths.append(int(ends[-1]))
            advantages.append((outcome[i] - outcome.mean()) / spread)
    return rewards, spans, classes, lengths, advantages


def test_sign_free_sigma_adds_no_push_but_clip_does_under_a_shared_drift():
    batch = _drifting_groups(np.random.default_rng(0))
    for mode in SIGN_FREE_MODES:
        assert_allclose(permutation_push(*batch, 8, mode=mode, mix=0.5), 0.0, atol=1e-12)
    clip = permutation_push(*batch, 8, mode="clip", mix=0.5)
    assert clip[0] > 0.5 and clip[2] > 0.3 and clip[1] < -0.5  # the simulation: +1.0, +0.7, −0.4 × 4
    assert abs(permutation_push(*batch, 8, mode="softmax", mix=0.5)).max() > 0.5


def test_uniform_sigma_adds_no_push():
    batch = _drifting_groups(np.random.default_rng(1), n_groups=20)
    assert_allclose(permutation_push(*batch, 8, mode="clip", mix=0.0), 0.0, atol=1e-12)


def test_permutation_push_bad_input():
    with pytest.raises(ValueError, match="groups of 3"):
        permutation_push([[]] * 4, [[]] * 4, [[]] * 4, [1] * 4, [0.0] * 4, 3)
    with pytest.raises(ValueError, match="n_reasoning"):
        span_classes(2, 3)
