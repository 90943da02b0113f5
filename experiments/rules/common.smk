# Shared names and helpers for every stage. Paths are relative to the working directory.
import json
import math
import os
import shlex
import sys

import yaml
from snakemake.settings.types import DeploymentMethod

# The train.rredcot fields the analyses value with are named once, in the library, and the rules pass only
# those (not the whole section, so that editing another training field reruns no analysis). A run's settings
# are composed once, by the function the CLI and the tests use. Both modules of this checkout need only the
# standard library: they import in whatever environment runs Snakemake.
sys.path.insert(0, workflow.basedir)
from rredcot.continuation import VALUE_OPTION_FIELDS
from rredcot.pipeline.settings import run_settings

SCALE = config["scale"]
# results_root may point at scratch space (the results are large); figures/ and paper_tables/ stay here.
RESULTS = os.path.join(config.get("results_root", "results"), SCALE)
# Every rule's software: the conda environment of environment.yml (its dependencies) under
# --software-deployment-method conda, where a job runs that environment's python on this checkout's code;
# otherwise the interpreter running Snakemake, into which rredcot is installed.
CONDA_ENV = "../../environment.yml"  # relative to experiments/rules/, where every rule is defined
GPU_CONDA_ENV = "../envs/gpu.yaml"  # requirements-gpu.lock: the same plus the gpu extra, for stages on GPUs
ON_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
RUN_ENV = f"PYTHONPATH={shlex.quote(workflow.basedir)} " if ON_CONDA else ""
PYTHON = f"{RUN_ENV}python" if ON_CONDA else sys.executable
METHODS = config["train"]["methods"]
SEEDS = config["train"]["seeds"]
VARIANTS = config["train"]["variants"]
EVAL_SPLITS = list(config["eval"]["benchmarks"])


def as_json(section):
    """A config section as one shell-quotable JSON argument (rules pass only what they use)."""
    return json.dumps(section, sort_keys=True)


def stage_resources(stage):
    """Resources of a stage from the config; the executor (local or SLURM) maps them to a job."""
    return config["resources"][stage]


def conda_env(stage):
    """A stage's conda environment: the GPU lock's where the config gives the stage GPUs."""
    return GPU_CONDA_ENV if stage_resources(stage).get("gpu", 0) else CONDA_ENV


def launcher(stage):
    """`accelerate launch` with one process per GPU for multi-GPU stages, plain Python otherwise."""
    res = stage_resources(stage)
    gpus = res.get("gpu", 0)
    if gpus > 1:
        accelerate_config = config["train"]["accelerate_config"]
        accelerate = f"{RUN_ENV}accelerate launch --config_file {accelerate_config} --num_processes {gpus}"
        return f"{accelerate} -m rredcot.pipeline.cli"
    return f"{PYTHON} -m rredcot.pipeline.cli"


def base_model_ref():
    """The base policy: the tiny SFT model built by this pipeline, or a hub id / local path."""
    if config["base_model"]["kind"] == "sft":
        return f"{RESULTS}/base_model"
    return config["base_model"]["name_or_path"]


def base_model_inputs():
    """The base model as a named input where this pipeline builds it (kind: sft), for `**` in an input."""
    return {"base_model": f"{RESULTS}/base_model"} if config["base_model"]["kind"] == "sft" else {}


SPREAD_SEEDS = config["base_model"].get("spread_seeds", [])
if config["seed"] in SPREAD_SEEDS:
    raise ValueError(f"base_model.spread_seeds {SPREAD_SEEDS} repeats the top-level seed {config['seed']}")
# SFT of the tiny base model, shared by the main base and the spread bases.
SFT_SHELL = (
    "{params.python} -m rredcot.pipeline.cli sft --base-json {params.base:q} --train {input.train}"
    " --seed {params.seed} --out {output} --threads {threads} > {log} 2>&1"
)


def base_model_param(wildcards, input):
    """--model of the base policy: the job's base_model input, or the configured hub id / local path."""
    return input.base_model if config["base_model"]["kind"] == "sft" else config["base_model"]["name_or_path"]


CONTROL_RUNS = [run for runs in config["artifacts"]["controls"].values() for run in runs]
for _run in CONTROL_RUNS:
    if _run.rsplit("/", 1)[0] not in VARIANTS:
        raise ValueError(f"artifacts.controls names {_run!r}, whose run is not in train.variants")


