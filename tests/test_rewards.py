"""Grading: boxed-answer extraction, math-verify equivalence, and never raising or hanging on a completion."""

from __future__ import annotations

import logging
import threading
import time
from fractions import Fraction

import math_verify.grader
import math_verify.parser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rredcot import rewards
from rredcot.rewards import (
    GradingTimeout,
    accuracy_reward,
    extract_boxed,
    grade,
    grading_stats,
    parse_reference,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{\frac{1}{\sqrt{2}}}.", r"\frac{1}{\sqrt{2}}"),
        (r"\boxed{3} then \boxed{5}", "5"),
        (r"\boxed {7}", "7"),
        (r"\fbox{7}", "7"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\boxed{}", ""),
        ("no box here", None),
        (r"\boxed{12", None),
        (r"\boxed{5} and later \boxed{1", None),  # the last box is the answer, and it never closed
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    ("completion", "reference"),
    [
        (r"\boxed{\frac{1}{\sqrt{2}}}", r"\frac{\sqrt{2}}{2}"),
        (r"\boxed{\frac{1}{2}}", "0.5"),
        (r"\boxed{0.5}", r"\frac{1}{2}"),
        (r"\boxed{1/2}", r"\dfrac{1}{2}"),
        (r"\boxed{2\sqrt{3}}", r"\sqrt{12}"),
        (r"The answer is $\boxed{1,000}$.", "1000"),
        (r"\boxed{1000}", "1,000"),
        (r"\boxed{27}", "27.0"),
        (r"<think>maybe \boxed{3}</think> so \boxed{5}", "5"),
        (r"\boxed{\text{(C)}}", "C"),
        (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
    ],
)
def test_correct_answers_score_one(completion, reference):
    assert grade(completion, reference) == 1.0


@pytest.mark.parametrize(
    ("completion", "reference"),
    [
        (r"\boxed{5} then \boxed{3}", "5"),  # the last box wins
        ("The answer is 5.", "5"),  # no box
        (r"\boxed{12", "12"),  # truncated
        ("", "12"),
        (r"\boxed{}", "12"),
        (r"\boxed{0.51}", r"\frac{1}{2}"),
        (r"答案是 \boxed{五} ✓", "5"),
        ("\\boxed{\x00\ud800}", "5"),
    ],
)
def test_wrong_or_missing_answers_score_zero(completion, reference):
    assert grade(completion, reference) == 0.0


def test_gigantic_number_is_fast():
    start = time.perf_counter()
    assert grade("\\boxed{" + "9" * 10_000 + "}", "9" * 10) == 0.0
    assert grade("\\boxed{" + "9" * 10_000 + "}", "7") == 0.0
    assert time.perf_counter() - start < 2.0


def test_slow_comparison_is_cut_by_the_timeout(monkeypatch):
    # Comparing 10^(10^10) with 5 makes sympy grind; math-verify's alarm must stop it on the main thread.
    monkeypatch.setattr(rewards, "TIMEOUT_S", 1)
    before = grading_stats()
    start = time.perf_counter()
    assert grade(r"\boxed{10^{10^{10}}}", "5") == 0.0
    assert time.perf_counter() - start < 5.0
    assert grading_stats()["timed_out"] == before["timed_out"] + 1  # a zero that is no wrong answer


@pytest.fixture
def slow_math_verify(monkeypatch):
    """math-verify whose parsing and sympy comparison outlast any timeout (1 s here, retried at 1 s).

    The sleep runs inside math-verify's alarm, where real slow work would. The warm-up runs first, at full
    speed, as it does once per process. Yields ``[n]``: the next n calls are slow (all of them while n < 0).
    """
    rewards._warm_up()
    parse_reference.cache_clear()
    monkeypatch.setattr(rewards, "TIMEOUT_S", 1)
    monkeypatch.setattr(rewards, "RETRY_FACTOR", 1)
    slow_calls = [-1]

    def slowed(function):
        def slow(*args, **kwargs):
            if slow_calls[0] != 0:
                slow_calls[0] -= 1
                time.sleep(30)
            return function(*args, **kwargs)

        return slow

    monkeypatch.setattr(
        math_verify.parser, "extract_target_from_pred", slowed(math_verify.parser.extract_target_from_pred)
    )
    monkeypatch.setattr(math_verify.grader, "sympy_expr_eq", slowed(math_verify.grader.sympy_expr_eq))
    yield slow_calls
    parse_reference.cache_clear()  # nothing parsed against a patched parser outlives the test


def test_plain_numbers_need_no_parser_and_no_clock(slow_math_verify):
    before = grading_stats()
    start = time.perf_counter()
    for answer, reference, expected in [
        ("16", "16", 1.0),
        ("16.0", "16", 1.0),
        ("32/2", "16", 1.0),
        (" -16 ", "-16.00", 1.0),
        ("1/2", "0.5", 1.0),
        ("17", "16", 0.0),
        ("-16", "16", 0.0),
        ("1/3", "333333/1000000", 0.0),
    ]:
        assert grade(f"\\boxed{{{answer}}}", reference) == expected, (answer, reference)
    assert time.perf_counter() - start < 0.5
    assert grading_stats() == before


def test_a_timeout_is_a_counted_zero_not_a_data_bug(slow_math_verify, caplog):
    with pytest.raises(GradingTimeout, match=r"reference '\\\\frac\{1\}\{3\}'") as caught:
        parse_reference(r"\frac{1}{3}")
    assert not isinstance(caught.value, ValueError)  # loaders reject rows on ValueError only

    slow_math_verify[0] = 0
    parse_reference("16")  # cached at full speed: now only the answer times out
    slow_math_verify[0] = -1
    before = grading_stats()
    with caplog.at_level(logging.WARNING, logger="rredcot.rewards"):
        assert grade(r"\boxed{\frac{32}{2}}", "16") == 0.0
    assert grading_stats() == {**before, "timed_out": before["timed_out"] + 1}
    assert r"math-verify timed out on answer '\\frac{32}{2}'" in caplog.text


def test_a_retry_rescues_a_slow_call(slow_math_verify):
    slow_math_verify[0] = 1  # only the first parse is slow: a busy machine, not a hard input
    before = grading_stats()
    assert grade(r"\boxed{\frac{32}{2}}", "16") == 1.0
    assert grading_stats() == {**before, "retried": before["retried"] + 1}


def _spellings(value: Fraction) -> list[str]:
    """Plain-number spellings of ``value``: a/b reduced or not, the integer, the decimal if it terminates."""
    spellings = [f"{value.numerator}/{value.denominator}", f"{3 * value.numerator}/{3 * value.denominator}"]
    if value.denominator == 1:
        spellings.append(str(value.numerator))
    millionths = value * 10**6
    if millionths.denominator == 1:
        whole, fraction = divmod(abs(millionths.numerator), 10**6)
        decimal = f"{'-' if value < 0 else ''}{whole}.{fraction:06d}".rstrip("0").rstrip(".")
        spellings += [decimal, f"{decimal}.0" if "." not in decimal else f"{decimal}00"]
    return spellings + ["+" + s for s in spellings if value >= 0]


@pytest.mark.parametrize(
    ("answer", "reference", "decided"),
    [
        ("16", "16", True),
        ("16.0", "16", True),
        ("32/2", "16", True),
        ("016", "16", True),
        ("+16", "16", True),
        ("-0", "0", True),
        ("0.5", "1/2", True),
        ("-1/2", "-0.5", True),
        ("2/4", "1/2", True),
        ("17", "16", False),
        ("1/3", "333333/1000000", False),
        ("0.333333", "1/3", None),  # math-verify rounds: 1
        ("16.0000001", "16", None),  # math-verify: 0
        ("0.1428571", "1/7", None),
        ("16.", "16", None),  # not a plain number; math-verify: 0
        ("1/0", "1/0", None),
        ("1,000", "1000", None),
        ("x", "16", None),
    ],
)
def test_exact_path_agrees_with_math_verify(answer, reference, decided):
    """``decided``: True/False for the exact path's verdict, None where it leaves the grade to math-verify."""
    exact = rewards._exact_grade(answer, reference)
    assert exact == (None if decided is None else float(decided))
    if exact is not None:
        assert exact == rewards._math_verify_grade(answer, reference)


@settings(max_examples=150, deadline=None)
@given(
    st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=40),
    st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=40),
    st.data(),
)
def test_exact_path_agrees_with_math_verify_on_any_spelling(value, other, data):
    reference = data.draw(st.sampled_from(_spellings(value)))
    answer = data.draw(st.sampled_from(_spellings(data.draw(st.sampled_from([value, other])))))
    exact = rewards._exact_grade(answer, reference)
    if exact is None:  # only unequal values with a decimal point are left to math-verify
        assert Fraction(answer) != Fraction(reference) and "." in answer + reference
    else:
        assert exact == rewards._math_verify_grade(answer, reference), (answer, reference)


