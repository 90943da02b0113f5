"""Reliability: killed runs rerun to the uninterrupted result, the front of the pipeline is deterministic, and
bad input stops with an error naming file, line and field, or grades 0 without raising.

Covered elsewhere and not repeated here: SIGTERM at a chosen point inside one process, resume after a clean
stop, a metrics log missing steps and a NaN/inf loss (test_training.py); torn JSONL lines and atomic writes
(test_io.py); resume of evaluation and of the credit analysis (test_evaluate.py, test_analysis.py); identical
SFT weights for one seed on the smoke settings (test_base_model.py::test_same_seed_gives_identical_weights);
identical synthetic rows for one seed (test_synthetic.py); split lines that are not JSON or lack a field
(test_synthetic.py::test_loader_names_file_line_and_field); hub rows with missing fields, unparsable answers
and empty hub files (test_hub_loaders.py); empty, box-less, truncated, non-ASCII and 10,000-digit
completions, an unparsable reference and slow comparisons (test_rewards.py); zero advantages in
``token_advantages`` and one equal-reward group beside a varied one (test_trainer_gradients.py); config schema
errors (test_config.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from test_trainer_gradients import SCORED_ROWS, scoring_trainer
from test_training import RREDCOT_ARGS, TRL_ARGS, workspace  # noqa: F401  (fixture)

import rredcot.pipeline.train as train_module
from rredcot.io import read_jsonl
from rredcot.pipeline.stages import main
from rredcot.pipeline.train import latest_checkpoint
from rredcot.rewards import MAX_ANSWER_CHARS, accuracy_reward, grade

TESTS = Path(__file__).resolve().parent
SMOKE = yaml.safe_load((TESTS.parent / "experiments" / "smoke.yaml").read_text())
# Steps of the interrupted runs; the kill comes once checkpoint-KILL_AFTER is complete, leaving a few steps.
MAX_STEPS = 6
KILL_AFTER = 2
TIMEOUT_S = 180  # any single wait on a subprocess; a hang fails the test instead of blocking the suite
# What a subprocess runs: the stages' entry with the reward below, as train.smk runs
# ``python -m rredcot.pipeline.stages``.
DRIVER = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import rredcot.pipeline.train, test_reliability; "
    "rredcot.pipeline.train.accuracy_reward = test_reliability.varied_accuracy_reward; "
    "from rredcot.pipeline.stages import main; main(sys.argv[1:])"
)


def varied_accuracy_reward(completions, answer, **kwargs):
    """test_training's ``varied_reward``, importable by a subprocess.

    A random policy never answers correctly; with all rewards equal the advantages are zero and the weights
    and optimizer state never change, so a resume could restore them wrongly unnoticed.
    """
    return [float(len(c[0]["content"]) % 3 == 0) for c in completions]


varied_accuracy_reward.__name__ = "accuracy_reward"  # TRL names the reward columns after the function


def is_timing(key: str) -> bool:
    """Measured durations and clock times: the only columns allowed to differ between identical runs."""
    return key in ("time", "wall_s", "step_time") or key.endswith("time_s")


def untimed(rows: list[dict]) -> list[str]:
    """Each row without its timing columns, as sorted JSON (so NaN compares equal to NaN)."""
    return [json.dumps({k: v for k, v in row.items() if not is_timing(k)}, sort_keys=True) for row in rows]


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return {k: v for path in sorted(model_dir.glob("*.safetensors")) for k, v in load_file(path).items()}


def assert_same_weights(first: Path, second: Path) -> None:
    a, b = weights(first), weights(second)
    assert a.keys() == b.keys() and a
    assert all(torch.equal(a[name], b[name]) for name in a), [n for n in a if not torch.equal(a[n], b[n])]


def train_argv(root: Path, out: Path, max_steps: int = MAX_STEPS, train: Path | None = None) -> list[str]:
    """The train stage (rredcot) on the SIGTERM test's workspace ``root``, laid out as train.smk does it."""
    settings = {"method": "rredcot", "trl": {**TRL_ARGS, "max_steps": max_steps}, "rredcot": RREDCOT_ARGS}
    return stage("train", settings=settings, seed=0, base=str(root / "base"), random_init=False,
                 train=str(train or root / "train.jsonl"), run_dir=str(out / "checkpoints"),
                 model=str(out / "model"), metrics=str(out / "metrics.jsonl"))  # fmt: skip


