"""Value sanity: does the estimator rank the policy's own states as their Monte Carlo values do?

Before any verdict on redistributed credit is read, its mechanism is checked where the answer is known. For
each problem, the base policy writes one greedy trace; the states are the prompt and every line end of its
thinking, plus a **corrupted twin**: the state after the trace's first computed step (``a<op>b=c``, when it
is right) with the result changed to ``c + 1``. At every state the analysis records the estimator's value
(each configured estimator, ``log v̂``, and for the reference estimator the parts of log v̂: marker, solution
body, answer) and a Monte Carlo value from ``n_mc_samples`` rollouts of the same policy. Summary (problems
resampled as units for the intervals):

- ``spearman``: pooled Spearman(v̂, MC) over all states, clean and corrupted;
- ``drop_share``: share of problems whose estimate at the corrupted twin is below the clean state's
  (a value that cannot see a wrong step cannot blame it); ``mc_drop_share`` is the same for MC values;
- ``mean_step_by_index`` (and ``mc_mean_step_by_index``): the martingale check, the mean change of the
  value from one state to the next, per state index (:func:`mean_steps`).

The targets (``spearman ≥ 0.5``, ``drop_share ≥ 0.9``) are the ones a toy must meet before it can tell a
working method from a broken one; the report states whether the configured estimator meets them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from rredcot.end_of_sequence import cut_at_end, end_token_ids
from rredcot.io import write_json
from rredcot.mc import MCRequest, mc_values_batch
from rredcot.pipeline.analysis import ValueOptions, mc_policy, prompt_token_ids
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data.synthetic import apply_step, problem_modulus
from rredcot.pipeline.evaluate import BACKENDS
from rredcot.rewards import grade
from rredcot.segmentation import token_texts
from rredcot.values import estimate_values, reference_value_parts

STEP = re.compile(r"(\d+)([+\-*/])(\d+)=(\d+)$")
TARGETS = {"spearman": 0.5, "drop_share": 0.9}


def line_end_boundaries(completion_ids: Sequence[int], tokenizer, end_of_thinking: str) -> list[int]:
    """Prefix lengths ``[0, …]`` (completion tokens) right after every newline before the marker."""
    texts = token_texts(completion_ids, tokenizer)
    marker = "".join(texts).find(end_of_thinking)
    ends, bounds = np.cumsum([len(t) for t in texts]), [0]
    for k, text in enumerate(texts):
        if marker >= 0 and ends[k] > marker:
            break
        if "\n" in text:
            bounds.append(k + 1)
    return bounds


def corrupted_first_step(
    text: str, end_of_thinking: str, modulus: int | None = None
) -> tuple[str, str] | None:
    """(clean, corrupted) completion prefixes through the first step line of the thinking (its newline
    included), the corrupted one with the step's result ``c`` written as ``c + 1`` (modulo ``modulus`` on
    the testbed's modular chains); ``None`` when the
    thinking has no complete step line or its first step is already wrong (corrupting a wrong result need
    not lower any value: the twin tests whether an estimate sees a step go wrong)."""
    thinking = text.split(end_of_thinking)[0]
    offset = 0
    for line in thinking.split("\n")[:-1]:  # complete lines only
        match = STEP.search(line)
        if match:
            if not _correct(match, modulus):
                return None
            result_at = offset + match.start(4)
            clean = thinking[: offset + len(line) + 1]
            wrong = str(apply_step(int(match.group(4)), "+", 1, modulus))
            return clean, thinking[:result_at] + wrong + thinking[result_at + len(match.group(4)) :][
                : len(line) - match.end(4) + 1
            ]
        offset += len(line) + 1
    return None


def _correct(step: re.Match, modulus: int | None) -> bool:
    a, op, b, c = int(step[1]), step[2], int(step[3]), int(step[4])
    if op == "/" and (b == 0 or a % b):
        return False
    return apply_step(a, op, b, modulus) == c


def analyze_value_sanity(
    model_path: str | os.PathLike,
    rows: Sequence[dict],
    *,
    estimators: Sequence[str],
    n_problems: int,
    n_mc_samples: int,
    max_new_tokens: int,
    mc_batch_size: int,
    value_options: ValueOptions,
    out_path: str | os.PathLike,
    seed: int = 0,
    bootstrap_resamples: int = 1000,
    ci_level: float = 0.95,
    dtype: str = "float32",
    device: str = "cpu",
    random_init: bool = False,
    backend: str = "hf",
) -> dict:
    """Records of every analysed problem and the summary per estimator, written to ``out_path`` (JSON).
    ``backend`` samples the MC rollouts (:func:`~rredcot.pipeline.analysis.mc_policy`); the greedy traces
    are the HF model's."""
    if n_problems < 1 or n_mc_samples < 1:
        raise ValueError("n_problems and n_mc_samples must be >= 1")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    rows = list(rows[:n_problems])
    missing = [row["id"] for row in rows if not row.get("solution")]
    if "reference" in estimators and missing:
        raise ValueError(f"the reference estimator needs solutions; {len(missing)} problems have none")
    model, tokenizer = load_model_and_tokenizer(
        model_path, dtype=dtype, device=device, random_init=random_init
    )
    rollouts = mc_policy(model, model_path, backend, dtype=dtype, seed=seed, random_init=random_init)
    eot = value_options.continuation.end_of_thinking
    records, start = [], time.perf_counter()
    traces = [_greedy_trace(model, tokenizer, row, max_new_tokens, eot) for row in tqdm(rows, desc="traces")]
    requests = [
        MCRequest(t["prompt_ids"], t["completion_ids"], t["boundaries"], t["row"]["answer"]) for t in traces
    ]
    twins = [t for t in traces if t["twin_ids"] is not None]
    requests += [
        MCRequest(t["prompt_ids"], t["twin_ids"], [len(t["twin_ids"])], t["row"]["answer"]) for t in twins
    ]
    mc = mc_values_batch(
        rollouts,
        tokenizer,
        requests,
        n_samples=n_mc_samples,
        temperature=1.0,
        max_new_tokens=max_new_tokens,
        batch_size=mc_batch_size,
        seed=seed,
        progress="MC rollouts",
    )
    mc_seconds = time.perf_counter() - start
    twin_mc = dict(zip([id(t) for t in twins], mc[len(traces) :], strict=True))
    for trace, result in tqdm(list(zip(traces, mc, strict=False)), desc="values"):
        record = {
            "id": trace["row"]["id"],
            "correct": trace["correct"],
            "completion": tokenizer.decode(trace["completion_ids"], skip_special_tokens=False),
            "boundaries": trace["boundaries"],
            "mc": result.means.tolist(),
            "values": {},
            "twin": None,
        }
        for name in estimators:
            record["values"][name] = _values(
                model, tokenizer, trace, trace["completion_ids"], trace["boundaries"], name, value_options
            )
        if "reference" in estimators:
            record["value_parts"] = _parts(
                model, tokenizer, trace, trace["completion_ids"], trace["boundaries"], value_options
            )
        if trace["twin_ids"] is not None:
            twin = trace["twin_ids"]
            record["twin"] = {
                "clean_index": trace["boundaries"].index(trace["clean_boundary"]),
                "completion": tokenizer.decode(twin, skip_special_tokens=False),
                "mc": float(twin_mc[id(trace)].means[0]),
                "values": {
                    name: _values(model, tokenizer, trace, twin, [len(twin)], name, value_options)[0]
                    for name in estimators
                },
            }
            if "reference" in estimators:
                record["twin"]["value_parts"] = {
                    k: v[0]
                    for k, v in _parts(model, tokenizer, trace, twin, [len(twin)], value_options).items()
                }
        records.append(record)
    summary = {
        "n_problems": len(records),
        "n_states": sum(len(r["boundaries"]) + (r["twin"] is not None) for r in records),
        "n_twins": sum(r["twin"] is not None for r in records),
        "n_mc_samples": n_mc_samples,
        "mc_seconds": mc_seconds,
        "targets": TARGETS,
        "ci_level": ci_level,
        "estimators": {
            name: summarize(records, name, bootstrap_resamples, ci_level, seed) for name in estimators
        },
        "mc_drop_share": _share(
            [r["twin"]["mc"] < r["mc"][r["twin"]["clean_index"]] for r in records if r["twin"]]
        ),
        "mc_mean_step_by_index": mean_steps([r["mc"] for r in records]),
    }
    result = {"summary": summary, "records": records}
    write_json(Path(out_path), result)
    return summary


