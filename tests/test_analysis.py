"""Credit analysis on a tiny random model: record shapes, resume, determinism, stratified trace selection, the
ground-truth first error, the segmentation ablation."""

from __future__ import annotations

import json
import re
import string
from dataclasses import replace

import numpy as np
import pytest

import rredcot.pipeline.analysis as analysis
from rredcot.io import read_jsonl
from rredcot.pipeline.analysis import (
    VARIANTS,
    Sampling,
    Trace,
    analyze_credit,
    analyze_segmentations,
    token_offset,
)
from rredcot.pipeline.data.synthetic import SplitSpec, generate_split, write_split
from rredcot.pipeline.stages import main
from rredcot.pipeline.strata import check_strata, stratified_draws
from rredcot.segmentation import Segmentation

pytestmark = pytest.mark.usefixtures("single_thread")

SEGMENTATION = Segmentation("hybrid", max_segments=4, keywords=("\n",), chunk_size=None)
TIMINGS = ("value_seconds", "attribution_seconds")
SETTINGS = dict(
    n_traces=2,
    n_mc_samples=3,
    segmentation=SEGMENTATION,
    estimators=list(VARIANTS),
    seed=0,
    sampling=Sampling(max_new_tokens=40, mc_max_new_tokens=16, mc_batch_size=16, self_group_size=3),
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_random_model, char_tokenizer):
    path = tmp_path_factory.mktemp("model")
    tiny_random_model.generation_config.pad_token_id = char_tokenizer.pad_token_id
    tiny_random_model.generation_config.eos_token_id = char_tokenizer.eos_token_id
    tiny_random_model.save_pretrained(path)
    char_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def rows():
    return generate_split("analysis", SplitSpec(3, 1, 2, 9, 50, 0.3, 0.2), seed=0)


def paths(tmp_path, name: str) -> dict:
    """The output and partial paths of one analysis run."""
    return {
        "partial_path": tmp_path / f"{name}.partial.jsonl",
        "out_path": tmp_path / f"{name}.jsonl",
        "draws_path": tmp_path / f"{name}.draws.jsonl",
    }


def untimed(record: dict) -> dict:
    """A record without its measured times (the only fields allowed to differ between identical runs)."""
    out = {k: v for k, v in record.items() if k not in TIMINGS}
    out["mc"] = {k: v for k, v in record["mc"].items() if k != "seconds"}
    return out


def check_record(record: dict, variants, n_mc: int, attributions: bool = True) -> None:
    boundaries = record["boundaries"]
    n_reasoning = len(boundaries) - 1
    assert boundaries[0] == 0 and boundaries == sorted(set(boundaries))
    assert [e for _, e in record["spans"][:n_reasoning]] == boundaries[1:]
    assert len(record["spans"]) - n_reasoning in (0, 1)  # the answer span, when the trace has one
    assert len(record["rel_position"]) == n_reasoning
    assert all(0 < p < 1 for p in record["rel_position"])
    assert record["correct"] in (0, 1)
    assert record["n_tokens"] == (record["spans"][-1][1] if record["spans"] else 0)
    if attributions:  # credit records: the ground-truth first error
        assert record["first_error_checked"] is True  # synthetic rows
        if record["first_error"] is None:
            assert record["first_error_line"] is None
        else:
            assert 0 <= record["first_error"] < record["n_tokens"]
            assert record["first_error_line"] in record["completion"]
        exact = record["exact"]  # the checker's states, whence the exact values
        assert len(exact["done"]) == len(exact["wrong"]) == len(boundaries)
        assert exact["done"] == sorted(exact["done"]) and exact["wrong"] == sorted(exact["wrong"])
        assert (
            exact["failed"] == (record["first_error"] is not None) and exact["wrong"][-1] <= exact["failed"]
        )
    else:
        assert "first_error" not in record
    outcomes = np.asarray(record["mc"]["outcomes"])
    assert outcomes.shape == (len(boundaries), n_mc) and set(outcomes.ravel()) <= {0, 1}
    assert record["mc"]["n_samples"] == n_mc and record["mc"]["generated_tokens"] > 0
    assert sorted(record["values"]) == sorted(variants) == sorted(record["value_seconds"])
    for variant, values in record["values"].items():
        assert len(values) == len(boundaries) and np.isfinite(values).all()
        assert (
            (np.asarray(values) <= 0).all() if variant.endswith("/log") else (np.asarray(values) >= 0).all()
        )
        assert record["value_seconds"][variant] > 0
    if attributions:
        assert sorted(record["attribution"]) == ["gradient", "loo"] == sorted(record["attribution_seconds"])
        for credits in record["attribution"].values():
            assert len(credits) == n_reasoning and np.isfinite(credits).all()
    else:
        assert record["attribution"] == {} and record["attribution_seconds"] == {}