def spread_policies():
    """The base models of the other SFT seeds, as evaluated policies."""
    return [f"base/seed{s}" for s in SPREAD_SEEDS]


def policy_tags():
    """Every evaluated policy: the base model, the spread bases, each trained (method, seed) and the control
    runs."""
    return ["base"] + spread_policies() + [f"{m}/seed{s}" for m in METHODS for s in SEEDS] + CONTROL_RUNS


def evaluation_targets():
    return expand(f"{RESULTS}/eval/{{policy}}/{{split}}.json", policy=policy_tags(), split=EVAL_SPLITS)


# ------------------------------------------------------------------------------------------------- data
def data_section():
    """The data config, with the hub catalog entries it names inlined (so editing them reruns this rule)."""
    data = dict(config["data"])
    if data["kind"] == "hub":
        hub = dict(data["hub"])
        catalog_path = os.path.join(workflow.basedir, hub.pop("catalog"))
        with open(catalog_path) as f:
            catalog = yaml.safe_load(f)["hub_datasets"]
        names = [hub["train"], *hub["benchmarks"]]
        missing = [name for name in names if name not in catalog]
        if missing:
            raise ValueError(f"data.hub names datasets missing from {catalog_path}: {missing}")
        hub["datasets"] = {name: catalog[name] for name in names}
        data["hub"] = hub
    return data


# ------------------------------------------------------------------------------------------- evaluation
def policy_model(policy):
    if policy == "base":
        return base_model_ref()
    if policy.startswith("base/"):  # base/seed<n>: a spread base
        return f"{RESULTS}/base_model_{policy.split('/')[1]}"
    return f"{RESULTS}/train/{policy}/model"


def evaluation_settings(split):
    """The sampling settings plus this benchmark's own (n_samples, pass_k); other benchmarks left out."""
    shared = {key: value for key, value in config["eval"].items() if key != "benchmarks"}
    return {**shared, "benchmark": config["eval"]["benchmarks"][split]}


def policy_inputs(wildcards):
    if wildcards.policy == "base":
        return list(base_model_inputs().values())
    return [policy_model(wildcards.policy)]  # a spread base or a trained policy


# -------------------------------------------------------------------------------------------- analysis
ANALYSIS = config["analysis"]
ANALYSIS_BENCHMARK = ANALYSIS["benchmark"]
SEGMENTATION_VARIANTS = list(ANALYSIS["segmentation_variants"])

if ANALYSIS_BENCHMARK not in EVAL_SPLITS:
    raise ValueError(
        f"analysis.benchmark {ANALYSIS_BENCHMARK!r} is not an evaluation benchmark {EVAL_SPLITS}"
    )
# The schema bounds each share; what it cannot say is checked here, before any job, as the analysis does:
# the shares sum to at most 1, and their minimum counts (share × n_traces, rounded up) fit in n_traces.
_SHARES = {key: ANALYSIS[key] for key in ("min_incorrect_share", "min_correct_share")}
if sum(_SHARES.values()) > 1 + 1e-9:
    raise ValueError(f"analysis.min_incorrect_share + analysis.min_correct_share must be <= 1, got {_SHARES}")
if sum(math.ceil(share * ANALYSIS["n_traces"] - 1e-9) for share in _SHARES.values()) > ANALYSIS["n_traces"]:
    raise ValueError(
        f"analysis: {_SHARES} of n_traces={ANALYSIS['n_traces']}, each rounded up, add up to more than n_traces"
    )


def value_options():
    """The train.rredcot fields the analyses value with: they score the continuations training scores."""
    return {field: config["train"]["rredcot"][field] for field in VALUE_OPTION_FIELDS}


def analysis_settings():
    return as_json({**ANALYSIS, "value_options": value_options()})


def analysis_targets():
    credit = [f"{RESULTS}/analysis/credit.jsonl", f"{RESULTS}/analysis/credit_draws.jsonl"]
    return [*credit, f"{RESULTS}/analysis/value_sanity.json"] + expand(
        f"{RESULTS}/analysis/segmentation/{{variant}}.jsonl", variant=SEGMENTATION_VARIANTS
    )


def value_sanity_settings():
    sanity = ANALYSIS["value_sanity"]
    return as_json(
        {
            **sanity,
            "options": value_options(),
            "bootstrap_resamples": config["artifacts"]["bootstrap_resamples"],
            "ci_level": config["artifacts"]["ci_level"],
            "dtype": ANALYSIS["dtype"],
            "device": ANALYSIS["device"],
        }
    )
