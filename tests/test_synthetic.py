"""The synthetic task: deterministic, correct reference traces, disjoint splits, difficulty respected."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rredcot.pipeline.data.first_error import find_first_error
from rredcot.pipeline.data.synthetic import (
    CHECK_PHRASES,
    LINE_KINDS,
    SplitSpec,
    generate_split,
    generate_splits,
    load_split,
    write_split,
)
from rredcot.rewards import grade

IN_DIST = dict(n=60, min_ops=2, max_ops=3, max_operand=9, max_value=99, check_prob=0.3, mistake_prob=0.2)
TESTS = {
    "in_dist": IN_DIST,
    "more_steps": {**IN_DIST, "min_ops": 4, "max_ops": 5},
    "larger_operands": {**IN_DIST, "max_operand": 30},
}
TRAIN = {**IN_DIST, "n": 300}
STEP = re.compile(r"^(\d+)([+\-*/])(\d+)=(\d+)$")
APPLY = {"+": int.__add__, "-": int.__sub__, "*": int.__mul__, "/": int.__floordiv__}


def check_row(row: dict, spec: SplitSpec) -> None:
    """Recompute the answer from the problem text; check the write-up, and every thinking line against its
    ground truth."""
    start, *ops = row["problem"].split(" ")
    assert spec.min_ops <= len(ops) <= spec.max_ops
    value = int(start)
    assert 1 <= value <= spec.max_value
    expected_steps = []
    for op in ops:
        symbol, operand = op[0], int(op[1:])
        assert 1 <= operand <= spec.max_operand
        if symbol == "/":
            assert value % operand == 0
        result = APPLY[symbol](value, operand)
        assert 0 <= result <= spec.max_value
        expected_steps.append(f"{value}{symbol}{operand}={result}")
        value = result
    assert row["answer"] == str(value)

    # The write-up restates the chain and boxes the answer; it is the row's solution and grades 1.
    assert row["solution"] == "\n".join(expected_steps) + f"\n\\boxed{{{value}}}"
    assert grade(row["solution"], row["answer"]) == 1.0
    assert row["trace"] == "<think>\n" + "\n".join(line["text"] for line in row["lines"]) + (
        "\n</think>\n" + row["solution"]
    )
    assert grade(row["trace"], row["answer"]) == 1.0

    lines = row["lines"]
    assert {line["kind"] for line in lines} <= set(LINE_KINDS)
    assert lines[0] == {"text": row["problem"], "kind": "restate", "correct": True}
    assert lines[-1] == {"text": f"Result: {value}", "kind": "result", "correct": True}
    done = []  # the steps the thinking has established, in order
    for k, line in enumerate(lines[1:-1], start=1):
        text, kind = line["text"], line["kind"]
        if kind == "step":
            assert STEP.match(text) and line["correct"]
            done.append(text)
        elif kind == "mistake":  # a wrong result, corrected on the next line
            lhs, wrong = text.split("=")
            right = expected_steps[len(done)].split("=")[1]
            assert lhs == expected_steps[len(done)].split("=")[0] and wrong != right and not line["correct"]
            assert 1 <= abs(int(wrong) - int(right)) <= 3 and int(wrong) >= 0
            assert lines[k + 1] == {
                "text": f"Wait, {lhs} is {right}, not {wrong}.",
                "kind": "correction",
                "correct": True,
            }
            done.append(f"{lhs}={right}")
        elif kind == "check":  # a verification repeats the step just before it
            assert text in {phrase.format(step=done[-1]) for phrase in CHECK_PHRASES} and line["correct"]
        else:
            assert kind == "correction"
    assert done == expected_steps


def test_mistakes_appear_at_their_rate_and_never_reach_the_write_up():
    spec = SplitSpec.from_config("train", {**TRAIN, "n": 400, "mistake_prob": 0.5})
    rows = generate_split("train", spec, seed=1)
    kinds = [line["kind"] for row in rows for line in row["lines"]]
    steps = kinds.count("step") + kinds.count("mistake")
    assert 0.4 < kinds.count("mistake") / steps < 0.6
    assert kinds.count("mistake") == kinds.count("correction")
    for row in rows:
        check_row(row, spec)
    none = generate_split("train", SplitSpec.from_config("train", {**TRAIN, "mistake_prob": 0.0}), seed=1)
    assert all(line["correct"] for row in none for line in row["lines"])


def test_same_seed_same_rows_and_other_seed_other_rows():
    first = generate_splits(TRAIN, TESTS, seed=3)
    assert first == generate_splits(TRAIN, TESTS, seed=3)
    other = generate_splits(TRAIN, TESTS, seed=4)
    assert all(first[name] != other[name] for name in first)


def test_every_reference_solution_is_correct_and_respects_its_difficulty():
    splits = generate_splits(TRAIN, TESTS, seed=0)
    for name, config in [*TESTS.items(), ("train", TRAIN)]:
        spec = SplitSpec.from_config(name, config)
        assert len(splits[name]) == spec.n
        for row in splits[name]:
            assert row["source"] == f"synthetic/{name}"
            check_row(row, spec)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    min_ops=st.integers(1, 4),
    extra_ops=st.integers(0, 3),
    max_operand=st.integers(1, 40),
    max_value=st.integers(1, 300),
    check_prob=st.floats(0.0, 1.0),
    mistake_prob=st.floats(0.0, 1.0),
)
def test_references_are_correct_for_any_difficulty(
    seed, min_ops, extra_ops, max_operand, max_value, check_prob, mistake_prob
):
    spec = SplitSpec(2, min_ops, min_ops + extra_ops, max_operand, max_value, check_prob, mistake_prob)
    try:
        rows = generate_split("any", spec, seed)
    except ValueError as err:  # a tiny problem space (max_value=1, one op) may not hold two problems
        assert "distinct problems" in str(err)
        return
    for row in rows:
        check_row(row, spec)


def test_splits_are_pairwise_disjoint_and_ids_unique():
    splits = generate_splits(TRAIN, TESTS, seed=0)
    problems = [row["problem"] for rows in splits.values() for row in rows]
    ids = [row["id"] for rows in splits.values() for row in rows]
    assert len(set(problems)) == len(problems)
    assert len(set(ids)) == len(ids)


def test_test_splits_do_not_depend_on_the_training_split():
    small = generate_splits(TRAIN, TESTS, seed=0)
    large = generate_splits({**TRAIN, "n": 600, "max_ops": 4}, TESTS, seed=0)
    assert all(small[name] == large[name] for name in TESTS)


def test_a_too_small_problem_space_stops_with_a_clear_error():
    # Starting value 1 with one operation allows only "1 -1".
    spec = SplitSpec(n=2, min_ops=1, max_ops=1, max_operand=9, max_value=1, check_prob=0.0, mistake_prob=0.0)
    with pytest.raises(ValueError, match=r"split 'tiny': found only 1 of 2 distinct problems"):
        generate_split("tiny", spec, seed=0)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({k: v for k, v in IN_DIST.items() if k != "max_value"}, r"missing fields \['max_value'\]"),
        ({**IN_DIST, "max_operands": 3}, r"unknown fields \['max_operands'\]"),
        ({**IN_DIST, "max_ops": 1}, r"field 'max_ops' out of range"),
        ({**IN_DIST, "check_prob": 1.5}, r"field 'check_prob' out of range"),
        ({**IN_DIST, "mistake_prob": -0.1}, r"field 'mistake_prob' out of range"),
        ({**IN_DIST, "slip_prob": 0.1}, r"field 'slip_prob' out of range"),  # slips need a modulus
        ({**IN_DIST, "modulus": 5}, r"field 'modulus' out of range"),  # an operand ≡ 0 would be no step
        ({**IN_DIST, "early_exit_prob": 2.0}, r"field 'early_exit_prob' out of range"),
        ({**IN_DIST, "aside_length": -1}, r"field 'aside_length' out of range"),
        ({**IN_DIST, "aside_alphabet": "ab c"}, r"field 'aside_alphabet' out of range"),
        ({**IN_DIST, "aside_alphabet": "aab"}, r"field 'aside_alphabet' out of range"),
        ({**IN_DIST, "aside_alphabet": ""}, r"field 'aside_alphabet' out of range"),
    ],
)
def test_bad_split_config_names_the_split_and_field(config, message):
    with pytest.raises(ValueError, match=rf"split 'in_dist': .*{message}"):
        SplitSpec.from_config("in_dist", config)


def test_a_split_name_used_twice_is_rejected():
    with pytest.raises(ValueError, match="'train' is used twice"):
        generate_splits(TRAIN, {"train": IN_DIST}, seed=0)


def test_write_and_load_round_trip(tmp_path):
    rows = generate_split("in_dist", SplitSpec.from_config("in_dist", IN_DIST), seed=0)
    path = tmp_path / "split.jsonl"
    write_split(path, rows)
    assert load_split(path) == rows


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            json.dumps({"id": "x", "problem": "1 +1", "solution": "s", "source": "t"}),
            "missing required field 'answer'",
        ),
        (
            json.dumps({"id": "x", "problem": "1 +1", "solution": "s", "answer": 2, "source": "t"}),
            "field 'answer'",
        ),
        (
            json.dumps({"id": "", "problem": "1 +1", "solution": "s", "answer": "2", "source": "t"}),
            "field 'id'",
        ),
        ('{"id": "x", "problem"', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_loader_names_file_line_and_field(tmp_path, line, message):
    good = generate_split("in_dist", SplitSpec.from_config("in_dist", IN_DIST), seed=0)[:2]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in good) + line + "\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}, line 3: .*{message}"):
        load_split(path)


def test_load_split_accepts_benchmarks_without_worked_solutions(tmp_path):
    from rredcot.io import write_jsonl
    from rredcot.pipeline.data.synthetic import load_split

    row = {"id": "aime25/0", "problem": "p", "solution": "", "answer": "7", "source": "aime25"}
    write_jsonl(tmp_path / "aime25.jsonl", [row])
    assert load_split(tmp_path / "aime25.jsonl") == [row]
    write_jsonl(tmp_path / "bad.jsonl", [{**row, "answer": ""}])
    with pytest.raises(ValueError, match="line 1: field 'answer'"):
        load_split(tmp_path / "bad.jsonl")


# ---------------------------------------------------------------- the credit testbed

TESTBED = dict(
    n=300, min_ops=8, max_ops=8, max_operand=9, max_value=9, check_prob=0.0, mistake_prob=0.0, modulus=10
)


def test_testbed_answers_follow_the_chain_modulo_and_the_reference_write_up_grades_1():
    for row in generate_split("in_dist", SplitSpec(**TESTBED, slip_prob=0.3, early_exit_prob=0.5), seed=0):
        start, *ops, mod, modulus = row["problem"].split()
        assert (mod, modulus) == ("mod", "10") and len(ops) == 8
        value, steps = int(start), []
        for op in ops:
            result = (value + int(op)) % 10  # "+5" / "-7" parse as signed integers
            steps.append(f"{value}{op}={result}")
            value = result
        assert row["answer"] == str(value)
        assert row["solution"] == "\n".join(steps) + f"\n\\boxed{{{value}}}"
        assert grade(row["solution"], row["answer"]) == 1.0
        assert find_first_error(row, row["solution"]) is None  # no thinking: nothing to judge


def test_early_exit_examples_grade_1_and_their_write_up_completes_the_chain():
    rows = generate_split("train", SplitSpec(**TESTBED, slip_prob=0.0, early_exit_prob=1.0), seed=0)
    kept = []
    for row in rows:
        thinking, writeup = row["trace"].removeprefix("<think>\n").split("</think>\n")
        assert thinking == "".join(line["text"] + "\n" for line in row["lines"])
        assert writeup == row["solution"] and grade(row["trace"], row["answer"]) == 1.0
        assert all(line["correct"] and line["kind"] in ("restate", "step") for line in row["lines"])
        assert find_first_error(row, row["trace"], end_of_thinking="</think>\n") is None
        kept.append(len(row["lines"]))
    assert set(kept) == set(range(10))  # stops after 0 .. 9 lines (restate + all 8 steps), never after Result


def test_slips_are_never_repaired_and_each_line_s_truth_matches_the_checker():
    rows = generate_split("train", SplitSpec(**TESTBED, slip_prob=0.1, early_exit_prob=0.3), seed=1)
    slipped = early_writeup_errors = 0
    for row in rows:
        lines = row["lines"]
        first_wrong = next((k for k, line in enumerate(lines) if not line["correct"]), None)
        error = find_first_error(row, row["trace"], end_of_thinking="</think>\n")
        if first_wrong is None:  # an early exit's write-up works out the rest of the chain, slips and all
            assert error is None or error.offset > row["trace"].index("</think>")
            early_writeup_errors += error is not None
        else:
            slipped += 1
            assert lines[first_wrong]["kind"] == "slip" and error.line == lines[first_wrong]["text"]
            assert not any(line["correct"] for line in lines[first_wrong + 1 :] if line["kind"] != "restate")
        # the write-up copies the trace's own chain, so the boxed answer follows its slips
        *_, last = row["trace"].split("\n")
        assert (last == f"\\boxed{{{row['answer']}}}") == (grade(row["trace"], row["answer"]) == 1.0)
    assert 0.4 < slipped / len(rows) < 0.7  # 1 − 0.9^8 = 0.57 of the traces hold a slip
    assert early_writeup_errors > 0  # slips after an early exit's cut are found in its write-up


def test_testbed_options_off_draw_exactly_as_before():
    """The new fields at their defaults leave the default task's rows unchanged (committed tiny data)."""
    spec = SplitSpec(**IN_DIST)
    assert spec == SplitSpec(**IN_DIST, modulus=None, slip_prob=0.0, early_exit_prob=0.0, aside_length=0)
    from_config = SplitSpec.from_config("in_dist", IN_DIST)
    assert generate_split("in_dist", spec, seed=3) == generate_split("in_dist", from_config, seed=3)