def test_records_resume_and_determinism(model_dir, rows, tmp_path):
    run = paths(tmp_path, "credit")
    records = analyze_credit(model_dir, rows, **run, **SETTINGS)
    assert [r["id"] for r in records] == [r["id"] for r in rows[:2]]
    assert read_jsonl(run["out_path"]) == records
    assert read_jsonl(run["draws_path"]) == [
        {"id": r["id"], "correct": r["correct"], "accepted": True} for r in records
    ]  # no quotas: the first rows
    for record in records:
        check_record(record, VARIANTS, 3)
        group = record["self_group"]
        fallback = "reference" if group["n_correct"] == 0 else None
        assert group == {"size": 3, "n_correct": group["n_correct"], "fallback": fallback}
        # Log and linear space are the same estimate; the fallback scores the dataset reference.
        for estimator in ("reference", "answer_only", "self"):
            np.testing.assert_allclose(
                np.exp(record["values"][f"{estimator}/log"]),
                record["values"][f"{estimator}/linear"],
                rtol=1e-9,
            )
        if group["fallback"]:
            assert record["values"]["self/log"] == record["values"]["reference/log"]
        # The parts of log v̂ (marker, solution body, answer) sum to the single reference's log v̂.
        parts = record["value_parts"]
        np.testing.assert_allclose(
            np.sum([parts[name] for name in ("marker", "body", "answer")], axis=0),
            record["values"]["reference/log"],
            atol=1e-9,
        )

    # Same seed, fresh partial log: identical records up to timings.
    again = analyze_credit(model_dir, rows, **paths(tmp_path, "again"), **SETTINGS)
    assert [untimed(r) for r in again] == [untimed(r) for r in records]

    # A finished run leaves no resume state: a rerun starts over.
    resume = paths(tmp_path, "resume")
    partial = resume["partial_path"]
    first = analyze_credit(model_dir, rows, **resume, **{**SETTINGS, "n_traces": 1})
    assert not partial.exists() and not partial.with_name(f"{partial.stem}_draws.jsonl").exists()

    # Resume: a run interrupted after the first problem (torn last line included) reuses that record as
    # logged and computes the second one exactly as an uninterrupted run does.
    partial.write_text(json.dumps(first[0]) + '\n{"id": "torn')
    resumed = analyze_credit(model_dir, rows, **resume, **SETTINGS)
    assert resumed[0] == first[0]  # timings included: not recomputed
    assert [untimed(r) for r in resumed] == [untimed(r) for r in records]
    assert not partial.exists()
    assert read_jsonl(resume["draws_path"]) == read_jsonl(run["draws_path"])

    # Other settings against a partial log: refuse to mix.
    partial.write_text(json.dumps(first[0]) + "\n")
    with pytest.raises(ValueError, match="delete the partial log"):
        analyze_credit(model_dir, rows, **resume, **{**SETTINGS, "n_mc_samples": 2})


