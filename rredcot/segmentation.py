"""Split a completion into the segments whose values RREDCoT estimates (docs/paper.md §2).

A segment is a half-open token span ``(start, end)``. Boundaries are where the value estimator scores the
prefix, so every strategy returns spans that tile the tokens in order, none empty. Keyword matching works on
the decoded text through character offsets, so a keyword may span several tokens (``"\\n\\n"`` over two
``"\\n"`` tokens) or sit inside one multi-character token.
"""

from __future__ import annotations

import heapq
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

from rredcot.continuation import Continuation

STRATEGIES = ("keyword", "entropy", "fixed", "hybrid")
# The field each strategy cannot do without; the others it ignores, so one config can drive every strategy.
NEEDED = {"entropy": "max_segments", "hybrid": "max_segments", "fixed": "chunk_size"}


@dataclass(frozen=True)
class Segmentation:
    """How a completion is cut into segments: one spec for the trainer and the analyses, its defaults (the
    project's) defined here. Configs spell it as a mapping of these fields (``train.rredcot.segmentation``,
    ``analysis.segmentation``); :meth:`from_config` reads one.

    - ``"keyword"``: a segment ends with the token in which a keyword occurrence ends. Occurrences of one
      keyword are found left to right without overlap (as ``str.split`` does); the cuts of all keywords are
      united.
    - ``"entropy"``: cut after each of the ``max_segments - 1`` highest-entropy tokens among all but the last
      token; ties go to the earlier token. With fewer than ``max_segments`` tokens every token is its own
      segment, so fewer than ``max_segments`` segments come back.
    - ``"fixed"``: chunks of ``chunk_size`` tokens; the last chunk may be shorter.
    - ``"hybrid"``: keyword split, then repeatedly merge the adjacent pair with the lowest summed entropy
      (ties: the leftmost pair) until at most ``max_segments`` remain.

    A field a strategy does not use is ignored (but must still be valid), so variants of an ablation can
    share one spec and change only the strategy.
    """

    strategy: str = "hybrid"
    max_segments: int | None = 40
    keywords: tuple[str, ...] = ("\n",)
    chunk_size: int | None = None

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if isinstance(self.keywords, str):
            raise ValueError(f"keywords must be a sequence of strings, not the string {self.keywords!r}")
        keywords = tuple(self.keywords)
        if not keywords or any(not isinstance(k, str) or k == "" for k in keywords):
            raise ValueError(f"keywords must be non-empty strings, got {self.keywords!r}")
        object.__setattr__(self, "keywords", keywords)  # a list from a config: hashable, like the rest
        for name in ("max_segments", "chunk_size"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _positive_int(name, value))
        needed = NEEDED.get(self.strategy)
        if needed is not None and getattr(self, needed) is None:
            raise ValueError(f"strategy {self.strategy!r} needs {needed}")

    @classmethod
    def from_config(cls, config: Mapping | Segmentation, where: str = "segmentation") -> Segmentation:
        """The spec a config mapping spells (fields left out take the defaults); errors start with ``where``,
        the mapping's place in the config."""
        if isinstance(config, cls):
            return config
        if not isinstance(config, Mapping):
            hint = f" (the strategy alone is {where}.strategy)" if config in STRATEGIES else ""
            raise ValueError(f"{where} must be a mapping of the fields {FIELDS}, got {config!r}{hint}")
        unknown = sorted(set(config) - set(FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; the fields are {FIELDS}")
        try:
            return cls(**config)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None

    def as_config(self) -> dict:
        """The mapping a config spells this spec with (JSON types: the keywords as a list)."""
        return {**asdict(self), "keywords": list(self.keywords)}

    @property
    def needs_entropies(self) -> bool:
        return self.strategy in ("entropy", "hybrid")


FIELDS = tuple(field.name for field in fields(Segmentation))


def segment(
    tokens: Sequence[str], entropies: Sequence[float] | None, segmentation: Segmentation
) -> list[tuple[int, int]]:
    """Half-open token spans, in order, covering every token exactly once, none empty; the strategies are
    :class:`Segmentation`'s. ``entropies`` (one per token) are needed by ``"entropy"`` and ``"hybrid"``."""
    strategy, n = segmentation.strategy, len(tokens)
    if segmentation.needs_entropies and entropies is None:
        raise ValueError(f"strategy {strategy!r} needs entropies")
    if entropies is not None:
        entropies = np.asarray(entropies, dtype=np.float64)
        if entropies.shape != (n,):
            raise ValueError(f"entropies has shape {entropies.shape}, expected ({n},) to match tokens")
        bad = np.flatnonzero(~np.isfinite(entropies))
        if bad.size:
            raise ValueError(f"entropies must be finite; entropies[{bad[0]}] = {entropies[bad[0]]}")
    if n == 0:
        return []

    if strategy == "fixed":
        cuts = np.arange(segmentation.chunk_size, n, segmentation.chunk_size)
    elif strategy == "entropy":
        order = np.argsort(-entropies[:-1], kind="stable")  # stable: ties keep the earlier token first
        cuts = np.sort(order[: segmentation.max_segments - 1]) + 1
    else:
        cuts = _keyword_cuts(tokens, segmentation.keywords)
        if strategy == "hybrid":
            cuts = _merge_lowest_entropy(cuts, entropies, segmentation.max_segments)
    bounds = np.concatenate(([0], cuts, [n])).tolist()
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _positive_int(name: str, value) -> int:
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < 1:
        raise ValueError(f"{name} must be an integer >= 1 or None, got {value!r}")
    return number


def _char_ends(tokens: Sequence[str]) -> np.ndarray:
    """Exclusive end offset of every token in the concatenated text."""
    return np.cumsum(np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens)))