def stage(name: str, **kwargs) -> list[str]:
    """The arguments of ``python -m rredcot.pipeline.stages`` for one stage, on one thread."""
    return [name, json.dumps({**kwargs, "threads": 1})]


@contextlib.contextmanager
def torch_state():
    """Restore what a training run changes globally: torch's threads and determinism settings."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        torch.utils.deterministic.fill_uninitialized_memory = fill


@pytest.fixture(autouse=True)
def restored_torch_state():
    with torch_state():
        yield


@pytest.fixture
def varied_reward(monkeypatch):
    monkeypatch.setattr(train_module, "accuracy_reward", varied_accuracy_reward)


@pytest.fixture(scope="module")
def reference(workspace, tmp_path_factory):  # noqa: F811
    """An uninterrupted run: its output folder (model/, metrics.jsonl)."""
    out = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as patch, torch_state():
        patch.setattr(train_module, "accuracy_reward", varied_accuracy_reward)
        main(train_argv(workspace, out))
    return out


# ---------------------------------------------------------------------------------------------------------
# Interrupted runs


def wait_for_checkpoint(proc: subprocess.Popen, run_dir: Path, step: int, log: Path) -> Path:
    """Poll until a complete checkpoint (trainer_state.json parses) of at least ``step`` exists."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"training exited ({proc.returncode}) before checkpoint-{step}:\n{log.read_text()[-3000:]}"
            )
        found = latest_checkpoint(run_dir) if run_dir.is_dir() else None
        if found is not None and int(found.name.split("-")[1]) >= step:
            return found
        time.sleep(0.02)
    proc.kill()
    proc.wait(timeout=TIMEOUT_S)
    pytest.fail(f"no checkpoint-{step} after {TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGURG], ids=["SIGKILL", "SIGTERM", "SIGURG"]
)
def test_killed_training_reruns_to_the_uninterrupted_result(
    workspace,  # noqa: F811
    reference,
    tmp_path,
    varied_reward,
    capsys,
    sig,
):
    """Kill ``rredcot train`` once it is past its first checkpoint, rerun the same command: same result.

    SIGKILL lands wherever the run is (generating, scoring, mid-save of the next checkpoint); the rerun must
    resume from the newest complete checkpoint. SIGTERM and SIGURG (SLURM's advance notice, profiles/slurm)
    checkpoint the current step and exit with an error.
    """
    argv = train_argv(workspace, tmp_path)
    log = tmp_path / "killed.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, *argv], stdout=out, stderr=out, env=env)
        try:
            wait_for_checkpoint(proc, tmp_path / "checkpoints", KILL_AFTER, log)
            os.kill(proc.pid, sig)
            returncode = proc.wait(timeout=TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=TIMEOUT_S)
    text = log.read_text()
    if sig == signal.SIGKILL:
        assert returncode == -signal.SIGKILL, text[-3000:]
    else:
        assert returncode == 1 and "rerun to resume" in text, text[-3000:]
    assert not (tmp_path / "model").exists() and not (tmp_path / "metrics.jsonl").exists()
    checkpoint = latest_checkpoint(tmp_path / "checkpoints")
    assert KILL_AFTER <= int(checkpoint.name.split("-")[1]) < MAX_STEPS

    capsys.readouterr()
    main(argv)  # the same command, to completion
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["resumed_from"] == str(checkpoint)
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, MAX_STEPS + 1))
    assert untimed(rows) == untimed(read_jsonl(reference / "metrics.jsonl"))
    assert_same_weights(tmp_path / "model", reference / "model")
    assert not (tmp_path / "checkpoints").exists()  # finished: a rerun trains from the start


# ---------------------------------------------------------------------------------------------------------
# Determinism of data, base model and training (SFT: see test_base_model.py, named in the module docstring)


def test_prepare_data_writes_identical_bytes_whatever_the_hash_seed(tmp_path):
    """The prepare_data stage of data.smk, twice, in processes with different string-hash seeds."""
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash{hash_seed}"
        benchmarks = [str(out / "eval" / f"{name}.jsonl") for name in SMOKE["eval"]["benchmarks"]]
        cmd = [sys.executable, "-m", "rredcot.pipeline.stages", *stage(
            "prepare_data", data=SMOKE["data"], train=str(out / "train.jsonl"),
            validation=str(out / "validation.jsonl"), benchmarks=benchmarks,
        )]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()})
    assert sorted(outputs[0]) == [
        "eval/in_dist.jsonl",
        "eval/more_steps.jsonl",
        "train.jsonl",
        "validation.jsonl",
    ]
    assert outputs[0] == outputs[1]
    assert len(outputs[0]["train.jsonl"].splitlines()) == SMOKE["data"]["synthetic"]["train"]["n"]


