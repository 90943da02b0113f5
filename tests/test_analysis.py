"""Credit analysis on a tiny random model: record shapes, resume, determinism, the segmentation ablation."""

from __future__ import annotations

import json
import string

import numpy as np
import pytest

import rredcot.analysis as analysis
from rredcot.analysis import VARIANTS, analyze_credit, analyze_segmentations
from rredcot.cli import main
from rredcot.data.synthetic import SplitSpec, generate_split, write_split
from rredcot.io import read_jsonl

pytestmark = pytest.mark.usefixtures("single_thread")

SEGMENTATION = {"strategy": "hybrid", "max_segments": 4, "keywords": ["\n"], "chunk_size": None}
TIMINGS = ("value_seconds", "attribution_seconds")
SETTINGS = dict(
    n_problems=2,
    n_mc_samples=3,
    segmentation=SEGMENTATION,
    estimators=list(VARIANTS),
    seed=0,
    max_new_tokens=40,
    mc_max_new_tokens=16,
    mc_batch_size=16,
    self_group_size=3,
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
    out = tmp_path / "credit.jsonl"
    records = analyze_credit(
        model_dir, rows, partial_path=tmp_path / "partial.jsonl", out_path=out, **SETTINGS
    )
    assert [r["id"] for r in records] == [r["id"] for r in rows[:2]]
    assert read_jsonl(out) == records
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
    again = analyze_credit(
        model_dir,
        rows,
        partial_path=tmp_path / "again.partial",
        out_path=tmp_path / "again.jsonl",
        **SETTINGS,
    )
    assert [untimed(r) for r in again] == [untimed(r) for r in records]

    # Resume: a run interrupted after the first problem (torn last line included) reuses that record as
    # logged and computes the second one exactly as an uninterrupted run does.
    partial = tmp_path / "resume.partial"
    first = analyze_credit(
        model_dir,
        rows,
        partial_path=partial,
        out_path=tmp_path / "first.jsonl",
        **{**SETTINGS, "n_problems": 1},
    )
    with partial.open("a") as f:
        f.write('{"id": "torn')
    resumed = analyze_credit(
        model_dir, rows, partial_path=partial, out_path=tmp_path / "resumed.jsonl", **SETTINGS
    )
    assert resumed[0] == first[0]  # timings included: not recomputed
    assert [untimed(r) for r in resumed] == [untimed(r) for r in records]
    assert len(read_jsonl(partial)) == 2

    # Other settings against the same partial log: refuse to mix.
    with pytest.raises(ValueError, match="delete the partial log"):
        analyze_credit(
            model_dir,
            rows,
            partial_path=partial,
            out_path=tmp_path / "x.jsonl",
            **{**SETTINGS, "n_mc_samples": 2},
        )


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
        partial_path=tmp_path / "p.jsonl",
        out_path=tmp_path / "o.jsonl",
        **{**SETTINGS, "n_problems": 1, "segmentation": {**SEGMENTATION, "max_segments": 3}},
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
    paths = {"partial_path": tmp_path / "p.jsonl", "out_path": tmp_path / "o.jsonl"}
    with pytest.raises(ValueError, match="no reference solution"):
        analyze_credit(model_dir, bare, **paths, **SETTINGS)
    with pytest.raises(ValueError, match="no reference solution"):
        analyze_credit(
            model_dir, bare, **paths, **{**SETTINGS, "estimators": ["self/log"], "n_problems": 1}
        )  # the attribution continuation defaults to the reference
    settings = {**SETTINGS, "estimators": ["answer_only/log", "self/log"], "n_problems": 1}
    (record,) = analyze_credit(model_dir, bare, **paths, **settings, attribution_estimator="answer_only")
    check_record(record, settings["estimators"], 3)
    assert record["self_group"]["fallback"] == "answer_only"  # the random model is never correct
    assert record["values"]["self/log"] == record["values"]["answer_only/log"]


def test_segmentation_ablation_reuses_the_traces(model_dir, rows, tmp_path):
    variants = {
        "keyword": {"strategy": "keyword", "max_segments": None, "chunk_size": None},
        "fixed_c8": {"strategy": "fixed", "max_segments": None, "chunk_size": 8},
        "hybrid_k2": {"strategy": "hybrid", "max_segments": 2, "chunk_size": None},
    }
    settings = {k: v for k, v in SETTINGS.items() if k not in ("segmentation", "estimators")}
    settings["n_mc_samples"] = 2
    out_paths = {name: tmp_path / "out" / f"{name}.jsonl" for name in variants}
    results = analyze_segmentations(
        model_dir,
        rows,
        variants=variants,
        keywords=list(string.punctuation + string.digits),  # dense cuts in a random model's short traces
        estimator="reference/log",
        partial_dir=tmp_path / "partial",
        out_paths=out_paths,
        **settings,
    )
    credit = analyze_credit(
        model_dir, rows, partial_path=tmp_path / "c.partial", out_path=tmp_path / "c.jsonl", **SETTINGS
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


def test_cli(model_dir, rows, tmp_path):
    """The rules' entry points: one JSON config section, outputs where the rules declare them."""
    benchmark = tmp_path / "in_dist.jsonl"
    write_split(benchmark, rows)
    section = {
        "benchmark": "in_dist",
        "n_problems": 1,
        "n_mc_samples": 2,
        "n_mc_samples_ablation": 1,
        "temperature": 1.0,
        "max_new_tokens": 24,
        "mc_max_new_tokens": 8,
        "mc_batch_size": 8,
        "self_group_size": 2,
        "segmentation": SEGMENTATION,
        "estimators": ["reference/log", "self/linear"],
        "ablation_estimator": "answer_only/log",
        "attribution_estimator": "answer_only",
        "segmentation_variants": {"fixed_c4": {"strategy": "fixed", "max_segments": None, "chunk_size": 4}},
        "dtype": "float32",
        "device": "cpu",
        "value_options": {
            "end_of_thinking": "</think>",
            "exit_string": "The final answer is ",
            "answer_template": "\\boxed{{{answer}}}",
            "value_batch_tokens": 4096,
        },
    }
    common = [
        "--model",
        str(model_dir),
        "--benchmark",
        str(benchmark),
        "--analysis-json",
        json.dumps(section),
    ]
    main(
        [
            "analyze-credit",
            *common,
            "--seed",
            "0",
            "--partial",
            str(tmp_path / "p.jsonl"),
            "--out",
            str(tmp_path / "credit.jsonl"),
        ]
    )
    main(
        [
            "analyze-segmentation",
            *common,
            "--seed",
            "0",
            "--partial-dir",
            str(tmp_path / "p"),
            "--out-dir",
            str(tmp_path / "seg"),
        ]
    )
    (credit,) = read_jsonl(tmp_path / "credit.jsonl")
    check_record(credit, ["reference/log", "self/linear"], 2)
    (fixed,) = read_jsonl(tmp_path / "seg" / "fixed_c4.jsonl")
    check_record(fixed, ["answer_only/log"], 1, attributions=False)
    assert fixed["completion"] == credit["completion"]
