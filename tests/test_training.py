"""Smoke runs of both methods on a tiny random policy: metrics, resume, stop signals, NaN loss, bad config."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest
import torch
from conftest import SMOKE_ARCHITECTURE

import rredcot.pipeline.train as train_module
from rredcot.io import append_jsonl, read_jsonl, write_jsonl
from rredcot.pipeline.base_model import build_model
from rredcot.pipeline.data.synthetic import SplitSpec, generate_split
from rredcot.pipeline.tokenizer import build_char_tokenizer
from rredcot.pipeline.train import STOP_SIGNALS, PreemptionCallback, TrainingInterrupted, train_policy

ARCHITECTURE = {**SMOKE_ARCHITECTURE, "max_position_embeddings": 512}
TRL_ARGS = dict(
    learning_rate=1e-3,
    lr_scheduler_type="constant",
    max_steps=3,
    per_device_train_batch_size=8,
    num_generations=4,
    max_completion_length=32,
    temperature=1.0,
    beta=0.0,
    epsilon=0.2,
    loss_type="grpo",
    scale_rewards="group",
    save_steps=1,
    logging_steps=1,
    gradient_checkpointing=False,
    bf16=False,
)
RREDCOT_ARGS = dict(
    segmentation={"strategy": "hybrid", "max_segments": 4, "keywords": ["\n", " "], "chunk_size": None},
    value_estimator="reference",
    value_space="log",
    end_of_thinking="</think>",
    exit_string="The final answer is ",
    answer_template="\\boxed{{{answer}}}",
    sigma_mode="clip",
    sigma_mix=0.5,
    sigma_temperature=1.0,
    value_batch_tokens=4096,
    mc_samples=2,
    mc_batch_tokens=4096,
)
STEP_KEYS = {
    "step",
    "epoch",
    "time",
    "wall_s",
    "generated_tokens",
    "accuracy",
    "loss",
    "reward",
    "reward_std",
    "rewards/accuracy_reward/mean",
    "completions/mean_length",
    "delimiters/newlines_mean",
    "delimiters/thinking_lines_mean",
    "entropy",
    "step_time",
}
RREDCOT_KEYS = {
    "rredcot/segments_mean",
    "rredcot/sigma_max_mean",
    "rredcot/sigma_entropy",
    "rredcot/value_time_s",
    "rredcot/value_start_mean",
    "rredcot/push_first",
    "rredcot/push_answer",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A saved tiny random policy and eight synthetic training rows."""
    root = tmp_path_factory.mktemp("training")
    tokenizer = build_char_tokenizer()
    model = build_model(ARCHITECTURE, tokenizer, seed=0)
    model.save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")
    spec = SplitSpec(n=8, min_ops=1, max_ops=2, max_operand=9, max_value=50, check_prob=0.3, mistake_prob=0.2)
    write_jsonl(root / "train.jsonl", generate_split("train", spec, seed=0))
    return root


