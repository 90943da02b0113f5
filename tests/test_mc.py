"""Monte Carlo values: batched sampling from every boundary gives a deterministic policy's exact outcomes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_tiny_model
from transformers import GenerationConfig

from rredcot.mc import bootstrap_sd, mc_values
from rredcot.rewards import grade

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


def test_vllm_rollouts_are_token_id_requests_graded_as_hf_rollouts_are(fake_vllm, char_tokenizer, tmp_path):
    """Through vLLM: one call per request's new states, each a token-id prompt (prompt + completion[:b]) with
    n samples, the MC budget, the shared end ids as stop tokens and a seed of its own; the samples are cut
    at their first end id and graded on completion[:b] + the continuation, as HF rollouts are."""
    from rredcot.end_of_sequence import end_token_ids
    from rredcot.mc import MCRequest, mc_values_batch
    from rredcot.vllm_engine import load_vllm

    def ids(text: str) -> list[int]:
        return char_tokenizer(text, add_special_tokens=False)["input_ids"]

    eos, listed = char_tokenizer.eos_token_id, char_tokenizer.convert_tokens_to_ids("#")
    GenerationConfig(eos_token_id=[eos, listed]).save_pretrained(tmp_path)  # '#' ends samples too
    right = ids("\\boxed{4}") + [listed] + ids("\\boxed{9}")  # right only if cut at '#': 19 tokens
    wrong = ids("\\boxed{5}") + [eos]  # 10 tokens
    fake_vllm.write = lambda prompt, seed: right if seed % 2 == 0 else wrong
    policy = load_vllm(tmp_path, dtype="bfloat16", seed=1, random_init=False)
    prompt = ids("<|im_start|>user\n2+2<|im_end|>\n<|im_start|>assistant\n")
    completion = ids("<think>\n2+2=4\n</think>\n")
    requests = [  # the second shares its first state with the first
        MCRequest(prompt, completion, [0, 3], "4"),
        MCRequest(prompt, completion, [3, len(completion)], "4"),
    ]
    graded = []

    def grade_fn(text, answer):
        graded.append(text)
        return grade(text, answer)

    first, second = mc_values_batch(
        policy,
        char_tokenizer,
        requests,
        n_samples=3,
        temperature=0.7,
        max_new_tokens=32,
        seed=10,
        grade_fn=grade_fn,
    )

    assert fake_vllm.engines == [
        {"model": str(tmp_path), "dtype": "bfloat16", "seed": 1, "load_format": "auto"}
    ]
    ends = sorted(end_token_ids(char_tokenizer, GenerationConfig.from_pretrained(tmp_path)))
    assert ends == sorted({eos, listed})  # the shared set: the tokenizer's end id and the listed one
    # States 0, 1 (the first request's), 2 (the second's new one); state s is seeded 10 + 3s.
    expected = [([0, 3], [10, 13]), ([len(completion)], [16])]
    assert len(fake_vllm.calls) == len(expected)
    for (prompts, params), (bounds, seeds) in zip(fake_vllm.calls, expected, strict=True):
        assert prompts == [{"prompt_token_ids": prompt + completion[:b]} for b in bounds]
        assert [vars(p) for p in params] == [
            dict(n=3, temperature=0.7, top_p=1.0, max_tokens=32, stop_token_ids=ends, seed=seed)
            for seed in seeds
        ]
    # Seeds 10..18, even ones right: state 0 → 1 0 1, state 1 → 0 1 0, state 2 → 1 0 1.
    np.testing.assert_array_equal(first.outcomes, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_allclose(first.means, [2 / 3, 1 / 3])
    np.testing.assert_array_equal(second.outcomes, [[0, 1, 0], [1, 0, 1]])
    np.testing.assert_allclose(second.means, [1 / 3, 2 / 3])
    assert graded[:3] == ["\\boxed{4}", "\\boxed{5}", "\\boxed{4}"]  # cut at '#', special tokens dropped
    assert graded[3] == "\n2\\boxed{5}"  # completion[:3] is <think>, "\n", "2"
    # Each sample's own tokens: state 0 and 2 generate 19 + 10 + 19, state 1 10 + 19 + 10.
    assert (first.generated_tokens, second.generated_tokens) == (48 + 39, 48)
