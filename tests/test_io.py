"""Atomic outputs and crash-tolerant JSONL logs."""

import json

import pytest

from rredcot.io import (
    append_jsonl,
    atomic_dir,
    atomic_path,
    read_jsonl,
    remove_resume_state,
    resume_jsonl,
    resume_records,
    write_json,
)


def test_failed_write_leaves_previous_file_and_no_temp_files(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_write_json_round_trips(tmp_path):
    write_json(tmp_path / "a" / "b.json", {"x": [1, 2]})
    assert json.loads((tmp_path / "a" / "b.json").read_text()) == {"x": [1, 2]}


def test_torn_last_line_is_ignored_but_corruption_inside_raises(tmp_path):
    log = tmp_path / "metrics.jsonl"
    append_jsonl(log, {"step": 1})
    append_jsonl(log, {"step": 2})
    with log.open("a") as f:
        f.write('{"step": 3, "rew')
    assert read_jsonl(log) == [{"step": 1}, {"step": 2}]

    log.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(log)


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    write_json(tmp_path / "summary.json", {})
    assert (tmp_path / "summary.json").stat().st_mode & 0o044 == 0o044  # group and others may read


def test_atomic_dir_replaces_the_whole_folder_or_nothing(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.bin").write_text("old")
    (tmp_path / ".model.partial").mkdir()  # left by a run killed while saving
    (tmp_path / ".model.partial" / "half.bin").write_text("half")

    with pytest.raises(RuntimeError), atomic_dir(target) as staging:
        staging.mkdir()
        (staging / "weights.bin").write_text("half-writ")
        raise RuntimeError("crash mid-save")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in target.iterdir()] == ["stale.bin"]

    with atomic_dir(target) as staging:
        assert not staging.exists()  # the block builds it, e.g. with shutil.copytree
        staging.mkdir()
        (staging / "weights.bin").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in target.iterdir()] == ["weights.bin"]


def test_atomic_dir_of_a_process_that_does_not_write_touches_nothing(tmp_path):
    (tmp_path / ".model.partial").mkdir()  # another process's staging folder
    with atomic_dir(tmp_path / "model", writer=False) as staging:
        assert staging == tmp_path / ".model.partial" and staging.exists()
    assert [p.name for p in tmp_path.iterdir()] == [".model.partial"]


def test_resumed_log_loses_its_torn_line_on_disk(tmp_path):
    log = tmp_path / "partial.jsonl"
    assert resume_jsonl(log) == []
    log.write_text('{"id": "a"}\n{"id": "b", "rew')
    assert resume_jsonl(log) == [{"id": "a"}]
    append_jsonl(log, {"id": "b"})
    assert read_jsonl(log) == [{"id": "a"}, {"id": "b"}]


def test_resumed_records_of_other_problems_or_settings_are_refused(tmp_path):
    log = tmp_path / "partial.jsonl"
    log.write_text('{"id": "a", "n": 2}\n')
    assert resume_records(log, {"a"}, lambda record: None) == {"a": {"id": "a", "n": 2}}
    with pytest.raises(ValueError, match="record 1: id 'a' is not among this run's problems"):
        resume_records(log, {"b"}, lambda record: None)
    with pytest.raises(ValueError, match="record 1: n is 2; delete the partial log"):
        resume_records(log, {"a"}, lambda record: f"n is {record['n']}")


def test_resume_state_is_removed_whole_even_after_a_killed_removal(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / "checkpoint-2").mkdir(parents=True)
    (checkpoints / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (tmp_path / ".checkpoints.removing").mkdir()  # left by a removal killed halfway
    partial = tmp_path / "partial.jsonl"
    partial.write_text('{"id": "a"}\n')
    remove_resume_state(checkpoints, partial, tmp_path / "never-written.jsonl")
    assert list(tmp_path.iterdir()) == []
