"""Value estimation: one-pass scoring equals the per-boundary oracle; estimators score their continuations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import make_tiny_model
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from transformers import Qwen3Config, Qwen3ForCausalLM

import rredcot.scoring as scoring
from rredcot.continuation import Continuation
from rredcot.scoring import logprobs_and_entropies, score_continuations, score_continuations_naive
from rredcot.values import (
    ValueRequest,
    aggregate_values,
    answer_only_continuations,
    build_continuations,
    estimate_values,
    estimate_values_batch,
    reference_continuations,
    segment_and_estimate,
    self_references,
)

pytestmark = pytest.mark.usefixtures("single_thread")


def random_ids(n: int, generator: torch.Generator) -> list[int]:
    """Ids of ordinary (non-special) characters of the char tokenizer."""
    return torch.randint(6, 102, (n,), generator=generator).tolist()


@pytest.mark.parametrize(
    ("seed", "n_boundaries", "value_batch_tokens"),
    [(0, 40, 65536), (1, 40, 300), (2, 8, 65536), (3, 1, 65536)],
)
def test_one_pass_matches_naive(tiny_random_model, seed, n_boundaries, value_batch_tokens):
    generator = torch.Generator().manual_seed(seed)
    prefix = random_ids(200, generator)
    continuations = [random_ids(n, generator) for n in (25, 1, 12)]
    # 1 (one token of context) and 200 (the whole prefix) are the extreme boundaries.
    inner = torch.randperm(198, generator=generator)[: n_boundaries - 2].add(2).tolist()
    boundaries = sorted({1, 200, *inner}) if n_boundaries > 1 else [137]
    fast = score_continuations(
        tiny_random_model, prefix, boundaries, continuations, value_batch_tokens=value_batch_tokens
    )
    slow = score_continuations_naive(tiny_random_model, prefix, boundaries, continuations)
    assert fast.shape == (len(boundaries), 3) and fast.dtype == torch.float64
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=0)
    if n_boundaries > 1:
        assert slow.std(0).min() > 0.1  # values move with the boundary: agreement is not trivial


def test_batch_of_requests_matches_each_alone(tiny_random_model):
    """Prefixes of different lengths share padded forwards; every item must come out as if scored alone."""
    generator = torch.Generator().manual_seed(7)
    requests = [
        ValueRequest(random_ids(p, generator), random_ids(c, generator), b, continuation_ids=conts)
        for p, c, b, conts in [
            (5, 60, [0, 10, 59, 60], [random_ids(9, generator), random_ids(3, generator)]),
            (30, 8, [2, 5], [random_ids(20, generator)]),
            (1, 90, [0, 1, 45, 89], [random_ids(4, generator)]),
        ]
    ]
    together = estimate_values_batch(tiny_random_model, requests, value_batch_tokens=400)
    for request, values in zip(requests, together, strict=True):
        prefix = [*request.prompt_ids, *request.completion_ids]
        absolute = [len(request.prompt_ids) + b for b in request.boundaries]
        expected = aggregate_values(
            score_continuations_naive(tiny_random_model, prefix, absolute, request.continuation_ids)
        )
        np.testing.assert_allclose(values, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_segment_and_estimate_gives_the_policys_entropies_and_the_same_values(tiny_random_model, temperature):
    """One pass for both: entropies of logits / T at every completion token, values as if scored alone."""
    generator = torch.Generator().manual_seed(11)
    requests = [
        ValueRequest(
            random_ids(p, generator), random_ids(c, generator), continuation_ids=[random_ids(7, generator)]
        )
        for p, c in [(6, 40), (20, 9), (1, 25)]
    ]
    seen = {}

    def boundaries_of(k, entropies):
        seen[k] = entropies
        n = len(requests[k].completion_ids)
        return [0, int(np.argmax(entropies)) + 1, n] if np.argmax(entropies) + 1 < n else [0, n]

    out = segment_and_estimate(
        tiny_random_model, requests, boundaries_of, temperature=temperature, value_batch_tokens=300
    )
    for k, (request, (entropies, values)) in enumerate(zip(requests, out, strict=True)):
        ids = torch.tensor([[*request.prompt_ids, *request.completion_ids]])
        n = len(request.completion_ids)
        with torch.no_grad():
            logits = tiny_random_model(ids).logits[0, -n - 1 : -1] / temperature
        np.testing.assert_allclose(
            entropies, torch.distributions.Categorical(logits=logits).entropy(), atol=1e-5
        )
        assert seen[k] is entropies
        alone = ValueRequest(
            request.prompt_ids,
            request.completion_ids,
            boundaries_of(k, entropies),
            continuation_ids=request.continuation_ids,
        )
        np.testing.assert_allclose(
            values, estimate_values_batch(tiny_random_model, [alone])[0], atol=1e-4, rtol=0
        )


def test_segment_and_estimate_rejects_bad_boundaries_and_empty_completions(tiny_random_model):
    request = ValueRequest([5, 6], [7, 8, 9], continuation_ids=[[10]])
    with pytest.raises(ValueError, match="request 0 .*strictly increasing"):
        segment_and_estimate(tiny_random_model, [request], lambda k, e: [2, 1])
    with pytest.raises(ValueError, match="request 0 .*must lie in \\[0, 3\\]"):
        segment_and_estimate(tiny_random_model, [request], lambda k, e: [0, 4])
    with pytest.raises(ValueError, match="empty completion"):
        segment_and_estimate(
            tiny_random_model, [ValueRequest([5], [], continuation_ids=[[10]])], lambda k, e: [0]
        )
    with pytest.raises(ValueError, match="no boundaries"):
        estimate_values_batch(tiny_random_model, [request])


def test_shared_states_are_scored_once(tiny_random_model, monkeypatch):
    """A group shares its prompt and here its first 10 tokens: those states' pairs are scored once, and
    every request still gets the values it would get alone."""
    generator = torch.Generator().manual_seed(4)
    prompt, shared = random_ids(8, generator), random_ids(10, generator)
    refs = [random_ids(5, generator), random_ids(6, generator)]
    requests = [
        ValueRequest(prompt, shared + random_ids(12, generator), [0, 10, 16, 22], continuation_ids=refs)
        for _ in range(3)
    ]
    scored = []
    score_pairs = scoring._score_pairs
    monkeypatch.setattr(
        scoring,
        "_score_pairs",
        lambda model, k, v, pairs, *a: scored.append(len(pairs.item)) or score_pairs(model, k, v, pairs, *a),
    )
    together = estimate_values_batch(tiny_random_model, requests, value_batch_tokens=100)
    # 3 requests × 4 boundaries × 2 references; boundaries 0 and 10 are shared by all three.
    assert sum(scored) == (2 + 3 * 2) * 2
    for request, values in zip(requests, together, strict=True):
        prefix = [*request.prompt_ids, *request.completion_ids]
        expected = aggregate_values(
            score_continuations_naive(tiny_random_model, prefix, [8 + b for b in request.boundaries], refs)
        )
        np.testing.assert_allclose(values, expected, atol=1e-4, rtol=0)


def test_eager_attention_matches_sdpa_oracle(char_tokenizer):
    model = make_tiny_model(len(char_tokenizer), seed=3)
    generator = torch.Generator().manual_seed(3)
    prefix, conts = random_ids(50, generator), [random_ids(6, generator)]
    expected = score_continuations_naive(model, prefix, [1, 20, 50], conts)
    model.set_attn_implementation("eager")
    torch.testing.assert_close(
        score_continuations(model, prefix, [1, 20, 50], conts), expected, atol=1e-4, rtol=0
    )


def test_scoring_leaves_a_training_model_in_training_mode(char_tokenizer):
    model = make_tiny_model(len(char_tokenizer), seed=4).train()
    score_continuations(model, [7, 8, 9], [1, 3], [[10, 11]])
    assert model.training


def test_aggregate_values_by_hand():
    logp = torch.tensor([[math.log(0.2), math.log(0.4)], [math.log(0.5), math.log(0.5)]])
    np.testing.assert_allclose(aggregate_values(logp, "linear"), [0.3, 0.5])
    np.testing.assert_allclose(aggregate_values(logp, "log"), np.log([0.3, 0.5]))
    # Long references: the linear value underflows to 0, the log value stays exact.
    deep = torch.tensor([[-2000.0, -2000.0 - math.log(3.0)]])
    np.testing.assert_allclose(aggregate_values(deep, "log"), [-2000.0 + math.log(2.0 / 3.0)])
    assert aggregate_values(deep, "linear")[0] == 0.0
    with pytest.raises(ValueError, match="space"):
        aggregate_values(logp, "logit")


def test_continuations_are_marker_solution_and_boxed_answer(char_tokenizer):
    (ids,) = reference_continuations(char_tokenizer, [("so 2+2=4. ", "4")])
    assert ids[0] == char_tokenizer.convert_tokens_to_ids("</think>")
    assert char_tokenizer.decode(ids) == "</think>so 2+2=4. \\boxed{4}"
    (exit_ids,) = answer_only_continuations(
        char_tokenizer, "4", continuation=Continuation(end_of_thinking="", answer_template="[{answer}]")
    )
    assert char_tokenizer.decode(exit_ids) == "The final answer is [4]"


def test_a_solution_that_already_boxes_its_answer_gets_no_second_box(char_tokenizer):
    # A NuminaMath-CoT row: the worked solution ends in its own box (inside math mode, with a full stop).
    numina = {
        "problem": "What is $2+2$?",
        "solution": "We add: $2+2=4$. So the answer is $\\boxed{4}$.",
        "answer": "4",
    }
    (ids,) = reference_continuations(char_tokenizer, [(numina["solution"], numina["answer"])])
    assert char_tokenizer.decode(ids) == "</think>" + numina["solution"]
    # The synthetic write-up, after the marker the tiny model writes.
    (ids,) = reference_continuations(
        char_tokenizer, [("3+4=7\n\\boxed{7}", "7")], continuation=Continuation(end_of_thinking="</think>\n")
    )
    assert char_tokenizer.decode(ids) == "</think>\n3+4=7\n\\boxed{7}"
    # A box that never closes is no answer: the template's box is appended.
    (ids,) = reference_continuations(char_tokenizer, [("so \\boxed{4", "4")])
    assert char_tokenizer.decode(ids) == "</think>so \\boxed{4\\boxed{4}"


def test_self_references_take_what_correct_completions_wrote_after_the_marker(char_tokenizer):
    completion = char_tokenizer("<think>3 and 4 make 7</think>3+4=7\\boxed{7}<|im_end|>")["input_ids"]
    assert self_references(char_tokenizer, [completion], "7") == [("3+4=7\\boxed{7}", "7")]
    from_ids = build_continuations(
        char_tokenizer, Continuation(estimator="self"), group_correct=[completion], answer="7"
    )
    assert from_ids == reference_continuations(char_tokenizer, [("3+4=7\\boxed{7}", "7")])
    assert char_tokenizer.decode(from_ids[0]) == "</think>3+4=7\\boxed{7}"  # its own box, not a second
    # Without the marker (truncated in the thinking) only the answer is scored.
    cut = char_tokenizer("<think>3 and 4 make 7")["input_ids"]
    assert self_references(char_tokenizer, [cut], "7") == [("", "7")]


def test_estimators_score_their_continuations(tiny_random_model, char_tokenizer):
    prompt = char_tokenizer("<|im_start|>user\nAdd 3 and 4.<|im_end|>\n<|im_start|>assistant\n")["input_ids"]
    completion = char_tokenizer("<think>3 plus 4\nis 7\n</think>\\boxed{7}")["input_ids"]
    boundaries = [0, 8, 13]
    references = [("3+4=7", "7"), ("4+3 is 7", "7")]
    prefix, absolute = prompt + completion, [len(prompt) + b for b in boundaries]

    def oracle(continuations):
        return aggregate_values(score_continuations_naive(tiny_random_model, prefix, absolute, continuations))

    def values(**kwargs):
        return estimate_values(tiny_random_model, char_tokenizer, prompt, completion, boundaries, **kwargs)

    reference = values(references=references)
    np.testing.assert_allclose(
        reference, oracle(reference_continuations(char_tokenizer, references)), atol=1e-4
    )
    answer_only = values(continuation=Continuation(estimator="answer_only"), answer="7")
    np.testing.assert_allclose(answer_only, oracle(answer_only_continuations(char_tokenizer, "7")), atol=1e-4)
    # "self" without a correct completion falls back to the references.
    self_estimator = Continuation(estimator="self")
    np.testing.assert_allclose(
        values(continuation=self_estimator, group_correct=[], references=references), reference
    )
    own = values(continuation=self_estimator, group_correct=[("3 plus 4 is 7", "7")], references=references)
    np.testing.assert_allclose(
        own, oracle(reference_continuations(char_tokenizer, [("3 plus 4 is 7", "7")])), atol=1e-4
    )
    np.testing.assert_allclose(
        values(references=references, space="linear"), np.exp(reference), rtol=1e-6, atol=0
    )


@pytest.mark.parametrize(
    ("boundaries", "message"),
    [
        ([0, 3], r"\[1, 6\]"),
        ([2, 7], r"\[1, 6\]"),
        ([4, 2], "increasing"),
        ([3, 3], "increasing"),
        ([], "no boundaries"),
    ],
)
def test_bad_boundaries_are_rejected(tiny_random_model, boundaries, message):
    for scorer in (score_continuations, score_continuations_naive):
        with pytest.raises(ValueError, match=message):
            scorer(tiny_random_model, [7, 8, 9, 10, 11, 12], boundaries, [[13]])


def test_missing_references_are_rejected(tiny_random_model, char_tokenizer):
    with pytest.raises(ValueError, match="reference"):
        score_continuations(tiny_random_model, [7, 8], [1], [])
    with pytest.raises(ValueError, match="no correct completion in the group and no reference"):
        estimate_values(
            tiny_random_model,
            char_tokenizer,
            [7],
            [8, 9],
            [0, 2],
            continuation=Continuation(estimator="self"),
            group_correct=[],
        )
    with pytest.raises(ValueError, match="no reference"):
        estimate_values(tiny_random_model, char_tokenizer, [7], [8, 9], [0, 2], references=[])
    with pytest.raises(ValueError, match="solution, answer"):  # a dataset without a solution column
        estimate_values(tiny_random_model, char_tokenizer, [7], [8, 9], [0, 2], references=[(None, "7")])
    with pytest.raises(ValueError, match="non-empty prompt"):
        estimate_values(tiny_random_model, char_tokenizer, [], [8, 9], [0, 2], references=[("a", "7")])
    with pytest.raises(ValueError, match="estimator"):
        estimate_values(
            tiny_random_model, char_tokenizer, [7], [8, 9], [0, 2], continuation=Continuation(estimator="mc")
        )


def test_logprobs_and_entropies_come_from_one_distribution(tiny_random_model):
    generator = torch.Generator().manual_seed(5)
    ids = torch.tensor([random_ids(30, generator), random_ids(30, generator)])
    logps, entropies = logprobs_and_entropies(tiny_random_model, ids, torch.ones_like(ids), logits_to_keep=10)
    with torch.no_grad():
        logits = tiny_random_model(ids).logits[:, -11:-1]
    dist = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(logps, dist.log_prob(ids[:, -10:]), atol=1e-5, rtol=0)
    torch.testing.assert_close(entropies, dist.entropy(), atol=1e-5, rtol=0)


def test_one_token_of_context(tiny_random_model):
    """Boundary 1 attends to no cached slot at all: the row sees only the re-fed first token."""
    conts = [[40, 41, 42], [43]]
    fast = score_continuations(tiny_random_model, [7, 8, 9], [1], conts)
    torch.testing.assert_close(
        fast, score_continuations_naive(tiny_random_model, [7, 8, 9], [1], conts), atol=1e-5, rtol=0
    )


class LargestAllocation(TorchDispatchMode):
    """Records the largest storage (bytes) any op allocates while active; views and in-place results share
    an input's storage and allocate nothing."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs)) if torch.is_tensor(t)}
        for leaf in tree_leaves(out):
            if torch.is_tensor(leaf) and leaf.untyped_storage().data_ptr() not in inputs:
                self.bytes = max(self.bytes, leaf.untyped_storage().nbytes())
        return out


