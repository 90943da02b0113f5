"""The continuation spec: its defaults are the trainer's, a bad field stops with its name, and the Snakefile
can import it without the project's dependencies."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from rredcot.continuation import TEXT_FIELDS, VALUE_OPTION_FIELDS, Continuation
from rredcot.pipeline.analysis import ValueOptions
from rredcot.trainer import RREDCOT_FIELDS, RREDCoTConfig

ROOT = Path(__file__).resolve().parents[1]


def test_the_trainer_config_defaults_to_the_spec(tmp_path):
    defaults = {f.name: f.default for f in fields(RREDCoTConfig)}
    spec = asdict(Continuation())
    assert {name: defaults[name] for name in TEXT_FIELDS} == {name: spec[name] for name in TEXT_FIELDS}
    assert defaults["value_estimator"] == spec["estimator"]
    config = RREDCoTConfig(output_dir=str(tmp_path), use_cpu=True, num_generations=4)
    assert config.continuation == Continuation()
    assert set(VALUE_OPTION_FIELDS) <= set(RREDCOT_FIELDS)  # what the analysis rules pass exists in training


def test_the_analyses_value_with_the_training_fields():
    section = {"end_of_thinking": "</think>\n", "exit_string": "So: ", "answer_template": "[{answer}]"}
    options = ValueOptions.from_config({**section, "value_batch_tokens": 512})
    assert options == ValueOptions(Continuation(**section), 512)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"estimator": "mc"}, "estimator must be one of"),
        ({"answer_template": "\\boxed{}"}, "answer_template must be a str.format template of {answer}"),
        ({"answer_template": "{answer} of {total}"}, "answer_template"),
        ({"end_of_thinking": None}, "end_of_thinking must be a string"),
    ],
)
def test_a_bad_field_is_named(spec, message):
    with pytest.raises(ValueError, match=message):
        Continuation(**spec)


def test_a_bad_continuation_field_stops_the_trainer_config(tmp_path):
    with pytest.raises(ValueError, match="answer_template must be a str.format template"):
        RREDCoTConfig(output_dir=str(tmp_path), use_cpu=True, num_generations=4, answer_template="\\boxed{}")


def test_the_spec_needs_only_the_standard_library():
    """The Snakefile imports VALUE_OPTION_FIELDS in whatever environment runs Snakemake."""
    heavy = ("numpy", "torch", "transformers", "math_verify")
    code = f"import sys, rredcot.continuation; print(sorted(set({heavy!r}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
