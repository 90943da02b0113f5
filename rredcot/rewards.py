"""Answer extraction and 0/1 grading: the terminal reward ζ(y) of every trace.

A completion's answer is the content of its *last* ``\\boxed{...}`` (or ``\\fbox{...}``); math-verify compares
it with the reference, so ``\\frac{1}{2}``, ``0.5`` and ``1/2`` agree. Grading never raises on a completion: a
missing, empty, truncated or absurdly long answer scores 0.

Plain numbers skip math-verify. When the reference and the answer are both an optional sign followed by an
integer (``16``), a decimal (``16.0``) or a fraction of integers (``32/2``), they are compared exactly as
rationals: equal values score 1 (so those three agree, as do ``0.5`` and ``1/2``). Different values score 0
only when neither has a decimal point; otherwise math-verify decides, because it rounds decimals (``0.333333``
matches ``1/3``). Every verdict of this exact path is math-verify's too, reached without parser or clock.

Timeouts: math-verify interrupts slow sympy work with ``signal.alarm``, which only works on the main thread
(elsewhere it raises ``ValueError``). We pass its timeouts on the main thread, where TRL calls synchronous
reward functions, and disable them on other threads. There, only the answer-length cap guards against
pathological inputs (a power tower such as ``10^{10^{10}}`` can still take long), so grade on the main thread.
A timeout is neither a wrong answer nor a bad reference. Before the first timed call, one parse and one
comparison run under a generous limit, so lazy imports and first-use set-up are not charged to an answer.
A parse or comparison that times out is retried once with ``RETRY_FACTOR`` times the time; if it times out
again the completion scores 0 (a reward must be a number), a warning names it, and :func:`grading_stats`
counts it, so that a run can report how many of its zeros are timeouts rather than wrong answers.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import product
from typing import Any, TypeVar

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from math_verify.errors import TimeoutException

logger = logging.getLogger(__name__)

# Seconds math-verify may spend parsing one answer and comparing one (gold, prediction) pair.
TIMEOUT_S = 3
# A call that times out is retried once with this many times TIMEOUT_S: a busy machine is not a hard input.
RETRY_FACTOR = 2
# The limit on the one-off first parse and comparison: generous, yet nothing can hang forever.
WARM_UP_TIMEOUT_S = 60
# Longer boxed answers score 0 without being parsed: no benchmark answer comes close, and sympy on huge
# inputs (a 10,000-digit integer, say) is where grading time goes.
MAX_ANSWER_CHARS = 1000

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())
# ASCII digits only: Python reads other scripts' digits as numbers, math-verify does not.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|[0-9]+/[0-9]+)")
# Timeouts in this process: math-verify calls a retry rescued, and grades that scored 0 after the retry.
# Only the main thread ever times out, so plain increments are safe.
_STATS = {"retried": 0, "timed_out": 0}

T = TypeVar("T")


class GradingTimeout(TimeoutError):
    """math-verify timed out twice on one input: neither a wrong answer nor a bad reference."""


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` in ``text``, braces matched.

    ``None`` if there is no box or the last one never closes (a truncated generation has no final answer,
    even if an earlier box closed). Escaped braces ``\\{`` ``\\}`` inside the box do not count.
    """
    opens = list(_BOX_OPEN.finditer(text))
    if not opens:
        return None
    start = opens[-1].end()
    depth = 1
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return None


def grading_stats() -> dict[str, int]:
    """Timeouts so far in this process: ``retried`` (calls a retry rescued) and ``timed_out`` (grades that
    scored 0 because of one), so that a run can say how many of its zeros are not wrong answers."""
    return dict(_STATS)


@functools.cache
def _warm_up() -> None:
    """One parse and comparison under a generous limit: math-verify's first call pays for lazy imports, which
    must not count against the TIMEOUT_S of an answer (a valid reference once failed that way)."""
    verify(
        parse("\\boxed{\\frac{1}{2}}", parsing_timeout=WARM_UP_TIMEOUT_S),
        parse("\\boxed{0.5}", parsing_timeout=WARM_UP_TIMEOUT_S),
        timeout_seconds=WARM_UP_TIMEOUT_S,
    )


def _timed(call: Callable[[int | None], T], what: str) -> T:
    """``call(timeout)`` with TIMEOUT_S, retried once with ``RETRY_FACTOR`` times that; no timeout off the
    main thread. Raises :class:`GradingTimeout`, naming ``what``, when the retry times out too."""
    if threading.current_thread() is not threading.main_thread():
        return call(None)
    _warm_up()
    try:
        return call(TIMEOUT_S)
    except TimeoutException:
        pass
    try:
        result = call(RETRY_FACTOR * TIMEOUT_S)
    except TimeoutException:
        raise GradingTimeout(
            f"math-verify timed out on {what} after {TIMEOUT_S} s and {RETRY_FACTOR * TIMEOUT_S} s"
        ) from None
    _STATS["retried"] += 1
    logger.info("math-verify needed a retry on %s", what)
    return result