@pytest.fixture(autouse=True)
def cpu_state():
    """One thread (tiny models are fastest so) and no global determinism flag leaking into other tests."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@pytest.fixture
def varied_reward(monkeypatch):
    """A random policy never answers correctly; give some completions reward 1 so advantages are non-zero."""

    def accuracy_reward(completions, answer, **kwargs):
        return [float(len(c[0]["content"]) % 3 == 0) for c in completions]

    monkeypatch.setattr(train_module, "accuracy_reward", accuracy_reward)
    return accuracy_reward


def run(workspace, out, method="grpo", **trl_overrides):
    return train_policy(
        method=method,
        model_path=workspace / "base",
        train_path=workspace / "train.jsonl",
        output_dir=out,
        seed=0,
        trl_args={**TRL_ARGS, **trl_overrides},
        rredcot_args=RREDCOT_ARGS if method == "rredcot" else None,
        num_threads=1,
    )


@pytest.mark.parametrize("method", ["grpo", "rredcot"])
def test_smoke_run_logs_one_line_per_step(workspace, tmp_path, varied_reward, method):
    summary = run(workspace, tmp_path, method)
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3]
    expected = STEP_KEYS | (RREDCOT_KEYS if method == "rredcot" else set())
    for row in rows:
        assert expected <= set(row), expected - set(row)
        assert row["accuracy"] == row["rewards/accuracy_reward/mean"]
        assert 0 <= row["delimiters/thinking_lines_mean"] <= row["delimiters/newlines_mean"] + 1
    tokens = [r["generated_tokens"] for r in rows]
    assert tokens[0] == rows[0]["completions/mean_length"] * TRL_ARGS["per_device_train_batch_size"]
    assert tokens == sorted(tokens) and tokens[0] > 0
    if method == "rredcot":
        assert any(r["rredcot/active_frac"] > 0 and r["rredcot/segments_mean"] >= 1 for r in rows)
    final = tmp_path / "final"
    assert summary["final"] == str(final) and summary["global_step"] == 3
    assert (final / "config.json").exists() and (final / "tokenizer.json").exists()
    assert not any(p.name.startswith(".final") for p in tmp_path.iterdir())


def test_oracle_estimator_trains_on_exact_values_of_the_synthetic_rows(workspace, tmp_path, varied_reward):
    """A random policy writes no right line: every state after the first (wrong) line is worth 0, the
    measured step accuracy is the smoothed 1/2 or less, and σ (magnitude: sign-free) adds no push."""
    oracle = {**RREDCOT_ARGS, "value_estimator": "oracle", "value_space": "linear", "sigma_mode": "magnitude"}
    train_policy(
        method="rredcot",
        model_path=workspace / "base",
        train_path=workspace / "train.jsonl",
        output_dir=tmp_path,
        seed=0,
        trl_args={**TRL_ARGS, "max_steps": 2},
        rredcot_args=oracle,
        num_threads=1,
    )
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert all(0 < r["rredcot/oracle_step_accuracy"] <= 0.5 for r in rows)
    assert all(r["rredcot/push_first"] == 0 and r["rredcot/push_middle"] == 0 for r in rows)
    # The same diagnostic for every σ mode on the same values; the configured one's is the plain name.
    assert all(
        f"rredcot/push_{m}_{c}" in r for r in rows for m in ("clip", "softmax") for c in ("first", "last")
    )
    assert all(r["rredcot/push_magnitude_middle"] == r["rredcot/push_middle"] for r in rows)


def test_oracle_estimator_needs_exact_values(workspace, tmp_path):
    """A trainer built without a checker of the task's lines stops at once, naming what is missing."""
    from rredcot.trainer import RREDCoTTrainer

    oracle = {**RREDCOT_ARGS, "value_estimator": "oracle", "value_space": "linear"}
    config = train_module._config("rredcot", tmp_path, 0, TRL_ARGS, oracle)
    tokenizer = build_char_tokenizer()
    with pytest.raises(ValueError, match="needs the trainer's exact_values"):
        RREDCoTTrainer(
            model=build_model(ARCHITECTURE, tokenizer, seed=0),
            reward_funcs=[train_module.accuracy_reward],
            args=config,
            train_dataset=train_module.rl_dataset(read_jsonl(workspace / "train.jsonl")),
            processing_class=tokenizer,
        )


