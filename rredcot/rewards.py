"""Answer extraction and 0/1 grading: the terminal reward ζ(y) of every trace.

A completion's answer is the content of its *last* ``\\boxed{...}`` (or ``\\fbox{...}``); math-verify compares
it with the reference, so ``\\frac{1}{2}``, ``0.5`` and ``1/2`` agree. Grading never raises on a completion: a
missing, empty, truncated or absurdly long answer scores 0.

Timeouts: math-verify interrupts slow sympy work with ``signal.alarm``, which only works on the main thread
(elsewhere it raises ``ValueError``). We pass its timeouts on the main thread, where TRL calls synchronous
reward functions, and disable them on other threads. There, only the answer-length cap guards against
pathological inputs (a power tower such as ``10^{10^{10}}`` can still take long), so grade on the main thread.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from typing import Any

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

# Seconds math-verify may spend parsing one answer and comparing one (gold, prediction) pair.
TIMEOUT_S = 3
# Longer boxed answers score 0 without being parsed: no benchmark answer comes close, and sympy on huge
# inputs (a 10,000-digit integer, say) is where grading time goes.
MAX_ANSWER_CHARS = 1000

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())


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


def _timeout() -> int | None:
    return TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


def _parse_boxed(answer: str) -> list:
    # Re-boxing makes math-verify's boxed extractor take the whole answer as one expression.
    return parse(
        f"\\boxed{{{answer}}}",
        extraction_config=_EXTRACTION,
        fallback_mode="first_match",
        parsing_timeout=_timeout(),
    )


@functools.lru_cache(maxsize=65536)
def parse_reference(answer: str) -> tuple:
    """Parse a reference answer once (cached: training grades every group against the same few references).

    Raises ``ValueError`` when math-verify extracts nothing usable, or when the reference is longer than
    ``MAX_ANSWER_CHARS`` (no completion could match it: all would score 0), so loaders can reject the row.
    """
    if not answer.strip():
        raise ValueError("reference answer is empty")
    if len(answer) > MAX_ANSWER_CHARS:
        raise ValueError(
            f"reference answer has {len(answer)} characters, more than MAX_ANSWER_CHARS={MAX_ANSWER_CHARS}: "
            f"no completion could match it ({answer[:40]!r}...)"
        )
    parsed = _parse_boxed(answer)
    # With fallback_mode="first_match" a failed parse still returns the raw string; require a sympy object.
    if not any(not isinstance(item, str) for item in parsed):
        raise ValueError(f"math-verify cannot parse reference answer {answer!r}")
    return tuple(parsed)


def grade(completion: str, reference: str) -> float:
    """1.0 if the last boxed answer of ``completion`` equals ``reference`` mathematically, else 0.0.

    An unparsable reference is a data bug, not a wrong answer: it raises ``ValueError``.
    """
    gold = parse_reference(reference)
    answer = extract_boxed(completion)
    if answer is None or not answer.strip() or len(answer) > MAX_ANSWER_CHARS:
        return 0.0
    prediction = _parse_boxed(answer)
    if not prediction:
        return 0.0
    return float(verify(list(gold), prediction, timeout_seconds=_timeout()))


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