def summarize(records: Sequence[Mapping], estimator: str, resamples: int, ci_level: float, seed: int) -> dict:
    """Pooled Spearman(v̂, MC) and the drop share of one estimator, with bootstrap intervals over problems."""
    pooled = [_states(r, estimator) for r in records]
    drops = np.asarray(
        [
            r["twin"]["values"][estimator] < r["values"][estimator][r["twin"]["clean_index"]]
            for r in records
            if r["twin"]
        ],
        dtype=float,
    )
    rng = np.random.default_rng(seed)
    alpha = (1 - ci_level) / 2
    rhos, shares = [], []
    for _ in range(resamples):
        pick = rng.integers(0, len(pooled), len(pooled))
        rhos.append(_spearman([pooled[i] for i in pick]))
        if len(drops):
            shares.append(drops[rng.integers(0, len(drops), len(drops))].mean())
    rhos = np.asarray([r for r in rhos if np.isfinite(r)])

    def interval(xs) -> list[float | None]:
        return [float(np.quantile(xs, alpha)), float(np.quantile(xs, 1 - alpha))] if len(xs) else [None, None]

    rho = _spearman(pooled)
    share = float(drops.mean()) if len(drops) else None
    return {
        "mean_step_by_index": mean_steps([r["values"][estimator] for r in records]),
        "spearman": rho,
        "spearman_ci": interval(rhos),
        "drop_share": share,
        "drop_share_ci": interval(np.asarray(shares)),
        "meets_targets": bool(
            rho is not None
            and np.isfinite(rho)
            and rho >= TARGETS["spearman"]
            and share is not None
            and share >= TARGETS["drop_share"]
        ),
    }


