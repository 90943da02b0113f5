"""The continuation spec: its defaults are the trainer's, and a bad field stops with its name."""

from __future__ import annotations

from dataclasses import asdict, fields

import pytest

from rredcot.continuation import TEXT_FIELDS, Continuation
from rredcot.trainer import RREDCoTConfig


def test_the_trainer_config_defaults_to_the_spec(tmp_path):
    defaults = {f.name: f.default for f in fields(RREDCoTConfig)}
    spec = asdict(Continuation())
    assert {name: defaults[name] for name in TEXT_FIELDS} == {name: spec[name] for name in TEXT_FIELDS}
    assert defaults["value_estimator"] == spec["estimator"]
    config = RREDCoTConfig(output_dir=str(tmp_path), use_cpu=True, num_generations=4)
    assert config.continuation == Continuation()


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