def test_answer_span_and_correct_group(model_dir, rows, tmp_path, monkeypatch, char_tokenizer):
    """A trace with an end-of-thinking marker: values and attributions cover the reasoning segments only;
    with every completion graded correct, the self estimator uses the group instead of the fallback."""
    text = "<think>\n7+5=12\n12*3=36\nResult: 36\n</think>\n\\boxed{36}"
    completion = char_tokenizer(text, add_special_tokens=False)["input_ids"]
    think_end = completion.index(char_tokenizer.convert_tokens_to_ids("</think>"))
    monkeypatch.setattr(analysis, "_sample", lambda *args, n, **kwargs: [list(completion)] * n)
    monkeypatch.setattr(analysis, "grade", lambda text, reference: 1.0)
    monkeypatch.setattr("rredcot.rewards.grade", lambda text, reference: 1.0)  # mc_values' grader
    records = analyze_credit(
        model_dir,
        rows,
        **paths(tmp_path, "o"),
        **{**SETTINGS, "n_traces": 1, "segmentation": replace(SEGMENTATION, max_segments=3)},
    )
    (record,) = records
    check_record(record, VARIANTS, 3)
    assert record["correct"] == 1 and record["n_tokens"] == len(completion)
    assert record["spans"][-1] == [think_end, len(completion)]
    assert len(record["boundaries"]) == 4 and record["boundaries"][-1] == think_end
    np.testing.assert_allclose(
        record["rel_position"], [(s + e) / 2 / think_end for s, e in record["spans"][:3]], rtol=1e-12
    )
    assert record["self_group"] == {"size": 3, "n_correct": 2, "fallback": None}
    assert np.asarray(record["mc"]["outcomes"]).all()


def test_problems_without_reference_solution(model_dir, rows, tmp_path):
    """AIME-25-like rows (solution ""): reference variants stop before any work; self falls back to the
    answer-only exit."""
    bare = [{**row, "solution": ""} for row in rows]
    run = paths(tmp_path, "o")
    with pytest.raises(ValueError, match="no reference solution"):
        analyze_credit(model_dir, bare, **run, **SETTINGS)
    with pytest.raises(ValueError, match="no reference solution"):
        analyze_credit(
            model_dir, bare, **run, **{**SETTINGS, "estimators": ["self/log"], "n_traces": 1}
        )  # the attribution continuation defaults to the reference
    settings = {**SETTINGS, "estimators": ["answer_only/log", "self/log"], "n_traces": 1}
    (record,) = analyze_credit(model_dir, bare, **run, **settings, attribution_estimator="answer_only")
    check_record(record, settings["estimators"], 3)
    assert record["self_group"]["fallback"] == "answer_only"  # the random model is never correct
    assert record["values"]["self/log"] == record["values"]["answer_only/log"]


def test_segmentation_ablation_reuses_the_traces(model_dir, rows, tmp_path):
    variants = {
        "keyword": {"strategy": "keyword", "max_segments": None, "chunk_size": None},
        "fixed_c8": {"strategy": "fixed", "max_segments": None, "chunk_size": 8},
        "hybrid_k2": {"strategy": "hybrid", "max_segments": 2, "chunk_size": None},
    }
    credit = analyze_credit(model_dir, rows, **paths(tmp_path, "c"), **SETTINGS)
    settings = {k: v for k, v in SETTINGS.items() if k not in ("segmentation", "estimators", "n_traces")}
    # Dense keyword cuts in a random model's short traces; each variant replaces fields of this spec.
    shared = replace(SEGMENTATION, keywords=tuple(string.punctuation + string.digits))
    settings["n_mc_samples"] = 2
    out_paths = {name: tmp_path / "out" / f"{name}.jsonl" for name in variants}
    results = analyze_segmentations(
        model_dir,
        rows,
        ids=[r["id"] for r in read_jsonl(tmp_path / "c.draws.jsonl") if r["accepted"]],
        segmentation=shared,
        variants=variants,
        estimator="reference/log",
        partial_dir=tmp_path / "partial",
        out_paths=out_paths,
        **settings,
    )
    for name, records in results.items():
        assert read_jsonl(out_paths[name]) == records
        for record, reference in zip(records, credit, strict=True):
            check_record(record, ["reference/log"], 2, attributions=False)
            assert (record["id"], record["completion"]) == (reference["id"], reference["completion"])
    fixed = results["fixed_c8"][0]
    n_reasoning = fixed["boundaries"][-1]
    assert fixed["boundaries"] == [*range(0, n_reasoning, 8), n_reasoning]
    # Hybrid boundaries are keyword boundaries: the shared MC call gives them the same outcomes.
    for hybrid, keyword in zip(results["hybrid_k2"], results["keyword"], strict=True):
        assert set(hybrid["boundaries"]) <= set(keyword["boundaries"])
        assert len(hybrid["boundaries"]) == min(3, len(keyword["boundaries"]))
        outcomes = dict(zip(keyword["boundaries"], keyword["mc"]["outcomes"], strict=True))
        assert hybrid["mc"]["outcomes"] == [outcomes[b] for b in hybrid["boundaries"]]
    assert any(len(r["boundaries"]) > 3 for r in results["keyword"])  # the merge had something to do


