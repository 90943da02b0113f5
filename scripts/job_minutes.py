"""Where a Snakemake run's time went: per rule, its finished jobs and their job-minutes, from the run's logs.

    python scripts/job_minutes.py .snakemake/log/<run>.snakemake.log [more logs of the same run ...] \
        [--extra install=56] [--csv paper_tables/testbed/cold_run.csv]

A job's minutes run from the timestamp before its ``rule <name>:`` block to the one before its ``Finished
jobid`` line; jobs that never finished (failed, or still running when the log ends) are counted apart. Jobs
run side by side, so job-minutes add up to more than the wall clock, which is each log's span from its first
timestamp to its last, summed over the logs (a rerun after a failure is a second log).
``--extra NAME=SECONDS`` adds a duration measured outside Snakemake (the install before it) as a row of its
own. Rows: ``rule``, ``jobs``, ``unfinished``, ``minutes``; the totals come last.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

TIMESTAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
RULE = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def parse_log(lines: Iterable[str]) -> tuple[dict[str, list[float]], dict[str, int], float]:
    """Per rule the minutes of its finished jobs, per rule its unfinished jobs, and the log's span in
    seconds."""
    started: dict[str, tuple[str, datetime]] = {}
    minutes: dict[str, list[float]] = {}
    stamp = first = None
    rule = None
    for line in lines:
        line = line.rstrip("\n")
        if found := TIMESTAMP.match(line):
            stamp = datetime.strptime(" ".join(found[1].split()), "%a %b %d %H:%M:%S %Y")
            first = first or stamp
        elif (found := RULE.match(line)) and stamp is not None:
            rule = (found[1], stamp)
        elif (found := JOBID.match(line)) and rule is not None:
            started[found[1]] = rule
            rule = None
        elif (found := FINISHED.match(line)) and found[1] in started:  # else started in another log
            name, start = started.pop(found[1])
            minutes.setdefault(name, []).append((stamp - start).total_seconds() / 60)
    unfinished: dict[str, int] = {}
    for name, _ in started.values():
        unfinished[name] = unfinished.get(name, 0) + 1
    span = (stamp - first).total_seconds() if first else 0.0
    return minutes, unfinished, span


def job_minutes(logs: Sequence[str | Path], extra: dict[str, float]) -> list[dict]:
    """The table's rows for the logs of one run (see the module docstring), rules by job-minutes."""
    minutes: dict[str, list[float]] = {}
    unfinished: dict[str, int] = {}
    wall = 0.0
    for path in logs:
        with open(path) as f:
            found, left, span = parse_log(f)
        for name, values in found.items():
            minutes.setdefault(name, []).extend(values)
        for name, n in left.items():
            unfinished[name] = unfinished.get(name, 0) + n
        wall += span
    rules = sorted(set(minutes) | set(unfinished), key=lambda name: -sum(minutes.get(name, [])))
    rows = [
        {
            "rule": name,
            "jobs": len(minutes.get(name, [])),
            "unfinished": unfinished.get(name, 0),
            "minutes": round(sum(minutes.get(name, [])), 2),
        }
        for name in rules
    ]
    rows.append(
        {
            "rule": "all jobs",
            "jobs": sum(r["jobs"] for r in rows),
            "unfinished": sum(r["unfinished"] for r in rows),
            "minutes": round(sum(r["minutes"] for r in rows), 2),
        }
    )
    rows.append(
        {"rule": "wall clock (snakemake)", "jobs": "", "unfinished": "", "minutes": round(wall / 60, 2)}
    )
    for name, seconds in extra.items():
        rows.append(
            {"rule": f"wall clock ({name})", "jobs": "", "unfinished": "", "minutes": round(seconds / 60, 2)}
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("logs", nargs="+", help="the Snakemake logs of one run, in order")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=SECONDS")
    parser.add_argument("--csv", type=Path, help="write the table here (else to stdout)")
    args = parser.parse_args(argv)
    extra = {}
    for item in args.extra:
        name, _, seconds = item.partition("=")
        extra[name] = float(seconds)
    rows = job_minutes(args.logs, extra)
    out = args.csv.open("w", newline="") if args.csv else sys.stdout
    writer = csv.DictWriter(out, fieldnames=["rule", "jobs", "unfinished", "minutes"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
