"""The vLLM engine of every path that samples through vLLM: evaluation and the analyses' MC rollouts.

One construction, so that both load the weights alike and stop on the end ids of
:mod:`rredcot.end_of_sequence`, named in every request rather than left to vLLM's own reading of the model's
files. vLLM comes with the optional ``gpu`` extra and is imported only when an engine is asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from transformers import AutoConfig, GenerationConfig


@dataclass(frozen=True)
class VLLMPolicy:
    """A vLLM engine and the generation config its model ships: its end ids, with the tokenizer's, are where
    the engine's samples end, as ``model.generation_config``'s are for the HF model."""

    llm: Any
    generation_config: GenerationConfig


def load_vllm(
    model_path: str | os.PathLike,
    *,
    dtype: str,
    seed: int,
    random_init: bool,
    gpu_memory_utilization: float | None = None,
) -> VLLMPolicy:
    """vLLM on a model directory or hub id. ``random_init`` loads vLLM's dummy (random) weights, as the HF
    path builds random ones, to exercise GPU paths without downloads (the two are not the same weights).
    ``gpu_memory_utilization`` is vLLM's share of the GPU, vLLM's default when unset; a process that also
    holds an HF model sets less."""
    vllm = _import_vllm()
    share = {} if gpu_memory_utilization is None else {"gpu_memory_utilization": gpu_memory_utilization}
    load_format = "dummy" if random_init else "auto"
    llm = vllm.LLM(model=str(model_path), dtype=dtype, seed=seed, load_format=load_format, **share)
    return VLLMPolicy(llm, saved_generation_config(model_path))


def sampling_params(
    ends: frozenset[int],
    *,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int | None = None,
):
    """vLLM's sampling parameters, stopping on ``ends`` (:func:`~rredcot.end_of_sequence.end_token_ids`). A
    ``seed`` makes the request's samples independent of what vLLM batches it with (it seeds the j-th of the
    ``n`` samples with ``seed + j``)."""
    return _import_vllm().SamplingParams(
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_new_tokens,
        stop_token_ids=sorted(ends),
        seed=seed,
    )


def saved_generation_config(model_path: str | os.PathLike) -> GenerationConfig:
    """The generation config a model directory or hub id ships, else the one its ``config.json`` implies, as
    ``from_pretrained`` gives the HF model, read without loading the weights."""
    try:
        return GenerationConfig.from_pretrained(model_path)
    except OSError:
        return GenerationConfig.from_model_config(AutoConfig.from_pretrained(model_path))


def _import_vllm():
    try:
        import vllm
    except ImportError as err:
        raise ImportError(
            "backend='vllm' needs vLLM, which comes with the optional `gpu` extra, locked for Python 3.13 in "
            "requirements-gpu.lock: pip install -r requirements-gpu.lock (README, 'Running at scale')"
        ) from err
    return vllm