def test_stages(model_dir, rows, tmp_path):
    """The rules' entry point: each analysis stage with its keyword arguments, outputs where the rules
    declare them."""
    benchmark = tmp_path / "in_dist.jsonl"
    write_split(benchmark, rows)
    section = {
        "benchmark": "in_dist",
        "n_traces": 1,
        "min_incorrect_share": 0.0,
        "min_correct_share": 0.0,
        "n_mc_samples": 2,
        "n_mc_samples_ablation": 1,
        "temperature": 1.0,
        "max_new_tokens": 24,
        "mc_max_new_tokens": 8,
        "mc_batch_size": 8,
        "self_group_size": 2,
        "segmentation": SEGMENTATION.as_config(),
        "estimators": ["reference/log", "self/linear"],
        "ablation_estimator": "answer_only/log",
        "attribution_estimator": "answer_only",
        "segmentation_variants": {"fixed_c4": {"strategy": "fixed", "max_segments": None, "chunk_size": 4}},
        "backend": "hf",
        "dtype": "float32",
        "device": "cpu",
        "value_options": {
            "end_of_thinking": "</think>",
            "exit_string": "The final answer is ",
            "answer_template": "\\boxed{{{answer}}}",
            "value_batch_tokens": 4096,
        },
    }
    common = {"analysis": section, "model": str(model_dir), "random_init": False, "benchmark": str(benchmark)}
    common |= {"seed": 0, "threads": 1}
    main(["analyze_credit", json.dumps({**common, "partial": str(tmp_path / "p.jsonl"),
          "credit": str(tmp_path / "credit.jsonl"), "draws": str(tmp_path / "draws.jsonl")})])  # fmt: skip
    variants = [str(tmp_path / "seg" / "fixed_c4.jsonl")]
    main(["analyze_segmentation", json.dumps({**common, "partial_dir": str(tmp_path / "p"),
          "draws": str(tmp_path / "draws.jsonl"), "variants": variants})])  # fmt: skip
    (credit,) = read_jsonl(tmp_path / "credit.jsonl")
    check_record(credit, ["reference/log", "self/linear"], 2)
    (fixed,) = read_jsonl(tmp_path / "seg" / "fixed_c4.jsonl")
    check_record(fixed, ["answer_only/log"], 1, attributions=False)
    assert fixed["completion"] == credit["completion"]


