"""Hugging Face Hub datasets of the paper, normalised to ``{id, problem, solution, answer, source}``.

Which hub id, config, split and columns a dataset uses lives in the experiment config (see
``experiments/datasets.yaml``), never here: one spec per dataset, e.g.::

    hub_id: HuggingFaceH4/MATH-500   # load_dataset(hub_id, config, split=split, revision=revision)
    config: null
    split: test
    format: json                     # builder for local copies passed as ``data_files``
    fields: {id: unique_id, problem: problem, solution: solution, answer: answer}
    on_bad_row: error                # or drop
    mirror: <dir>                    # set by the pipeline where it prefetched the repository (offline jobs)

``fields`` maps our field to the hub column. ``answer_from_boxed: <column>`` replaces ``fields.answer`` for
sets whose answer is only the last ``\\boxed{}`` of their solution (NuminaMath-CoT, Minerva). Without
``fields.solution`` (evaluation sets that ship bare answers) the solution is ``""``; without ``fields.id`` the
row index serves. Ids are ``{source}/{value}``, unique across sets; ``source`` is the dataset's config name.

Every row needs its fields and an answer math-verify can parse (the grader will need it). A bad row stops the
load with an error naming the file (or hub id), row index and field, or, with ``on_bad_row: drop``, is
dropped, logged and reported in the result. Never silently.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets

from rredcot.io import write_jsonl
from rredcot.pipeline.data import REQUIRED_FIELDS
from rredcot.pipeline.prefetch import require_mirror
from rredcot.rewards import extract_boxed, parse_reference

logger = logging.getLogger(__name__)

_SPEC_KEYS = {
    "hub_id",
    "config",
    "revision",
    "mirror",
    "split",
    "format",
    "fields",
    "answer_from_boxed",
    "on_bad_row",
}
_FIELD_KEYS = {"id", "problem", "solution", "answer"}
_FORMATS = {"json", "parquet"}

DataFiles = str | os.PathLike | Sequence[str | os.PathLike]


class BadRow(ValueError):
    """A row the loader cannot normalise; the message names its origin, row index and field."""


@dataclass
class LoadResult:
    """Normalised rows, plus one message per row dropped under ``on_bad_row: drop`` (``len`` is the count)."""

    rows: list[dict[str, str]]
    dropped: list[str] = field(default_factory=list)


def _check_spec(name: str, spec: Mapping[str, Any]) -> None:
    """Reject a malformed spec up front, naming the key, so a typo never falls back to a silent default."""
    prefix = f"hub dataset {name!r}"
    if unknown := set(spec) - _SPEC_KEYS:
        raise ValueError(f"{prefix}: unknown keys {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}")
    for key in ("hub_id", "split", "format", "fields"):
        if not spec.get(key):
            raise ValueError(f"{prefix}: {key!r} is required")
    if spec["format"] not in _FORMATS:
        raise ValueError(f"{prefix}: format must be one of {sorted(_FORMATS)}, got {spec['format']!r}")
    fields = spec["fields"]
    if unknown := set(fields) - _FIELD_KEYS:
        raise ValueError(f"{prefix}: unknown fields {sorted(unknown)}; allowed: {sorted(_FIELD_KEYS)}")
    if "problem" not in fields:
        raise ValueError(f"{prefix}: fields.problem is required")
    if ("answer" in fields) == ("answer_from_boxed" in spec):
        raise ValueError(f"{prefix}: give exactly one of fields.answer and answer_from_boxed")
    if spec.get("on_bad_row", "error") not in ("error", "drop"):
        raise ValueError(f"{prefix}: on_bad_row must be 'error' or 'drop', got {spec['on_bad_row']!r}")


def _load(spec: Mapping[str, Any], files: str | list[str] | None) -> datasets.Dataset:
    split = spec["split"]
    if files is None and spec.get("mirror"):  # the repository as prefetched: read like the hub, from disk
        return datasets.load_dataset(os.fspath(spec["mirror"]), spec.get("config"), split=split)
    if files is None:
        return datasets.load_dataset(
            spec["hub_id"], spec.get("config"), split=split, revision=spec.get("revision")
        )
    return datasets.load_dataset(spec["format"], data_files={split: files}, split=split)


def _text(value: Any) -> str | None:
    """A cell as text, ``None`` if missing (null, NaN, blank). AMC-23 stores 27 as 27.0: that becomes "27"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _normalise(name: str, spec: Mapping[str, Any], row: Mapping[str, Any], index: int, where: str) -> dict:
    fields = spec["fields"]

    def cell(ours: str, column: str) -> str:
        value = _text(row.get(column))
        if value is None:
            raise BadRow(f"{where}: row {index}: field {ours!r} (column {column!r}) is missing or empty")
        return value

    problem = cell("problem", fields["problem"])
    solution = cell("solution", fields["solution"]) if "solution" in fields else ""
    if "answer" in fields:
        answer = cell("answer", fields["answer"]).strip()
    else:
        column = spec["answer_from_boxed"]
        boxed = extract_boxed(cell("answer", column))
        if boxed is None or not boxed.strip():
            raise BadRow(f"{where}: row {index}: field 'answer': column {column!r} has no closed \\boxed{{}}")
        answer = boxed.strip()
    try:
        parse_reference(answer)
    except ValueError as err:
        raise BadRow(f"{where}: row {index}: field 'answer': {err}") from err
    key = cell("id", fields["id"]) if "id" in fields else str(index)
    return {"id": f"{name}/{key}", "problem": problem, "solution": solution, "answer": answer, "source": name}


