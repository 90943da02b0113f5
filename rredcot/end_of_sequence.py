"""Where a generated completion ends: one definition for every path that samples from the policy.

A hub model's generation config can list end ids beside its tokenizer's ``eos_token`` (Qwen3's lists
``<|im_end|>`` and ``<|endoftext|>``). Were evaluation, the MC rollouts and the analyses each to stop on their
own set, one would grade text that another treats as ended. TRL's ``GRPOTrainer`` stops its training
rollouts on the same union, so every path sees completions end where training sees them end.
"""

from __future__ import annotations

from collections.abc import Sequence


def end_token_ids(tokenizer, generation_config) -> frozenset[int]:
    """The tokenizer's ``eos_token_id`` and every ``eos_token_id`` of ``generation_config`` (an int, a list or
    unset there), e.g. ``end_token_ids(tokenizer, model.generation_config)``."""
    listed = getattr(generation_config, "eos_token_id", None)
    listed = [] if listed is None else [listed] if isinstance(listed, int) else list(listed)
    return frozenset(int(i) for i in [tokenizer.eos_token_id, *listed] if i is not None)


def cut_at_end(tokens: Sequence[int], ends: frozenset[int]) -> tuple[list[int], bool]:
    """``tokens`` before the first end id, and whether there was one (False: the token budget ran out)."""
    tokens = [int(t) for t in tokens]
    stop = next((i for i, token in enumerate(tokens) if token in ends), None)
    return (tokens, False) if stop is None else (tokens[:stop], True)
