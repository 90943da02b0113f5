"""Segment-credit analysis (docs/paper.md §5 "Analyses"): the logged data behind Fig. 3, 4 and 7 and the
segmentation / estimator agreement-with-MC ablations.

Traces are drawn stratified by correctness: walking the benchmark in row order, one trace is sampled per
problem and graded, and accepted while its stratum (correct or incorrect) has room under the quotas, until
``n_traces`` are accepted (:mod:`rredcot.pipeline.strata`). At least ``min_incorrect_share`` of them are
incorrect and ``min_correct_share`` correct (each share × ``n_traces`` rounded up), so a stratum takes at
most ``n_traces`` minus the other's minimum. Every draw is logged in order as
``{"id", "correct", "accepted"}`` (the draws file); when the benchmark runs out first, the accepted traces are
analysed anyway, a warning says so, and the draws file shows the shortfall.

Each accepted trace is segmented as in training. At every value boundary the analysis records Monte Carlo
outcomes (the unbiased, expensive reference), the RREDCoT values of every estimator variant, and the gradient
and leave-one-out attributions of the reasoning segments, each with its measured cost. One JSON record per
accepted trace, in draw order::

    {"id", "correct": 0|1, "n_tokens", "completion",
     "first_error": int | null         completion-token offset (the units of spans and boundaries) of the
                                       first token of the first wrong line: of the thinking or, after an
                                       early close, of the write-up
                                       (:mod:`~rredcot.pipeline.data.first_error`); null when none is
                                       found or the row has no checker,
     "first_error_line": str | null    that line's text,
     "first_error_checked": bool       whether the row had a checker (synthetic rows: true; hub rows: false),
     "exact": {"horizon", "done": [per boundary], "wrong": [per boundary], "steps_right", "failed"}
                                       synthetic rows only: what the checker knows at each boundary,
                                       whence the exact values (:mod:`rredcot.pipeline.data.exact_values`),
     "spans": [[s, e], ...]            reasoning spans, then the answer span (if the trace has one),
     "boundaries": [0, e_1, ..., e_K]  value boundaries (completion prefix lengths),
     "rel_position": [...]             per reasoning segment, its midpoint over the reasoning length,
     "mc": {"outcomes": [[0/1] * n_samples per boundary], "seconds", "n_samples", "generated_tokens"},
     "values": {"<estimator>/<space>": [per boundary]},
     "value_seconds": {"<estimator>/<space>": seconds},
     "attribution": {"gradient": [per reasoning segment], "loo": [per reasoning segment]},
     "attribution_seconds": {"gradient": seconds, "loo": seconds},
     "self_group": {"size", "n_correct", "fallback": null | "reference" | "answer_only"}
                                       only when a "self/…" variant is analysed,
     "value_parts": {"marker", "body", "answer": [per boundary]}
                                       log p of the reference's parts, when the row has a solution}

The segmentation ablation (:func:`analyze_segmentations`) analyses exactly the accepted traces (read from
the draws file) and writes the same record per variant, with only the ablation estimator's values, empty
``attribution``/``attribution_seconds``, no ``first_error`` fields (a property of the trace, in the credit
record) and MC outcomes shared between variants at common boundaries.

Segment credits: MC credit of reasoning segment k is ``mean(outcomes[k]) − mean(outcomes[k−1])``; RREDCoT
credit is ``segment_rewards(values[variant])``; the attribution arrays are credits already.

Choices the paper leaves open (docs/paper.md §3, §5), made here to match what training does:

- The trace is the generated tokens before the first end-of-sequence token (``n_tokens`` counts them);
  it is graded as the reward function grades it (decoded without special tokens).
- Values use the trainer's continuations: ``reference`` scores the marker + the dataset's worked solution as
  it stands (its own ``\\boxed{}`` included); ``self`` uses the other correct completions of the trace's
  group (the trace is the first of ``self_group_size`` completions sampled together, as in a GRPO group),
  ``self_inclusive`` the trace itself too (the copying ablation), each scoring what those completions wrote
  after the marker; with no such completion they fall back to the dataset reference, as the trainer does
  (to the answer-only exit when the problem has no reference solution; ``self_group.fallback`` says which).
  Log and linear space share one scoring pass; each variant's ``value_seconds`` is that pass plus its
  aggregation, i.e. what computing that variant alone costs. Sampling the group is not a value cost
  (training samples it anyway).
- Attributions explain ``log p(continuation | prompt + reasoning)`` with the continuation of
  ``attribution_estimator`` (default ``reference``): the default estimator's value at the last boundary, so
  LOO and gradient credits are comparable with value differences. Only the reasoning tokens are attributed.
- MC continuations get a fixed budget of ``mc_max_new_tokens`` from every boundary. ``Sampling.backend``
  picks their sampler, HF ``generate`` or a vLLM engine beside the HF model (:func:`mc_policy`); the traces
  and their groups are sampled by the HF model either way.

Every random draw is seeded from (seed, problem id, purpose), so a problem's trace and record do not depend
on which other problems ran before it: the draws are deterministic, a resumed run (which replays the logged
grades and skips the finished records) equals an uninterrupted one, and the segmentation ablation re-samples
exactly the traces of the main analysis (same model, seed and sampling settings).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from rredcot.continuation import DEFAULT_CONTINUATION, ESTIMATORS, SELF_ESTIMATORS, TEXT_FIELDS, Continuation
from rredcot.end_of_sequence import cut_at_end, end_token_ids
from rredcot.io import append_jsonl, remove_resume_state, resume_jsonl, resume_records, write_jsonl
from rredcot.mc import mc_values
from rredcot.pipeline.attribution import gradient_attribution, leave_one_out_attribution
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data import prompt_messages
from rredcot.pipeline.data.exact_values import boundary_states, trace_counts
from rredcot.pipeline.data.first_error import find_first_error, is_synthetic, judge_thinking, true_chain
from rredcot.pipeline.evaluate import BACKENDS
from rredcot.pipeline.strata import Strata, check_strata, stratified_draws
from rredcot.rewards import grade
from rredcot.scoring import DEFAULT_VALUE_BATCH_TOKENS, logprobs_and_entropies, score_continuations
from rredcot.segmentation import (
    CompletionSegments,
    Segmentation,
    segment_completion,
    token_table,
    value_boundaries,
)
from rredcot.values import SPACES, aggregate_values, build_continuations, reference_value_parts
from rredcot.vllm_engine import load_vllm

VARIANTS = tuple(f"{estimator}/{space}" for estimator in ESTIMATORS for space in SPACES)
ATTRIBUTIONS = ("gradient", "loo")
ATTRIBUTION_ESTIMATORS = ("reference", "answer_only")  # whose continuation the attributions explain
VLLM_GPU_SHARE = 0.4  # vLLM's part of the GPU; the rest holds the HF model that samples, scores, attributes
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValueOptions:
    """How the analyses value a state, as training does: the continuation's text (each analysed estimator
    sets its ``estimator``) and the token budget of one scoring forward."""

    continuation: Continuation = DEFAULT_CONTINUATION
    value_batch_tokens: int = DEFAULT_VALUE_BATCH_TOKENS

    @classmethod
    def from_config(cls, options: Mapping) -> ValueOptions:
        """From the train.rredcot fields that the analysis rules pass
        (:data:`~rredcot.continuation.VALUE_OPTION_FIELDS`)."""
        text = {name: options[name] for name in TEXT_FIELDS}
        return cls(Continuation(**text), options["value_batch_tokens"])


@dataclass(frozen=True)
class Sampling:
    """Sampling of the analysed trace, the self-estimator group and the MC continuations."""

    temperature: float = 1.0
    max_new_tokens: int = 256
    mc_max_new_tokens: int = 256
    mc_batch_size: int = 64
    self_group_size: int = 4
    backend: str = "hf"  # the MC continuations' sampler (BACKENDS); traces and groups are always HF's

    @classmethod
    def from_config(cls, section: Mapping) -> Sampling:
        """From the analysis config section, which holds these fields under the same names."""
        return cls(**{field.name: section[field.name] for field in fields(cls)})


@dataclass
class Trace:
    row: dict
    prompt_ids: list[int]
    completion_ids: list[int]  # generated tokens before the first end-of-sequence token
    entropies: np.ndarray  # (len(completion_ids),) policy entropy at each completion token, nats
    correct: int
    text: str  # decoded with special tokens, for inspection
    group: list[list[int]]  # the other members of its sampled group (self estimator), cut like the trace


# ---------------------------------------------------------------------------------------------------------
# Public entry points


def analyze_credit(
    model_path: str | os.PathLike,
    rows: Sequence[dict],
    *,
    n_traces: int,
    n_mc_samples: int,
    segmentation: Segmentation,
    estimators: Sequence[str],
    seed: int,
    partial_path: str | os.PathLike,
    out_path: str | os.PathLike,
    draws_path: str | os.PathLike,
    min_incorrect_share: float = 0.0,
    min_correct_share: float = 0.0,
    sampling: Sampling = Sampling(),
    value_options: ValueOptions = ValueOptions(),
    attribution_estimator: str = "reference",
    random_init: bool = False,
    dtype: str = "float32",
    device: str = "cpu",
) -> list[dict]:
    """MC outcomes, RREDCoT values of every estimator variant and attributions of ``n_traces`` traces,
    stratified by correctness (:func:`~rredcot.pipeline.strata.stratified_draws`).

    ``segmentation`` is how every trace is cut; ``estimators`` are ``"<estimator>/<space>"`` strings from
    :data:`VARIANTS`. Every draw, in order, goes to ``draws_path`` (``{"id", "correct", "accepted"}``); only
    accepted traces get MC, values and attributions. When the rows run out before the quotas are met, what
    was accepted is written and a warning logged. Each finished trace is appended to ``partial_path`` and
    each draw's grade to ``<partial_path stem>_draws.jsonl`` beside it; a rerun replays the logged grades and
    skips the finished traces, so it equals an uninterrupted run. The records, in draw order, are written
    atomically to ``out_path`` and returned; then both partial logs are removed (a rerun starts over).
    """
    strata = check_strata(n_traces, min_incorrect_share, min_correct_share)
    estimators = _check_variants(estimators)
    if attribution_estimator not in ATTRIBUTION_ESTIMATORS:
        raise ValueError(
            f"attribution_estimator must be 'reference' or 'answer_only', got {attribution_estimator!r}"
        )
    sampling = _check_sampling(sampling, n_mc_samples)
    rows = _check_rows(rows)
    _check_solutions(rows, [*estimators, attribution_estimator])
    for row in rows:
        if is_synthetic(row):
            true_chain(row)  # a row the first-error checker cannot read stops here, not hours in
    partial_path = Path(partial_path)
    finished = _finished(partial_path, rows, n_mc_samples, estimators)
    grades_path = partial_path.with_name(f"{partial_path.stem}_draws.jsonl")
    graded = _logged_grades(grades_path, rows, finished)

    policy = _Policy(model_path, sampling, seed, dtype=dtype, device=device, random_init=random_init)

    def correct_of(row) -> int:  # a logged grade, or the grade of a freshly sampled trace
        if row["id"] not in graded:
            graded[row["id"]] = policy.trace(row).correct
            append_jsonl(grades_path, {"id": row["id"], "correct": graded[row["id"]]})
        return graded[row["id"]]

    by_id = {row["id"]: row for row in rows}
    draws, records = [], []
    progress = tqdm(desc="credit analysis", unit="trace", total=strata.n_traces)
    for draw in stratified_draws(rows, correct_of, strata):
        draws.append(draw)
        progress.set_postfix(draws=len(draws))
        if not draw["accepted"]:
            continue
        record = finished.get(draw["id"])
        if record is None:
            record = _credit_record(
                policy,
                policy.trace(by_id[draw["id"]]),
                segmentation=segmentation,
                estimators=estimators,
                attribution_estimator=attribution_estimator,
                options=value_options,
                n_mc_samples=n_mc_samples,
            )
            append_jsonl(partial_path, record)
        elif "first_error_checked" not in record:
            # Logged before the first-error fields existed: the same trace, sampled again, fills them in.
            trace = policy.trace(by_id[draw["id"]])
            record.update(_first_error(policy.tokenizer, trace, value_options.continuation.end_of_thinking))
        records.append(record)
        progress.update()
    progress.close()
    _warn_shortfall(draws, strata, len(rows))
    write_jsonl(draws_path, draws)
    write_jsonl(out_path, records)
    remove_resume_state(partial_path, grades_path)
    return records


class _Policy:
    """The analysed model, loaded on first use (a resumed run with nothing left to do loads none), and the
    traces it samples; the last trace is kept, so a draw graded and then accepted is sampled once."""

    def __init__(self, model_path, sampling: Sampling, seed: int, **load):
        self.model_path, self.sampling, self.seed, self.load = model_path, sampling, seed, load
        self.model = self.tokenizer = self.table = self._rollouts = None
        self._last: Trace | None = None

    def rollouts(self):
        """What the MC continuations sample from (:func:`mc_policy`), made at the first MC call."""
        if self._rollouts is None:
            self._rollouts = mc_policy(
                self.model,
                self.model_path,
                self.sampling.backend,
                dtype=self.load["dtype"],
                seed=self.seed,
                random_init=self.load["random_init"],
            )
        return self._rollouts

    def trace(self, row: Mapping) -> Trace:
        if self._last is not None and self._last.row["id"] == row["id"]:
            return self._last
        if self.model is None:
            self.model, self.tokenizer = load_model_and_tokenizer(self.model_path, **self.load)
            self.table = token_table(self.tokenizer, self.model.get_output_embeddings().out_features)
            _warm_up(self.model, self.tokenizer, row)
        self._last = sample_trace(self.model, self.tokenizer, row, self.sampling, self.seed)
        return self._last


def _credit_record(
    policy: _Policy,
    trace: Trace,
    *,
    segmentation: Segmentation,
    estimators: Sequence[str],
    attribution_estimator: str,
    options: ValueOptions,
    n_mc_samples: int,
) -> dict:
    """Everything the credit analysis logs for one accepted trace."""
    model, tokenizer, row = policy.model, policy.tokenizer, trace.row
    end_of_thinking = options.continuation.end_of_thinking
    segments = _segment(trace, policy.table, segmentation, end_of_thinking)
    record = _base_record(trace, segments)
    record.update(_first_error(tokenizer, trace, end_of_thinking))
    boundaries = value_boundaries(segments)
    if is_synthetic(row):
        record["exact"] = _exact_states(tokenizer, trace, boundaries, end_of_thinking)
    rollouts = policy.rollouts()  # made before _mc's clock starts
    record["mc"] = _mc(
        rollouts, tokenizer, trace, boundaries, n_mc_samples, policy.sampling, policy.seed, "mc"
    )
    values, seconds, group = _values(model, tokenizer, trace, segments, estimators, options)
    record["values"], record["value_seconds"] = values, seconds
    if group is not None:
        record["self_group"] = group
    if _has_solution(row):
        record["value_parts"] = reference_value_parts(
            model,
            tokenizer,
            trace.prompt_ids,
            trace.completion_ids,
            boundaries,
            row["solution"],
            row["answer"],
            continuation=options.continuation,
            value_batch_tokens=options.value_batch_tokens,
        )
    record["attribution"], record["attribution_seconds"] = _attributions(
        model, tokenizer, trace, segments, attribution_estimator, options
    )
    return record


def analyze_segmentations(
    model_path: str | os.PathLike,
    rows: Sequence[dict],
    *,
    ids: Sequence[str],
    n_mc_samples: int,
    segmentation: Segmentation,
    variants: Mapping[str, Mapping],
    estimator: str,
    seed: int,
    partial_dir: str | os.PathLike,
    out_paths: Mapping[str, str | os.PathLike],
    sampling: Sampling = Sampling(),
    value_options: ValueOptions = ValueOptions(),
    random_init: bool = False,
    dtype: str = "float32",
    device: str = "cpu",
) -> dict[str, list[dict]]:
    """The segmentation ablation: the traces of problems ``ids``, segmented by every variant, MC and values at
    each variant's boundaries.

    ``ids`` are the credit analysis's accepted traces (its draws file), in its order; with the same model,
    seed and sampling the traces re-sampled here are its traces. ``variants`` maps a name to the
    :class:`~rredcot.segmentation.Segmentation` fields in which it differs from ``segmentation`` (a config
    mapping, e.g. ``{strategy: fixed, chunk_size: 16}``). MC is one call per problem
    over the union of all variants' boundaries, so variants sharing a boundary share its outcomes (common
    random numbers; hybrid boundaries are a subset of keyword boundaries). Each record's ``mc.seconds`` and
    ``mc.generated_tokens`` are that call's per-boundary cost times the variant's number of boundaries: what
    MC at its boundaries alone would cost. Summed over variants they over-count the shared boundaries.
    Records have the credit analysis's format with only ``estimator``'s values and empty ``attribution``
    dicts; one JSONL per variant goes to ``out_paths[name]``, finished problems to
    ``partial_dir/<name>.jsonl`` (removed once every output is written).
    """
    if set(out_paths) != set(variants):
        raise ValueError(f"out_paths {sorted(out_paths)} must name exactly the variants {sorted(variants)}")
    if not variants:
        raise ValueError("no segmentation variants given")
    specs = {
        name: Segmentation.from_config({**segmentation.as_config(), **dict(spec)}, where=f"variant {name!r}")
        for name, spec in variants.items()
    }
    estimators = _check_variants([estimator])
    sampling = _check_sampling(sampling, n_mc_samples)
    benchmark = _check_rows(rows)
    rows = _pick(benchmark, ids)
    _check_solutions(rows, estimators)
    partials = {name: Path(partial_dir) / f"{name}.jsonl" for name in specs}
    # Logged records of traces no longer selected (other quotas) stay in the log, unused.
    finished = {name: _finished(partials[name], benchmark, n_mc_samples, estimators) for name in specs}
    pending = [row for row in rows if any(row["id"] not in finished[name] for name in specs)]
    if pending:
        model, tokenizer = load_model_and_tokenizer(
            model_path, dtype=dtype, device=device, random_init=random_init
        )
        table = token_table(tokenizer, model.get_output_embeddings().out_features)
        _warm_up(model, tokenizer, pending[0])
        rollouts = mc_policy(
            model, model_path, sampling.backend, dtype=dtype, seed=seed, random_init=random_init
        )
        for row in tqdm(pending, desc="segmentation ablation", unit="problem"):
            trace = sample_trace(model, tokenizer, row, sampling, seed)
            end_of_thinking = value_options.continuation.end_of_thinking
            segments = {name: _segment(trace, table, spec, end_of_thinking) for name, spec in specs.items()}
            # One MC call over the union of all variants' boundaries (all, not only the unfinished ones, so a
            # resumed run draws the same outcomes); each variant takes the rows of its own boundaries.
            union = sorted({b for seg in segments.values() for b in value_boundaries(seg)})
            shared = _mc(rollouts, tokenizer, trace, union, n_mc_samples, sampling, seed, "mc/segmentation")
            for name in specs:
                if row["id"] in finished[name]:
                    continue
                record = _base_record(trace, segments[name])
                record["mc"] = _mc_share(shared, union, record["boundaries"])
                values, seconds, summary = _values(
                    model, tokenizer, trace, segments[name], estimators, value_options
                )
                record["values"], record["value_seconds"] = values, seconds
                if summary is not None:
                    record["self_group"] = summary
                record["attribution"], record["attribution_seconds"] = {}, {}
                append_jsonl(partials[name], record)
                finished[name][row["id"]] = record
    results = {}
    for name in specs:
        results[name] = [finished[name][row["id"]] for row in rows]
        write_jsonl(out_paths[name], results[name])
    remove_resume_state(*partials.values())
    return results


def sample_trace(model, tokenizer, row: Mapping, sampling: Sampling, seed: int) -> Trace:
    """The analysed trace of a problem, its entropies and grade.

    As in a GRPO group, the trace is one of ``sampling.self_group_size`` completions sampled together (the
    first); the others serve the ``self`` estimator. The trace therefore depends on the group size, never on
    which estimators are analysed.
    """
    prompt_ids = prompt_token_ids(tokenizer, row["problem"])
    completion, *group = _sample(
        model,
        tokenizer,
        prompt_ids,
        n=sampling.self_group_size,
        temperature=sampling.temperature,
        max_new_tokens=sampling.max_new_tokens,
        seed=_seed(seed, row["id"], "trace"),
    )
    return Trace(
        row=dict(row),
        prompt_ids=prompt_ids,
        completion_ids=completion,
        entropies=_entropies(model, prompt_ids, completion),
        correct=_grade(tokenizer, completion, row["answer"]),
        text=tokenizer.decode(completion, skip_special_tokens=False),
        group=group,
    )


def mc_policy(model, model_path, backend: str, *, dtype: str, seed: int, random_init: bool):
    """What the MC continuations sample from: the HF model itself, or (``backend="vllm"``) a vLLM engine on
    the same weights beside it, with :data:`VLLM_GPU_SHARE` of the GPU."""
    if backend == "hf":
        return model
    return load_vllm(
        model_path, dtype=dtype, seed=seed, random_init=random_init, gpu_memory_utilization=VLLM_GPU_SHARE
    )


def prompt_token_ids(tokenizer, problem: str) -> list[int]:
    """The chat prompt of a problem, as evaluation and training build it."""
    text = tokenizer.apply_chat_template(prompt_messages(problem), add_generation_prompt=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# ---------------------------------------------------------------------------------------------------------
# One problem


def _base_record(trace: Trace, segments: CompletionSegments) -> dict:
    reasoning = segments.spans[: segments.n_reasoning_segments]
    n_reasoning = segments.think_end if segments.think_end is not None else len(trace.completion_ids)
    return {
        "id": trace.row["id"],
        "correct": trace.correct,
        "n_tokens": len(trace.completion_ids),
        "completion": trace.text,
        "spans": [[int(s), int(e)] for s, e in segments.spans],
        "boundaries": [int(b) for b in value_boundaries(segments)],
        "rel_position": [(s + e) / 2 / n_reasoning for s, e in reasoning],
    }


def _first_error(tokenizer, trace: Trace, end_of_thinking: str) -> dict:
    """The record's ground-truth first error (synthetic rows only): the first wrong line of the thinking or,
    after an early close, of the write-up (:mod:`rredcot.pipeline.data.first_error`), as the
    completion-token offset of its first token, and its text."""
    if not is_synthetic(trace.row):
        return {"first_error": None, "first_error_line": None, "first_error_checked": False}
    error = find_first_error(trace.row, trace.text, end_of_thinking=end_of_thinking)
    if error is None:
        return {"first_error": None, "first_error_line": None, "first_error_checked": True}
    offset = token_offset(tokenizer, trace.completion_ids, error.offset)
    return {"first_error": offset, "first_error_line": error.line, "first_error_checked": True}


def _exact_states(tokenizer, trace: Trace, boundaries: Sequence[int], end_of_thinking: str) -> dict:
    """What the synthetic task's checker knows at each boundary (:func:`boundary_states`) and the trace's
    share of the policy's step accuracy (steps right before the first wrong line, and whether one came), so
    that the exact values can be computed from the log and checked against MC."""
    judged = judge_thinking(trace.row, trace.text, end_of_thinking=end_of_thinking)
    cuts = [len(tokenizer.decode(trace.completion_ids[:b], skip_special_tokens=False)) for b in boundaries]
    steps_right, failed = trace_counts(judged)
    return {**boundary_states(trace.row, judged, cuts), "steps_right": steps_right, "failed": failed}


def token_offset(tokenizer, ids: Sequence[int], char_offset: int) -> int:
    """The index of the token holding character ``char_offset`` of ``decode(ids)`` (with special tokens): the
    largest prefix length whose decoded text is at most ``char_offset`` characters long. Decoding prefixes
    needs no offset mapping, so it works for any tokenizer; prefix lengths grow with the prefix, so a binary
    search finds it."""
    lo, hi = 0, len(ids)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(tokenizer.decode(list(ids[:mid]), skip_special_tokens=False)) <= char_offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _segment(trace: Trace, table, spec: Segmentation, end_of_thinking: str) -> CompletionSegments:
    return segment_completion(
        trace.completion_ids, table, trace.entropies, spec, end_of_thinking=end_of_thinking
    )


def _mc(
    model, tokenizer, trace: Trace, boundaries, n_samples: int, sampling: Sampling, seed: int, purpose: str
):
    start = time.perf_counter()
    result = mc_values(
        model,
        tokenizer,
        trace.prompt_ids,
        trace.completion_ids,
        boundaries,
        trace.row["answer"],
        n_samples=n_samples,
        temperature=sampling.temperature,
        max_new_tokens=sampling.mc_max_new_tokens,
        batch_size=sampling.mc_batch_size,
        seed=_seed(seed, trace.row["id"], purpose),
    )
    seconds = time.perf_counter() - start
    return {
        "outcomes": [[int(round(o)) for o in row] for row in result.outcomes.tolist()],
        "seconds": seconds,
        "n_samples": n_samples,
        "generated_tokens": int(result.generated_tokens),
    }


def _mc_share(shared: dict, union: Sequence[int], boundaries: Sequence[int]) -> dict:
    """A variant's part of an MC call over ``union``: its boundaries' outcomes, and the call's time and
    generated tokens per boundary times its number of boundaries."""
    index = {b: k for k, b in enumerate(union)}
    share = len(boundaries) / len(union)
    return {
        "outcomes": [shared["outcomes"][index[b]] for b in boundaries],
        "seconds": shared["seconds"] * share,
        "n_samples": shared["n_samples"],
        "generated_tokens": int(round(shared["generated_tokens"] * share)),
    }


def _values(model, tokenizer, trace: Trace, segments, variants, options: ValueOptions):
    """Values of every variant at the boundaries; their costs; the self group's summary (or ``None``)."""
    row = trace.row
    boundaries = [len(trace.prompt_ids) + b for b in value_boundaries(segments)]
    prefix = [*trace.prompt_ids, *trace.completion_ids]
    by_estimator: dict[str, list[str]] = {}
    for variant in variants:
        estimator, space = variant.split("/")
        by_estimator.setdefault(estimator, []).append(space)
    group = None
    values, seconds = {}, {}
    for estimator, spaces in by_estimator.items():
        group_correct, scored = None, estimator
        if estimator in SELF_ESTIMATORS:
            group_correct, summary = _self_group(tokenizer, trace, include_own=estimator == "self_inclusive")
            group = group or summary  # the record describes the first self estimator analysed
            scored = summary["fallback"] or estimator
        continuations = build_continuations(
            tokenizer,
            replace(options.continuation, estimator=scored),
            references=_reference_pairs(row) if scored == "reference" else None,
            group_correct=group_correct or None,
            answer=row["answer"],
        )
        start = time.perf_counter()
        logp = score_continuations(
            model, prefix, boundaries, continuations, value_batch_tokens=options.value_batch_tokens
        )
        scoring = time.perf_counter() - start
        for space in spaces:
            start = time.perf_counter()
            values[f"{estimator}/{space}"] = [float(v) for v in aggregate_values(logp, space)]
            seconds[f"{estimator}/{space}"] = scoring + time.perf_counter() - start
    return values, seconds, group