def test_mc_rollouts_go_through_vllm_where_the_backend_is_vllm(
    model_dir, rows, tmp_path, fake_vllm, char_tokenizer
):
    """backend vllm: each analysis builds one engine on the analysed model beside the HF one, and every MC
    state of a trace is a request of one call; traces, values and attributions stay the HF model's."""
    from rredcot.pipeline.analysis import VLLM_GPU_SHARE, prompt_token_ids
    from rredcot.rewards import grade

    fake_vllm.write = lambda prompt, seed: [char_tokenizer.eos_token_id]  # every rollout ends at once
    sampling = Sampling(max_new_tokens=24, mc_max_new_tokens=8, mc_batch_size=4, self_group_size=1)
    settings = dict(SETTINGS, n_traces=1, estimators=["answer_only/log"], attribution_estimator="answer_only")
    settings["sampling"] = replace(sampling, backend="vllm")
    (record,) = analyze_credit(model_dir, rows, **paths(tmp_path, "vllm"), **settings)

    engine = dict(model=str(model_dir), dtype="float32", seed=0, load_format="auto")
    assert fake_vllm.engines == [dict(engine, gpu_memory_utilization=VLLM_GPU_SHARE)]
    ((prompts, params),) = fake_vllm.calls
    row = next(r for r in rows if r["id"] == record["id"])
    prompt = prompt_token_ids(char_tokenizer, row["problem"])
    completion = char_tokenizer(record["completion"], add_special_tokens=False)["input_ids"]
    assert prompts == [{"prompt_token_ids": prompt + completion[:b]} for b in record["boundaries"]]
    ends = (char_tokenizer.eos_token_id,)  # the saved model lists no end id beside the tokenizer's
    assert {(p.n, p.max_tokens, p.temperature, p.top_p, tuple(p.stop_token_ids)) for p in params} == {
        (3, 8, 1.0, 1.0, ends)
    }
    # A rollout that ends at once grades the prefix alone, as it would from HF generate.
    prefix_grades = [
        grade(char_tokenizer.decode(completion[:b], skip_special_tokens=True), row["answer"])
        for b in record["boundaries"]
    ]
    assert record["mc"]["outcomes"] == [[int(g)] * 3 for g in prefix_grades]
    assert record["mc"]["generated_tokens"] == len(record["boundaries"]) * 3

    fake_vllm.calls.clear()
    (ablation,) = analyze_segmentations(
        model_dir,
        rows,
        ids=[record["id"]],
        n_mc_samples=2,
        segmentation=SEGMENTATION,
        variants={"fixed_c4": {"strategy": "fixed", "max_segments": None, "chunk_size": 4}},
        estimator="answer_only/log",
        seed=0,
        partial_dir=tmp_path / "seg",
        out_paths={"fixed_c4": tmp_path / "fixed_c4.jsonl"},
        sampling=settings["sampling"],
    ).values()
    assert len(fake_vllm.engines) == 2 and len(fake_vllm.calls) == 1
    assert ablation[0]["completion"] == record["completion"]


# ---------------------------------------------------------------------------------------------------------
# Stratified trace selection


def draws_of(pattern: str, strata) -> list[tuple[str, int, bool]]:
    """Draws on rows whose traces grade as ``pattern`` ("1" correct, "0" incorrect), one row per character."""
    rows = [{"id": f"p{i}", "correct": int(c)} for i, c in enumerate(pattern)]
    return [
        (d["id"], d["correct"], d["accepted"]) for d in stratified_draws(rows, lambda r: r["correct"], strata)
    ]


def test_stratified_draws_meet_both_quotas():
    strata = check_strata(6, 1 / 3, 1 / 3)  # at least 2 of each: at most 4 of either
    assert (strata.min_incorrect, strata.min_correct, strata.cap(1), strata.cap(0)) == (2, 2, 4, 4)
    draws = draws_of("1111110101", strata)
    assert [d[0] for d in draws] == [f"p{i}" for i in range(9)]  # in row order, stopping at 6 accepted
    assert [d[2] for d in draws] == [True] * 4 + [False, False] + [True, False, True]
    accepted = [d[1] for d in draws if d[2]]
    assert len(accepted) == 6 and accepted.count(0) >= 2 and accepted.count(1) >= 2
    # Without quotas: the first rows, whatever their grades.
    assert [d[2] for d in draws_of("1111110101", check_strata(3, 0.0, 0.0))] == [True] * 3
    # The tiny config: 96 traces, 32 of each at least.
    tiny = check_strata(96, 0.333, 0.333)
    assert (tiny.min_incorrect, tiny.min_correct) == (32, 32)
    assert check_strata(30, 0.1, 0.0).min_incorrect == 3  # 0.1 × 30 is 3, not 4