def test_grading_off_the_main_thread():
    # math-verify's signal-based timeout raises off the main thread; grade must switch it off there.
    results = []
    worker = threading.Thread(target=lambda: results.append(grade(r"\boxed{\frac{2}{4}}", "0.5")))
    worker.start()
    worker.join()
    assert results == [1.0]


def test_unparsable_reference_raises():
    with pytest.raises(ValueError, match="cannot parse"):
        parse_reference(r"\frac{1}{")
    with pytest.raises(ValueError, match="empty"):
        parse_reference("  ")
    with pytest.raises(ValueError, match="cannot parse"):
        grade(r"\boxed{1}", "}{")


def test_accuracy_reward_plain_and_conversational():
    completions = [r"\boxed{4}", [{"role": "assistant", "content": r"so \boxed{4}"}], "no answer"]
    # TRL passes prompts, completion ids, other dataset columns and trainer state as keywords too.
    rewards = accuracy_reward(completions, answer=["4", "4", "4"], prompts=["p"] * 3, completion_ids=None)
    assert rewards == [1.0, 1.0, 0.0]


def test_accuracy_reward_rejects_mismatched_lengths_and_shapes():
    with pytest.raises(ValueError, match="2 completions but 1 answers"):
        accuracy_reward(["a", "b"], answer=["1"])
    with pytest.raises(TypeError, match="list of messages"):
        accuracy_reward([{"content": "x"}], answer=["1"])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_any_boxed_integer_matches_itself(n):
    assert grade(f"\\boxed{{{n}}}", str(n)) == 1.0
    assert grade(f"\\boxed{{{n + 1}}}", str(n)) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text):
    assert grade(text, "7") in (0.0, 1.0)
    assert grade(f"\\boxed{{{text}}}", "7") in (0.0, 1.0)