def test_resume_continues_from_checkpoint_and_matches_uninterrupted_run(workspace, tmp_path):
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    run(workspace, interrupted, max_steps=2)
    # A line for a step after the checkpoint, as if the job died after logging step 3 but before saving it.
    append_jsonl(interrupted / "metrics.jsonl", {"step": 3, "generated_tokens": 1e9, "wall_s": 1e9})
    summary = run(workspace, interrupted, max_steps=4)
    assert summary["resumed_from"] == str(interrupted / "checkpoint-2")
    state = json.loads((interrupted / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4

    run(workspace, straight, max_steps=4)
    resumed, reference = read_jsonl(interrupted / "metrics.jsonl"), read_jsonl(straight / "metrics.jsonl")
    assert [r["step"] for r in resumed] == [1, 2, 3, 4]
    for key in ("reward", "loss", "grad_norm", "completions/mean_length", "generated_tokens"):
        assert [r[key] for r in resumed] == [r[key] for r in reference], key


def test_resume_refuses_a_metrics_log_missing_steps(workspace, tmp_path):
    """Resuming without the lines up to the checkpoint would restart the cumulative columns: an error."""
    run(workspace, tmp_path, max_steps=1)
    (tmp_path / "metrics.jsonl").unlink()
    with pytest.raises(ValueError, match="resuming at step 1 but the log ends at step 0"):
        run(workspace, tmp_path, max_steps=2)


def test_sigterm_checkpoints_stops_and_rerun_finishes(workspace, tmp_path, monkeypatch):
    calls = []

    def accuracy_reward(completions, answer, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # mid-way through step 2, while TRL scores its completions
            os.kill(os.getpid(), signal.SIGTERM)
        return [0.0] * len(completions)

    monkeypatch.setattr(train_module, "accuracy_reward", accuracy_reward)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match="step 2") as err:
        run(workspace, tmp_path, max_steps=5, save_steps=100)
    assert err.value.checkpoint == tmp_path / "checkpoint-2"
    assert (tmp_path / "checkpoint-2" / "trainer_state.json").exists()
    assert not (tmp_path / "final").exists()
    assert signal.getsignal(signal.SIGTERM) is handler  # the previous handler is back

    summary = run(workspace, tmp_path, max_steps=3, save_steps=100)
    assert summary["resumed_from"] == str(tmp_path / "checkpoint-2")
    assert (tmp_path / "final" / "config.json").exists()
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2, 3]


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda s: s.name)
def test_every_stop_signal_requests_a_stop_and_the_handlers_are_restored(signum):
    before = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    with PreemptionCallback() as preemption:
        os.kill(os.getpid(), signum)
        assert preemption.requested
    assert {s: signal.getsignal(s) for s in STOP_SIGNALS} == before


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(workspace, tmp_path, monkeypatch):
    class NaNAtStep3(train_module.LoggedGRPOTrainer):
        def _compute_loss(self, model, inputs):
            loss = super()._compute_loss(model, inputs)
            return loss * math.nan if self.state.global_step == 2 else loss

    monkeypatch.setitem(train_module.TRAINERS, "grpo", NaNAtStep3)
    with pytest.raises(FloatingPointError, match="at step 3"):
        run(workspace, tmp_path, max_steps=4)
    assert (tmp_path / "checkpoint-2").exists() and not (tmp_path / "checkpoint-3").exists()
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]


@pytest.mark.parametrize(
    ("method", "trl_overrides", "rredcot_args", "message"),
    [
        ("ppo", {}, None, "method"),
        ("grpo", {"lerning_rate": 1e-3}, None, "unknown GRPOConfig field.*lerning_rate"),
        ("grpo", {"seed": 1}, None, "set by train_policy.*seed"),
        ("grpo", {"logging_steps": 5}, None, "logging_steps"),
        ("grpo", {}, RREDCOT_ARGS, "only used with method='rredcot'"),
        ("rredcot", {}, {**RREDCOT_ARGS, "sigma_mixx": 0.5}, "unknown field.*sigma_mixx"),
        (
            "rredcot",
            {},
            {**RREDCOT_ARGS, "segment_keywords": ["\n"]},
            "segment_keywords is now segmentation.keywords",
        ),
        (
            "rredcot",
            {},
            {k: v for k, v in RREDCOT_ARGS.items() if k != "sigma_mode"},
            "missing field.*sigma_mode",
        ),
    ],
)
def test_bad_config_names_the_field(workspace, tmp_path, method, trl_overrides, rredcot_args, message):
    with pytest.raises(ValueError, match=message):
        train_policy(
            method=method,
            model_path=workspace / "base",
            train_path=workspace / "train.jsonl",
            output_dir=tmp_path,
            seed=0,
            trl_args={**TRL_ARGS, **trl_overrides},
            rredcot_args=rredcot_args,
        )
    assert not (tmp_path / "metrics.jsonl").exists()


def test_missing_required_field_is_named(workspace, tmp_path):
    args = {k: v for k, v in TRL_ARGS.items() if k != "beta"}
    with pytest.raises(ValueError, match="missing required field.*beta"):
        train_policy(
            method="grpo",
            model_path=workspace / "base",
            train_path=workspace / "train.jsonl",
            output_dir=tmp_path,
            seed=0,
            trl_args=args,
        )


def test_tracker_and_run_name_reach_grpo_config(tmp_path):
    """train.tracking arrives as GRPOConfig fields; without them a library caller logs to JSONL only."""
    tracked = train_module._config(
        "grpo", tmp_path, 0, {**TRL_ARGS, "report_to": "tensorboard", "run_name": "smoke-grpo-seed0"}, None
    )
    assert tracked.report_to == ["tensorboard"]
    assert tracked.run_name == "smoke-grpo-seed0"
    assert train_module._config("grpo", tmp_path, 0, TRL_ARGS, None).report_to == []