def _parse_once(answer: str, timeout: int | None) -> list:
    # Re-boxing makes math-verify's boxed extractor take the whole answer as one expression.
    # raise_on_error lets a timeout out; other errors mean "nothing parsed", as they do in math-verify.
    try:
        return parse(
            f"\\boxed{{{answer}}}",
            extraction_config=_EXTRACTION,
            fallback_mode="first_match",
            parsing_timeout=timeout,
            raise_on_error=True,
        )
    except Exception:
        return []


def _verify_once(gold: Any, prediction: Any, timeout: int | None) -> bool:
    # As _parse_once: a timeout comes out, other errors mean "not equal".
    try:
        return verify(gold, prediction, timeout_seconds=timeout, raise_on_error=True)
    except Exception:
        return False


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:80] + "...")


def _equal(gold: Sequence, prediction: Sequence, what: str) -> bool:
    """math-verify's ``verify(gold, prediction)``: any (gold, prediction) pair equal.

    Pairs are compared one at a time so that a timeout is seen; one that times out still lets a later pair
    match, as in ``verify``. Raises :class:`GradingTimeout` only when no pair matches and one timed out.
    """
    timed_out = None
    for pair in product(gold, prediction):
        try:
            if _timed(functools.partial(_verify_once, *pair), what):
                return True
        except GradingTimeout as err:
            timed_out = err
    if timed_out is not None:
        raise timed_out
    return False


@functools.lru_cache(maxsize=65536)
def parse_reference(answer: str) -> tuple:
    """Parse a reference answer once (cached: training grades every group against the same few references).

    Raises ``ValueError`` when math-verify extracts nothing usable, or when the reference is longer than
    ``MAX_ANSWER_CHARS`` (no completion could match it: all would score 0), so loaders can reject the row.
    A reference that keeps timing out raises :class:`GradingTimeout` instead, which is no ``ValueError``: it
    says nothing about the data, and it is not cached, so the next call tries again.
    """
    if not answer.strip():
        raise ValueError("reference answer is empty")
    if len(answer) > MAX_ANSWER_CHARS:
        raise ValueError(
            f"reference answer has {len(answer)} characters, more than MAX_ANSWER_CHARS={MAX_ANSWER_CHARS}: "
            f"no completion could match it ({answer[:40]!r}...)"
        )
    parsed = _timed(functools.partial(_parse_once, answer), f"reference {_shown(answer)}")
    # With fallback_mode="first_match" a failed parse still returns the raw string; require a sympy object.
    if not any(not isinstance(item, str) for item in parsed):
        raise ValueError(f"math-verify cannot parse reference answer {answer!r}")
    return tuple(parsed)


def _plain_number(text: str) -> Fraction | None:
    """``text`` as an exact rational if it is a plain number (see the module docstring), else None."""
    text = text.strip()
    if len(text) > MAX_ANSWER_CHARS or not _PLAIN_NUMBER.fullmatch(text):
        return None
    try:
        return Fraction(text)
    except ZeroDivisionError:  # a/0 is math-verify's to judge
        return None


def _exact_grade(answer: str, reference: str) -> float | None:
    """The exact grade of two plain numbers; None if either is not one or math-verify's rounding decides."""
    gold = _plain_number(reference)
    value = None if gold is None else _plain_number(answer)
    if value is None:
        return None
    if value == gold:
        return 1.0
    return None if "." in answer or "." in reference else 0.0


def _math_verify_grade(answer: str | None, reference: str) -> float:
    gold = parse_reference(reference)
    if answer is None or not answer.strip() or len(answer) > MAX_ANSWER_CHARS:
        return 0.0
    prediction = _timed(functools.partial(_parse_once, answer), f"answer {_shown(answer)}")
    if not prediction:
        return 0.0
    return float(_equal(gold, prediction, f"answer {_shown(answer)} against reference {_shown(reference)}"))


def grade(completion: str, reference: str) -> float:
    """1.0 if the last boxed answer of ``completion`` equals ``reference`` mathematically, else 0.0.

    An unparsable reference is a data bug, not a wrong answer: it raises ``ValueError``. A timeout is
    neither: after the retry it scores 0, with a warning, and counts in :func:`grading_stats`.
    """
    answer = extract_boxed(completion)
    exact = None if answer is None else _exact_grade(answer, reference)
    if exact is not None:
        return exact
    try:
        return _math_verify_grade(answer, reference)
    except GradingTimeout as err:
        _STATS["timed_out"] += 1
        logger.warning("%s: scored 0 and counted in grading_stats()['timed_out']", err)
        return 0.0


def _completion_text(completion: Any) -> str:
    """Plain completions are strings; conversational ones are message lists whose last turn is the answer."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content")
        if isinstance(content, str):
            return content
    raise TypeError(f"completion must be a string or a list of messages with string content: {completion!r}")


def accuracy_reward(completions: Sequence[Any], answer: Sequence[str], **kwargs: Any) -> list[float]:
    """TRL reward function: ``GRPOTrainer(reward_funcs=[accuracy_reward])`` with a dataset column ``answer``.

    TRL passes every dataset column (and prompts, completion ids, trainer state) as keyword arguments;
    only the completions and the ``answer`` column matter here.
    """
    if len(completions) != len(answer):
        raise ValueError(f"got {len(completions)} completions but {len(answer)} answers")
    return [grade(_completion_text(c), ref) for c, ref in zip(completions, answer, strict=True)]
