"""One RL training run, GRPO (TRL's own trainer) or RREDCoT, that survives preemption.

Everything a run needs to continue lives in ``output_dir``: TRL/HF checkpoints (``checkpoint-<step>``, saved
every ``save_steps`` and on a stop signal), ``metrics.jsonl`` (one line per step) and, once finished,
``final/`` (the policy and tokenizer, renamed into place only when complete). Calling :func:`train_policy`
again on the same ``output_dir`` resumes from the newest complete checkpoint, which is how a rerun of an
interrupted Snakemake job (SLURM time limit, preemption, node failure) continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import re
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from datasets import Dataset
from transformers import TrainerCallback, set_seed
from trl import GRPOConfig, GRPOTrainer

from rredcot.io import atomic_dir
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data import prompt_messages
from rredcot.pipeline.data.exact_values import exact_values
from rredcot.pipeline.data.synthetic import load_split
from rredcot.pipeline.delimiters import DelimiterStatsMixin
from rredcot.pipeline.metrics import MetricsLogger
from rredcot.rewards import accuracy_reward
from rredcot.trainer import RENAMED_RREDCOT_FIELDS, RREDCOT_FIELDS, RREDCoTConfig, RREDCoTTrainer

logger = logging.getLogger(__name__)

METHODS = ("grpo", "rredcot")
METRICS_FILE = "metrics.jsonl"
FINAL_DIR = "final"
# Loss-relevant fields whose library defaults drift between TRL releases: the experiment config must set them.
REQUIRED_TRL_FIELDS = (
    "learning_rate",
    "lr_scheduler_type",
    "max_steps",
    "per_device_train_batch_size",
    "num_generations",
    "max_completion_length",
    "temperature",
    "beta",
    "epsilon",
    "loss_type",
    "scale_rewards",
    "save_steps",
    "logging_steps",
)
# Set here from train_policy's own arguments; a config that sets them is ambiguous.
RESERVED_TRL_FIELDS = ("output_dir", "seed", "data_seed", "use_cpu", "logging_nan_inf_filter")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Signals that stop a run at the next step end. SIGTERM: kill, scancel, SLURM at the time limit. SIGURG:
# SLURM's advance notice before the limit (profiles/slurm/config.yaml, `--signal`), which every other process
# between SLURM and the trainer ignores by default.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGURG)


class LoggedGRPOTrainer(DelimiterStatsMixin, GRPOTrainer):
    """TRL's ``GRPOTrainer`` with the delimiter statistics of :mod:`rredcot.pipeline.delimiters` logged."""


class LoggedRREDCoTTrainer(DelimiterStatsMixin, RREDCoTTrainer):
    """:class:`RREDCoTTrainer` with the delimiter statistics of :mod:`rredcot.pipeline.delimiters` logged."""


TRAINERS = {"grpo": LoggedGRPOTrainer, "rredcot": LoggedRREDCoTTrainer}


class TrainingInterrupted(RuntimeError):
    """A stop signal ended the run after checkpointing ``step``; rerun the same command to resume."""

    def __init__(self, step: int, checkpoint: Path):
        super().__init__(f"stop signal: saved {checkpoint} at step {step}; rerun to resume")
        self.step = step
        self.checkpoint = checkpoint


