"""Experiment configs: every shipped scale validates; a mistyped or out-of-range field stops with its name."""

import copy
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from rredcot.artifacts.logs import CORRELATIONS
from rredcot.artifacts.tables import read_paper_table
from rredcot.pipeline.analysis import ATTRIBUTION_ESTIMATORS, VARIANTS
from rredcot.pipeline.evaluate import BACKENDS
from rredcot.pipeline.settings import layered_config, run_settings
from rredcot.pipeline.train import METHODS, _config
from rredcot.redistribution import MODES
from rredcot.segmentation import FIELDS as SEGMENTATION_FIELDS
from rredcot.segmentation import STRATEGIES
from rredcot.trainer import RENAMED_RREDCOT_FIELDS, RREDCOT_FIELDS, SUPPORTED_LOSS_TYPES, VALUE_ESTIMATORS
from rredcot.values import SPACES

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
    for run in [*train["methods"], *train["variants"]]:
        settings = run_settings(train, run, 0, scale)
        trl = settings["trl"]
        config = _config(settings["method"], tmp_path, 0, trl, settings["rredcot"])
        assert config.max_steps == trl["max_steps"] and config.loss_type == trl["loss_type"]


def test_run_settings_go_from_shared_to_method_to_variant_then_tracking():
    """A variant is the most specific: its learning rate beats the method's, which beats the shared one."""
    train = copy.deepcopy(load("paper")["train"])
    train["method_overrides"]["rredcot"] = {"learning_rate": 5e-7, "max_steps": 400}  # paper.yaml's rate
    train["variants"] = {
        "rredcot_lr1e-7": {"method": "rredcot", "trl": {"learning_rate": 1e-7}, "rredcot": {"sigma_mix": 1}},
        "grpo_short": {"method": "grpo", "trl": {"max_steps": 10}},
    }
    train["tracking"] = {"report_to": "tensorboard", "run_name": "{scale}/{run}/seed{seed}"}
    shared_lr, shared_steps = train["trl"]["learning_rate"], train["trl"]["max_steps"]
    expected = {  # run: (method, learning_rate, max_steps, rredcot)
        "grpo": ("grpo", shared_lr, shared_steps, None),
        "rredcot": ("rredcot", 5e-7, 400, train["rredcot"]),
        "rredcot_lr1e-7": ("rredcot", 1e-7, 400, {**train["rredcot"], "sigma_mix": 1}),
        "grpo_short": ("grpo", shared_lr, 10, None),
    }
    for run, (method, learning_rate, max_steps, rredcot) in expected.items():
        settings = run_settings(train, run, 3, "paper")
        trl = settings["trl"]
        assert settings["method"] == method
        assert (trl["learning_rate"], trl["max_steps"]) == (learning_rate, max_steps)
        assert settings["rredcot"] == rredcot
        assert (trl["report_to"], trl["run_name"]) == ("tensorboard", f"paper/{run}/seed3")
        assert trl["beta"] == train["trl"]["beta"]  # a field no layer overrides stays the shared one


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


def _setter(section: tuple[str, ...], field: str, value):
    """A mutation for _error: set config[section...][field] = value."""

    def mutate(config):
        node = config
        for key in section:
            node = node[key]
        node[field] = value

    return mutate


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
        (("train", "tracking"), "report_to", "tensorbord"),
        (("train", "tracking"), "run_name", "{method}-{seed}"),
        (("eval",), "temperature", -1.0),
        (("data", "synthetic", "train"), "check_prob", 2.0),
        (("analysis",), "min_correct_share", 1.5),
        (("analysis",), "n_traces", 0),
    ],
)
def test_out_of_range_value_is_rejected(section, field, value):
    message = _error(_setter(section, field, value))
    assert repr(value) in message or str(value) in message


@pytest.mark.parametrize(
    ("section", "field"),
    [
        (("train", "trl"), "report_to"),
        (("train", "method_overrides", "grpo"), "run_name"),
    ],
)
def test_tracking_fields_outside_train_tracking_are_rejected(section, field):
    """One place names a run's tracker: a report_to among the other GRPOConfig fields would shadow it."""
    message = _error(_setter(section, field, "wandb"))
    assert f"set train.tracking.{field} instead" in message
    assert f"['{field}']" in message


