r"""Synthetic multi-step integer arithmetic, written as a reasoning model's output: thinking, then a write-up.

The tiny CPU default needs a task that a ~1M-parameter model half-learns in minutes on two cores, so the text
is terse (every character is a token), and traces in the shape the paper's estimator assumes
(docs/paper.md §3): a thinking model explores inside ``<think>…</think>``, then writes a concise worked
solution that ends in ``\boxed{}``, and the dataset's ``solution`` is such a write-up (the role
NuminaMath-CoT's ``solution`` column plays). A problem is a chain of operations applied left to right, e.g.
``7 +5 *3 -12``; its trace is::

    <think>
    7 +5 *3 -12
    7+5=12
    12*3=35
    Wait, 12*3 is 36, not 35.
    Check: 12*3=36
    36-12=24
    Result: 24
    </think>
    7+5=12
    12*3=36
    36-12=24
    \boxed{24}

Inside the thinking, only the ``a<op>b=c`` steps carry information; the restated problem, the verifications
(after a step with probability ``check_prob``, in one of two phrasings) and the closing line repeat what is
known. With probability ``mistake_prob`` a step is first written with a wrong result (off by 1–3) and then
corrected (``Wait, … is c, not c'.``), so the model sees wrong intermediate results and learns that the
write-up follows the corrected ones. The write-up restates every step, so how likely a model finds it after a
partial thinking depends on what that thinking has computed, and on whether it computed it right.

The credit testbed (``modulus``, ``slip_prob``, ``early_exit_prob``) writes a chain of + and - modulo a
small number, e.g. ``3 +5 -7 +2 mod 10``, whose trace makes *unrepaired* slips: a step with a wrong result,
from which the trace carries on, so the base policy fails by choice at decisive steps and credit matters.
Its thinking may also stop early, the write-up then completing the chain, so that a forced end of thinking
(the value estimator's premise) is something the model has seen. With ``aside_length`` every step line is
followed by an aside (``Aside: hcja``) of that many characters drawn uniformly from ``aside_alphabet``: free
choices that carry no information about the answer, as the wording of a real trace does. They are where
credit matters: GRPO pushes every sampled aside up or down with the trace's reward, so the policy-gradient's
noise grows with them, while exact credit gives them none (their lines change no state's value).

Each row keeps the thinking's per-line ground truth (``lines``: text, kind, correctness), the write-up as
``solution`` and the whole SFT target as ``trace``. Every intermediate result lies in ``[0, max_value]`` and
divisions are exact, so answers stay small integers. Difficulty is set per split (``SplitSpec``). Test splits
are drawn first, each from its own RNG, and the training split skips every test problem, so splits never share
a problem and growing the training set leaves the test sets unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
from collections.abc import Mapping
from pathlib import Path

from rredcot.io import write_jsonl
from rredcot.pipeline.data import REQUIRED_FIELDS
from rredcot.rewards import parse_reference

CHECK_PHRASES = ("Wait, let me check: {step}", "Check: {step}")
CORRECTION = "Wait, {lhs} is {right}, not {wrong}."
RESULT = "Result: {value}"
ASIDE = "Aside: {characters}"
# Give up on a split after this many draws per requested problem: its difficulty admits too few problems.
MAX_DRAWS_PER_PROBLEM = 100
# The held-out split on which recipes are chosen (never the test splits); drawn after them, before train.
VALIDATION = "validation"
# Kinds of thinking lines in a row's ground truth (``lines``).
LINE_KINDS = ("restate", "step", "slip", "mistake", "correction", "check", "result", "aside")


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """How many problems a split has, how hard they are, and how its reference thinking reads."""

    n: int
    min_ops: int
    max_ops: int
    max_operand: int
    max_value: int
    check_prob: float
    mistake_prob: float
    # The credit testbed's knobs (off by default, so the other splits draw exactly as before): arithmetic
    # modulo ``modulus`` with + and - only (every step a bijection, so one wrong step always makes the answer
    # wrong unless a second one cancels it), unrepaired slips, and thinking that stops early.
    modulus: int | None = None
    slip_prob: float = 0.0
    early_exit_prob: float = 0.0
    # Free choices that do not matter: an aside line of ``aside_length`` random characters of
    # ``aside_alphabet`` after every step (0: no asides).
    aside_length: int = 0
    aside_alphabet: str = "abcdefghij"

    @classmethod
    def from_config(cls, split: str, config: Mapping) -> SplitSpec:
        """Build from a config mapping; a missing, unknown or out-of-range field stops with its name."""
        fields = {f.name for f in dataclasses.fields(cls)}
        optional = {f.name for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        missing = sorted(fields - optional - set(config))
        unknown = sorted(set(config) - fields)
        if missing or unknown:
            raise ValueError(f"split {split!r}: missing fields {missing}, unknown fields {unknown}")
        spec = cls(**config)
        checks = {
            "n": spec.n >= 0,
            "min_ops": spec.min_ops >= 1,
            "max_ops": spec.max_ops >= spec.min_ops,
            "max_operand": spec.max_operand >= 1,
            "max_value": spec.max_value >= 1,
            "check_prob": 0.0 <= spec.check_prob <= 1.0,
            "mistake_prob": 0.0 <= spec.mistake_prob <= 1.0,
            "modulus": spec.modulus is None or spec.modulus > spec.max_operand >= 1,
            # off the true chain a value may leave [0, max_value] or a division stop being exact: modular only
            "slip_prob": 0.0 <= spec.slip_prob <= 1.0 and (spec.slip_prob == 0 or spec.modulus is not None),
            "early_exit_prob": 0.0 <= spec.early_exit_prob <= 1.0,
            "aside_length": spec.aside_length >= 0,
            # one word the checker can tell from a step: distinct ASCII letters or digits
            "aside_alphabet": bool(re.fullmatch(r"[0-9A-Za-z]+", spec.aside_alphabet))
            and len(set(spec.aside_alphabet)) == len(spec.aside_alphabet),
        }
        for field, ok in checks.items():
            if not ok:
                raise ValueError(f"split {split!r}: field {field!r} out of range: {getattr(spec, field)!r}")
        return spec


def _next_step(value: int, spec: SplitSpec, rng: random.Random) -> tuple[str, int, int]:
    """Draw an operation and operand that keep the result in [0, max_value] (and divisions exact); modulo
    ``spec.modulus``, any + or - of 1..max_operand."""
    m, top = spec.max_operand, spec.max_value
    if spec.modulus is not None:
        op, b = rng.choice("+-"), rng.randint(1, m)
        return op, b, apply_step(value, op, b, spec.modulus)
    operands = {
        "+": list(range(1, min(m, top - value) + 1)),
        "-": list(range(1, min(m, value) + 1)),
        "*": list(range(2, min(m, top // value) + 1)) if value else [],
        "/": [b for b in range(2, m + 1) if value % b == 0] if value else [],
    }
    op = rng.choice([op for op, choices in operands.items() if choices])
    b = rng.choice(operands[op])
    return op, b, apply_step(value, op, b)


def apply_step(a: int, op: str, b: int, modulus: int | None = None) -> int:
    """``a op b``, reduced modulo ``modulus`` when one is given (the task's only arithmetic)."""
    result = {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]
    return result if modulus is None else result % modulus


def problem_modulus(problem: str) -> int | None:
    """The modulus a problem's text ends with (``… mod 10``), or ``None`` for plain arithmetic."""
    *_, word, number = ["", "", *problem.split()]
    return int(number) if word == "mod" and number.isdigit() else None


def _wrong_result(result: int, rng: random.Random, modulus: int | None = None) -> int:
    """A plausible slip: the result off by 1 to 3, never negative (wrapped modulo ``modulus``)."""
    if modulus is not None:
        return rng.choice(sorted({(result + d) % modulus for d in (-3, -2, -1, 1, 2, 3)} - {result}))
    candidates = [result + d for d in (-3, -2, -1, 1, 2, 3) if result + d >= 0]
    return rng.choice(candidates)


def make_example(spec: SplitSpec, rng: random.Random) -> dict:
    """One random problem: ``problem``, ``trace`` (thinking + write-up), ``solution`` (the correct write-up),
    ``answer`` and the thinking's per-line ground truth ``lines``.

    With ``slip_prob`` a step of the trace is written with a wrong result that nothing repairs: the trace
    goes on from the wrong value, its write-up copies it and its boxed answer is wrong (its lines after the
    slip are off the true chain, so their ground truth is "wrong" too). With ``early_exit_prob`` the thinking
    stops after a uniformly drawn number of its lines (before the ``Result:`` line) and the write-up, which
    always states the whole chain, computes the rest: the text a forced end of thinking is followed by.
    With ``aside_length`` each step line is followed by an aside line of random characters (always right).
    """
    value = rng.randrange(spec.modulus) if spec.modulus is not None else rng.randint(1, spec.max_value)
    problem = [str(value)]
    lines = []  # the thinking's lines after <think>, with their ground truth
    steps = []  # the true chain
    written = []  # the chain as the trace writes it (differs from steps after a slip)

    def add(text: str, kind: str, correct: bool = True) -> None:
        lines.append({"text": text, "kind": kind, "correct": correct})

    n_ops = rng.randint(spec.min_ops, spec.max_ops)
    operations = []
    for _ in range(n_ops):
        op, b, result = _next_step(value, spec, rng)
        problem.append(f"{op}{b}")
        steps.append(f"{value}{op}{b}={result}")
        operations.append((op, b))
        value = result
    if spec.modulus is not None:
        problem.append(f"mod {spec.modulus}")
    add(" ".join(problem), "restate")
    current, on_chain = int(problem[0]), True
    for step, (op, b) in zip(steps, operations, strict=True):
        result = apply_step(current, op, b, spec.modulus)
        if spec.slip_prob and rng.random() < spec.slip_prob:
            result = _wrong_result(result, rng, spec.modulus)
            add(f"{current}{op}{b}={result}", "slip", correct=False)
            on_chain = False
        elif on_chain and rng.random() < spec.mistake_prob:
            lhs = step.split("=")[0]
            wrong = _wrong_result(result, rng)
            add(f"{lhs}={wrong}", "mistake", correct=False)
            add(CORRECTION.format(lhs=lhs, right=result, wrong=wrong), "correction")
        else:
            add(f"{current}{op}{b}={result}", "step", correct=on_chain)
        if spec.aside_length:
            characters = "".join(rng.choice(spec.aside_alphabet) for _ in range(spec.aside_length))
            add(ASIDE.format(characters=characters), "aside")
        written.append(f"{current}{op}{b}={result}")
        current = result
        if on_chain and rng.random() < spec.check_prob:
            add(rng.choice(CHECK_PHRASES).format(step=step), "check")
    add(RESULT.format(value=current), "result", correct=on_chain)
    if spec.early_exit_prob and rng.random() < spec.early_exit_prob:
        del lines[rng.randrange(len(lines)) :]  # keep 0 .. all-but-Result lines
    solution = "\n".join(steps) + "\n\\boxed{" + str(value) + "}"
    writeup = "\n".join(written) + "\n\\boxed{" + str(current) + "}"
    thinking = "".join(line["text"] + "\n" for line in lines)
    return {
        "problem": " ".join(problem),
        "trace": f"<think>\n{thinking}</think>\n{writeup}",
        "solution": solution,
        "answer": str(value),
        "lines": lines,
    }


def generate_split(
    name: str, spec: SplitSpec, seed: int, exclude: set[str] | frozenset[str] = frozenset()
) -> list[dict]:
    """``spec.n`` distinct problems not in ``exclude``, from an RNG seeded by (seed, name) only."""
    rng = random.Random(f"{seed}/{name}")
    rows, seen = [], set(exclude)
    for _ in range(MAX_DRAWS_PER_PROBLEM * max(spec.n, 1)):
        if len(rows) == spec.n:
            break
        example = make_example(spec, rng)
        if example["problem"] in seen:
            continue
        seen.add(example["problem"])
        rows.append(
            {
                "id": f"{name}-{len(rows):05d}",
                "problem": example["problem"],
                "solution": example["solution"],
                "answer": example["answer"],
                "source": f"synthetic/{name}",
                "trace": example["trace"],
                "lines": example["lines"],
            }
        )
    if len(rows) < spec.n:
        raise ValueError(
            f"split {name!r}: found only {len(rows)} of {spec.n} distinct problems; "
            "raise max_ops/max_operand/max_value or lower n"
        )
    return rows


def generate_splits(train: Mapping, tests: Mapping[str, Mapping], seed: int) -> dict[str, list[dict]]:
    """``{"train": rows, <test name>: rows}``, pairwise disjoint; test splits do not depend on ``train``."""
    splits: dict[str, list[dict]] = {}
    used: set[str] = set()
    for name, config in [*tests.items(), ("train", train)]:
        if name in splits:
            raise ValueError(f"split name {name!r} is used twice")
        splits[name] = generate_split(name, SplitSpec.from_config(name, config), seed, exclude=used)
        used.update(row["problem"] for row in splits[name])
    return splits


def write_split(path: str | os.PathLike, rows: list[dict]) -> None:
    """Write a split as JSONL, atomically."""
    write_jsonl(path, rows)


def load_split(path: str | os.PathLike) -> list[dict]:
    """Read a split back; a bad line or a missing or empty required field stops with file, line and field.

    Every answer must be a reference the grader can use (:func:`rredcot.rewards.parse_reference`): a bad one
    stops here, naming its line, not when training or evaluation first grades against it. A file without
    rows is an error too: no stage has anything to do with an empty split.
    """
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not valid JSON: {err}") from err
        if not isinstance(row, dict):
            raise ValueError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}")
        for field in REQUIRED_FIELDS:
            if field not in row:
                raise ValueError(f"{path}, line {number}: missing required field {field!r}")
            # Evaluation sets without worked solutions (AIME, AMC) carry solution="" by design.
            if not isinstance(row[field], str) or (not row[field] and field != "solution"):
                raise ValueError(f"{path}, line {number}: field {field!r} must be a non-empty string")
        try:
            parse_reference(row["answer"])
        except ValueError as err:
            raise ValueError(f"{path}, line {number}: field 'answer': {err}") from err
        rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows
