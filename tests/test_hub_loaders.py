"""Hub loaders on local fixtures in each hub's schema, using the real specs of experiments/datasets.yaml."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from rredcot.io import read_jsonl
from rredcot.pipeline.data.hub import load_hub_dataset, write_rows

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "hub"
SPECS = yaml.safe_load((ROOT / "experiments" / "datasets.yaml").read_text())["hub_datasets"]
EXTENSION = {"json": "jsonl", "parquet": "parquet"}


@pytest.fixture(autouse=True)
def _isolated_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")


def fixture_of(name: str) -> Path:
    return FIXTURES / f"{name}.{EXTENSION[SPECS[name]['format']]}"


def load_fixture(name: str):
    return load_hub_dataset(name, SPECS[name], data_files=fixture_of(name))


def write_json_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


# One fully asserted row per dataset, picked to exercise that dataset's quirk:
# name -> (row index, id, problem, solution, answer); source is always the name.
# fmt: off
EXPECTED = {
    "open_rs": (2, "open_rs/2", "Find $x$ if $x^2 = 2$ and $x > 0$.", "So $x = \\boxed{\\sqrt{2}}$.",
                "\\sqrt{2}"),
    # the answer is the *last* box of the solution; the id is the row index
    "numina_cot": (1, "numina_cot/1", "Sum the first 10 positive integers.",
                   "First guess \\boxed{50}; checking, $10 \\cdot 11 / 2 = 55$, so $\\boxed{55}$.", "55"),
    "math500": (0, "math500/test/precalculus/807.json", "Convert the point $(0,3)$ to polar coordinates.",
                "Here $r = 3$, $\\theta = \\frac{\\pi}{2}$: $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.",
                "\\left( 3, \\frac{\\pi}{2} \\right)"),
    "aime24": (1, "aime24/61", "How many divisors does $360$ have?",
               "$360 = 2^3 3^2 5$, so $4 \\cdot 3 \\cdot 2 = 24$.", "024"),
    # no reference solution: solution is ""; int64 answers become text
    "aime25": (2, "aime25/3", "How many subsets does a 9-element set have?", "", "512"),
    "aime26": (2, "aime26/3", "Find the answer to this invented problem three.", "", "0"),
    # float64 answers: 27.0 -> "27"
    "amc23": (0, "amc23/0", "Two cyclists meet after riding toward each other; how far did one ride?", "",
              "27"),
    "minerva": (1, "minerva/1", "Give the exponent $n$ in $1.5 \\times 10^{n}$ for $0.0015$.",
                "Since $0.0015 = 1.5 \\times 10^{-3}$, $n = \\boxed{-3}$.", "-3"),
}
# fmt: on


def test_every_configured_dataset_has_a_fixture_and_an_expectation():
    assert set(SPECS) == set(EXPECTED) == {p.stem for p in FIXTURES.glob("*.*") if p.suffix != ".py"}


def test_fixture_files_match_their_generator():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    make_fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_fixtures)
    for name, (schema, rows) in make_fixtures.PARQUET.items():
        expected = pa.Table.from_pylist(rows, schema=schema)
        assert pq.read_table(FIXTURES / f"{name}.parquet").equals(expected), name
    math500 = (FIXTURES / "math500.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in math500] == make_fixtures.MATH500


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_normalises_to_schema(name):
    result = load_fixture(name)
    assert result.dropped == []
    assert len(result.rows) == 3
    index, id_, problem, solution, answer = EXPECTED[name]
    assert result.rows[index] == {
        "id": id_, "problem": problem, "solution": solution, "answer": answer, "source": name
    }  # fmt: skip
    for row in result.rows:
        assert list(row) == ["id", "problem", "solution", "answer", "source"]
        assert all(isinstance(value, str) for value in row.values())
        assert row["answer"] and row["problem"]


def test_amc_fractional_float_answer_keeps_its_decimals():
    assert [row["answer"] for row in load_fixture("amc23").rows] == ["27", "2.5", "36"]


def test_data_files_accepts_a_list():
    result = load_hub_dataset("aime26", SPECS["aime26"], data_files=[fixture_of("aime26")])
    assert [row["id"] for row in result.rows] == ["aime26/1", "aime26/2", "aime26/3"]


OPEN_RS_JSON = dict(SPECS["open_rs"], format="json")
GOOD = {"problem": "Compute $1+1$.", "solution": "$\\boxed{2}$", "answer": "2", "level": "Easy"}


def test_missing_field_names_file_row_and_field(tmp_path):
    path = write_json_rows(tmp_path / "bad.jsonl", [GOOD, GOOD, dict(GOOD, answer=None)])
    with pytest.raises(ValueError, match=r"bad\.jsonl: row 2: field 'answer' \(column 'answer'\) is missing"):
        load_hub_dataset("open_rs", OPEN_RS_JSON, data_files=path)


def test_blank_problem_is_missing(tmp_path):
    path = write_json_rows(tmp_path / "blank.jsonl", [dict(GOOD, problem="   ")])
    with pytest.raises(ValueError, match=r"blank\.jsonl: row 0: field 'problem'"):
        load_hub_dataset("open_rs", OPEN_RS_JSON, data_files=path)


def test_unparsable_answer_names_file_row_and_field(tmp_path):
    path = write_json_rows(tmp_path / "unparsable.jsonl", [GOOD, dict(GOOD, answer="\\frac{1}{")])
    with pytest.raises(ValueError, match=r"unparsable\.jsonl: row 1: field 'answer': math-verify cannot"):
        load_hub_dataset("open_rs", OPEN_RS_JSON, data_files=path)


def test_solution_without_box_is_a_bad_answer(tmp_path):
    spec = dict(SPECS["numina_cot"], format="json", on_bad_row="error")
    path = write_json_rows(tmp_path / "numina.jsonl", [{"problem": "p", "solution": "the answer is 4"}])
    with pytest.raises(ValueError, match=r"numina\.jsonl: row 0: field 'answer': column 'solution' has no"):
        load_hub_dataset("numina_cot", spec, data_files=path)


def test_drop_mode_counts_logs_and_keeps_the_good_rows(tmp_path, caplog):
    other = dict(GOOD, problem="Compute $2+2$.", answer="4")
    rows = [GOOD, dict(GOOD, answer=None), other, dict(GOOD, answer="}{")]
    path = write_json_rows(tmp_path / "mixed.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="rredcot.pipeline.data.hub"):
        result = load_hub_dataset("open_rs", dict(OPEN_RS_JSON, on_bad_row="drop"), data_files=path)
    assert [row["id"] for row in result.rows] == ["open_rs/0", "open_rs/2"]  # ids keep the original row index
    assert len(result.dropped) == 2
    assert "row 1: field 'answer'" in result.dropped[0] and "row 3: field 'answer'" in result.dropped[1]
    assert "dropped 2 of 4 rows" in caplog.text


def test_drop_mode_with_nothing_left_is_an_error(tmp_path):
    path = write_json_rows(tmp_path / "allbad.jsonl", [dict(GOOD, answer="")])
    with pytest.raises(ValueError, match="every row was dropped"):
        load_hub_dataset("open_rs", dict(OPEN_RS_JSON, on_bad_row="drop"), data_files=path)


def test_empty_dataset_is_an_error(tmp_path):
    path = tmp_path / "empty.parquet"
    datasets.Dataset.from_dict({"problem": [], "solution": [], "answer": []}).to_parquet(path)
    with pytest.raises(ValueError, match=r"empty\.parquet: no rows"):
        load_hub_dataset("open_rs", SPECS["open_rs"], data_files=path)
    (tmp_path / "empty.jsonl").touch()
    with pytest.raises(ValueError, match=r"empty\.jsonl: no rows"):
        load_hub_dataset("open_rs", OPEN_RS_JSON, data_files=tmp_path / "empty.jsonl")


def test_missing_column_is_an_error(tmp_path):
    path = write_json_rows(tmp_path / "renamed.jsonl", [{"question": "q", "solution": "s", "answer": "1"}])
    with pytest.raises(ValueError, match=r"renamed\.jsonl: columns \['problem'\] not found"):
        load_hub_dataset("open_rs", OPEN_RS_JSON, data_files=path)


def test_repeated_id_is_an_error(tmp_path):
    spec = dict(SPECS["aime25"], format="json")
    rows = [{"problem_idx": 1, "problem": "p", "answer": 1}, {"problem_idx": 1, "problem": "q", "answer": 2}]
    with pytest.raises(ValueError, match="'aime25/1' repeats"):
        load_hub_dataset("aime25", spec, data_files=write_json_rows(tmp_path / "dup.jsonl", rows))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hub_id": None}, "'hub_id' is required"),
        ({"format": "csv"}, "format must be one of"),
        ({"on_bad_row": "skip"}, "on_bad_row must be"),
        ({"split_name": "train"}, "unknown keys"),
        ({"answer_from_boxed": "solution"}, "exactly one of fields.answer and answer_from_boxed"),
        ({"fields": {"problem": "problem", "answr": "answer"}}, "unknown fields"),
    ],
)
def test_bad_spec_names_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        load_hub_dataset("open_rs", {**SPECS["open_rs"], **change}, data_files=fixture_of("open_rs"))


def test_write_rows_round_trips_and_checks_the_schema(tmp_path):
    rows = load_fixture("minerva").rows
    write_rows(tmp_path / "out" / "minerva.jsonl", rows)
    assert read_jsonl(tmp_path / "out" / "minerva.jsonl") == rows
    with pytest.raises(ValueError, match="row 0 has fields"):
        write_rows(tmp_path / "bad.jsonl", [{"id": "x"}])
    assert not (tmp_path / "bad.jsonl").exists()