@pytest.mark.parametrize("alphabet", ["abcdefghij", "0123456789"])
def test_every_step_is_followed_by_an_aside_of_random_characters_that_the_checker_lets_pass(alphabet):
    spec = SplitSpec(**TESTBED, slip_prob=0.1, aside_length=4, aside_alphabet=alphabet)
    drawn = []
    for row in generate_split("train", spec, seed=2):
        kinds = [line["kind"] for line in row["lines"]]
        assert kinds[0] == "restate" and kinds[-1] == "result"
        steps = [k for k, kind in enumerate(kinds) if kind in ("step", "slip")]
        assert len(steps) == 8 and all(kinds[k + 1] == "aside" for k in steps)
        for line in row["lines"]:
            if line["kind"] == "aside":
                word, characters = line["text"].split()
                assert word == "Aside:" and len(characters) == 4 and line["correct"]
                drawn.extend(characters)
        # an aside never hides or moves the first error: the checker stops at the slip, as without asides
        first_wrong = next((line for line in row["lines"] if not line["correct"]), None)
        error = find_first_error(row, row["trace"], end_of_thinking="</think>\n")
        assert (error is None) == (first_wrong is None)
        assert error is None or error.line == first_wrong["text"]
        assert "Aside" not in row["solution"] and "Aside" not in row["trace"].split("</think>")[1]
    counts = np.bincount([alphabet.index(c) for c in drawn], minlength=10) / len(drawn)
    assert np.all(np.abs(counts - 0.1) < 0.01)  # uniform: 300 rows x 8 asides x 4 characters
