"""Shared fixtures: the char-level tokenizer, a tiny random Qwen3 that every model test can afford, and a
stand-in for the ``vllm`` module."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from rredcot.pipeline.tokenizer import build_char_tokenizer

# The smoke-size architecture of build_model (seconds of training on two cores, no accuracy target).
SMOKE_ARCHITECTURE = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    intermediate_size=64,
    head_dim=16,
    max_position_embeddings=256,
    tie_word_embeddings=True,
)


@pytest.fixture(scope="session")
def char_tokenizer():
    return build_char_tokenizer()


def make_tiny_model(vocab_size: int, seed: int = 0) -> Qwen3ForCausalLM:
    """A 2-layer random Qwen3 in fp32 and eval mode, seeded so failures reproduce."""
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    # Random init is small; scale the weights up so next-token distributions are far from uniform and
    # context actually matters, which makes agreement tests between scorers meaningful.
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.mul_(8.0)
    return model.float().eval()


@pytest.fixture(scope="session")
def tiny_random_model(char_tokenizer):
    return make_tiny_model(len(char_tokenizer))


@pytest.fixture(scope="module")
def single_thread():
    """One intra-op thread for tiny-model tests.

    On a busy 2-core machine, OpenMP threads waiting on each other made small ops up to 40x slower; one thread
    loses nothing on ops this small.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fake_vllm(monkeypatch):
    """``import vllm`` gives a stand-in: ``engines`` holds the arguments of every ``LLM`` built, ``calls`` the
    (prompts, sampling parameters) of every ``generate``, and sample j of a request is
    ``write(prompt_token_ids, seed + j)``, seeded as vLLM seeds the ``n`` samples of a request (set ``write``
    in the test)."""
    fake = types.ModuleType("vllm")
    fake.engines, fake.calls, fake.write = [], [], None

    class LLM:
        def __init__(self, **kwargs):
            fake.engines.append(kwargs)

        def generate(self, prompts, params, use_tqdm=True):
            fake.calls.append((prompts, params))
            return [
                SimpleNamespace(
                    outputs=[
                        SimpleNamespace(token_ids=fake.write(prompt["prompt_token_ids"], p.seed + j))
                        for j in range(p.n)
                    ]
                )
                for prompt, p in zip(prompts, params, strict=True)
            ]

    fake.LLM, fake.SamplingParams = LLM, SimpleNamespace
    monkeypatch.setitem(sys.modules, "vllm", fake)
    return fake
