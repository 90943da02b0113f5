r"""The one-pass scoring engine behind the values: ``log p(continuation | prefix[:b])`` for many boundaries b.

Scoring reuses the trace's prefix. One forward over the trace fills a KV cache; then every (boundary,
continuation) pair is a row of a batched forward over the continuation alone, attending to the cached prefix
through a 4D mask that hides cache positions at or past its boundary, with explicit position ids. A pair costs
its continuation's tokens, not its prefix's; :func:`score_continuations_naive` (one full forward per pair) is
the test oracle. :func:`score_traces` can also take the policy's token entropies from that same forward
(:func:`rredcot.values.segment_and_estimate`), so a trainer that segments by entropy needs no pass of its own
for them. Supported: causal LMs with ``sdpa`` or ``eager`` attention and full (not sliding) attention layers,
whose forward takes ``past_key_values``, ``position_ids`` and a 4D ``attention_mask``, and whose logits are
``get_output_embeddings()`` of the decoder's last hidden state (the Llama/Qwen family in ``transformers`` 5).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

# Budget of one scoring forward in token slots (rows × (cached + new tokens)); bounds activations, the KV
# copy and the logits. Small batches also keep each batch's cache length close to its rows' own cuts: on 2 CPU
# cores 2k–8k slots ran fastest for the tiny model (benchmarks/value_scoring.py). The one default of the
# scoring budget, ``value_batch_tokens`` wherever it is set (the trainer, the analyses, the value API); a
# large GPU takes far more (README: 65,536 for Qwen3-4B beside its training state).
DEFAULT_VALUE_BATCH_TOKENS = 8192
# Budget of one chunk of logits in elements (256 MiB in fp32), whatever the vocabulary: scoring never holds
# rows × width × V logits, only chunks of rows (and, past the budget, of the vocabulary) through lm_head.
DEFAULT_MAX_LOGITS = 2**26


def score_continuations(
    model,
    prefix_ids,
    boundaries: Sequence[int],
    continuations: Sequence[Sequence[int]],
    *,
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> torch.Tensor:
    """(len(boundaries), len(continuations)) ``log p(continuation | prefix_ids[:b])`` per boundary b.

    Token log-probs are fp32; their sums are float64, because at |log p| ≈ 500 (a 100-token reference) an
    fp32 step is 6e-5, as large as the value differences between close boundaries. ``prefix_ids`` is prompt +
    completion (no padding); boundaries are absolute prefix lengths, strictly increasing, in
    ``[1, len(prefix_ids)]``. One forward over the prefix, then batched continuation rows against its KV
    cache, ``value_batch_tokens`` token slots per forward, at most ``max_logits`` logits at a time.
    """
    prefix = [_as_list(prefix_ids)]
    return score_traces(
        model, prefix, [boundaries], [continuations], value_batch_tokens, max_logits=max_logits
    )[0][0]


def score_continuations_naive(
    model, prefix_ids, boundaries: Sequence[int], continuations: Sequence[Sequence[int]]
) -> torch.Tensor:
    """The test oracle of :func:`score_continuations`: one full forward per (boundary, continuation)."""
    prefix = _as_list(prefix_ids)
    bounds = check_boundaries(boundaries, 1, len(prefix), "boundaries")
    conts = _check_continuations(continuations)
    device = _device(model)
    out = torch.empty(len(bounds), len(conts), dtype=torch.float64, device=device)
    with torch.inference_mode(), eval_mode(model):
        for i, b in enumerate(bounds):
            for j, cont in enumerate(conts):
                ids = torch.tensor([prefix[:b] + cont], device=device)
                logits = model(ids, logits_to_keep=len(cont) + 1).logits[0, :-1].float()
                target = ids[0, b:, None]
                out[i, j] = logits.log_softmax(-1).gather(-1, target).double().sum()
    return out


def completion_entropies(
    model,
    prompt_ids: Sequence[Sequence[int]],
    completion_ids: Sequence[Sequence[int]],
    *,
    temperature: float = 1.0,
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> list[np.ndarray]:
    """The policy's entropy (of ``logits / temperature``, fp32) at every completion token, one no-grad
    decoder forward per batch of traces: what a segmenter needs when no values are scored against the trace
    (the Monte Carlo oracle), computed as :func:`rredcot.values.segment_and_estimate` computes it."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    _check_budget("value_batch_tokens", value_batch_tokens)
    _check_budget("max_logits", max_logits)
    for k, ids in enumerate(completion_ids):
        if not ids:
            raise ValueError(f"trace {k}: an empty completion has no entropies")
    contexts = [[*p, *c][:-1] for p, c in zip(prompt_ids, completion_ids, strict=True)]
    device = _device(model)
    out: list[np.ndarray | None] = [None] * len(contexts)
    with torch.inference_mode(), eval_mode(model):
        by_length = sorted(range(len(contexts)), key=lambda k: len(contexts[k]))
        for group in _chunks(by_length, [np.asarray([len(c) for c in contexts])], value_batch_tokens):
            _, _, hidden = _prefix_cache(model, [contexts[k] for k in group], device)
            for row, k in enumerate(group):
                states = hidden[row, len(prompt_ids[k]) - 1 : len(contexts[k])]
                out[k] = _entropies(model, states, temperature, max_logits)
    return out


def logprobs_and_entropies(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    *,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs and entropies (B, logits_to_keep) of the last ``logits_to_keep`` tokens, from the
    same distribution of one no-grad decoder forward, in fp32, ``max_logits`` logits at a time.

    For segmentation outside a trainer (analyses, MC comparisons). Inside the trainer, TRL's
    ``GRPOTrainer._get_per_token_logps_and_entropies`` already returns both from its own pass (with its
    temperature scaling); use that instead of a second forward.
    """
    _check_budget("max_logits", max_logits)
    with torch.inference_mode(), eval_mode(model):
        decoder = model.get_decoder()
        hidden = decoder(input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        states = hidden[:, -logits_to_keep - 1 : -1]
        target = input_ids[:, -logits_to_keep:]
        token_logp, entropy = _head_logprobs(
            model, states.flatten(0, 1), target.flatten(), entropy=True, max_logits=max_logits
        )
    return token_logp.view(target.shape), entropy.view(target.shape)


@contextlib.contextmanager
def eval_mode(model):
    """Score in eval mode: no dropout, and gradient checkpointing (which drops the cache) stays off."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


# ---------------------------------------------------------------------------------------------------------
# One-pass scoring engine


def score_traces(
    model,
    prefixes,
    boundaries,
    continuations,
    value_batch_tokens: int,
    *,
    max_logits: int,
    n_prompts=None,
    temperature: float = 1.0,
) -> tuple[list[torch.Tensor], list[np.ndarray | None]]:
    """Score every (boundary, continuation) pair of every item (a prefix, its boundaries and continuations):
    one (n_b, n_c) tensor per item. The engine of :func:`score_continuations` and of the value requests.

    ``boundaries`` holds each item's absolute boundaries, or is a callable ``(k, entropies) -> boundaries``:
    then the cache covers the whole trace, and its forward also gives the entropies of the completion
    tokens (the last ``len(prefix) − n_prompts[k]``), returned alongside (``None`` otherwise).
    """
    _check_budget("value_batch_tokens", value_batch_tokens)
    _check_budget("max_logits", max_logits)
    _check_model(model)
    device = _device(model)
    fused = callable(boundaries)
    conts = [_check_continuations(c) for c in continuations]
    if fused:
        bounds = [None] * len(prefixes)
        contexts = [p[:-1] for p in prefixes]  # the last token's prediction is never used
    else:
        bounds = [
            check_boundaries(b, 1, len(p), f"item {k} boundaries")
            for k, (p, b) in enumerate(zip(prefixes, boundaries, strict=True))
        ]
        # Cache only what some boundary attends to: tokens before the last boundary's re-fed token.
        contexts = [p[: max(b[-1] - 1, 1)] for p, b in zip(prefixes, bounds, strict=True)]
    results: list[torch.Tensor | None] = [None] * len(prefixes)
    entropies: list[np.ndarray | None] = [None] * len(prefixes)
    first: dict[bytes, tuple[int, int]] = {}  # pair digest → (item, flat index) of its first occurrence
    copies: list[tuple[int, int, int, int]] = []
    with torch.inference_mode(), eval_mode(model):
        by_length = sorted(range(len(prefixes)), key=lambda k: len(contexts[k]))
        for group in _chunks(by_length, [np.asarray([len(c) for c in contexts])], value_batch_tokens):
            keys, values, hidden = _prefix_cache(model, [contexts[k] for k in group], device)
            for row, k in enumerate(group):
                if fused:
                    states = hidden[row, n_prompts[k] - 1 : len(contexts[k])]
                    entropies[k] = _entropies(model, states, temperature, max_logits)
                    bounds[k] = boundaries(k, entropies[k])
                results[k] = torch.empty(len(bounds[k]), len(conts[k]), dtype=torch.float64, device=device)
            pairs = _pairs(group, prefixes, bounds, conts)
            unique = _first_occurrences(pairs, group, prefixes, bounds, conts, first, copies)
            _score_pairs(model, keys, values, pairs.subset(unique), results, value_batch_tokens, max_logits)
        for item, out, source_item, source_out in copies:
            results[item].view(-1)[out] = results[source_item].view(-1)[source_out]
    return results, entropies


def _entropies(model, hidden: torch.Tensor, temperature: float, max_logits: int) -> np.ndarray:
    """Entropy (nats, fp32) of ``softmax(lm_head(hidden) / temperature)`` per position."""
    _, entropy = _head_logprobs(model, hidden, temperature=temperature, entropy=True, max_logits=max_logits)
    return entropy.cpu().numpy()


def _head_logprobs(
    model,
    hidden: torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    entropy: bool = False,
    max_logits: int = DEFAULT_MAX_LOGITS,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """fp32 ``log p(target)`` and/or entropy per row of ``hidden`` (n, hidden_size), of the distribution
    ``softmax(get_output_embeddings()(hidden) / temperature)``, never holding more than ``max_logits`` logits.

    Rows go in chunks of ``max_logits // V``; when one row's V logits exceed the budget, the vocabulary is
    split too and combined by an online log-sum-exp (running max, rescaled sums of ``exp`` and of
    ``exp · logit``). While the vocabulary fits in one chunk the arithmetic is that of full logits
    (logsumexp, or log_softmax when the entropy is wanted), so scores equal full-logits scoring bit for bit.
    """
    head = model.get_output_embeddings()
    vocab = head.weight.shape[0]
    cols = min(vocab, max_logits)
    step = max(1, max_logits // cols)
    logps, entropies = [], []
    for start in range(0, hidden.shape[0], step):
        rows = hidden[start : start + step]
        target = None if targets is None else targets[start : start + step, None]
        if cols == vocab:
            logits = _scaled(head(rows), temperature)
            if entropy:
                logp = logits.log_softmax(-1)
                entropies.append(-(logp.exp() * logp).sum(-1))
                if target is not None:
                    logps.append(logp.gather(-1, target).squeeze(-1))
            else:
                logps.append(logits.gather(-1, target).squeeze(-1) - torch.logsumexp(logits, dim=-1))
        else:
            log_z, spread, picked = _split_vocab(head, rows, target, temperature, cols)
            if entropy:
                entropies.append(spread)
            if target is not None:
                logps.append(picked - log_z)
    cat = torch.cat
    return (cat(logps) if targets is not None else None), (cat(entropies) if entropy else None)


def _scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """fp32 ``logits / temperature``; at temperature 1 without the copy (x / 1 is x, bit for bit)."""
    logits = logits.float()
    return logits if temperature == 1.0 else logits / temperature


def _split_vocab(head, rows: torch.Tensor, target, temperature: float, cols: int):
    """(log Z, entropy, target logit) per row from vocabulary chunks of ``cols`` logits each.

    Sums are kept relative to the running max m: ``s = Σ exp(z − m)``, ``t = Σ exp(z − m)(z − m)``, rescaled
    when m grows; then ``log Z = m + log s`` and the entropy ``log Z − E_p[z] = log s − t / s``.
    """
    weight, bias = head.weight, head.bias
    peak = sums = tilted = picked = None
    for low in range(0, weight.shape[0], cols):
        high = min(low + cols, weight.shape[0])
        part = torch.nn.functional.linear(rows, weight[low:high], None if bias is None else bias[low:high])
        z = _scaled(part, temperature)
        top = z.amax(-1)
        new_peak = top if peak is None else torch.maximum(peak, top)
        shifted = z - new_peak[:, None]
        e = shifted.exp()
        if peak is None:
            sums, tilted = e.sum(-1), (e * shifted).sum(-1)
            picked = torch.zeros_like(top)
        else:
            delta = peak - new_peak
            scale = delta.exp()
            tilted = (tilted + delta * sums) * scale + (e * shifted).sum(-1)
            sums = sums * scale + e.sum(-1)
        peak = new_peak
        if target is not None:
            inside = (target[:, 0] >= low) & (target[:, 0] < high)
            local = z.gather(-1, (target - low).clamp(0, high - low - 1)).squeeze(-1)
            picked = torch.where(inside, local, picked)
    log_sums = sums.log()
    return peak + log_sums, log_sums - tilted / sums, picked


@dataclass
class _Pairs:
    """Flat arrays over the (boundary, continuation) pairs of a group of items."""

    row: np.ndarray  # index of the item within the group's cache
    cut: np.ndarray  # cache positions the pair attends to (= boundary − 1)
    first: np.ndarray  # the prefix token at boundary − 1, re-fed as the first input of the row
    cont: np.ndarray  # index into ``tokens``
    length: np.ndarray  # continuation length
    item: np.ndarray  # item index, for the output
    out: np.ndarray  # flat index into that item's (n_b, n_c) result
    tokens: torch.Tensor  # (n_continuations, max_len) padded continuation ids

    def subset(self, keep: np.ndarray) -> _Pairs:
        arrays = ("row", "cut", "first", "cont", "length", "item", "out")
        return _Pairs(**{name: getattr(self, name)[keep] for name in arrays}, tokens=self.tokens)


def _first_occurrences(
    pairs: _Pairs, group, prefixes, bounds, conts, first: dict, copies: list
) -> np.ndarray:
    """Mask of the pairs to score: a pair whose (prefix up to its boundary, continuation) was already met is
    recorded in ``copies`` instead. A group's completions share the prompt-only state, and often their first
    lines, with the same references: those values are scored once."""
    keys = itertools.chain.from_iterable(_pair_digests(prefixes[k], bounds[k], conts[k]) for k in group)
    keep = np.ones(len(pairs.item), dtype=bool)
    for p, key in enumerate(keys):
        here = (int(pairs.item[p]), int(pairs.out[p]))
        source = first.setdefault(key, here)
        if source != here:
            keep[p] = False
            copies.append((*here, *source))
    return keep


def _pair_digests(prefix, bounds, conts) -> list[bytes]:
    """Digest of (prefix[:b], continuation) for each pair of one item, in :func:`_pairs` order; the prefix is
    hashed incrementally, so an item costs O(its length), not O(length × boundaries)."""
    ids = np.asarray(prefix, dtype=np.int64)
    cont_digests = [_digest(np.asarray(c, dtype=np.int64).tobytes()) for c in conts]
    running, done, out = hashlib.blake2b(digest_size=16), 0, []
    for b in bounds:
        running.update(ids[done:b].tobytes())
        done = b
        state = running.copy().digest()
        out.extend(state + c for c in cont_digests)
    return out


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _pairs(group, prefixes, bounds, conts) -> _Pairs:
    rows, cuts, firsts, cont_idx, lengths, items, outs, tokens = [], [], [], [], [], [], [], []
    for row, k in enumerate(group):
        b = np.asarray(bounds[k])
        lens = np.asarray([len(c) for c in conts[k]])
        n_b, n_c = len(b), len(lens)
        rows.append(np.full(n_b * n_c, row))
        cuts.append(np.repeat(b - 1, n_c))
        firsts.append(np.repeat(np.asarray(prefixes[k])[b - 1], n_c))
        cont_idx.append(np.tile(np.arange(n_c) + len(tokens), n_b))
        lengths.append(np.tile(lens, n_b))
        items.append(np.full(n_b * n_c, k))
        outs.append(np.arange(n_b * n_c))
        tokens.extend(torch.tensor(c) for c in conts[k])
    padded = torch.nn.utils.rnn.pad_sequence(tokens, batch_first=True)
    cat = np.concatenate
    return _Pairs(
        cat(rows), cat(cuts), cat(firsts), cat(cont_idx), cat(lengths), cat(items), cat(outs), padded
    )


def _prefix_cache(model, contexts: list[list[int]], device) -> tuple[list, list, torch.Tensor]:
    """Per-layer keys and values (n, kv_heads, max_len, head_dim) of right-padded contexts, and the last
    hidden states (n, max_len, hidden), from one forward of the decoder (no logits).

    Right padding keeps positions 0..len−1; padded slots hold finite states that no pair attends to.
    """
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(c) for c in contexts], batch_first=True).to(device)
    lengths = torch.tensor([len(c) for c in contexts], device=device)
    mask = (torch.arange(ids.shape[1], device=device) < lengths[:, None]).long()
    out = model.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=True)
    layers = out.past_key_values.layers
    return [layer.keys for layer in layers], [layer.values for layer in layers], out.last_hidden_state