def load_hub_dataset(name: str, spec: Mapping[str, Any], data_files: DataFiles | None = None) -> LoadResult:
    """Load dataset ``name`` as ``spec`` describes it and normalise every row.

    ``data_files`` (a path or paths in ``spec['format']`` and the hub's schema; row indices count across the
    files in order) replaces the hub: tests use small fixtures, offline clusters a local mirror.

    Raises ``ValueError`` on a bad spec, a missing column, an empty result, a repeated id, or (unless
    ``on_bad_row: drop``) a bad row.
    """
    _check_spec(name, spec)
    if data_files is None:
        files = None
        where = f"{spec['hub_id']} (config {spec.get('config')!r}, split {spec['split']!r})"
        if spec.get("mirror"):
            require_mirror(spec["mirror"], f"hub dataset {name!r} ({spec['hub_id']})")
            where = f"{where} from its mirror {spec['mirror']}"
    elif isinstance(data_files, str | os.PathLike):
        files = where = os.fspath(data_files)
    else:
        files = [os.fspath(f) for f in data_files]
        where = str(files)
    try:
        table = _load(spec, files)
    except (ValueError, StopIteration) as err:
        # datasets rejects an empty file (ValueError, or StopIteration for JSON) without naming it.
        raise ValueError(f"{where}: no rows could be loaded ({type(err).__name__}: {err})") from err
    columns = list(spec["fields"].values())
    if "answer_from_boxed" in spec:
        columns.append(spec["answer_from_boxed"])
    if missing := [c for c in columns if c not in table.column_names]:
        raise ValueError(f"{where}: columns {missing} not found; the data has {table.column_names}")
    if len(table) == 0:  # datasets raises first today; an empty split must stop us whatever its version does
        raise ValueError(f"{where}: no rows")

    drop = spec.get("on_bad_row", "error") == "drop"
    result = LoadResult(rows=[])
    for index, row in enumerate(table):
        try:
            result.rows.append(_normalise(name, spec, row, index, where))
        except BadRow as err:
            if not drop:
                raise
            result.dropped.append(str(err))
    if result.dropped:
        count = len(result.dropped)
        logger.warning(
            "%s: dropped %d of %d rows as bad; first: %s", where, count, len(table), result.dropped[0]
        )
    if not result.rows:
        raise ValueError(f"{where}: every row was dropped as bad ({len(result.dropped)} rows)")
    first_at: dict[str, int] = {}
    for index, row in enumerate(result.rows):
        if row["id"] in first_at:
            raise ValueError(
                f"{where}: id {row['id']!r} repeats (normalised rows {first_at[row['id']]} and {index}); "
                "drop fields.id from the spec to number rows instead"
            )
        first_at[row["id"]] = index
    return result


def write_rows(path: str | os.PathLike, rows: Sequence[Mapping[str, str]]) -> None:
    """Write normalised rows to JSONL atomically: a crash never leaves a half-written file for later rules."""
    for index, row in enumerate(rows):
        if set(row) != set(REQUIRED_FIELDS):
            raise ValueError(f"row {index} has fields {sorted(row)}, expected {list(REQUIRED_FIELDS)}")
    write_jsonl(path, rows)
