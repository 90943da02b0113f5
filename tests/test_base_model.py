"""The tiny base model: SFT smoke run end to end, reload as a hub model would, determinism, config errors."""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import SMOKE_ARCHITECTURE
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3ForCausalLM

from rredcot.io import read_jsonl
from rredcot.pipeline.base_model import (
    LOG_FILE,
    build_model,
    load_model_and_tokenizer,
    sft_dataset,
    train_base_model,
)
from rredcot.pipeline.data.synthetic import SplitSpec, generate_split
from rredcot.pipeline.tokenizer import build_char_tokenizer

# The smoke setting: seconds on two cores, no accuracy target.
SMOKE_SFT = dict(
    max_steps=20,
    per_device_train_batch_size=8,
    gradient_accumulation_steps=1,
    learning_rate=3e-3,
    lr_scheduler_type="cosine",
    warmup_steps=0.1,
    weight_decay=0.0,
    adam_beta1=0.9,
    adam_beta2=0.98,
    max_grad_norm=1.0,
    max_length=256,
    logging_steps=5,
)


@pytest.fixture(scope="module")
def train_rows():
    spec = SplitSpec(
        n=64, min_ops=1, max_ops=2, max_operand=9, max_value=50, check_prob=0.3, mistake_prob=0.2
    )
    return generate_split("train", spec, seed=0)


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory, train_rows):
    """Two SFT runs with the same seed, in separate directories."""
    root = tmp_path_factory.mktemp("sft")
    summaries = [
        train_base_model(root / name, train_rows, SMOKE_ARCHITECTURE, SMOKE_SFT, seed=0, num_threads=1)
        for name in ("a", "b")
    ]
    return root, summaries


def test_smoke_sft_saves_a_model_that_loads_like_a_hub_model(smoke_runs):
    root, (summary, _) = smoke_runs
    out = root / "a"
    assert sorted(p.name for p in root.iterdir()) == ["a", "b"]  # no staging folder left
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert isinstance(model, Qwen3ForCausalLM)
    assert model.config.hidden_size == SMOKE_ARCHITECTURE["hidden_size"]
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.convert_tokens_to_ids("</think>") != tokenizer.unk_token_id
    assert model.generation_config.eos_token_id in (
        tokenizer.eos_token_id,
        [tokenizer.eos_token_id],
    )
    assert summary["num_parameters"] == model.num_parameters()

    log = read_jsonl(out / LOG_FILE)
    losses = [entry["loss"] for entry in log if "loss" in entry]
    assert len(losses) == SMOKE_SFT["max_steps"] // SMOKE_SFT["logging_steps"]
    assert losses[-1] < losses[0]  # it learned something


def test_same_seed_gives_identical_weights(smoke_runs):
    root, _ = smoke_runs
    first = AutoModelForCausalLM.from_pretrained(root / "a").state_dict()
    second = AutoModelForCausalLM.from_pretrained(root / "b").state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_different_seeds_give_different_initial_weights():
    tokenizer = build_char_tokenizer()
    first = build_model(SMOKE_ARCHITECTURE, tokenizer, seed=0).state_dict()
    second = build_model(SMOKE_ARCHITECTURE, tokenizer, seed=1).state_dict()
    assert not torch.equal(first["model.embed_tokens.weight"], second["model.embed_tokens.weight"])


def test_prompt_is_a_prefix_of_prompt_plus_completion(train_rows):
    """TRL masks the loss at the first token where prompt and prompt+completion diverge."""
    tokenizer = build_char_tokenizer()
    example = sft_dataset(train_rows[:1])[0]
    prompt = tokenizer.apply_chat_template(example["prompt"], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    assert full == prompt + train_rows[0]["trace"] + "<|im_end|>\n"


def test_sft_needs_the_whole_trace(train_rows):
    rows = [{**train_rows[0], "id": "no-trace"}]
    del rows[0]["trace"]
    with pytest.raises(ValueError, match=r"SFT row 0 \('no-trace'\): needs a 'trace'"):
        sft_dataset(rows)


def test_load_model_and_tokenizer_pretrained_and_random(smoke_runs, tmp_path):
    root, _ = smoke_runs
    trained, tokenizer = load_model_and_tokenizer(root / "a", dtype="float32", device="cpu")
    # random_init needs the config and tokenizer files only, never the weights
    for path in (root / "a").iterdir():
        if not path.name.endswith(".safetensors"):
            shutil.copy(path, tmp_path)
    random, _ = load_model_and_tokenizer(tmp_path, dtype="bfloat16", device="cpu", random_init=True)
    assert len(tokenizer) == trained.config.vocab_size
    assert random.config.hidden_size == trained.config.hidden_size
    assert random.dtype == torch.bfloat16
    assert not trained.training
    weight = "model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(trained.state_dict()[weight], random.state_dict()[weight].float())


def test_missing_or_unknown_fields_are_named():
    tokenizer = build_char_tokenizer()
    with pytest.raises(ValueError, match=r"architecture: missing fields \['head_dim'\]"):
        build_model({k: v for k, v in SMOKE_ARCHITECTURE.items() if k != "head_dim"}, tokenizer, seed=0)
    with pytest.raises(ValueError, match=r"sft: missing fields \[\], unknown fields \['lr'\]"):
        train_base_model("/nonexistent", [], SMOKE_ARCHITECTURE, {**SMOKE_SFT, "lr": 1.0}, seed=0)