def mean_steps(series: Sequence[Sequence[float]]) -> list[float | None]:
    """The martingale check: mean of ``v[k] − v[k−1]`` over the traces that reach state k, k = 1..longest.

    A value under the policy that wrote the traces moves by 0 on average at every k; an estimator whose
    mean step is large where MC's is not drifts along every trace (in log v̂ a step is in nats).
    """
    longest = max((len(s) for s in series), default=0)
    steps = [[s[k] - s[k - 1] for s in series if len(s) > k] for k in range(1, longest)]
    return [float(np.mean(d)) if d else None for d in steps]


def _states(record: Mapping, estimator: str) -> list[tuple[float, float]]:
    """(v̂, MC) of every state of one problem, the twin included."""
    states = list(zip(record["values"][estimator], record["mc"], strict=True))
    if record["twin"]:
        states.append((record["twin"]["values"][estimator], record["twin"]["mc"]))
    return states


def _spearman(groups: Sequence[Sequence[tuple[float, float]]]) -> float:
    pairs = np.asarray([p for group in groups for p in group], dtype=float)
    if len(pairs) < 3 or np.ptp(pairs[:, 0]) == 0 or np.ptp(pairs[:, 1]) == 0:
        return float("nan")
    return float(spearmanr(pairs[:, 0], pairs[:, 1]).statistic)


def _share(flags: Sequence[bool]) -> float | None:
    return float(np.mean(flags)) if len(flags) else None


def _greedy_trace(model, tokenizer, row: Mapping, max_new_tokens: int, end_of_thinking: str) -> dict:
    prompt_ids = prompt_token_ids(tokenizer, row["problem"])
    device = next(model.parameters()).device
    ids = torch.tensor([prompt_ids], device=device)
    ends = end_token_ids(tokenizer, model.generation_config)
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=sorted(ends),
        )[0, ids.shape[1] :].tolist()
    completion, _ = cut_at_end(out, ends)
    boundaries = line_end_boundaries(completion, tokenizer, end_of_thinking)
    text = tokenizer.decode(completion, skip_special_tokens=False)
    cut = corrupted_first_step(text, end_of_thinking, problem_modulus(row["problem"]))
    twin_ids = clean_boundary = None
    if cut is not None:
        clean_ids = tokenizer(cut[0], add_special_tokens=False)["input_ids"]
        if len(clean_ids) in boundaries and completion[: len(clean_ids)] == clean_ids:
            clean_boundary = len(clean_ids)
            twin_ids = tokenizer(cut[1], add_special_tokens=False)["input_ids"]
    return {
        "row": dict(row),
        "prompt_ids": prompt_ids,
        "completion_ids": completion,
        "boundaries": boundaries,
        "correct": int(grade(tokenizer.decode(completion, skip_special_tokens=True), row["answer"]) == 1.0),
        "twin_ids": twin_ids,
        "clean_boundary": clean_boundary,
    }


def _values(
    model, tokenizer, trace, completion_ids, boundaries, estimator: str, options: ValueOptions
) -> list[float]:
    row = trace["row"]
    values = estimate_values(
        model,
        tokenizer,
        trace["prompt_ids"],
        completion_ids,
        boundaries,
        continuation=replace(options.continuation, estimator=estimator),
        references=[(row["solution"], row["answer"])] if estimator == "reference" else None,
        answer=row["answer"],
        space="log",
        value_batch_tokens=options.value_batch_tokens,
    )
    return [float(v) for v in values]


def _parts(
    model, tokenizer, trace, completion_ids, boundaries, options: ValueOptions
) -> dict[str, list[float]]:
    row = trace["row"]
    return reference_value_parts(
        model,
        tokenizer,
        trace["prompt_ids"],
        completion_ids,
        boundaries,
        row["solution"],
        row["answer"],
        continuation=options.continuation,
        value_batch_tokens=options.value_batch_tokens,
    )
