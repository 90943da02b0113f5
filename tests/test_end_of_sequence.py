"""One end-of-sequence definition: every generation path stops at any end id, the tokenizer's or one that only
the generation config lists, and keeps the completion up to it."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import torch
from conftest import make_tiny_model
from transformers import GenerationConfig

from rredcot.end_of_sequence import cut_at_end, end_token_ids
from rredcot.mc import mc_values
from rredcot.pipeline.analysis import _sample, prompt_token_ids
from rredcot.pipeline.evaluate import Completion, hf_sampler, vllm_sampler
from rredcot.pipeline.value_sanity import _greedy_trace

pytestmark = pytest.mark.usefixtures("single_thread")

LISTED_END = "#"  # a character that only the generation config lists as an end id
WRITTEN = "77"  # what the scripted model writes before it ends
PROBLEM = "Compute 2+3."


def test_end_ids_are_the_tokenizers_and_every_one_the_generation_config_lists(char_tokenizer):
    eos = char_tokenizer.eos_token_id
    assert end_token_ids(char_tokenizer, GenerationConfig(eos_token_id=[eos, 7])) == {eos, 7}
    assert end_token_ids(char_tokenizer, GenerationConfig(eos_token_id=7)) == {eos, 7}
    assert end_token_ids(char_tokenizer, GenerationConfig()) == {eos}


def test_cut_keeps_the_tokens_before_the_first_end_id():
    assert cut_at_end([5, 9, 3, 9], frozenset({3, 9})) == ([5], True)
    assert cut_at_end([5, 6], frozenset({3})) == ([5, 6], False)


@pytest.fixture(params=["<|im_end|>", LISTED_END])
def scripted_model(request, char_tokenizer):
    """A tiny model whose generation config lists two end ids; it writes ``WRITTEN``, then the end id of the
    parameter, then that id again (so a path that does not stop there runs on to its token budget)."""
    model = make_tiny_model(len(char_tokenizer))
    ends = [char_tokenizer.eos_token_id, char_tokenizer.convert_tokens_to_ids(LISTED_END)]
    model.generation_config.eos_token_id = ends
    model.generation_config.pad_token_id = char_tokenizer.pad_token_id
    script = [char_tokenizer.convert_tokens_to_ids(t) for t in WRITTEN]
    end = char_tokenizer.convert_tokens_to_ids(request.param)
    step = [0]

    def write(module, inputs, logits):
        if logits.shape[1] > 1:  # the prompt's forward pass: a new generation starts
            step[0] = 0
        bias = torch.zeros(logits.shape[-1])
        bias[script[step[0]] if step[0] < len(script) else end] = 1e4
        step[0] += 1
        return logits + bias

    handle = model.lm_head.register_forward_hook(write)
    yield model
    handle.remove()


def test_evaluation_stops_at_either_end_id(scripted_model, char_tokenizer):
    prompt = char_tokenizer.apply_chat_template([{"role": "user", "content": PROBLEM}], tokenize=False)
    sample = hf_sampler(
        scripted_model, char_tokenizer, n=2, temperature=1.0, top_p=1.0, max_new_tokens=8, device="cpu"
    )
    assert sample([prompt]) == [[Completion(WRITTEN, len(WRITTEN) + 1, False)] * 2]


def test_mc_rollouts_stop_at_either_end_id(scripted_model, char_tokenizer):
    graded = []
    prompt = prompt_token_ids(char_tokenizer, PROBLEM)
    completion = char_tokenizer("<think>2+3=5\n", add_special_tokens=False)["input_ids"]
    result = mc_values(
        scripted_model,
        char_tokenizer,
        prompt,
        completion,
        [0, 4],
        "5",
        n_samples=2,
        max_new_tokens=8,
        grade_fn=lambda text, answer: graded.append(text) or 0.0,
    )
    assert graded == [WRITTEN] * 2 + ["2+3" + WRITTEN] * 2  # the prefix <think>2+3, decoded without <think>
    assert result.generated_tokens == 2 * 2 * (len(WRITTEN) + 1)


def test_analysis_traces_stop_at_either_end_id(scripted_model, char_tokenizer):
    prompt = prompt_token_ids(char_tokenizer, PROBLEM)
    traces = _sample(scripted_model, char_tokenizer, prompt, n=2, temperature=1.0, max_new_tokens=8, seed=0)
    assert [char_tokenizer.decode(t) for t in traces] == [WRITTEN] * 2


def test_value_sanity_greedy_trace_stops_at_either_end_id(scripted_model, char_tokenizer):
    row = {"id": "p", "problem": PROBLEM, "answer": "5", "solution": ""}
    trace = _greedy_trace(scripted_model, char_tokenizer, row, max_new_tokens=8, end_of_thinking="</think>")
    assert char_tokenizer.decode(trace["completion_ids"]) == WRITTEN


def test_vllm_is_told_the_same_end_ids(tmp_path, char_tokenizer, monkeypatch):
    model = make_tiny_model(len(char_tokenizer))
    ends = [char_tokenizer.eos_token_id, char_tokenizer.convert_tokens_to_ids(LISTED_END)]
    model.generation_config.eos_token_id = ends
    model.save_pretrained(tmp_path)
    told = {}
    fake = SimpleNamespace(LLM=lambda **kwargs: None, SamplingParams=lambda **kwargs: told.update(kwargs))
    monkeypatch.setitem(sys.modules, "vllm", fake)
    settings = dict(n=1, temperature=1.0, top_p=1.0, max_new_tokens=8, dtype="float32", seed=0)
    vllm_sampler(tmp_path, char_tokenizer, **settings, random_init=True)
    assert told["stop_token_ids"] == sorted(ends)