class PreemptionCallback(TrainerCallback):
    """On any of ``STOP_SIGNALS``, finish the current optimizer step, save a checkpoint and stop training.

    Used as a context manager around ``trainer.train()``: the handler only sets a flag (safe at any point,
    mid-generation included), which the callback turns into ``should_save`` + ``should_training_stop`` at the
    next step end. Ranks may receive the signal at different steps, so the flag is max-reduced across
    processes every step: all ranks stop at the same step, or the collective checkpoint save would hang.
    """

    def __init__(self):
        self.requested = False
        self.stopped_at: int | None = None
        self._previous = {}

    def __enter__(self):
        self._previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        self.requested = True

    def on_step_end(self, args, state, control, **kwargs):
        requested = self.requested
        if dist.is_available() and dist.is_initialized():
            flag = torch.tensor(float(requested), device=args.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            requested = bool(flag.item())
        if requested:
            self.stopped_at = state.global_step
            control.should_save = True
            control.should_training_stop = True
        return control


class NonFiniteLossGuard(TrainerCallback):
    """Stop with an error at the first step whose loss or gradient norm is NaN/inf.

    It raises from ``on_log``, which the trainer calls before saving that step's checkpoint, so the
    corrupted parameters are never saved and the newest checkpoint on disk is the last good one. Needs
    ``logging_steps=1`` and ``logging_nan_inf_filter=False`` (otherwise HF hides a NaN loss).
    """

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(value):
                raise FloatingPointError(
                    f"{key} is {value} at step {state.global_step}; stopped before saving it. The last good "
                    f"checkpoint is the newest checkpoint-* in {args.output_dir}"
                )


def train_policy(
    *,
    method: str,
    model_path: str | os.PathLike,
    train_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    seed: int,
    trl_args: Mapping[str, Any],
    rredcot_args: Mapping[str, Any] | None = None,
    random_init: bool = False,
    num_threads: int | None = None,
) -> dict:
    """Train the policy at ``model_path`` on ``train_path``'s rows; resume from ``output_dir``'s checkpoints.

    ``trl_args`` are ``GRPOConfig`` fields (``REQUIRED_TRL_FIELDS`` must be present;
    ``model_init_kwargs.dtype`` sets the weight dtype, default float32). ``rredcot_args`` are the
    :class:`RREDCoTConfig` fields in ``RREDCOT_FIELDS``, all required for ``method="rredcot"`` and refused for
    ``"grpo"``. Raises :class:`TrainingInterrupted` after a stop signal's checkpoint and
    ``FloatingPointError`` on a non-finite loss. ``num_threads`` sets torch's CPU threads (tiny models run
    fastest on one). Returns a summary: final model path, steps, the checkpoint resumed from, wall time.
    """
    output_dir = Path(output_dir)
    args = _config(method, output_dir, seed, trl_args, rredcot_args)
    dtype = dict(trl_args.get("model_init_kwargs") or {}).get("dtype", "float32")
    rows = load_split(train_path)
    if not rows:
        raise ValueError(f"{train_path}: no training rows")
    dataset = rl_dataset(rows)

    if num_threads is not None:
        torch.set_num_threads(num_threads)
    if not torch.cuda.is_available():
        deterministic_cpu()
    set_seed(seed)  # before the model: random_init draws its weights here
    model, tokenizer = load_model_and_tokenizer(
        model_path, dtype=dtype, device="cpu", random_init=random_init
    )

    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = latest_checkpoint(output_dir)
    preemption = PreemptionCallback()
    callbacks = [NonFiniteLossGuard(), MetricsLogger(output_dir / METRICS_FILE), preemption]
    trainer = make_trainer(method, args, model, tokenizer, dataset, callbacks)
    start = time.perf_counter()
    with preemption:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if preemption.stopped_at is not None:
        raise TrainingInterrupted(preemption.stopped_at, output_dir / f"checkpoint-{preemption.stopped_at}")

    final = output_dir / FINAL_DIR
    with atomic_dir(final, writer=trainer.accelerator.is_main_process) as staging:
        trainer.save_model(str(staging))  # every rank must call it (ZeRO-3 gathers); the main one writes
    trainer.accelerator.wait_for_everyone()
    return {
        "final": str(final),
        "global_step": trainer.state.global_step,
        "resumed_from": str(checkpoint) if checkpoint else None,
        "wall_s": time.perf_counter() - start,
    }


def make_trainer(method: str, args: GRPOConfig, model, tokenizer, dataset: Dataset, callbacks=None):
    """TRL's ``GRPOTrainer`` (``"grpo"``) or :class:`RREDCoTTrainer`, rewarded by answer accuracy, each
    logging the delimiter statistics of :mod:`rredcot.pipeline.delimiters` (no change to the loss). The
    ``oracle`` estimator gets the synthetic task's exact values."""
    extra = {}
    if getattr(args, "value_estimator", None) == "oracle":
        extra["exact_values"] = functools.partial(exact_values, end_of_thinking=args.end_of_thinking)
    return TRAINERS[method](
        model=model,
        reward_funcs=[accuracy_reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=callbacks,
        **extra,
    )


def rl_dataset(rows: list[dict]) -> Dataset:
    """The trainer's dataset: chat prompt, answer (for the reward), solution (RREDCoT's reference) and the
    problem (what the synthetic task's exact values check the lines against)."""
    return Dataset.from_list(
        [
            {
                "prompt": prompt_messages(r["problem"]),
                "problem": r["problem"],
                "answer": r["answer"],
                "solution": r["solution"],
            }
            for r in rows
        ]
    )


def deterministic_cpu() -> None:
    """Bitwise reproducible CPU runs (a resumed run equals an uninterrupted one).

    Not HF's ``full_determinism``: that also fills every new tensor with NaN
    (``fill_uninitialized_memory``), which took about 40 % of a tiny-scale step and changes no result.
    """
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def _config(
    method: str,
    output_dir: Path,
    seed: int,
    trl_args: Mapping[str, Any],
    rredcot_args: Mapping[str, Any] | None,
) -> GRPOConfig:
    """The trainer config from the experiment's fields; a missing, unknown or reserved field is named."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    trl_args = dict(trl_args)
    # train_policy builds the model before the trainer and reads only the weight dtype from here.
    init_fields = set(trl_args.pop("model_init_kwargs", None) or {})
    if init_fields - {"dtype"}:
        raise ValueError(f"trl_args: model_init_kwargs supports only 'dtype', got {sorted(init_fields)}")
    for problem, names in (
        ("unknown GRPOConfig field(s)", set(trl_args) - fields),
        ("missing required field(s)", set(REQUIRED_TRL_FIELDS) - set(trl_args)),
        ("field(s) set by train_policy itself", set(trl_args) & set(RESERVED_TRL_FIELDS)),
    ):
        if names:
            raise ValueError(f"trl_args: {problem}: {sorted(names)}")
    if trl_args["logging_steps"] != 1:
        raise ValueError(
            f"trl_args: logging_steps must be 1 (one metrics line per step), got {trl_args['logging_steps']}"
        )
    cpu = not torch.cuda.is_available()
    common = {
        "report_to": "none",
        "save_strategy": "steps",
        **trl_args,
        "output_dir": str(output_dir),
        "seed": seed,
        "data_seed": seed,
        "use_cpu": cpu,
        "logging_nan_inf_filter": False,  # NonFiniteLossGuard must see a NaN loss
    }
    if method == "grpo":
        if rredcot_args is not None:
            raise ValueError("rredcot_args are only used with method='rredcot'")
        return GRPOConfig(**common)
    rredcot_args = dict(rredcot_args or {})
    renamed = {name: RENAMED_RREDCOT_FIELDS[name] for name in rredcot_args if name in RENAMED_RREDCOT_FIELDS}
    if renamed:
        moved = ", ".join(f"{old} is now {new}" for old, new in renamed.items())
        raise ValueError(f"rredcot_args: renamed field(s): {moved}")
    for problem, names in (
        ("unknown field(s)", set(rredcot_args) - set(RREDCOT_FIELDS)),
        ("missing field(s)", set(RREDCOT_FIELDS) - set(rredcot_args)),
    ):
        if names:
            raise ValueError(f"rredcot_args: {problem}: {sorted(names)}")
    return RREDCoTConfig(**common, **rredcot_args)


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete ``checkpoint-<step>`` in ``output_dir``, or ``None``.

    HF writes ``trainer_state.json`` last, so a checkpoint is complete when that file parses. A newer,
    incomplete one (killed mid-save) is skipped and overwritten when training reaches its step again.
    """
    found = sorted(
        (int(m.group(1)), path)
        for path in output_dir.iterdir()
        if path.is_dir() and (m := _CHECKPOINT.match(path.name))
    )
    for _, path in reversed(found):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            logger.warning("skipping incomplete checkpoint %s", path)
            continue
        return path
    return None
