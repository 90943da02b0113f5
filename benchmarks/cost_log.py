"""The long-format CSV every benchmark appends to: ``paper_tables/<scale>/compute_cost.csv``.

One row per measured quantity, so benchmarks with different settings share one file and a reader can pivot
it: ``benchmark`` (which script), ``setting`` (e.g. ``K=16`` or ``method=rredcot``), ``quantity`` (e.g.
``one_pass_wall_s``), its ``min`` and ``median`` over ``repeats``, the machine and versions it ran on, and
``load_1min``: the machine's 1-minute load average as the benchmark started, before it did any work. The
report's cost verdicts read only rows measured on a quiet machine (``load_1min`` below
``rredcot.artifacts.claims.QUIET_LOAD``): a timing taken beside other work says more about that work than
about the method. Work that starts during a run is not caught; each script alternates the methods it compares,
so such work slows both sides of a ratio alike.
"""

from __future__ import annotations

import csv
import datetime
import os
import platform
import sys
from pathlib import Path

import torch
import transformers

from rredcot.artifacts.logs import BENCHMARK_COST_COLUMNS

FIELDS = BENCHMARK_COST_COLUMNS  # the columns the report reads them by


def machine(threads: int) -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()}, {os.cpu_count()} cores"
    return f"{platform.machine()} {platform.processor() or 'cpu'}, {os.cpu_count()} cores, {threads} threads"


def versions() -> str:
    import trl

    return (
        f"python {sys.version.split()[0]}, torch {torch.__version__},"
        f" transformers {transformers.__version__}, trl {trl.__version__}"
    )


def model_label(model: str) -> str:
    """A model as the table names it: a hub id or relative path as given, a local directory relative to the
    checkout it lies in (a committed table carries no absolute path of the machine that made it)."""
    path = Path(model)
    if not path.is_absolute():
        return model
    root = Path(__file__).resolve().parents[1]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return path.name


def load_at_start() -> float:
    """The 1-minute load average now: call it before the benchmark does any work."""
    return os.getloadavg()[0]


def append_rows(
    path: Path, benchmark: str, rows, *, model: str, params: int, threads: int, load: float
) -> None:
    """Append ``rows`` of (setting, quantity, min, median, repeats), writing the header to a new file.
    ``load``: :func:`load_at_start`, taken before the benchmark ran."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with path.open(newline="") as f:
            header = tuple(next(csv.reader(f)))
        if header != FIELDS:
            raise ValueError(f"{path}: its header {header} is not this script's {FIELDS}; start a new file")
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    context = [model_label(model), params, machine(threads), versions(), stamp, f"{load:.2f}"]
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(FIELDS)
        for setting, quantity, low, mid, repeats in rows:
            writer.writerow([benchmark, setting, quantity, f"{low:.6g}", f"{mid:.6g}", repeats, *context])