def _self_group(tokenizer, trace: Trace, *, include_own: bool) -> tuple[list[list[int]], dict]:
    """The other correct completions of the trace's group (with the trace itself when ``include_own``: the
    copying ablation) and a summary for the record."""
    others = [ids for ids in trace.group if _grade(tokenizer, ids, trace.row["answer"])]
    correct = [trace.completion_ids, *others] if include_own and trace.correct else others
    # No correct completion: the dataset reference is scored instead, as the trainer does; a problem without
    # a reference solution (AIME-25, AMC-23) falls back further, to the answer-only exit.
    fallback = None if correct else "reference" if _has_solution(trace.row) else "answer_only"
    return correct, {"size": 1 + len(trace.group), "n_correct": len(correct), "fallback": fallback}


def _attributions(
    model, tokenizer, trace: Trace, segments: CompletionSegments, estimator: str, options: ValueOptions
):
    """Gradient × input and LOO credits of the reasoning segments for the attribution continuation."""
    spans = segments.spans[: segments.n_reasoning_segments]
    if not spans:
        return {name: [] for name in ATTRIBUTIONS}, {name: 0.0 for name in ATTRIBUTIONS}
    n_reasoning = segments.think_end if segments.think_end is not None else len(trace.completion_ids)
    reasoning = trace.completion_ids[:n_reasoning]
    (continuation,) = build_continuations(
        tokenizer,
        replace(options.continuation, estimator=estimator),
        references=_reference_pairs(trace.row) if estimator == "reference" else None,
        answer=trace.row["answer"],
    )
    credits, seconds = {}, {}
    for name, fn, kwargs in (
        ("gradient", gradient_attribution, {}),
        ("loo", leave_one_out_attribution, {"value_batch_tokens": options.value_batch_tokens}),
    ):
        start = time.perf_counter()
        result = fn(model, trace.prompt_ids, reasoning, spans, continuation, **kwargs)
        seconds[name] = time.perf_counter() - start
        credits[name] = [float(c) for c in result]
    return credits, seconds


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _has_solution(row: Mapping) -> bool:
    """Whether the problem ships a reference solution (hub evaluation sets without one hold ``""``)."""
    return isinstance(row.get("solution"), str) and bool(row["solution"].strip())