def test_stratified_draws_shortfall_when_the_rows_run_out():
    draws = draws_of("111101", check_strata(4, 0.5, 0.25))  # at most 2 correct, at least 2 incorrect
    assert draws == [
        ("p0", 1, True),
        ("p1", 1, True),
        ("p2", 1, False),
        ("p3", 1, False),
        ("p4", 0, True),
        ("p5", 1, False),
    ]  # fmt: skip  (3 of 4 accepted: the rows ran out)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ((0, 0.3, 0.3), "n_traces"),
        ((2.5, 0.3, 0.3), "n_traces"),
        ((4, -0.1, 0.3), "min_incorrect_share"),
        ((4, 0.3, 1.5), "min_correct_share"),
        ((4, float("nan"), 0.3), "min_incorrect_share"),
        ((4, 0.6, 0.6), "min_incorrect_share + min_correct_share"),
        ((3, 0.5, 0.5), "round up to 2 + 2"),
    ],
)
def test_bad_quotas_stop_before_any_model_loads(settings, field, tmp_path):
    n_traces, incorrect, correct = settings
    with pytest.raises(ValueError, match=re.escape(field)):
        check_strata(n_traces, incorrect, correct)
    kwargs = {
        **SETTINGS,
        "n_traces": n_traces,
        "min_incorrect_share": incorrect,
        "min_correct_share": correct,
    }
    with pytest.raises(ValueError, match=re.escape(field)):
        analyze_credit(tmp_path / "no-model", [{"id": "p"}], **paths(tmp_path, "x"), **kwargs)


LIGHT = dict(
    n_mc_samples=1,
    segmentation=SEGMENTATION,
    estimators=["answer_only/log"],
    attribution_estimator="answer_only",
    seed=0,
    sampling=Sampling(max_new_tokens=12, mc_max_new_tokens=4, mc_batch_size=8, self_group_size=1),
    n_traces=3,
    min_incorrect_share=0.3,  # at least 1 of each: at most 2 of either
    min_correct_share=0.3,
)
# Hub-like rows (no checker) whose traces grade by answer: correct, correct, correct, incorrect, ...
PLAIN = [
    {"id": f"h{i}", "problem": f"{i} +1", "answer": str(i + 1), "solution": "", "source": "hub"}
    for i in range(6)
]
CORRECT_ANSWERS = {"1", "2", "3", "5"}


