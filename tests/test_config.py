"""Experiment configs: every shipped scale validates; a mistyped or out-of-range field stops with its name."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rredcot.train import _config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "experiments" / "schema.yaml")
SCALES = ["smoke", "tiny", "nano", "paper"]


def load(scale: str) -> dict:
    return yaml.safe_load((ROOT / "experiments" / f"{scale}.yaml").read_text())


@pytest.mark.parametrize("scale", SCALES)
def test_shipped_config_validates(scale):
    config = load(scale)
    validate(config, SCHEMA)
    assert config["scale"] == scale


@pytest.mark.parametrize("scale", SCALES)
def test_every_run_of_a_config_makes_a_trainer_config(scale, tmp_path):
    """The schema passes TRL fields through; TRL must know them, or a GPU job fails at its first second."""
    train = load(scale)["train"]
    runs = {m: {} for m in train["methods"]} | {
        name: variant for name, variant in (train.get("variants") or {}).items()
    }
    for name, variant in runs.items():
        method = variant.get("method", name)
        trl = {**train["trl"], **train["method_overrides"].get(method, {}), **variant.get("trl", {})}
        rredcot = {**train["rredcot"], **variant.get("rredcot", {})} if method == "rredcot" else None
        config = _config(method, tmp_path, 0, trl, rredcot)
        assert config.max_steps == trl["max_steps"] and config.loss_type == trl["loss_type"]


@pytest.mark.parametrize("scale", SCALES)
def test_benchmarks_match_between_data_and_eval(scale):
    config = load(scale)
    data = config["data"]
    names = data["synthetic"]["benchmarks"] if data["kind"] == "synthetic" else data["hub"]["benchmarks"]
    assert set(names) == set(config["eval"]["benchmarks"])


@pytest.mark.parametrize("scale", SCALES)
def test_hub_datasets_named_by_a_config_exist_in_the_catalog(scale):
    config = load(scale)
    if config["data"]["kind"] != "hub":
        pytest.skip("synthetic data")
    hub = config["data"]["hub"]
    catalog = yaml.safe_load((ROOT / hub["catalog"]).read_text())["hub_datasets"]
    assert {hub["train"], *hub["benchmarks"]} <= set(catalog)


def _error(mutate) -> str:
    config = copy.deepcopy(load("smoke"))
    mutate(config)
    with pytest.raises(WorkflowError) as err:
        validate(config, SCHEMA)
    return str(err.value)


def test_mistyped_key_is_rejected_with_its_name():
    message = _error(lambda c: c["train"]["rredcot"].update(sigma_mxi=0.3))
    assert "sigma_mxi" in message


def test_missing_loss_relevant_field_is_rejected():
    message = _error(lambda c: c["train"]["trl"].pop("beta"))
    assert "beta" in message


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        (("train", "rredcot"), "sigma_mix", 1.5),
        (("train", "rredcot"), "value_space", "sqrt"),
        (("train", "trl"), "num_generations", 1),
        (("eval",), "temperature", -1.0),
        (("data", "synthetic", "train"), "check_prob", 2.0),
    ],
)
def test_out_of_range_value_is_rejected(section, field, value):
    def mutate(config):
        node = config
        for key in section:
            node = node[key]
        node[field] = value

    message = _error(mutate)
    assert repr(value) in message or str(value) in message