def _check_solutions(rows: Sequence[dict], estimators: Sequence[str]) -> None:
    """The reference estimator needs every analysed problem's solution: stop before any model is loaded."""
    if not any(e.startswith("reference") for e in estimators):
        return
    missing = [row["id"] for row in rows if not _has_solution(row)]
    if missing:
        needing = [e for e in estimators if e.startswith("reference")]
        raise ValueError(
            f"{len(missing)} of {len(rows)} problems have no reference solution (first: {missing[0]!r}), "
            f"which {needing} need; analyse a benchmark with solutions or use the answer_only / self "
            "estimators (and attribution_estimator answer_only)"
        )


def _reference_pairs(row: Mapping) -> list[tuple[str, str]]:
    """The row's (u, y) pair as the trainer builds it: the worked solution as it stands, and the answer."""
    solution = row.get("solution")
    if not _has_solution(row):
        raise ValueError(
            f"problem {row.get('id')!r}: the reference estimator needs a 'solution', got {solution!r}"
        )
    return [(solution, row["answer"])]


def _sample(model, tokenizer, prompt_ids, *, n: int, temperature: float, max_new_tokens: int, seed: int):
    """``n`` completions of one prompt (plain ancestral sampling), each cut before its first end id."""
    if n < 1:
        return []
    device = next(model.parameters()).device
    ends = end_token_ids(tokenizer, model.generation_config)
    ids = torch.tensor([prompt_ids], device=device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode():
        torch.manual_seed(seed)
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            num_return_sequences=n,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=sorted(ends),
        )[:, ids.shape[1] :]
    return [cut_at_end(tokens, ends)[0] for tokens in out.tolist()]


