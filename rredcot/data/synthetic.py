r"""Synthetic multi-step integer arithmetic, written as reasoning-model traces.

The tiny CPU default needs a task that a ~1M-parameter model half-learns in minutes on two cores, so the text
is terse (every character is a token), and traces whose lines differ in importance, so that reward
redistribution has something to find. A problem is a chain of operations applied left to right, e.g.
``7 +5 *3 -12``, and its reference solution is exactly (one step per line, no trailing newline)::

    <think>
    7 +5 *3 -12
    7+5=12
    12*3=36
    Wait, let me check: 12*3=36
    36-12=24
    Result: 24
    </think>
    \boxed{24}

Only the ``a<op>b=c`` lines carry information; the restated problem, the verifications (inserted after a step
with probability ``check_prob``, in one of two phrasings) and the closing line repeat what is already known.
Every intermediate result lies in ``[0, max_value]`` and divisions are exact, so answers stay small integers.

Difficulty is set per split (``SplitSpec``): number of operations and operand size. Test splits are drawn
first, each from its own RNG, and the training split skips every test problem, so splits never share a problem
and growing the training set leaves the test sets unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Mapping
from pathlib import Path

from rredcot.data import REQUIRED_FIELDS
from rredcot.io import write_jsonl
from rredcot.rewards import parse_reference

CHECK_PHRASES = ("Wait, let me check: {step}", "Check: {step}")
# Give up on a split after this many draws per requested problem: its difficulty admits too few problems.
MAX_DRAWS_PER_PROBLEM = 100


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """How many problems a split has and how hard they are."""

    n: int
    min_ops: int
    max_ops: int
    max_operand: int
    max_value: int
    check_prob: float

    @classmethod
    def from_config(cls, split: str, config: Mapping) -> SplitSpec:
        """Build from a config mapping; a missing, unknown or out-of-range field stops with its name."""
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(fields - set(config))
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
        }
        for field, ok in checks.items():
            if not ok:
                raise ValueError(f"split {split!r}: field {field!r} out of range: {getattr(spec, field)!r}")
        return spec


def _next_step(value: int, spec: SplitSpec, rng: random.Random) -> tuple[str, int, int]:
    """Draw an operation and operand that keep the result in [0, max_value] (and divisions exact)."""
    m, top = spec.max_operand, spec.max_value
    operands = {
        "+": list(range(1, min(m, top - value) + 1)),
        "-": list(range(1, min(m, value) + 1)),
        "*": list(range(2, min(m, top // value) + 1)) if value else [],
        "/": [b for b in range(2, m + 1) if value % b == 0] if value else [],
    }
    op = rng.choice([op for op, choices in operands.items() if choices])
    b = rng.choice(operands[op])
    result = {"+": value + b, "-": value - b, "*": value * b, "/": value // b}[op]
    return op, b, result


def make_example(spec: SplitSpec, rng: random.Random) -> tuple[str, str, str]:
    """One random problem: (problem, reference solution, answer)."""
    value = rng.randint(1, spec.max_value)
    problem = [str(value)]
    steps = []
    for _ in range(rng.randint(spec.min_ops, spec.max_ops)):
        op, b, result = _next_step(value, spec, rng)
        problem.append(f"{op}{b}")
        steps.append(f"{value}{op}{b}={result}")
        if rng.random() < spec.check_prob:
            steps.append(rng.choice(CHECK_PHRASES).format(step=steps[-1]))
        value = result
    lines = [" ".join(problem), *steps, f"Result: {value}"]
    solution = "<think>\n" + "\n".join(lines) + "\n</think>\n\\boxed{" + str(value) + "}"
    return " ".join(problem), solution, str(value)


def generate_split(
    name: str, spec: SplitSpec, seed: int, exclude: set[str] | frozenset[str] = frozenset()
) -> list[dict]:
    """``spec.n`` distinct problems not in ``exclude``, from an RNG seeded by (seed, name) only."""
    rng = random.Random(f"{seed}/{name}")
    rows, seen = [], set(exclude)
    for _ in range(MAX_DRAWS_PER_PROBLEM * max(spec.n, 1)):
        if len(rows) == spec.n:
            break
        problem, solution, answer = make_example(spec, rng)
        if problem in seen:
            continue
        seen.add(problem)
        rows.append(
            {
                "id": f"{name}-{len(rows):05d}",
                "problem": problem,
                "solution": solution,
                "answer": answer,
                "source": f"synthetic/{name}",
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
