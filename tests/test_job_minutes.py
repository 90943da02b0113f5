"""scripts/job_minutes.py: per-rule job-minutes and the wall clock of a Snakemake log, on a hand-made log."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from job_minutes import job_minutes  # noqa: E402

LOG = """Building DAG of jobs...
[Fri Dec  4 20:00:00 2026]
localrule prepare_data:
    output: results/x/data/train.jsonl
    jobid: 3
[Fri Dec  4 20:00:30 2026]
Finished jobid: 3 (Rule: prepare_data)
[Fri Dec  4 20:00:30 2026]
rule train_policy:
    jobid: 1
    wildcards: method=grpo, seed=0
[Fri Dec  4 20:00:30 2026]
rule train_policy:
    jobid: 2
[Fri Dec  4 20:06:30 2026]
Finished jobid: 2 (Rule: train_policy)
[Fri Dec  4 20:10:30 2026]
Finished jobid: 1 (Rule: train_policy)
[Fri Dec  4 20:10:30 2026]
localrule replication_report:
    jobid: 0
[Fri Dec  4 20:10:45 2026]
Error in rule replication_report:
"""


def test_job_minutes_of_a_hand_made_log(tmp_path):
    log = tmp_path / "run.snakemake.log"
    log.write_text(LOG)
    rows = {row["rule"]: row for row in job_minutes([log, log], {"install": 90})}  # the same log twice
    assert rows["train_policy"] == {"rule": "train_policy", "jobs": 4, "unfinished": 0, "minutes": 32.0}
    assert rows["prepare_data"]["minutes"] == 1.0  # 2 × 30 s
    assert (rows["replication_report"]["jobs"], rows["replication_report"]["unfinished"]) == (0, 2)
    assert rows["all jobs"] == {"rule": "all jobs", "jobs": 6, "unfinished": 2, "minutes": 33.0}
    assert rows["wall clock (snakemake)"]["minutes"] == 21.5  # 10 min 45 s per log
    assert rows["wall clock (install)"]["minutes"] == 1.5
    assert list(rows)[:2] == ["train_policy", "prepare_data"]  # by job-minutes


def test_a_job_finished_in_a_log_that_did_not_start_it_is_skipped(tmp_path):
    log = tmp_path / "rerun.snakemake.log"
    log.write_text("[Fri Dec  4 21:00:00 2026]\nFinished jobid: 7 (Rule: train_policy)\n")
    rows = {row["rule"]: row for row in job_minutes([log], {})}
    assert rows["all jobs"] == {"rule": "all jobs", "jobs": 0, "unfinished": 0, "minutes": 0}