def _entropies(model, prompt_ids, completion_ids) -> np.ndarray:
    if not completion_ids:
        return np.zeros(0)
    device = next(model.parameters()).device
    ids = torch.tensor([[*prompt_ids, *completion_ids]], device=device)
    _, entropy = logprobs_and_entropies(model, ids, torch.ones_like(ids), len(completion_ids))
    return entropy[0].double().cpu().numpy()


def _grade(tokenizer, completion_ids, answer: str) -> int:
    return int(grade(tokenizer.decode(completion_ids, skip_special_tokens=True), answer) == 1.0)


def _warm_up(model, tokenizer, row) -> None:
    """One greedy generation and one scoring pass, so the first problem's timings carry no one-off setup."""
    prompt = prompt_token_ids(tokenizer, row["problem"])
    device = next(model.parameters()).device
    ids = torch.tensor([prompt], device=device)
    with torch.inference_mode():
        model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=2,
            pad_token_id=tokenizer.pad_token_id,
        )
    score_continuations(model, prompt, [len(prompt)], [prompt[:2]])


def _seed(seed: int, problem_id: str, purpose: str) -> int:
    """A seed for one (problem, purpose): independent of the order in which problems are run."""
    digest = hashlib.sha256(f"{seed}/{problem_id}/{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _check_rows(rows: Sequence[dict]) -> list[dict]:
    rows = list(rows)
    if not rows:
        raise ValueError("no problems to analyse")
    ids = [row["id"] for row in rows]
    if len(set(ids)) != len(ids):
        raise ValueError("problem ids are not unique")
    return rows


def _pick(rows: Sequence[dict], ids: Sequence[str]) -> list[dict]:
    """The rows of ``ids``, in that order."""
    by_id = {row["id"]: row for row in rows}
    ids = list(ids)
    missing = [i for i in ids if i not in by_id]
    if missing or len(set(ids)) != len(ids):
        raise ValueError(f"ids must be distinct problems of the benchmark; unknown: {missing[:5]}")
    return [by_id[i] for i in ids]


def _finished(partial_path: Path, rows: Sequence[dict], n_mc_samples: int, variants: Sequence[str]) -> dict:
    """Records of an interrupted run with the same MC samples and estimators."""

    def settings_differ(record: dict) -> str | None:
        samples = record.get("mc", {}).get("n_samples")
        logged = sorted(record.get("values", {}))
        if samples == n_mc_samples and logged == sorted(variants):
            return None
        return (
            f"logged with {samples} MC samples and estimators {logged}, now {n_mc_samples} and "
            f"{sorted(variants)}"
        )

    return resume_records(partial_path, {row["id"] for row in rows}, settings_differ)


def _logged_grades(path: Path, rows: Sequence[dict], finished: Mapping[str, dict]) -> dict[str, int]:
    """Grades of the draws an interrupted run made (its draws log and its finished records), by id."""
    graded = {record_id: int(record["correct"]) for record_id, record in finished.items()}
    logged = resume_jsonl(path)
    ids = {row["id"] for row in rows}
    for number, draw in enumerate(logged, start=1):
        draw_id, correct = draw.get("id"), draw.get("correct")
        if draw_id not in ids or correct not in (0, 1):
            raise ValueError(f"{path}, record {number}: not a draw of the analysed benchmark: {draw}")
        if graded.setdefault(draw_id, correct) != correct:
            raise ValueError(
                f"{path}, record {number}: {draw_id!r} graded {correct}, its finished record says "
                f"{graded[draw_id]}; delete the partial logs to start over"
            )
    return graded


def _warn_shortfall(draws: Sequence[dict], strata: Strata, n_rows: int) -> None:
    accepted = [d["correct"] for d in draws if d["accepted"]]
    n_correct = sum(accepted)
    if len(accepted) < strata.n_traces:
        logger.warning(
            "the benchmark ran out after %d draws (all %d problems): accepted %d of n_traces=%d traces, %d "
            "correct (at least %d wanted) and %d incorrect (at least %d wanted); the draws file shows "
            "every draw",
            len(draws),
            n_rows,
            len(accepted),
            strata.n_traces,
            n_correct,
            strata.min_correct,
            len(accepted) - n_correct,
            strata.min_incorrect,
        )


def _check_variants(variants: Sequence[str]) -> list[str]:
    variants = list(variants)
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants or len(set(variants)) != len(variants):
        raise ValueError(f"estimators must be distinct entries of {list(VARIANTS)}, got {variants}")
    return variants


def _check_sampling(sampling: Sampling, n_mc_samples: int) -> Sampling:
    positive = {
        "n_mc_samples": n_mc_samples,
        "max_new_tokens": sampling.max_new_tokens,
        "mc_max_new_tokens": sampling.mc_max_new_tokens,
        "mc_batch_size": sampling.mc_batch_size,
        "self_group_size": sampling.self_group_size,
    }
    for name, value in positive.items():
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if not (math.isfinite(sampling.temperature) and sampling.temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {sampling.temperature}")
    if sampling.backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {sampling.backend!r}")
    return sampling


__all__ = [
    "VARIANTS",
    "Sampling",
    "ValueOptions",
    "analyze_credit",
    "analyze_segmentations",
    "mc_policy",
    "sample_trace",
    "token_offset",
]