def test_stratified_analysis_resumes_as_an_uninterrupted_run(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(analysis, "grade", lambda text, reference: float(reference in CORRECT_ANSWERS))
    calls = {"records": 0, "samples": 0}
    make_record, sample = analysis._credit_record, analysis.sample_trace

    def counted_record(*args, **kwargs):
        calls["records"] += 1
        if calls.get("crash_at") == calls["records"]:
            raise KeyboardInterrupt  # the job dies in the middle of the second accepted trace
        return make_record(*args, **kwargs)

    def counted_sample(*args, **kwargs):
        calls["samples"] += 1
        return sample(*args, **kwargs)

    monkeypatch.setattr(analysis, "_credit_record", counted_record)
    monkeypatch.setattr(analysis, "sample_trace", counted_sample)
    whole = paths(tmp_path, "whole")
    records = analyze_credit(model_dir, PLAIN, **whole, **LIGHT)
    draws = read_jsonl(whole["draws_path"])
    assert [(d["id"], d["correct"], d["accepted"]) for d in draws] == [
        ("h0", 1, True), ("h1", 1, True), ("h2", 1, False), ("h3", 0, True)
    ]  # fmt: skip
    assert [r["id"] for r in records] == ["h0", "h1", "h3"] and calls == {"records": 3, "samples": 4}
    for record in records:  # rows without a checker
        assert (record["first_error"], record["first_error_line"], record["first_error_checked"]) == (
            None,
            None,
            False,
        )

    interrupted = paths(tmp_path, "interrupted")
    calls.update(records=0, samples=0, crash_at=2)
    with pytest.raises(KeyboardInterrupt):
        analyze_credit(model_dir, PLAIN, **interrupted, **LIGHT)
    assert not interrupted["out_path"].exists() and not interrupted["draws_path"].exists()
    calls.update(records=0, samples=0, crash_at=None)
    resumed = analyze_credit(model_dir, PLAIN, **interrupted, **LIGHT)
    # Only the unfinished traces get MC again; the logged grades spare re-sampling the first, finished one.
    assert (calls["records"], calls["samples"]) == (2, 3)
    assert read_jsonl(interrupted["draws_path"]) == draws
    assert [untimed(r) for r in resumed] == [untimed(r) for r in records]
    # Died after its last trace, before writing the outputs: nothing is sampled, no model is loaded. Once
    # the outputs are written, the partial logs are gone: a rerun would start over.
    partial = interrupted["partial_path"]
    assert not partial.exists()
    partial.write_text("".join(json.dumps(r) + "\n" for r in resumed))
    grades = [{"id": d["id"], "correct": d["correct"]} for d in draws]
    partial.with_name(f"{partial.stem}_draws.jsonl").write_text("".join(json.dumps(g) + "\n" for g in grades))
    calls.update(records=0, samples=0)
    monkeypatch.setattr(analysis, "load_model_and_tokenizer", None)
    assert analyze_credit(model_dir, PLAIN, **interrupted, **LIGHT) == resumed and calls["samples"] == 0
    assert not partial.exists()


def test_shortfall_writes_what_was_accepted(model_dir, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(analysis, "grade", lambda text, reference: 0.0)  # never correct
    run = paths(tmp_path, "short")
    records = analyze_credit(model_dir, PLAIN[:4], **run, **LIGHT)
    draws = read_jsonl(run["draws_path"])
    assert [(d["id"], d["accepted"]) for d in draws] == [
        ("h0", True),
        ("h1", True),
        ("h2", False),
        ("h3", False),
    ]
    assert [r["id"] for r in records] == ["h0", "h1"] == [r["id"] for r in read_jsonl(run["out_path"])]
    assert "ran out after 4 draws" in caplog.text and "0 correct (at least 1 wanted)" in caplog.text


# ---------------------------------------------------------------------------------------------------------
# The ground-truth first error in completion tokens


def test_first_error_is_a_completion_token_offset(char_tokenizer, rows):
    row = {**rows[0], "problem": "7 +5 *3 -12", "answer": "24"}
    text = "<think>\n7 +5 *3 -12\n7+5=12\n12*3=35\n35-12=23\nResult: 23\n</think>\n\\boxed{23}"
    ids = char_tokenizer(text, add_special_tokens=False)["input_ids"]
    trace = Trace(row, [], ids, np.zeros(len(ids)), 0, char_tokenizer.decode(ids), [])
    fields = analysis._first_error(char_tokenizer, trace, "</think>")
    offset = fields["first_error"]
    assert fields["first_error_line"] == "12*3=35" and fields["first_error_checked"]
    assert offset == text.index("12*3=35") - len("<think>") + 1  # <think> is one token
    assert char_tokenizer.decode(ids[offset:]).startswith("12*3=35\n")
    assert char_tokenizer.decode(ids[:offset]).endswith("7+5=12\n")
    right = text.replace("35", "36").replace("23", "24")
    ids = char_tokenizer(right, add_special_tokens=False)["input_ids"]
    trace = Trace(row, [], ids, np.zeros(len(ids)), 1, right, [])
    assert analysis._first_error(char_tokenizer, trace, "</think>")["first_error"] is None


class WordTokenizer:
    """Multi-character tokens: the line's first character may sit inside a token."""

    vocab = ["<think>", "\n7", "+5", "=12\n", "12", "*3=3", "5\n"]

    def decode(self, ids, skip_special_tokens=False):
        return "".join(self.vocab[i] for i in ids)


def test_token_offset_finds_the_token_holding_a_character():
    ids = list(range(7))
    text = WordTokenizer().decode(ids)
    assert [token_offset(WordTokenizer(), ids, c) for c in (0, 6, 7, 8, 9, text.index("12*"), len(text))] == [
        0, 0, 1, 1, 2, 4, 7,
    ]  # fmt: skip