def test_same_seed_same_training_metrics_and_weights(workspace, reference, tmp_path, varied_reward):  # noqa: F811
    main(train_argv(workspace, tmp_path))
    rows, expected = read_jsonl(tmp_path / "metrics.jsonl"), read_jsonl(reference / "metrics.jsonl")
    assert untimed(rows) == untimed(expected)
    assert {k for r in rows for k in r if not is_timing(k)} >= {"loss", "reward", "rredcot/sigma_max_mean"}
    assert any(r["rredcot/active_frac"] > 0 for r in rows)  # the weights did move
    assert_same_weights(tmp_path / "model", reference / "model")


# ---------------------------------------------------------------------------------------------------------
# Bad input

GOOD_ROW = {
    "id": "train-00000",
    "problem": "1 +1",
    "solution": "<think>\n1 +1\n1+1=2\nResult: 2\n</think>\n\\boxed{2}",
    "answer": "2",
    "source": "synthetic/train",
}


def after_a_good_row(**change) -> str:
    """A split file whose second row is ``GOOD_ROW`` changed (a value of ``None`` drops the field)."""
    bad = {k: v for k, v in {**GOOD_ROW, "id": "train-00001", **change}.items() if v is not None}
    return json.dumps(GOOD_ROW) + "\n" + json.dumps(bad) + "\n"


# name -> (file content, the error after the file's path)
BAD_SPLITS = {
    "empty file": ("", ": no rows"),
    "blank lines only": ("\n\n", ": no rows"),
    "row missing a field": (after_a_good_row(answer=None), ", line 2: missing required field 'answer'"),
    "unparsable answer": (
        after_a_good_row(answer="\\frac{1}{"),
        ", line 2: field 'answer': math-verify cannot parse reference answer '\\\\frac{1}{'",
    ),
    "answer longer than the grader reads": (
        after_a_good_row(answer="9" * (MAX_ANSWER_CHARS + 1)),
        f", line 2: field 'answer': reference answer has {MAX_ANSWER_CHARS + 1} characters",
    ),
}


def stage_argv(command: str, split: Path, out: Path) -> list[str]:
    """Every stage that reads a split, with the smoke config's settings; outputs go under ``out``."""
    model = str(out / "model")  # never reached: the split is read first
    if command == "train":
        return train_argv(Path(model), out, train=split)
    if command == "sft":
        return stage("sft", base=SMOKE["base_model"], train=str(split), seed=0, model=str(out / "base"))
    if command == "evaluate":
        settings = {**SMOKE["eval"], "benchmark": SMOKE["eval"]["benchmarks"]["in_dist"]}
        return stage("evaluate", settings=settings, model=model, random_init=False, benchmark=str(split),
                     partial=str(out / "partial.jsonl"), seed=0, summary=str(out / "summary.json"),
                     records=str(out / "records.jsonl"))  # fmt: skip
    return stage("analyze_credit", analysis=SMOKE["analysis"], model=model, random_init=False,
                 benchmark=str(split), partial=str(out / "partial.jsonl"), seed=0,
                 credit=str(out / "credit.jsonl"), draws=str(out / "draws.jsonl"))  # fmt: skip


@pytest.mark.parametrize("command", ["train", "sft", "evaluate", "analyze_credit"])
@pytest.mark.parametrize("bad", list(BAD_SPLITS))
def test_a_bad_split_stops_every_stage_before_it_starts(tmp_path, command, bad):
    """A bad split stops a stage at once, naming file, line and field, not hours in at the first grading."""
    content, message = BAD_SPLITS[bad]
    split = tmp_path / "split.jsonl"
    split.write_text(content)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=re.escape(f"{split}{message}")):
        main(stage_argv(command, split, out))
    assert not out.exists()