def _score_pairs(
    model, keys, values, pairs: _Pairs, results, value_batch_tokens: int, max_logits: int
) -> None:
    """Batched decoder forwards over continuation rows, each attending to its item's cache below its cut;
    the target log-probs of the real (unpadded) positions then go through lm_head in logits chunks."""
    device = keys[0].device
    order = np.lexsort((pairs.cut, pairs.length))  # similar lengths and cuts share a batch: little padding
    tokens = pairs.tokens.to(device)
    blocked = torch.finfo(model.dtype).min
    for batch in _chunks(order, (pairs.cut, pairs.length), value_batch_tokens):
        n_cache, width = int(pairs.cut[batch].max()), int(pairs.length[batch].max())
        cut = torch.as_tensor(pairs.cut[batch], device=device)
        target = tokens[torch.as_tensor(pairs.cont[batch], device=device), :width]
        inputs = torch.cat(
            [torch.as_tensor(pairs.first[batch], device=device)[:, None], target[:, :-1]], dim=1
        )
        positions = torch.arange(max(n_cache, width), device=device)
        # Additive mask (rows, 1, width, n_cache + width), built once for all layers: cache slots below the
        # cut, then causal attention within the row (padding sits at the end, so no real token sees it).
        mask = torch.full((len(batch), 1, width, n_cache + width), blocked, dtype=model.dtype, device=device)
        mask[..., :n_cache].masked_fill_((positions[:n_cache] < cut[:, None])[:, None, None, :], 0.0)
        mask[..., n_cache:].masked_fill_(positions[:width, None] >= positions[None, :width], 0.0)
        cache = _prefilled_cache(*(_rows_of(layers, pairs.row[batch], n_cache) for layers in (keys, values)))
        hidden = model.get_decoder()(
            inputs,
            attention_mask=mask,
            position_ids=cut[:, None] + positions[:width],
            past_key_values=cache,
            use_cache=True,
        ).last_hidden_state
        valid = positions[:width] < torch.as_tensor(pairs.length[batch], device=device)[:, None]
        logp = torch.zeros(valid.shape, dtype=torch.float32, device=device)
        logp[valid] = _head_logprobs(model, hidden[valid], target[valid], max_logits=max_logits)[0]
        totals = logp.double().sum(-1)
        for item in np.unique(pairs.item[batch]):
            sel = np.flatnonzero(pairs.item[batch] == item)
            out = torch.as_tensor(pairs.out[batch][sel], device=device)
            results[item].view(-1)[out] = totals[torch.as_tensor(sel, device=device)]


