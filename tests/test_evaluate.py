"""Evaluation: pass@k arithmetic, HF sampling on a tiny model, resume after preemption, missing vLLM."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from conftest import SMOKE_ARCHITECTURE

import rredcot.pipeline.evaluate as evaluate_module
from rredcot import rewards
from rredcot.io import read_json, read_jsonl
from rredcot.pipeline.base_model import build_model, load_model_and_tokenizer
from rredcot.pipeline.data.synthetic import SplitSpec, generate_split
from rredcot.pipeline.evaluate import Completion, evaluate, hf_sampler, pass_at_k, summarize
from rredcot.pipeline.tokenizer import build_char_tokenizer

ARCHITECTURE = {**SMOKE_ARCHITECTURE, "num_hidden_layers": 1}
SETTINGS = dict(
    n_samples=2, pass_k=[1, 2], temperature=1.0, top_p=1.0, max_new_tokens=6, batch_size=2, seed=0
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    tokenizer = build_char_tokenizer()
    build_model(ARCHITECTURE, tokenizer, seed=0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def rows():
    spec = SplitSpec(n=3, min_ops=1, max_ops=2, max_operand=9, max_value=50, check_prob=0.0, mistake_prob=0.2)
    return generate_split("bench", spec, seed=0)


def paths(tmp_path):
    return dict(
        partial_path=tmp_path / "partial.jsonl",
        records_path=tmp_path / "records.jsonl",
        summary_path=tmp_path / "summary.json",
    )


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),  # pass@1 is the fraction correct
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (5, 0, 3, 0.0),
        (5, 4, 2, 1.0),  # fewer wrong samples than k: some draw of k holds a correct one
        (4, 1, 4, 1.0),  # k == n: plain "any of the n is correct"
        (4, 0, 4, 0.0),
    ],
)
def test_pass_at_k_hand_worked(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "c", "k"), [(4, 5, 1), (4, 1, 0), (4, 1, 5)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(n, c, k)


def test_summarize_hand_worked():
    records = [
        {"id": "a", "rewards": [1.0, 0.0, 0.0, 0.0], "lengths": [4, 6, 8, 10], "truncated": [False] * 4},
        {
            "id": "b",
            "rewards": [1.0, 1.0, 0.0, 0.0],
            "lengths": [2, 2, 2, 2],
            "truncated": [True] + [False] * 3,
        },
    ]
    summary = summarize(records, n_samples=4, pass_k=[1, 2, 4])
    assert summary["avg_at_n"] == pytest.approx(3 / 8)
    assert summary["pass_at_k"]["1"] == pytest.approx(3 / 8)
    # a: 1 - C(3,2)/C(4,2) = 1/2; b: 1 - C(2,2)/C(4,2) = 5/6
    assert summary["pass_at_k"]["2"] == pytest.approx((1 / 2 + 5 / 6) / 2)
    assert summary["pass_at_k"]["4"] == 1.0
    assert summary["mean_length"] == pytest.approx(4.5)
    assert summary["truncated_frac"] == pytest.approx(1 / 8)
    assert summary["grading_timeouts"] == 0  # records from before the count carry none


def biased_sampler(model_dir, token: str, max_new_tokens: int):
    """HF sampling from a tiny model whose logits are pushed towards one token."""
    model, tokenizer = load_model_and_tokenizer(model_dir, dtype="float32", device="cpu")
    bias = torch.zeros(len(tokenizer))
    bias[tokenizer.convert_tokens_to_ids(token)] = 100.0
    model.lm_head.register_forward_hook(lambda module, inputs, output: output + bias)
    sampler = hf_sampler(
        model, tokenizer, n=2, temperature=1.0, top_p=1.0, max_new_tokens=max_new_tokens, device="cpu"
    )
    return sampler, tokenizer


def test_hf_sampler_cuts_at_eos_and_flags_truncation(model_dir):
    prompts = ["<|im_start|>user\n1 +1<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>assistant\n"]
    sampler, tokenizer = biased_sampler(model_dir, "7", max_new_tokens=5)
    assert sampler(prompts) == [[Completion("77777", 5, True)] * 2] * 2
    sampler, tokenizer = biased_sampler(model_dir, tokenizer.eos_token, max_new_tokens=5)
    assert sampler(prompts) == [[Completion("", 1, False)] * 2] * 2


def test_evaluate_tiny_model_writes_records_and_summary(model_dir, rows, tmp_path):
    summary = evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path))
    records = read_jsonl(tmp_path / "records.jsonl")
    assert [r["id"] for r in records] == [row["id"] for row in rows]
    for record in records:
        assert len(record["rewards"]) == len(record["lengths"]) == len(record["truncated"]) == 2
        assert all(1 <= n <= SETTINGS["max_new_tokens"] for n in record["lengths"])
        assert set(record["rewards"]) <= {0.0, 1.0}
        for length, truncated in zip(record["lengths"], record["truncated"], strict=True):
            assert length == SETTINGS["max_new_tokens"] if truncated else length >= 1
    assert read_json(tmp_path / "summary.json") == json.loads(json.dumps(summary))
    assert summary["benchmark"] == "bench" and summary["num_problems"] == 3
    # Same seed, fresh run: the same samples.
    again = evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path / "again"))
    assert read_jsonl(tmp_path / "again" / "records.jsonl") == records
    assert again == summary


class FakeSampler:
    """First completion correct, second wrong; remembers which prompts it saw."""

    def __init__(self, rows):
        self.answers = {row["problem"]: row["answer"] for row in rows}
        self.seen = []

    def __call__(self, prompts):
        out = []
        for prompt in prompts:
            problem = next(p for p in self.answers if f"user\n{p}<|im_end|>" in prompt)
            self.seen.append(problem)
            right = f"<think>\n</think>\n\\boxed{{{self.answers[problem]}}}"
            out.append([Completion(right, 9, False), Completion("no answer", 9, True)])
        return out


def test_resume_skips_recorded_problems_and_drops_a_torn_line(model_dir, rows, tmp_path, monkeypatch):
    fake = FakeSampler(rows)
    monkeypatch.setattr(evaluate_module, "hf_sampler", lambda *args, **kwargs: fake)
    finished = {"id": rows[0]["id"], "rewards": [1.0, 1.0], "lengths": [3, 3], "truncated": [False, False]}
    (tmp_path / "partial.jsonl").write_text(json.dumps(finished) + '\n{"id": "bench-000')  # killed mid-write

    summary = evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path))

    assert fake.seen == [row["problem"] for row in rows[1:]]
    records = read_jsonl(tmp_path / "records.jsonl")
    assert records[0] == finished
    assert [r["rewards"] for r in records[1:]] == [[1.0, 0.0], [1.0, 0.0]]
    assert summary["avg_at_n"] == pytest.approx((2 + 1 + 1) / 6)
    assert summary["pass_at_k"]["2"] == 1.0
    # Finished: the partial log is gone, so a rerun (say of a retrained policy) starts over.
    assert not (tmp_path / "partial.jsonl").exists()
    fake.seen.clear()
    evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path))
    assert fake.seen == [row["problem"] for row in rows]


def test_grading_timeouts_reach_the_records_and_the_summary(model_dir, rows, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate_module, "hf_sampler", lambda *args, **kwargs: FakeSampler(rows))
    graded = evaluate_module.grade

    def grade(text, reference):  # as if math-verify timed out on every completion without an answer
        if "boxed" not in text:
            monkeypatch.setitem(rewards._STATS, "timed_out", rewards.grading_stats()["timed_out"] + 1)
        return graded(text, reference)

    monkeypatch.setattr(evaluate_module, "grade", grade)
    summary = evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path))
    assert [r["grading_timeouts"] for r in read_jsonl(tmp_path / "records.jsonl")] == [1, 1, 1]
    assert summary["grading_timeouts"] == 3
    assert summary["avg_at_n"] == pytest.approx(1 / 2)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "other-00000", "rewards": [0.0, 0.0]}, "id 'other-00000' is not among this run's problems"),
        ({"id": "bench-00000", "rewards": [0.0]}, "1 samples, expected 2"),
    ],
)
def test_partial_log_from_other_settings_is_refused(model_dir, rows, tmp_path, record, message):
    (tmp_path / "partial.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=rf"partial.jsonl, record 1: {message}"):
        evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path))


def test_missing_vllm_names_the_gpu_extra(model_dir, rows, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(ImportError, match=r"optional `gpu` extra.*pip install -r requirements-gpu\.lock"):
        evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path), backend="vllm")


def test_bad_arguments_are_refused(model_dir, rows, tmp_path):
    with pytest.raises(ValueError, match="backend must be one of"):
        evaluate(model_dir, rows, benchmark="bench", **SETTINGS, **paths(tmp_path), backend="sglang")
    with pytest.raises(ValueError, match=r"pass_k must lie in \[1, n_samples=2\]"):
        evaluate(model_dir, rows, benchmark="bench", **{**SETTINGS, "pass_k": [4]}, **paths(tmp_path))