# completion, reference, expected grade; cases test_rewards.py does not already make
COMPLETIONS = [
    pytest.param("<think>\n1+1=2\n\\boxed{2}", "2", 1.0, id="no </think>, boxed"),
    pytest.param("<think>\n1+1=2\nResult: 2", "2", 0.0, id="truncated inside the thinking"),
    pytest.param("<think>\n1+1=2\n</think>\nThe final answer is 2", "2", 0.0, id="</think>, no box"),
    pytest.param("<think>\n1+1=2\n</think>\n\\boxed{", "2", 0.0, id="truncated after the box opens"),
    pytest.param(" \n\t", "2", 0.0, id="whitespace only"),
    pytest.param("<think>计算 🤔 ١+١=٢</think>\n\\boxed{2}", "2", 1.0, id="non-ASCII reasoning"),
    pytest.param("\\boxed{π}", "\\pi", 1.0, id="unicode pi"),
    pytest.param("\\boxed{2}\u200b", "2", 1.0, id="zero-width space after the box"),
    pytest.param("\\boxed{２}", "2", 0.0, id="fullwidth digit (not normalised)"),
    pytest.param("\\boxed{٢}", "2", 0.0, id="Arabic-Indic digit (not normalised)"),
    pytest.param("\\boxed{" + "9" * MAX_ANSWER_CHARS + "}", "9" * MAX_ANSWER_CHARS, 1.0, id="longest graded"),
    pytest.param("\\boxed{" + "9" * MAX_ANSWER_CHARS + "}", "8" + "9" * 999, 0.0, id="longest, wrong"),
    pytest.param("\\boxed{10^{400}}", "10^{400}", 1.0, id="10^400"),
    pytest.param("\\boxed{1e400}", "5", 0.0, id="float overflow"),
    pytest.param("\\boxed{100000!}", "5", 0.0, id="huge factorial"),
    pytest.param("\\boxed{1/0}", "5", 0.0, id="division by zero"),
    pytest.param("\\boxed{nan}", "5", 0.0, id="nan"),
    pytest.param("\\boxed{\\infty}", "5", 0.0, id="infinity"),
    pytest.param("x" * 200_000 + "\\boxed{2}", "2", 1.0, id="200k characters of reasoning"),
    pytest.param("\\boxed{2}" * 5000, "2", 1.0, id="5000 boxes"),
    pytest.param("\\boxed{" * 5000, "2", 0.0, id="5000 unclosed boxes"),
]


@pytest.mark.parametrize(("completion", "reference", "expected"), COMPLETIONS)
def test_odd_completions_grade_without_raising(completion, reference, expected):
    assert grade(completion, reference) == expected
    message = [{"role": "assistant", "content": completion}]  # as TRL passes it
    assert accuracy_reward([message], answer=[reference]) == [expected]


def test_a_reference_no_completion_could_match_is_refused():
    with pytest.raises(ValueError, match=f"more than MAX_ANSWER_CHARS={MAX_ANSWER_CHARS}"):
        grade("\\boxed{1}", "9" * (MAX_ANSWER_CHARS + 1))


@pytest.mark.parametrize("scale_rewards", ["group", "batch", "none"])
def test_all_equal_rewards_give_zero_finite_token_advantages(tmp_path, char_tokenizer, scale_rewards):
    """Every group of the batch has equal rewards: A = 0, no completion is redistributed, nothing is NaN."""
    trainer = scoring_trainer(tmp_path, char_tokenizer, scale_rewards=scale_rewards)
    output = trainer._generate_and_score_completions([SCORED_ROWS[1]] * 8)  # parity_reward: all 1.0
    advantages = output["advantages"]
    assert advantages.shape == output["completion_mask"].shape
    assert torch.equal(advantages, torch.zeros_like(advantages))
    assert trainer._metrics["train"]["rredcot/active_frac"] == [0.0]


def test_a_run_whose_rewards_are_all_equal_trains_with_zero_loss(workspace, tmp_path):  # noqa: F811
    """The real grader on a random policy: every reward 0, so loss and gradient 0, weights unchanged."""
    main(train_argv(workspace, tmp_path, max_steps=1))
    (row,) = read_jsonl(tmp_path / "metrics.jsonl")
    assert row["reward"] == row["reward_std"] == row["rredcot/active_frac"] == 0.0
    assert row["loss"] == row["grad_norm"] == 0.0
    assert_same_weights(tmp_path / "model", workspace / "base")
