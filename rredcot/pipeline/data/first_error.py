r"""The first wrong line of a model's thinking on a synthetic problem: the ground truth of error localization.

A row of the synthetic task (:mod:`rredcot.pipeline.data.synthetic`) holds the problem as a chain of
operations applied left to right (``"7 +5 *3 -12"``) and its answer, so the true chain of steps ``7+5=12``,
``12*3=36``, ``36-12=24`` is re-derived from ``problem`` alone (and checked against ``answer``). The analysed
trace is the model's own text, so its lines are judged against that chain, not against the row's reference
``lines``.

The thinking is the text after a leading ``<think>`` (from the very start when the text does not open with
one, so text before a later ``<think>`` is judged too) up to the first end-of-thinking marker (``</think>``)
after it, or the end of the text. It is split into lines at ``\n``; blank lines are skipped. When no
end-of-thinking marker follows, the last line is not judged if the text does not end in a newline: the token
budget may have cut it. The write-up after the thinking is judged only after an early close (below).

Walking the lines in order with ``done`` = how many steps of the chain the thinking has computed so far
(initially 0), a line is right when it is:

- **restate**: the problem itself (whitespace-normalised);
- **step** ``a<op>b=c``: the next step of the chain (``a``, ``op``, ``b`` as in step ``done + 1``, ``c`` its
  true result; ``done`` grows by one), or a verbatim repeat of a step already computed. Anything else is
  wrong: false arithmetic, an operand that is not the current value or the next operation's, an operation
  skipped or taken out of order;
- **recovered mistake**: a step line whose left-hand side is the next step's (or one already computed) but
  whose result is wrong, *immediately* followed (next non-blank line) by the correction
  ``Wait, <lhs> is <c>, not <c'>.`` with the same left-hand side and the true result ``c``. Neither line is
  an error: the trace recovered (the value ``c'`` after "not" is not compared). The step counts as
  computed. A wrong result not corrected on the very next line is the error, at the step line;
- **check** (``Check: <step>`` or ``Wait, let me check: <step>``): a repeat of a step already computed, with
  its true result;
- **correction** on its own (not right after a mistake): it states the true result of a step already
  computed;
- **result** ``Result: <v>``: ``v`` equals the true answer (whether or not every step was written);
- **aside** ``Aside: <letters or digits>``: always (the credit testbed's free choices; it computes nothing).

Every other line, e.g. garbage or a malformed step, is wrong. The first wrong line is the first error.

**Closing early.** The thinking may close (an end-of-thinking marker follows) before it has computed every
step of the chain or stated the result; the credit testbed teaches exactly this, with a write-up that works
the chain out. The write-up is then judged too, by the same rules from the first step, a final ``\boxed{<v>}``
line standing for the result: its first wrong line is the first error, after the thinking. Otherwise the
write-up is not judged. No error means no judged line went wrong (as far as these rules see).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rredcot.continuation import Continuation
from rredcot.pipeline.data.synthetic import (
    ASIDE,
    CHECK_PHRASES,
    CORRECTION,
    RESULT,
    apply_step,
    problem_modulus,
)

THINK_START = "<think>"
_NUMBER = r"(\d+)"
_LHS = rf"{_NUMBER}([+\-*/]){_NUMBER}"
_STEP = rf"{_LHS}={_NUMBER}"
_OPERATION = re.compile(r"^([+\-*/])(\d+)$")


def _pattern(template: str, **groups: str) -> re.Pattern:
    """A full-line regex from one of the task's line templates, its ``{fields}`` replaced by ``groups``."""
    parts = re.split(r"(\{\w+\})", template)
    return re.compile(
        "^" + "".join(groups[p[1:-1]] if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


STEP = re.compile(f"^{_STEP}$")
CHECKS = tuple(_pattern(phrase, step=_STEP) for phrase in CHECK_PHRASES)
CORRECTION_LINE = _pattern(CORRECTION, lhs=_LHS, right=_NUMBER, wrong=_NUMBER)
RESULT_LINE = _pattern(RESULT, value=_NUMBER)
ASIDE_LINE = _pattern(ASIDE, characters=r"[0-9A-Za-z]+")
BOXED_LINE = re.compile(rf"^\\boxed\{{{_NUMBER}\}}$")  # the write-up's answer


@dataclass(frozen=True)
class FirstError:
    """Where the text first goes wrong (in the thinking, or in the write-up after an early close): ``offset``
    is the character offset in the text of the line's first character, ``index`` the line's index among the
    thinking's lines or the write-up's (blank ones included), ``line`` its text (without the newline) and
    ``reason`` why it is wrong."""

    offset: int
    index: int
    line: str
    reason: str


def is_synthetic(row: Mapping) -> bool:
    """Whether a row comes from the synthetic task (the only one with a checker)."""
    return str(row.get("source", "")).startswith("synthetic/")


def true_chain(row: Mapping) -> list[tuple[int, str, int, int]]:
    """The problem's steps ``(a, op, b, c)`` re-derived from ``problem`` (a trailing ``mod m`` reduces every
    result modulo m); ``answer`` must be the last c."""
    start, *operations = str(row["problem"]).split()
    modulus = problem_modulus(str(row["problem"]))
    if modulus is not None:
        operations = operations[:-2]
    if not start.isdigit() or not operations:
        raise ValueError(f"problem {row.get('id')!r}: not a synthetic problem: {row['problem']!r}")
    value, chain = int(start), []
    for operation in operations:
        match = _OPERATION.match(operation)
        if match is None:
            raise ValueError(f"problem {row.get('id')!r}: bad operation {operation!r} in {row['problem']!r}")
        op, b = match.group(1), int(match.group(2))
        result = apply_step(value, op, b, modulus)
        chain.append((value, op, b, result))
        value = result
    if str(value) != str(row["answer"]).strip():
        raise ValueError(
            f"problem {row.get('id')!r}: the chain gives {value}, the row's answer is {row['answer']!r}"
        )
    return chain


def thinking_lines(text: str, end_of_thinking: str = Continuation.end_of_thinking) -> list[tuple[int, str]]:
    """``(offset, line)`` of every judged thinking line (blank ones included), offsets into ``text``."""
    start, end = thinking_span(text, end_of_thinking)
    lines = _split_lines(text, start, len(text) if end is None else end)
    if end is None and not text.endswith("\n"):
        lines.pop()  # possibly cut by the token budget
    return lines


def _split_lines(text: str, start: int, stop: int) -> list[tuple[int, str]]:
    """``(offset, line)`` of ``text[start:stop]`` split at ``\\n``, offsets into ``text``."""
    lines, offset = [], start
    for line in text[start:stop].split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    return lines


def thinking_span(text: str, end_of_thinking: str = Continuation.end_of_thinking) -> tuple[int, int | None]:
    """Where the thinking starts in ``text``, and where its end-of-thinking marker is (``None``: open)."""
    start = text.find(THINK_START)
    start = start + len(THINK_START) if start >= 0 and not text[:start].strip() else 0
    end = text.find(end_of_thinking, start)
    return start, (end if end >= 0 else None)


@dataclass(frozen=True)
class JudgedLine:
    """One judged line (of the thinking, or of a write-up): where it starts (``offset`` into the text,
    ``index`` among the judged text's lines), its text, how many steps of the chain are computed once it is
    read (``done``), and why it is wrong (``error``; ``None`` when right)."""

    offset: int
    index: int
    line: str
    done: int
    error: str | None


def judge_thinking(
    row: Mapping, text: str, *, end_of_thinking: str = Continuation.end_of_thinking
) -> list[JudgedLine]:
    """``text``'s judged thinking lines on synthetic ``row`` in order (module docstring), up to and including
    the first wrong one; blank lines and consumed corrections are left out."""
    return judge_lines(row, thinking_lines(text, end_of_thinking))


def judge_lines(row: Mapping, lines: list[tuple[int, str]], *, boxed: bool = False) -> list[JudgedLine]:
    """``lines`` (``(offset, line)``, as :func:`thinking_lines` gives them) judged on synthetic ``row`` from
    the chain's first step, up to and including the first wrong one; ``boxed``: a ``\\boxed{<v>}`` line is
    a result line (the write-up's)."""
    chain = true_chain(row)
    lhs_of = [(a, op, b) for a, op, b, _ in chain]
    problem = " ".join(str(row["problem"]).split())
    answer = chain[-1][3]
    done = 0
    judged = []
    skip = set()  # corrections consumed by the mistake before them
    for index, (offset, raw) in enumerate(lines):
        line = raw.strip()
        if not line or index in skip:
            continue
        error = None
        if " ".join(line.split()) == problem:
            pass
        elif step := STEP.match(line):
            a, op, b, c = int(step[1]), step[2], int(step[3]), int(step[4])
            if done < len(chain) and (a, op, b, c) == chain[done]:
                done += 1
            elif (a, op, b, c) in chain[:done]:
                pass
            elif (a, op, b) in lhs_of[: done + 1]:
                # the next step when it is that one, else the (first) step computed with this left-hand side
                k = done if done < len(chain) and lhs_of[done] == (a, op, b) else lhs_of.index((a, op, b))
                after = next(
                    ((j, lines[j][1].strip()) for j in range(index + 1, len(lines)) if lines[j][1].strip()),
                    None,
                )
                fix = CORRECTION_LINE.match(after[1]) if after else None
                if fix and (int(fix[1]), fix[2], int(fix[3]), int(fix[4])) == chain[k]:
                    skip.add(after[0])
                    done = max(done, k + 1)
                else:
                    error = f"wrong result {c} (true {chain[k][3]}), not corrected on the next line"
            else:
                error = "not the next step of the problem" if done < len(chain) else "a step after the last"
        elif check := next((m for m in (p.match(line) for p in CHECKS) if m), None):
            if (int(check[1]), check[2], int(check[3]), int(check[4])) not in chain[:done]:
                error = "checks a step not computed, or with a wrong result"
        elif fix := CORRECTION_LINE.match(line):
            if (int(fix[1]), fix[2], int(fix[3]), int(fix[4])) not in chain[:done]:
                error = "corrects a step not computed, or to a wrong result"
        elif result := RESULT_LINE.match(line) or (boxed and BOXED_LINE.match(line)):
            if int(result[1]) != answer:
                error = f"result {result[1]}, true answer {answer}"
        elif ASIDE_LINE.match(line):
            pass
        else:
            error = "not a line of the task"
        judged.append(JudgedLine(offset=offset, index=index, line=raw, done=done, error=error))
        if error is not None:
            break
    return judged


def find_first_error(
    row: Mapping, text: str, *, end_of_thinking: str = Continuation.end_of_thinking
) -> FirstError | None:
    """The first wrong line of ``text`` on synthetic ``row``: in its thinking or, after an early close, in its
    write-up (module docstring); ``None`` when there is none."""
    judged = judge_thinking(row, text, end_of_thinking=end_of_thinking)
    if not (judged and judged[-1].error is not None):
        _, end = thinking_span(text, end_of_thinking)
        if end is not None and not _reached_answer(row, judged):  # closed early: the write-up works it out
            judged = judge_lines(row, writeup_lines(text, end + len(end_of_thinking)), boxed=True)
    if not (judged and judged[-1].error is not None):
        return None
    line = judged[-1]
    return FirstError(offset=line.offset, index=line.index, line=line.line, reason=line.error)


def _reached_answer(row: Mapping, judged: list[JudgedLine]) -> bool:
    """Whether right lines ``judged`` computed every step of the chain or stated the result."""
    done = judged[-1].done if judged else 0
    return done == len(true_chain(row)) or any(RESULT_LINE.match(line.line.strip()) for line in judged)


def writeup_lines(text: str, start: int) -> list[tuple[int, str]]:
    """``(offset, line)`` of the write-up from ``start`` (after the end-of-thinking marker); a last line
    without a newline is kept only when it is a whole ``\\boxed{<v>}`` (else the token budget may have cut
    it)."""
    lines = _split_lines(text, start, len(text))
    if not text.endswith("\n") and not BOXED_LINE.match(lines[-1][1].strip()):
        lines.pop()
    return lines


__all__ = [
    "FirstError",
    "JudgedLine",
    "find_first_error",
    "is_synthetic",
    "judge_lines",
    "judge_thinking",
    "thinking_lines",
    "thinking_span",
    "writeup_lines",
    "true_chain",
]
