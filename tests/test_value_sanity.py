"""Value sanity: the states it values, the corrupted twin it builds, and its summary on hand-made records."""

from __future__ import annotations

import json
import math

import pytest

from rredcot.pipeline.analysis import VLLM_GPU_SHARE, ValueOptions
from rredcot.pipeline.data.synthetic import SplitSpec, generate_split
from rredcot.pipeline.value_sanity import (
    TARGETS,
    analyze_value_sanity,
    corrupted_first_step,
    line_end_boundaries,
    mean_steps,
    summarize,
)

TRACE = "<think>\n7 +5\n7+5=12\nResult: 12\n</think>\n7+5=12\n\\boxed{12}"


def test_states_are_the_prompt_and_every_line_end_of_the_thinking(char_tokenizer):
    ids = char_tokenizer(TRACE, add_special_tokens=False)["input_ids"]
    # <think> \n | 7 +5 \n | 7+5=12 \n | Result: 12 \n | </think> ...: the write-up's newlines are not states.
    assert line_end_boundaries(ids, char_tokenizer, "</think>\n") == [0, 2, 7, 14, 25]
    cut = char_tokenizer("<think>\n1+1=2\n1+1", add_special_tokens=False)[
        "input_ids"
    ]  # no marker: all thinking
    assert line_end_boundaries(cut, char_tokenizer, "</think>\n") == [0, 2, 8]


def test_the_twin_changes_the_result_of_the_first_step_line():
    clean, twin = corrupted_first_step(TRACE, "</think>\n")
    assert clean == "<think>\n7 +5\n7+5=12\n"
    assert twin == "<think>\n7 +5\n7+5=13\n"
    assert corrupted_first_step("<think>\n7 +5\nResult: 12\n</think>\n", "</think>\n") is None
    assert corrupted_first_step("<think>\n7 +5\n7+5=1", "</think>\n") is None  # the step line is unfinished
    assert corrupted_first_step("<think>\n7 +5\n7+5=13\n", "</think>\n") is None  # already wrong
    assert corrupted_first_step("<think>\n8 /2\n8/2=4\n", "</think>\n")[1] == "<think>\n8 /2\n8/2=5\n"
    modular = "<think>\n7 +5 mod 10\n7+5=2\n"
    assert corrupted_first_step(modular, "</think>\n") is None  # 7+5=2 is wrong without the modulus
    assert corrupted_first_step(modular, "</think>\n", 10)[1] == "<think>\n7 +5 mod 10\n7+5=3\n"
    assert corrupted_first_step("<think>\n5 +4 mod 10\n5+4=9\n", "</think>\n", 10)[1].endswith("5+4=0\n")


def record(values, mc, twin_value, twin_mc, clean_index=1):
    return {
        "values": {"reference": values},
        "mc": mc,
        "twin": {"clean_index": clean_index, "values": {"reference": twin_value}, "mc": twin_mc},
    }


def test_summary_of_an_estimator_that_ranks_like_mc_meets_the_targets():
    records = [
        record([-3.0, -2.0, -1.0], [0.2, 0.5, 0.9], -4.0, 0.0),
        record([-2.5, -1.5, -0.5], [0.3, 0.6, 1.0], -3.5, 0.1),
    ]
    summary = summarize(records, "reference", resamples=200, ci_level=0.9, seed=0)
    assert summary["spearman"] == pytest.approx(1.0)  # pooled over both problems, twins included
    assert summary["drop_share"] == 1.0 and summary["drop_share_ci"] == [1.0, 1.0]
    assert summary["meets_targets"]


def test_summary_of_an_estimator_blind_to_the_wrong_step_misses_the_drop_target():
    records = [
        record([-3.0, -2.0, -1.0], [0.2, 0.5, 0.9], -1.5, 0.1),  # the twin scores above its clean state
        record([-2.5, -1.5, -0.5], [0.3, 0.6, 1.0], -3.5, 0.0),
    ]
    summary = summarize(records, "reference", resamples=200, ci_level=0.9, seed=0)
    assert summary["drop_share"] == 0.5 < TARGETS["drop_share"]
    assert not summary["meets_targets"]
    lo, hi = summary["drop_share_ci"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_constant_values_have_no_rank_correlation():
    records = [record([-1.0, -1.0, -1.0], [0.2, 0.5, 0.9], -1.0, 0.1)]
    summary = summarize(records, "reference", resamples=50, ci_level=0.9, seed=0)
    assert math.isnan(summary["spearman"]) and not summary["meets_targets"]


def test_mean_steps_average_each_step_over_the_traces_that_reach_it():
    assert mean_steps([[0.0, 1.0, 3.0], [1.0, 0.0]]) == [0.0, 2.0]  # (1 − 1)/2, then 2 from one trace
    assert mean_steps([]) == [] and mean_steps([[5.0]]) == []


def test_mc_values_come_from_vllm_where_the_backend_is_vllm(
    tiny_random_model, char_tokenizer, tmp_path, fake_vllm
):
    """backend vllm: the greedy trace is the HF model's; its states are the requests of one vLLM call, whose
    rollouts (here: the right answer, then an end id) make every MC value 1."""
    model = tmp_path / "model"
    tiny_random_model.save_pretrained(model)
    char_tokenizer.save_pretrained(model)
    (row,) = generate_split("sanity", SplitSpec(1, 1, 2, 9, 50, 0.0, 0.0), seed=0)
    answer = char_tokenizer(f"\\boxed{{{row['answer']}}}", add_special_tokens=False)["input_ids"]
    fake_vllm.write = lambda prompt, seed: [*answer, char_tokenizer.eos_token_id]
    settings = dict(estimators=["answer_only"], n_problems=1, n_mc_samples=2, max_new_tokens=24)
    analyze_value_sanity(
        model,
        [row],
        **settings,
        mc_batch_size=4,
        value_options=ValueOptions(),
        out_path=tmp_path / "sanity.json",
        bootstrap_resamples=10,
        backend="vllm",
    )
    (record,) = json.loads((tmp_path / "sanity.json").read_text())["records"]
    assert [engine["gpu_memory_utilization"] for engine in fake_vllm.engines] == [VLLM_GPU_SHARE]
    assert len(fake_vllm.calls[0][0]) == len(record["boundaries"])  # then the twin's call, if it has one
    assert record["mc"] == [1.0] * len(record["boundaries"])
