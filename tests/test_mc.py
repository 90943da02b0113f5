"""Monte Carlo values: batched sampling from every boundary gives a deterministic policy's exact outcomes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_tiny_model
from transformers import GenerationConfig

from rredcot.mc import bootstrap_sd, mc_values

pytestmark = pytest.mark.usefixtures("single_thread")

MAX_NEW = 12


def parity_grade(text: str, reference: str) -> float:
    """A stand-in grader that depends on the whole graded text, so any change in it can flip the outcome."""
    return float((sum(map(ord, text)) + len(reference)) % 2)


@pytest.fixture(scope="module")
def peaked_model(char_tokenizer):
    """Logits scaled ×1000: sampling at temperature 1 is greedy decoding, up to probabilities of ~e^-1000."""
    model = make_tiny_model(len(char_tokenizer), seed=11)
    with torch.no_grad():
        model.lm_head.weight.mul_(1000.0)
    return model


def greedy_outcome(model, tokenizer, prompt, completion, boundary) -> float:
    """Oracle: one unpadded greedy generation from the boundary, graded on the completed completion."""
    ids = torch.tensor([prompt + completion[:boundary]])
    out = model.generate(ids, do_sample=False, max_new_tokens=MAX_NEW, pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(completion[:boundary] + out[0, ids.shape[1] :].tolist(), skip_special_tokens=True)
    return parity_grade(text, "5")


def test_deterministic_policy_gives_exact_outcomes(peaked_model, char_tokenizer):
    prompt = char_tokenizer("<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    completion = char_tokenizer("<think>2 plus 3\nmakes 5\n</think>\\boxed{5}")["input_ids"]
    boundaries = [0, 1, 4, 9, 15, 21, len(completion)]
    result = mc_values(
        peaked_model,
        char_tokenizer,
        prompt,
        completion,
        boundaries,
        "5",
        n_samples=3,
        max_new_tokens=MAX_NEW,
        batch_size=8,  # several left-padded batches, one boundary split across two
        grade_fn=parity_grade,
    )
    expected = [greedy_outcome(peaked_model, char_tokenizer, prompt, completion, b) for b in boundaries]
    assert result.outcomes.shape == (len(boundaries), 3)
    np.testing.assert_array_equal(result.outcomes, np.repeat(np.asarray(expected)[:, None], 3, axis=1))
    np.testing.assert_array_equal(result.means, expected)
    assert 0 < np.mean(expected) < 1  # both outcomes occur: the comparison can fail
    assert result.generated_tokens == len(boundaries) * 3 * MAX_NEW


def test_sampling_is_seeded_and_leaves_the_global_rng_alone(tiny_random_model, char_tokenizer):
    kwargs = dict(n_samples=4, max_new_tokens=6, grade_fn=parity_grade, seed=3)
    state = torch.get_rng_state()
    first = mc_values(tiny_random_model, char_tokenizer, [7, 8, 9], [10, 11, 12], [0, 3], "x", **kwargs)
    assert torch.equal(torch.get_rng_state(), state)
    second = mc_values(tiny_random_model, char_tokenizer, [7, 8, 9], [10, 11, 12], [0, 3], "x", **kwargs)
    np.testing.assert_array_equal(first.outcomes, second.outcomes)


def test_bad_mc_input_is_rejected(tiny_random_model, char_tokenizer):
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        mc_values(tiny_random_model, char_tokenizer, [7], [8, 9, 10], [0, 4], "1", grade_fn=parity_grade)
    with pytest.raises(ValueError, match="prompt"):
        mc_values(tiny_random_model, char_tokenizer, [], [8, 9, 10], [1], "1", grade_fn=parity_grade)


def test_bootstrap_sd_follows_the_binomial_law():
    outcomes = np.array([[0.0, 1.0] * 10, [1.0] * 20])
    sds = bootstrap_sd(outcomes, n_resamples=4000, sample_sizes=(1, 4, 16), seed=0)
    assert sds.shape == (2, 3)
    # Resampling a 50/50 boundary: the mean of s draws has SD sqrt(0.25 / s); a constant boundary has 0.
    np.testing.assert_allclose(sds[0], np.sqrt(0.25 / np.array([1, 4, 16])), rtol=0.05)
    np.testing.assert_array_equal(sds[1], 0.0)
    with pytest.raises(ValueError):
        bootstrap_sd(outcomes[:, :0])


def test_deterministic_rollouts_give_exact_values_and_shared_states_are_sampled_once(char_tokenizer):
    """A policy that ends every rollout at once: a state's value is the grade of its own prefix."""
    from rredcot.mc import MCRequest, mc_values_batch

    calls = []

    class StopAtOnce:
        generation_config = GenerationConfig()  # no end ids beyond the tokenizer's

        def parameters(self):
            yield torch.zeros(1)

        def generate(self, input_ids, **kwargs):
            calls.append(input_ids.shape[0])
            eos = torch.full((input_ids.shape[0], 1), char_tokenizer.eos_token_id)
            return torch.cat([input_ids, eos], dim=1)

    prompt = char_tokenizer("<|im_start|>user\n2+2<|im_end|>\n")["input_ids"]
    completion = char_tokenizer("<think>\n2+2=4\n</think>\n\\boxed{4}")["input_ids"]
    boxed_at = len(completion)
    requests = [
        MCRequest(prompt, completion, [0, 3, boxed_at], "4"),
        MCRequest(prompt, completion, [0, boxed_at], "5"),
    ]
    first, second = mc_values_batch(StopAtOnce(), char_tokenizer, requests, n_samples=3, batch_size=100)
    np.testing.assert_array_equal(first.means, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(second.means, [0.0, 0.0])  # same states, another answer: new states
    assert first.outcomes.shape == (3, 3)
    assert calls == [(3 + 2) * 3]  # five distinct (state, answer) pairs, three rollouts each, one batch
    assert first.generated_tokens == 3 * 3 and second.generated_tokens == 2 * 3
    # A state shared by two requests with the same answer is sampled once and counted once.
    calls.clear()
    a, b = mc_values_batch(
        StopAtOnce(), char_tokenizer, [requests[0], requests[0]], n_samples=2, batch_size=100
    )
    assert calls == [3 * 2] and b.generated_tokens == 0
    np.testing.assert_array_equal(a.means, b.means)
