"""Per-step training metrics as JSONL: the only thing figures read about a training run.

One line per optimizer step, holding TRL's logged metrics under TRL's names (``reward``, ``reward_std``,
``completions/mean_length``, ``entropy``, ``step_time``, ``rredcot/*``, ...) plus what the figures need that
TRL does not log: ``accuracy`` (the mean accuracy reward), cumulative ``generated_tokens`` (completion tokens
only, for accuracy-vs-compute curves) and cumulative training ``wall_s``. A run resumed from a checkpoint
first drops the lines after the checkpoint's step, so the file stays one line per step and its cumulative
columns continue from the checkpoint.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from transformers import TrainerCallback

from rredcot.io import append_jsonl, read_jsonl, write_jsonl

ACCURACY_METRIC = "rewards/accuracy_reward/mean"


class MetricsLogger(TrainerCallback):
    """Append one JSONL record per optimizer step (``logging_steps`` must be 1) of a GRPO-family trainer.

    Generated tokens: a log that carries ``completions/mean_length`` adds ``mean_length ×
    generation_batch_size × generations per step``. TRL generates every ``steps_per_generation ×
    num_iterations`` micro-batches, so a step holds ``gradient_accumulation_steps`` divided by that many
    generations (one, in the default ``steps_per_generation = gradient_accumulation_steps``), or none when
    generations are reused over several steps; both ratios must be whole numbers.
    """

    def __init__(self, path: str | os.PathLike, accuracy_metric: str = ACCURACY_METRIC):
        self.path = Path(path)
        self.accuracy_metric = accuracy_metric
        self.generated_tokens = 0.0
        self._wall_offset = 0.0
        self._start = time.perf_counter()
        self._last_step = 0
        self._generations_per_step = 1

    def on_train_begin(self, args, state, control, **kwargs):
        if args.logging_steps != 1:
            raise ValueError(
                f"MetricsLogger needs logging_steps=1 (one line per step), got {args.logging_steps}"
            )
        every = args.steps_per_generation * args.num_iterations
        accumulation = args.gradient_accumulation_steps
        if accumulation % every and every % accumulation:
            raise ValueError(
                f"steps_per_generation × num_iterations ({every}) and gradient_accumulation_steps "
                f"({accumulation}) must divide one another, or generated tokens per step are not well defined"
            )
        self._generations_per_step = max(1, accumulation // every)
        self._start = time.perf_counter()
        self._last_step = state.global_step
        kept = (
            [row for row in read_jsonl(self.path) if row["step"] <= state.global_step]
            if self.path.exists()
            else []
        )
        last = kept[-1]["step"] if kept else 0
        if last != state.global_step:
            raise ValueError(
                f"{self.path}: resuming at step {state.global_step} but the log ends at step {last}; the "
                "metrics of the missing steps are lost (delete the run directory to start over)"
            )
        self.generated_tokens = kept[-1]["generated_tokens"] if kept else 0.0
        self._wall_offset = kept[-1]["wall_s"] if kept else 0.0
        if state.is_world_process_zero:
            write_jsonl(self.path, kept)

    def on_log(self, args, state, control, logs=None, **kwargs):
        # Only per-step training logs: the end-of-training summary and eval logs share the step number.
        if not logs or "loss" not in logs or state.global_step <= self._last_step:
            return
        self._last_step = state.global_step
        if "completions/mean_length" in logs:
            batch = args.generation_batch_size * self._generations_per_step
            self.generated_tokens += logs["completions/mean_length"] * batch
        record = {
            **logs,
            "step": state.global_step,
            "epoch": state.epoch,
            "time": time.time(),
            "wall_s": self._wall_offset + time.perf_counter() - self._start,
            "generated_tokens": self.generated_tokens,
            "accuracy": logs.get(self.accuracy_metric),
        }
        if state.is_world_process_zero:
            append_jsonl(self.path, record)