@pytest.mark.parametrize("max_logits", [40, 101, 102, 500])
def test_a_vocabulary_split_into_chunks_matches_naive(tiny_random_model, max_logits):
    """The 102-token vocabulary in chunks of 40 (three, the last one short), 101 (a one-token tail), whole
    rows one (102) or four (500) at a time: values, entropies and log-probs as the naive full-logits path."""
    generator = torch.Generator().manual_seed(8)
    prefix, conts = random_ids(60, generator), [random_ids(9, generator), random_ids(2, generator)]
    fast = score_continuations(tiny_random_model, prefix, [1, 17, 40, 60], conts, max_logits=max_logits)
    slow = score_continuations_naive(tiny_random_model, prefix, [1, 17, 40, 60], conts)
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=0)

    ids = torch.tensor([random_ids(30, generator), random_ids(30, generator)])
    logps, entropies = logprobs_and_entropies(
        tiny_random_model, ids, torch.ones_like(ids), logits_to_keep=10, max_logits=max_logits
    )
    with torch.no_grad():
        dist = torch.distributions.Categorical(logits=tiny_random_model(ids).logits[:, -11:-1])
    torch.testing.assert_close(logps, dist.log_prob(ids[:, -10:]), atol=1e-5, rtol=0)
    torch.testing.assert_close(entropies, dist.entropy(), atol=1e-5, rtol=0)

    request = ValueRequest(prefix[:5], prefix[5:], continuation_ids=conts)
    ((split, _),) = segment_and_estimate(
        tiny_random_model, [request], lambda k, e: [0, 55], temperature=0.6, max_logits=max_logits
    )
    ((whole, _),) = segment_and_estimate(tiny_random_model, [request], lambda k, e: [0, 55], temperature=0.6)
    np.testing.assert_allclose(split, whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize("max_logits", [2**14, 2**15])
def test_scoring_memory_is_bounded_by_the_logits_budget_not_the_vocabulary(max_logits):
    """A 20,000-token vocabulary: no tensor that scoring allocates is larger than ``max_logits`` fp32 values
    (the vocabulary split in chunks of 2**14, or whole rows one at a time), while the full logits of the
    batch would be 16 × 16 × 20,000. The budgets sit above the batch's other tensors (its 4D mask is
    16 × 16 × 45)."""
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=20_000,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=128,
        attn_implementation="sdpa",
    )
    model = Qwen3ForCausalLM(config).eval()
    generator = torch.Generator().manual_seed(1)
    draw = lambda n: torch.randint(0, 20_000, (n,), generator=generator).tolist()  # noqa: E731
    prefix, conts = draw(30), [draw(16), draw(16)]
    boundaries = [2, 6, 10, 14, 18, 22, 26, 30]
    with LargestAllocation() as largest:
        fast = score_continuations(model, prefix, boundaries, conts, max_logits=max_logits)
    assert largest.bytes <= 4 * max_logits < 4 * 16 * 16 * 20_000
    torch.testing.assert_close(
        fast, score_continuations_naive(model, prefix, boundaries, conts), atol=1e-4, rtol=0
    )


def test_a_bad_logits_budget_is_rejected(tiny_random_model):
    with pytest.raises(ValueError, match="max_logits must be >= 1, got 0"):
        score_continuations(tiny_random_model, [7, 8, 9], [1], [[10]], max_logits=0)
    ids = torch.tensor([[7, 8, 9]])
    with pytest.raises(ValueError, match="max_logits must be >= 1, got -1"):
        logprobs_and_entropies(tiny_random_model, ids, torch.ones_like(ids), 1, max_logits=-1)