def _rows_of(layers: list[torch.Tensor], rows: np.ndarray, n_cache: int) -> list[torch.Tensor]:
    """Each layer's cache for these rows, first ``n_cache`` slots. One item: a broadcast view, no copy."""
    if (rows == rows[0]).all():
        return [t[rows[0] : rows[0] + 1, :, :n_cache].expand(len(rows), -1, -1, -1) for t in layers]
    index = torch.as_tensor(rows, device=layers[0].device)
    return [t[:, :, :n_cache].index_select(0, index) for t in layers]


def _prefilled_cache(keys: list[torch.Tensor], values: list[torch.Tensor]) -> DynamicCache:
    """A DynamicCache holding these tensors as they are (``DynamicCache(ddp_cache_data=...)`` copies them);
    the forward's concatenation with the new tokens makes the one copy."""
    cache = DynamicCache()
    for k, v in zip(keys, values, strict=True):
        layer = DynamicLayer()
        layer.lazy_initialization(k, v)
        layer.keys, layer.values = k, v
        cache.layers.append(layer)
    return cache


def _chunks(order, widths: Sequence[np.ndarray], budget: int):
    """Consecutive runs of ``order`` whose rows × Σ max(width) stay within ``budget`` (at least one row).

    A batch is padded to its widest row in each width (cache length, continuation length): that is its cost.
    """
    batch, widest = [], np.zeros(len(widths), dtype=np.int64)
    for index in order:
        wider = np.maximum(widest, [int(w[index]) for w in widths])
        if batch and (len(batch) + 1) * int(wider.sum()) > budget:
            yield np.asarray(batch)
            batch, wider = [], np.asarray([int(w[index]) for w in widths])
        batch.append(index)
        widest = wider
    if batch:
        yield np.asarray(batch)


