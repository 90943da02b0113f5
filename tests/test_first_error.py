"""The first wrong line of a model's synthetic thinking: hand-made traces, and every reference trace."""

from __future__ import annotations

import pytest

from rredcot.pipeline.data.first_error import find_first_error, is_synthetic, thinking_lines, true_chain
from rredcot.pipeline.data.synthetic import SplitSpec, generate_split

ROW = {"id": "t-0", "problem": "7 +5 *3 -12", "answer": "24", "source": "synthetic/t", "solution": ""}
WRITE_UP = "</think>\n7+5=12\n12*3=36\n36-12=24\n\\boxed{24}"


def think(*lines: str, end: str = WRITE_UP) -> str:
    return "<think>\n" + "".join(f"{line}\n" for line in lines) + end


def error_line(text: str) -> str | None:
    error = find_first_error(ROW, text)
    if error is None:
        return None
    assert text[error.offset :].startswith(error.line)  # the offset is the line's first character
    assert error.offset == 0 or text[error.offset - 1] == "\n"
    return error.line


def test_chain_is_rederived_from_the_problem():
    assert true_chain(ROW) == [(7, "+", 5, 12), (12, "*", 3, 36), (36, "-", 12, 24)]
    with pytest.raises(ValueError, match="answer"):
        true_chain({**ROW, "answer": "25"})
    with pytest.raises(ValueError, match="not a synthetic problem"):
        true_chain({**ROW, "problem": "What is 2+2?"})
    assert is_synthetic(ROW) and not is_synthetic({**ROW, "source": "math500"})


def test_correct_traces_have_no_error():
    assert error_line(think("7 +5 *3 -12", "7+5=12", "12*3=36", "36-12=24", "Result: 24")) is None
    # checks, repeats, a recovered mistake, a correct standalone correction, blank lines, no restatement
    text = think(
        "7+5=12", "Wait, let me check: 7+5=12", "", "12*3=35",
        "Wait, 12*3 is 36, not 35.", "Check: 12*3=36", "12*3=36", "36-12=24",
        "Wait, 36-12 is 24, not 23.", "Result: 24",
    )  # fmt: skip
    assert error_line(text) is None


def test_every_reference_trace_is_right():
    rows = generate_split("check", SplitSpec(200, 1, 5, 9, 99, 0.4, 0.4), seed=3)
    assert sum("Wait, " in row["trace"] for row in rows) > 50  # mistakes and checks were exercised
    assert all(find_first_error(row, row["trace"]) is None for row in rows)


@pytest.mark.parametrize(
    ("lines", "wrong"),
    [
        pytest.param(["7+5=12", "12*3=35", "35-12=23", "Result: 23"], "12*3=35", id="wrong arithmetic"),
        pytest.param(["7+5=12", "12*4=48"], "12*4=48", id="operand not the problem's"),
        pytest.param(["7+5=12", "13*3=39"], "13*3=39", id="value not an earlier result"),
        pytest.param(["7+5=12", "12-12=0", "Result: 0"], "12-12=0", id="operation skipped"),
        pytest.param(["7+5=12", "12*3=36", "36-12=24", "Result: 25"], "Result: 25", id="wrong result line"),
        pytest.param(["7+5=12", "12*3=36", "Result: 36"], "Result: 36", id="result before the last step"),
        pytest.param(["7+5=12", "12*3=36", "36-12=24", "24+1=25"], "24+1=25", id="a step after the last"),
        pytest.param(["7+5=12", "12*3=35", "Check: 12*3=36"], "12*3=35", id="mistake not corrected at once"),
        pytest.param(["7+5=13", "Wait, 7+5 is 14, not 13."], "7+5=13", id="correction to a wrong value"),
        pytest.param(["7+5=12", "Check: 12*3=36"], "Check: 12*3=36", id="check of a step not computed"),
        pytest.param(["7+5=12", "Check: 7+5=13"], "Check: 7+5=13", id="check with a wrong result"),
        pytest.param(["7+5=12", "Wait, 7+5 is 13, not 12."], "Wait, 7+5 is 13, not 12.", id="bad correction"),
        pytest.param(["7 +5 *3 -12", "7+5=12", "12*3=3+6"], "12*3=3+6", id="malformed step"),
        pytest.param(["7+5=12", "1*2+=3==", "12*3=36"], "1*2+=3==", id="garbage"),
        pytest.param(["7 +5 *3 -11", "7+5=12"], "7 +5 *3 -11", id="wrong restatement"),
    ],
)
def test_first_wrong_line(lines, wrong):
    assert error_line(think(*lines)) == wrong


def test_a_corrected_mistake_then_a_real_error():
    text = think("7+5=13", "Wait, 7+5 is 12, not 13.", "12*3=36", "36-12=25", "Result: 25")
    error = find_first_error(ROW, text)
    assert (error.line, error.index) == ("36-12=25", 4)  # line 0 is the empty one after <think>
    assert "wrong result" in error.reason


def test_after_an_early_close_the_write_up_is_judged():
    # The thinking stops after restating the problem (or after one step) and the steps follow in the write-up:
    # its first wrong line is the first error, after the thinking.
    for lines in (["7 +5 *3 -12"], ["7+5=12"]):
        text = think(*lines, end="</think>\n7+5=12\n12*3=36\n36-12=20\n\\boxed{20}")
        error = find_first_error(ROW, text)
        assert (error.line, error.offset) == ("36-12=20", text.index("36-12=20"))
        assert error.offset > text.index("</think>") and "wrong result 20" in error.reason
    # a right write-up has no error; a wrong box is one; a box cut by the budget is not judged
    steps = "</think>\n7+5=12\n12*3=36\n36-12=24\n"
    assert error_line(think("7+5=12", end=steps + "\\boxed{24}")) is None
    assert error_line(think("7+5=12", end=steps + "\\boxed{25}")) == "\\boxed{25}"
    assert error_line(think("7+5=12", end=steps + "\\boxed{2")) is None
    # a thinking that reached the result, or was cut by the budget, has not closed early
    assert error_line(think("7+5=12", "Result: 24", end="</think>\n\\boxed{7}")) is None
    assert error_line("<think>\n7+5=12\n") is None
    # a wrong thinking line comes first
    assert error_line(think("7+5=13", end="</think>\n7+5=12\n\\boxed{1}")) == "7+5=13"


def test_only_the_thinking_is_judged():
    # a wrong write-up after a complete thinking is not a thinking error
    assert error_line(think("7+5=12", "12*3=36", "36-12=24", end="</think>\n\\boxed{7}")) is None
    # no </think>: a last line without a newline may be cut by the token budget, and is not judged
    assert error_line("<think>\n7+5=12\n12*3=3") is None
    assert error_line("<think>\n7+5=12\n12*3=3\n") == "12*3=3"
    # no <think>: the thinking starts at the text's start; another end-of-thinking marker
    assert find_first_error(ROW, "7+5=12\n7+5=11\nEND\n", end_of_thinking="END").line == "7+5=11"
    assert [line for _, line in thinking_lines("<think>\na\nb\n</think>\nc")] == ["", "a", "b", ""]
    # text before a <think> that does not open the completion is thinking too
    assert error_line("xyz\n<think>\n7+5=12\n") == "xyz"