def _token_at(ends: np.ndarray, chars: np.ndarray) -> np.ndarray:
    """Index of the token that contains each character offset."""
    return np.searchsorted(ends, chars, side="right")


def _keyword_cuts(tokens: Sequence[str], keywords: Sequence[str]) -> np.ndarray:
    """Sorted interior cut positions (1..n-1): after every token in which a keyword ends."""
    text = "".join(tokens)
    last_chars = [m.end() - 1 for k in keywords for m in re.finditer(re.escape(k), text)]
    cuts = np.unique(_token_at(_char_ends(tokens), np.asarray(last_chars, dtype=np.int64)) + 1)
    return cuts[cuts < len(tokens)]


def _merge_lowest_entropy(cuts: np.ndarray, entropies: np.ndarray, max_segments: int) -> np.ndarray:
    """Merge adjacent segments, lowest summed entropy first (ties: leftmost), until ``max_segments`` remain.

    A heap over adjacent pairs keyed by (summed entropy, left segment index); segment indices follow text
    order and a merge keeps the left index, so the key order is the leftmost-tie order. Entries made stale by
    a merge are recognised because their key no longer equals the current pair's key.
    """
    starts = np.concatenate(([0], cuts))
    n_seg = len(starts)
    if n_seg <= max_segments:
        return cuts
    sums = np.add.reduceat(entropies, starts).tolist()
    nxt = [*range(1, n_seg), -1]
    prv = list(range(-1, n_seg - 1))
    alive = [True] * n_seg
    heap = [(sums[i] + sums[i + 1], i) for i in range(n_seg - 1)]
    heapq.heapify(heap)
    remaining = n_seg
    while remaining > max_segments:
        total, i = heapq.heappop(heap)
        j = nxt[i]
        if not alive[i] or j < 0 or sums[i] + sums[j] != total:
            continue
        sums[i] = total
        alive[j] = False
        nxt[i] = nxt[j]
        if nxt[i] >= 0:
            prv[nxt[i]] = i
            heapq.heappush(heap, (sums[i] + sums[nxt[i]], i))
        if prv[i] >= 0:
            heapq.heappush(heap, (sums[prv[i]] + sums[i], prv[i]))
        remaining -= 1
    return starts[np.asarray(alive)][1:]


