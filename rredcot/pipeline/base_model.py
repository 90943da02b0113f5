"""The tiny "base reasoning model" of the CPU default, and loading any model the way later stages need it.

The tiny model is a real ``Qwen3ForCausalLM`` (only the sizes differ from Qwen3-4B) on the character-level
tokenizer, supervised fine-tuned on the synthetic reference traces with TRL's ``SFTTrainer`` and saved with
``save_pretrained``, so every later stage loads it exactly as it would load ``Qwen/Qwen3-4B``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    Qwen3Config,
    Qwen3ForCausalLM,
    set_seed,
)
from trl import SFTConfig, SFTTrainer

from rredcot.io import atomic_dir, write_jsonl
from rredcot.pipeline.data import prompt_messages
from rredcot.pipeline.prefetch import in_hub_cache, offline, require_mirror
from rredcot.pipeline.tokenizer import build_char_tokenizer

# Every field is read from the experiment config; none has a default here (library defaults drift).
ARCHITECTURE_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "head_dim",
    "max_position_embeddings",
    "tie_word_embeddings",
)
SFT_FIELDS = (
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "adam_beta1",
    "adam_beta2",
    "max_grad_norm",
    "max_length",
    "logging_steps",
)
LOG_FILE = "sft_log.jsonl"


def _check_fields(section: str, config: Mapping, fields: tuple[str, ...]) -> None:
    missing = sorted(set(fields) - set(config))
    unknown = sorted(set(config) - set(fields))
    if missing or unknown:
        raise ValueError(f"{section}: missing fields {missing}, unknown fields {unknown}")


def build_model(architecture: Mapping, tokenizer, seed: int) -> Qwen3ForCausalLM:
    """A randomly initialised Qwen3 of the given sizes, with the tokenizer's vocabulary and special ids."""
    _check_fields("architecture", architecture, ARCHITECTURE_FIELDS)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        **architecture,
    )
    set_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def sft_dataset(rows: list[dict]) -> Dataset:
    """Conversational prompt/completion pairs: TRL applies the chat template and masks the prompt's loss.

    The target is a row's whole ``trace`` (thinking, marker, write-up), what the base model should write.
    """
    for number, row in enumerate(rows):
        if not isinstance(row.get("trace"), str) or not row["trace"]:
            raise ValueError(
                f"SFT row {number} ({row.get('id')!r}): needs a 'trace' (thinking + solution write-up), "
                f"got {row.get('trace')!r}"
            )
    return Dataset.from_list(
        [
            {
                "prompt": prompt_messages(row["problem"]),
                "completion": [{"role": "assistant", "content": row["trace"]}],
            }
            for row in rows
        ]
    )


def train_base_model(
    out_dir: str | os.PathLike,
    train_rows: list[dict],
    architecture: Mapping,
    sft: Mapping,
    seed: int,
    num_threads: int | None = None,
) -> dict:
    """Build the tiny model, SFT it on the reference traces, save model, tokenizer and log to ``out_dir``.

    The run is written to a staging folder and renamed into place at the end (:func:`rredcot.io.atomic_dir`),
    so an interrupted run never leaves a directory that looks finished. Returns a summary: parameters, wall
    time (data preparation, training and saving) and final training loss.
    """
    _check_fields("sft", sft, SFT_FIELDS)
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    start = time.perf_counter()
    try:
        with atomic_dir(out_dir) as staging:
            trainer = _sft(staging, train_rows, architecture, sft, seed)
    finally:
        torch.set_num_threads(threads)
    wall_time = time.perf_counter() - start
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "num_parameters": trainer.model.num_parameters(),
        "wall_time_s": wall_time,
        "final_loss": losses[-1] if losses else None,
    }


def _sft(staging: Path, train_rows: list[dict], architecture: Mapping, sft: Mapping, seed: int) -> SFTTrainer:
    """Train into ``staging``: model, tokenizer and the trainer's log history."""
    tokenizer = build_char_tokenizer()
    model = build_model(architecture, tokenizer, seed)
    args = SFTConfig(
        output_dir=str(staging),
        **sft,
        seed=seed,
        data_seed=seed,
        completion_only_loss=True,
        packing=False,
        # The tiny model trains in float32 on CPU: TRL's defaults (bf16 autocast, activation checkpointing)
        # target GPUs, and CPUs without bf16 units emulate it at a fraction of the speed.
        bf16=False,
        activation_checkpointing=False,
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=sft_dataset(train_rows), processing_class=tokenizer
    )
    trainer.train()
    trainer.save_model(str(staging))
    tokenizer.save_pretrained(staging)
    write_jsonl(staging / LOG_FILE, trainer.state.log_history)
    return trainer


def load_model_and_tokenizer(
    name_or_path: str | os.PathLike,
    *,
    dtype: str | torch.dtype,
    device: str | torch.device,
    random_init: bool = False,
):
    """Load a hub id or local directory; with ``random_init`` build its architecture with random weights.

    ``random_init`` reads only ``config.json`` and the tokenizer files (a directory holding just those works
    offline), so the paper-scale code paths run where the weights cannot be downloaded. With the hub
    offline (``HF_HUB_OFFLINE=1``, as prefetched pipelines run) a model that is neither a local directory
    nor in the hub cache stops here, named.
    """
    if offline() and not os.path.isdir(name_or_path) and not in_hub_cache(os.fspath(name_or_path)):
        require_mirror(name_or_path, f"model {os.fspath(name_or_path)!r}")  # stop here, naming it
    dtype = getattr(torch, dtype) if isinstance(dtype, str) and dtype != "auto" else dtype
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if random_init:
        config = AutoConfig.from_pretrained(name_or_path)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype, device_map=device)
    model.eval()
    return model, tokenizer
