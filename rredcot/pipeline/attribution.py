"""Attribution baselines for segment credit (Fig. 4): gradient × input and leave-one-out.

Both explain the same score as the RREDCoT values, ``log p(continuation | prompt + completion)`` with the
reference-answer continuation, so their credits are comparable with value differences and with MC credits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from rredcot.scoring import DEFAULT_VALUE_BATCH_TOKENS, eval_mode
from rredcot.values import ValueRequest, estimate_values_batch


def gradient_attribution(
    model,
    prompt_ids: Sequence[int],
    completion_ids: Sequence[int],
    spans: Sequence[tuple[int, int]],
    continuation_ids: Sequence[int],
) -> np.ndarray:
    """Per span, Σ over its tokens and embedding dims of ``x · ∂ log p(continuation | trace) / ∂x``.

    ``x`` are the completion tokens' input embeddings; spans are half-open completion-token ranges.
    """
    n_prompt, n_completion = len(prompt_ids), len(completion_ids)
    starts, ends = _check_spans(spans, n_completion)
    continuation = [int(t) for t in continuation_ids]
    if not continuation:
        raise ValueError("continuation_ids is empty: nothing to attribute")
    device = next(model.parameters()).device
    ids = torch.tensor([[*prompt_ids, *completion_ids, *continuation]], device=device)
    with eval_mode(model), torch.enable_grad():
        embeds = model.get_input_embeddings()(ids).detach().requires_grad_(True)
        logits = model(inputs_embeds=embeds, logits_to_keep=len(continuation) + 1).logits[0, :-1].float()
        target = ids[0, -len(continuation) :, None]
        logp = logits.log_softmax(-1).gather(-1, target).sum()
        (grad,) = torch.autograd.grad(logp, embeds)
    per_token = (grad * embeds).detach()[0, n_prompt : n_prompt + n_completion].sum(-1).double().cpu()
    cumulative = torch.cat([torch.zeros(1, dtype=torch.float64), per_token.cumsum(0)]).numpy()
    return cumulative[ends] - cumulative[starts]


def leave_one_out_attribution(
    model,
    prompt_ids: Sequence[int],
    completion_ids: Sequence[int],
    spans: Sequence[tuple[int, int]],
    continuation_ids: Sequence[int],
    *,
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS,
) -> np.ndarray:
    """Per span k, ``log p(continuation | trace) − log p(continuation | trace without span k)``.

    The trace without span k is rescored as a shorter sequence (later tokens move up). All K + 1 traces are
    scored in one batched call of the value engine.
    """
    starts, ends = _check_spans(spans, len(completion_ids))
    completion = [int(t) for t in completion_ids]
    variants = [completion] + [completion[:s] + completion[e:] for s, e in zip(starts, ends, strict=True)]
    requests = [
        ValueRequest(prompt_ids, variant, [len(variant)], continuation_ids=[continuation_ids])
        for variant in variants
    ]
    logps = np.concatenate(estimate_values_batch(model, requests, value_batch_tokens=value_batch_tokens))
    return logps[0] - logps[1:]


def _check_spans(spans: Sequence[tuple[int, int]], n_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    if len(array) == 0:
        raise ValueError("no spans to attribute")
    starts, ends = array[:, 0], array[:, 1]
    if (starts < 0).any() or (ends > n_tokens).any() or (starts >= ends).any():
        raise ValueError(f"spans must be non-empty half-open ranges within [0, {n_tokens}], got {spans}")
    return starts, ends