@dataclass(frozen=True)
class CompletionSegments:
    """Segments of one completion: the reasoning segments, then the answer as its own last segment.

    ``spans[:n_reasoning_segments]`` segment the reasoning (tokens before the end-of-thinking marker);
    ``spans[n_reasoning_segments:]`` is the answer span (the marker to the end of the completion), present
    only when the marker occurs. ``think_end`` is the marker's token index, ``None`` when absent (a truncated
    completion is all reasoning).

    Project choice (docs/paper.md §3–4 leave it open): the answer segment gets no estimated value, so the
    caller gives it redistributed reward 0; in ``"clip"`` mode it then gets only the uniform share of σ (in
    ``"softmax"`` mode a reward of 0 is a neutral logit, not zero mass).
    """

    spans: list[tuple[int, int]]
    n_reasoning_segments: int
    think_end: int | None


def token_texts(token_ids: Sequence[int], tokenizer) -> list[str]:
    """Decoded text of every token, special tokens kept.

    ``tokenizer`` is a ``transformers`` tokenizer or an id → text table (a sequence of strings); a trainer can
    build the table once and skip decoding per completion.
    """
    ids = [int(i) for i in token_ids]
    if isinstance(tokenizer, Sequence) and not isinstance(tokenizer, str):
        return [tokenizer[i] for i in ids]
    return tokenizer.batch_decode(
        [[i] for i in ids], skip_special_tokens=False, clean_up_tokenization_spaces=False
    )


def token_table(tokenizer, size: int) -> list[str]:
    """Decoded text of every id a model of output vocabulary ``size`` can sample, built once per run.

    ``size`` is the model's, not ``len(tokenizer)``: Qwen-family models have more embedding rows than
    tokenizer entries (Qwen3: 151,936 against about 151,669), and an id without an entry decodes to "".
    """
    known = min(size, len(tokenizer))
    return token_texts(range(known), tokenizer) + [""] * (size - known)


def segment_completion(
    token_ids: Sequence[int],
    tokenizer,
    entropies: Sequence[float] | None,
    segmentation: Segmentation,
    *,
    n_tokens: int | None = None,
    end_of_thinking: str = Continuation.end_of_thinking,
) -> CompletionSegments:
    """Segment the reasoning part of a completion with :func:`segment`; the answer part is one more span.
    The trainer and the analyses segment through this one function.

    ``n_tokens`` is the number of real (non-padding) tokens at the start of ``token_ids`` (default: all);
    ``entropies`` may be padded too. The marker is found in the decoded text, so it need not be one token;
    the token in which it starts opens the answer span. ``max_segments`` bounds the reasoning segments only.
    """
    n = len(token_ids) if n_tokens is None else operator.index(n_tokens)
    if not 0 <= n <= len(token_ids):
        raise ValueError(f"n_tokens must be in [0, {len(token_ids)}], got {n}")
    if not end_of_thinking:
        raise ValueError("end_of_thinking must be a non-empty string")
    tokens = token_texts(token_ids[:n], tokenizer)
    marker = "".join(tokens).find(end_of_thinking)
    think_end = None if marker < 0 else int(_token_at(_char_ends(tokens), np.int64(marker)))
    n_reasoning = n if think_end is None else think_end
    if entropies is not None:
        entropies = np.asarray(entropies, dtype=np.float64)[:n_reasoning]
    spans = segment(tokens[:n_reasoning], entropies, segmentation)
    n_reasoning_segments = len(spans)
    if think_end is not None:
        spans.append((think_end, n))
    return CompletionSegments(spans, n_reasoning_segments, think_end)


def value_boundaries(segments: CompletionSegments) -> list[int]:
    """Prefix lengths ``[0, e_1, …, e_K]`` (completion tokens) whose values the estimator computes.

    ``e_k`` ends the k-th reasoning segment; the answer segment has no value of its own (see
    :class:`CompletionSegments`), so ``segment_rewards`` of these values gives K rewards for the K reasoning
    spans.
    """
    return [0] + [end for _, end in segments.spans[: segments.n_reasoning_segments]]


__all__ = [
    "FIELDS",
    "STRATEGIES",
    "CompletionSegments",
    "Segmentation",
    "segment",
    "segment_completion",
    "token_table",
    "token_texts",
    "value_boundaries",
]
