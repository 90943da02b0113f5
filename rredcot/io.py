"""Atomic file and folder output, and JSONL logs that survive a killed run.

Every artifact a later rule reads is written to a temporary file (or folder) in the same folder and renamed
into place, so a crash never leaves a half-written one behind (``os.replace`` is atomic on POSIX filesystems).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs are shared on clusters
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, writer: bool = True) -> Iterator[Path]:
    """Yield a fresh staging path beside the folder ``path``, for the block to build the folder at; if the
    block succeeds, swap it onto ``path``. The old folder is moved aside before the new one is renamed in,
    so ``path`` never holds a mix of the two; a run killed meanwhile leaves a staging folder that the next
    run clears.

    ``writer=False`` (every process of a distributed save but the one that writes) yields the same path and
    touches nothing."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.partial")
    old = path.with_name(f".{path.name}.old")
    if not writer:
        yield staging
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    try:
        yield staging
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)
        os.replace(staging, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def append_jsonl(path: str | os.PathLike, row: dict) -> None:
    """Append one record and flush it to disk: logs that grow during a run survive a kill."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL log; a torn last line (the process died mid-write) is ignored, other bad lines raise."""
    path = Path(path)
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):
                break
            raise ValueError(f"{path}: line {number} is not valid JSON: {err}") from err
    return rows


def resume_jsonl(path: str | os.PathLike) -> list[dict]:
    """What an interrupted run appended to the log ``path`` (nothing if it never started); a torn last line is
    dropped from the file too, so that appending goes on after a whole line."""
    path = Path(path)
    if not path.exists():
        return []
    rows = read_jsonl(path)
    write_jsonl(path, rows)
    return rows


def resume_records(
    path: str | os.PathLike, ids: Collection[str], settings_differ: Callable[[dict], str | None]
) -> dict[str, dict]:
    """The per-problem records, by id, of an interrupted run's log (:func:`resume_jsonl`). A record of another
    problem, or one for which ``settings_differ`` says how its settings differ, stops the run: a rerun must
    not mix records made with other settings into its output."""
    records = resume_jsonl(path)
    for number, record in enumerate(records, start=1):
        where = f"{path}, record {number}"
        if record.get("id") not in ids:
            raise ValueError(f"{where}: id {record.get('id')!r} is not among this run's problems")
        difference = settings_differ(record)
        if difference:
            raise ValueError(
                f"{where}: {difference}; delete the partial log to start over with the new settings"
            )
    return {record["id"]: record for record in records}


def remove_resume_state(*paths: str | os.PathLike) -> None:
    """Remove a finished job's resume state (partial logs, checkpoint folders); missing paths are skipped.

    That state serves an interrupted job only. Left behind by a finished one, a rerun (new settings in the
    config, new code, ``--forcerun``) would resume from it and return the old result: a finished training run
    resumes at its last step and trains nothing. So each stage calls this once its outputs are written."""
    for path in map(Path, paths):
        if path.is_dir():
            # renamed first: a job killed mid-removal must not leave a checkpoint that looks complete
            doomed = path.with_name(f".{path.name}.removing")
            shutil.rmtree(doomed, ignore_errors=True)
            path.rename(doomed)
            shutil.rmtree(doomed)
        else:
            path.unlink(missing_ok=True)
