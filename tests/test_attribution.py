"""Attribution baselines on cases whose credits can be worked out independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_tiny_model

from rredcot.pipeline.attribution import gradient_attribution, leave_one_out_attribution
from rredcot.scoring import score_continuations_naive

pytestmark = pytest.mark.usefixtures("single_thread")

PROMPT = [20, 21, 22]
COMPLETION = [30, 31, 32, 33, 34, 35, 36, 37, 38]
SPANS = [(0, 3), (3, 7), (7, 9)]
CONTINUATION = [40, 41, 42, 43]


@pytest.fixture(scope="module")
def bigram_model(char_tokenizer):
    """Attention outputs zeroed: every position's logits depend on its own token only (a bigram model)."""
    model = make_tiny_model(len(char_tokenizer), seed=5)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
    return model


def bigram_logp(model, previous: int, token: int) -> float:
    with torch.no_grad():
        return model(torch.tensor([[previous]])).logits[0, -1].log_softmax(-1)[token].item()


def test_leave_one_out_by_hand_on_a_bigram_model(bigram_model):
    """Only the last token before the continuation matters: removing the last span replaces 38 by 34; removing
    any other span changes nothing."""
    credits = leave_one_out_attribution(bigram_model, PROMPT, COMPLETION, SPANS, CONTINUATION)
    first = CONTINUATION[0]
    expected_last = bigram_logp(bigram_model, 38, first) - bigram_logp(bigram_model, 36, first)
    np.testing.assert_allclose(credits, [0.0, 0.0, expected_last], atol=1e-5)
    assert abs(expected_last) > 0.1


def test_leave_one_out_equals_rescoring_each_shortened_trace(tiny_random_model):
    credits = leave_one_out_attribution(tiny_random_model, PROMPT, COMPLETION, SPANS, CONTINUATION)
    full = [*PROMPT, *COMPLETION]
    expected = []
    for start, end in SPANS:
        shorter = full[: len(PROMPT) + start] + full[len(PROMPT) + end :]
        pair = [
            score_continuations_naive(tiny_random_model, seq, [len(seq)], [CONTINUATION]).item()
            for seq in (full, shorter)
        ]
        expected.append(pair[0] - pair[1])
    np.testing.assert_allclose(credits, expected, atol=1e-4)


def test_leave_one_out_gives_identical_segments_identical_credit(tiny_random_model):
    """Dropping either copy of a repeated segment leaves the same trace."""
    credits = leave_one_out_attribution(
        tiny_random_model, PROMPT, [50, 51, 50, 51], [(0, 2), (2, 4)], CONTINUATION
    )
    assert credits[0] == pytest.approx(credits[1], abs=1e-6)


def test_gradient_attribution_is_the_derivative_of_scaling_a_segment(char_tokenizer):
    """Σ_t x_t·∂f/∂x_t over span k is d/dα f(embeddings of span k scaled by 1 + α) at α = 0.

    Qwen3 keeps RMSNorm in fp32 even in a float64 model, so a tiny step drowns in rounding: a five-point
    stencil with a moderate step (truncation error O(h⁴)) matches the derivative to about 1e-5.
    """
    model = make_tiny_model(len(char_tokenizer), seed=6).double()
    credits = gradient_attribution(model, PROMPT, COMPLETION, SPANS, CONTINUATION)
    ids = torch.tensor([[*PROMPT, *COMPLETION, *CONTINUATION]])
    base = model.get_input_embeddings()(ids).detach()

    def score(start: int, end: int, alpha: float) -> float:
        scale = torch.ones(ids.shape[1], 1, dtype=torch.float64)
        scale[len(PROMPT) + start : len(PROMPT) + end] += alpha
        with torch.no_grad():
            logits = model(inputs_embeds=base * scale).logits[0, -len(CONTINUATION) - 1 : -1]
        return logits.log_softmax(-1).gather(-1, torch.tensor(CONTINUATION)[:, None]).sum().item()

    h = 1e-2
    expected = [
        (8 * (score(s, e, h) - score(s, e, -h)) - (score(s, e, 2 * h) - score(s, e, -2 * h))) / (12 * h)
        for s, e in SPANS
    ]
    np.testing.assert_allclose(credits, expected, rtol=0, atol=5e-5)
    assert np.abs(credits).min() > 1e-3


def test_gradient_attribution_on_a_bigram_model_credits_only_the_last_token(bigram_model):
    credits = gradient_attribution(bigram_model, PROMPT, COMPLETION, SPANS, CONTINUATION)
    assert credits[:2].tolist() == [0.0, 0.0]
    assert abs(credits[2]) > 1e-3


@pytest.mark.parametrize("spans", [[], [(0, 10)], [(3, 3)], [(-1, 2)]])
def test_bad_spans_are_rejected(tiny_random_model, spans):
    for attribute in (gradient_attribution, leave_one_out_attribution):
        with pytest.raises(ValueError, match="span"):
            attribute(tiny_random_model, PROMPT, COMPLETION, spans, CONTINUATION)