# ---------------------------------------------------------------------------------------------------------
# Input checks


def _check_model(model) -> None:
    config = model.config
    if config._attn_implementation not in ("sdpa", "eager"):
        raise ValueError(
            "one-pass scoring needs sdpa or eager attention (custom 4D masks), "
            f"got {config._attn_implementation!r}"
        )
    layer_types = set(getattr(config, "layer_types", None) or ["full_attention"])
    if layer_types != {"full_attention"}:
        raise ValueError(f"one-pass scoring supports full-attention layers only, got {sorted(layer_types)}")


def _check_budget(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def check_boundaries(boundaries: Sequence[int], low: int, high: int, what: str) -> list[int]:
    """The boundaries as ints, checked non-empty, strictly increasing and within [low, high]; ``what`` names
    them in the error."""
    bounds = [int(b) for b in boundaries]
    if not bounds:
        raise ValueError(f"{what}: no boundaries given")
    if any(b < low or b > high for b in bounds):
        raise ValueError(f"{what} must lie in [{low}, {high}], got {bounds}")
    if any(a >= b for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(f"{what} must be strictly increasing, got {bounds}")
    return bounds


def _check_continuations(continuations: Sequence[Sequence[int]]) -> list[list[int]]:
    conts = [_as_list(c) for c in continuations]
    if not conts:
        raise ValueError(
            "no continuations to score: the estimator needs at least one reference (solution, answer)"
        )
    if any(not c for c in conts):
        raise ValueError("every continuation needs at least one token")
    return conts


def _as_list(ids) -> list[int]:
    if isinstance(ids, torch.Tensor):
        if ids.ndim != 1:
            raise ValueError(f"token ids must be 1-D, got shape {tuple(ids.shape)}")
        return ids.tolist()
    return [int(i) for i in ids]


def _device(model) -> torch.device:
    return next(model.parameters()).device