def test_train_rule_hands_the_tracker_and_run_name_to_trl(tmp_path):
    config = load("smoke")
    config["train"]["tracking"] = {"report_to": "tensorboard", "run_name": "{scale}/{run}/seed{seed}"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/smoke/train/rredcot_uniform/seed0/metrics.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
        + ["-n", "-p", "--cores", "1", target, "--configfile", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    command = next(line for line in proc.stdout.splitlines() if "rredcot.pipeline.stages train " in line)
    words = shlex.split(command)
    settings = json.loads(words[words.index("train") + 1])["settings"]
    assert settings == run_settings(config["train"], "rredcot_uniform", 0, "smoke")
    assert settings["method"] == "rredcot"
    assert (settings["trl"]["report_to"], settings["trl"]["run_name"]) == (
        "tensorboard",
        "smoke/rredcot_uniform/seed0",
    )


def test_every_pipeline_rule_calls_its_stage_with_exactly_its_keywords(tmp_path):
    """One hop from rule to stage: the JSON a rule's command hands its stage (named inputs, named outputs,
    params, threads) names exactly the stage function's parameters, for every job of the smoke plan (every
    stage; nano's training launch: tests/test_nano_wiring.py)."""
    scale = "smoke"
    import inspect

    from rredcot.pipeline.stages import STAGES

    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
        + ["-n", "-p", "--cores", "1", "--configfile", str(ROOT / "experiments" / f"{scale}.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    called = set()
    for line in proc.stdout.splitlines():
        if "rredcot.pipeline.stages " in line:
            words = shlex.split(line)
            stage = words[words.index("rredcot.pipeline.stages") + 1]
            kwargs = json.loads(words[words.index("rredcot.pipeline.stages") + 2])
            assert kwargs.pop("threads") >= 1
            assert set(kwargs) == set(inspect.signature(STAGES[stage]).parameters), stage
            called.add(stage)
    assert called == set(STAGES)


def test_analysis_backend_reaches_every_analysis_that_rolls_out_mc(tmp_path, monkeypatch):
    """analysis.backend goes from the config through the rules' commands to the credit analysis, the
    segmentation ablation and value sanity."""
    import rredcot.io
    import rredcot.pipeline.analysis as analysis
    import rredcot.pipeline.data.synthetic as synthetic
    import rredcot.pipeline.value_sanity as value_sanity
    from rredcot.pipeline.stages import main

    config = load("smoke")
    config["analysis"]["backend"] = "vllm"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    results = "results/smoke/analysis"
    targets = [
        f"{results}/credit.jsonl",
        f"{results}/segmentation/keyword.jsonl",
        f"{results}/value_sanity.json",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
        + ["-n", "-p", "--cores", "1", *targets, "--configfile", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    called = {}
    for name, module, function, result in [
        ("analyze_credit", analysis, "analyze_credit", []),
        ("analyze_segmentation", analysis, "analyze_segmentations", {}),
        ("value_sanity", value_sanity, "analyze_value_sanity", {"estimators": {}}),
    ]:

        def record(*args, name=name, result=result, **kwargs):
            called[name] = kwargs
            return result

        monkeypatch.setattr(module, function, record)
    monkeypatch.setattr(synthetic, "load_split", lambda path: [])  # the rules' inputs are not built here
    monkeypatch.setattr(rredcot.io, "read_jsonl", lambda path: [])
    monkeypatch.setattr("torch.set_num_threads", lambda threads: None)
    for line in proc.stdout.splitlines():
        if re.search(r"rredcot\.pipeline\.stages (analyze_credit|analyze_segmentation|value_sanity) ", line):
            words = shlex.split(line)
            main(words[words.index("rredcot.pipeline.stages") + 1 : words.index(">")])
    assert sorted(called) == ["analyze_credit", "analyze_segmentation", "value_sanity"]
    assert called["analyze_credit"]["sampling"].backend == "vllm"
    assert called["analyze_segmentation"]["sampling"].backend == "vllm"
    assert called["value_sanity"]["backend"] == "vllm"


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ((0.6, 0.5), "analysis: min_incorrect_share + min_correct_share must be <= 1"),
        ((0.5, 0.5), "round up to 2 + 2 traces, more than n_traces"),  # n_traces 3
    ],
)
def test_trace_quotas_that_cannot_be_met_stop_the_workflow(tmp_path, shares, message):
    """What the schema cannot say about the credit analysis's quotas stops Snakemake before any job."""
    config = load("smoke")
    config["analysis"].update(n_traces=3, min_incorrect_share=shares[0], min_correct_share=shares[1])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
        + ["-n", "--cores", "1", "--configfile", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0 and message in proc.stderr + proc.stdout


def _paper_rows(table: str) -> list[str]:
    return list(read_paper_table(ROOT / "paper_tables" / "paper" / f"{table}.csv").index)


# Every enum of the schema: the list in the code (or the paper's tables) that it copies ...
ENUM_SOURCES = {
    "$defs/estimator_variant": VARIANTS,
    "$defs/segmentation/strategy": STRATEGIES,
    "train/methods/items": METHODS,
    "train/variants/propertyNames/not": METHODS,
    "train/variants/additionalProperties/method": METHODS,
    "train/trl/loss_type": SUPPORTED_LOSS_TYPES,
    "train/rredcot/value_estimator": VALUE_ESTIMATORS,
    "train/rredcot/value_space": SPACES,
    "train/rredcot/sigma_mode": MODES,
    "eval/backend": BACKENDS,
    "analysis/backend": BACKENDS,
    "analysis/attribution_estimator": ATTRIBUTION_ESTIMATORS,
    "artifacts/paper_rows/table1/additionalProperties": _paper_rows("table1"),
    "artifacts/paper_rows/table2/additionalProperties": _paper_rows("table2"),
    "artifacts/correlation": CORRELATIONS,
}
# ... or why no such list exists.
ENUMS_WITHOUT_A_SOURCE = {
    "data/kind": "rredcot.pipeline.stages branches on it",
    "base_model/kind": "base_model.smk branches on it",
    "train/trl/scale_rewards": "TRL's option, named only in GRPOConfig's help text",
    "train/tracking/report_to": "TRL's integrations",
    "eval/dtype": "torch dtype names",
    "analysis/dtype": "torch dtype names",
    "analysis/value_sanity/estimators/items": "the estimators value_sanity scores without a sampled group",
}


def _enums(node, path=()):
    """``(path, enum)`` of every enum below ``node``; a path skips the word ``properties``."""
    if isinstance(node, dict):
        if "enum" in node:
            yield "/".join(path), node["enum"]
        for key, child in node.items():
            yield from _enums(child, path if key == "properties" else (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _enums(child, (*path, str(index)))


def test_every_schema_enum_copies_the_list_in_the_code():
    """An option added in the code but not the schema is refused by every config; one added in the schema
    only fails hours into a run."""
    enums = dict(_enums(yaml.safe_load(Path(SCHEMA).read_text())))
    assert set(enums) == set(ENUM_SOURCES) | set(ENUMS_WITHOUT_A_SOURCE)  # a new enum: name its source here
    differ = {
        path: (enums[path], list(source))
        for path, source in ENUM_SOURCES.items()
        if sorted(enums[path]) != sorted(source)
    }
    assert not differ


def test_schema_section_train_rredcot_is_every_settable_rredcot_config_field():
    section = yaml.safe_load(Path(SCHEMA).read_text())["properties"]["train"]["properties"]["rredcot"]
    fields = set(section["properties"]) - set(RENAMED_RREDCOT_FIELDS)
    assert fields == set(section["required"]) == set(RREDCOT_FIELDS)
    for old, new in RENAMED_RREDCOT_FIELDS.items():  # an old key is refused with its new place
        assert section["properties"][old] == {
            "not": {},
            "description": f"renamed: set train.rredcot.{new} instead",
        }


def test_schema_segmentation_is_the_segmentation_spec():
    """One mapping shape for training, the analysis and its variants: Segmentation's fields."""
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    assert tuple(schema["$defs"]["segmentation"]["properties"]) == SEGMENTATION_FIELDS
    analysis = schema["properties"]["analysis"]["properties"]
    for node in (
        schema["properties"]["train"]["properties"]["rredcot"]["properties"]["segmentation"],
        analysis["segmentation"],
        analysis["segmentation_variants"]["additionalProperties"],
    ):
        assert node["$ref"] == "#/$defs/segmentation"
    assert set(analysis["segmentation"]["required"]) == set(SEGMENTATION_FIELDS)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda c: c["train"]["rredcot"].update(segment_keywords=["\n"]),
            "train.rredcot.segmentation.keywords",
        ),
        (lambda c: c["train"]["rredcot"].update(max_segments=4), "train.rredcot.segmentation.max_segments"),
        (lambda c: c["train"]["rredcot"].update(segmentation="hybrid"), "'hybrid' is not of type 'object'"),
        (lambda c: c["analysis"]["segmentation"].pop("keywords"), "'keywords' is a required property"),
        (lambda c: c["analysis"]["segmentation_variants"]["keyword"].update(k=3), "'k' was unexpected"),
    ],
)
def test_segmentation_in_an_old_or_wrong_spelling_is_rejected(mutate, message):
    assert message in _error(mutate)


def test_a_variant_sets_single_segmentation_fields():
    """A training variant (or an analysis variant) replaces only the segmentation fields it names."""
    train = load("tiny")["train"]
    shared = train["rredcot"]["segmentation"]
    assert run_settings(train, "rredcot_k3", 0, "tiny")["rredcot"]["segmentation"] == {
        **shared,
        "max_segments": 3,
    }
    assert run_settings(train, "rredcot", 0, "tiny")["rredcot"]["segmentation"] == shared


def test_a_run_with_a_renamed_rredcot_field_names_its_new_place(tmp_path):
    """Variants' rredcot fields are not in the schema: the trainer config refuses an old key by name."""
    train = copy.deepcopy(load("tiny")["train"])
    train["variants"]["rredcot_k3"]["rredcot"] = {"max_segments": 3}
    settings = run_settings(train, "rredcot_k3", 0, "tiny")
    with pytest.raises(ValueError, match="max_segments is now segmentation.max_segments"):
        _config("rredcot", tmp_path, 0, settings["trl"], settings["rredcot"])


def test_schema_cites_sections_that_docs_paper_md_has():
    schema = Path(SCHEMA).read_text()
    sections = set(re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "paper.md").read_text(), flags=re.M))
    cited = re.findall(r"\(([\w./]+) §(\d+)(?:-(\d+))?\)", schema)
    assert cited and {source for source, _, _ in cited} == {"docs/paper.md"}
    for _, first, last in cited:
        assert {str(n) for n in range(int(first), int(last or first) + 1)} <= sections


def test_only_the_default_scale_publishes_the_top_level_report():
    """REPLICATION.md is the default scale's report: every other config, and every overlay layered on the
    default's config file, leaves it alone (an overlay that inherited the flag would overwrite it)."""
    experiments = ROOT / "experiments"
    default = re.search(r'configfile: "(.+)"', (ROOT / "Snakefile").read_text()).group(1)
    publishing = [
        path.relative_to(ROOT).as_posix()
        for path in sorted(experiments.glob("*.yaml"))
        if (yaml.safe_load(path.read_text()) or {}).get("artifacts", {}).get("publish_report")
    ]
    assert publishing == [default] == ["experiments/testbed.yaml"]
    for overlay in sorted((experiments / "overlays").glob("testbed_*.yaml")):
        layered = layered_config([ROOT / default, overlay])
        assert layered["artifacts"]["publish_report"] is False, overlay.name
