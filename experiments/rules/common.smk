# Shared names and helpers for every stage. Paths are relative to the working directory.
import json
import os
import shlex
import sys

import yaml
from snakemake.settings.types import DeploymentMethod

# The train.rredcot fields the analyses value with are named once, in the library, and the rules pass only
# those (not the whole section, so that editing another training field reruns no analysis). A run's settings
# are composed once, by the function the CLI and the tests use, and the analysis's quotas are checked by the
# function the analysis calls. These modules of this checkout need only the standard library: they import in
# whatever environment runs Snakemake.
sys.path.insert(0, workflow.basedir)
from rredcot.continuation import VALUE_OPTION_FIELDS
from rredcot.pipeline.prefetch import OFFLINE_ENV, mirror_dir
from rredcot.pipeline.settings import run_settings
from rredcot.pipeline.strata import check_strata

SCALE = config["scale"]
# results_root may point at scratch space (the results are large); figures/ and paper_tables/ stay here.
RESULTS = os.path.join(config.get("results_root", "results"), SCALE)
# Every rule's software: the conda environment of environment.yml (its dependencies) under
# --software-deployment-method conda, where a job runs that environment's python on this checkout's code;
# otherwise the interpreter running Snakemake, into which rredcot is installed.
CONDA_ENV = "../../environment.yml"  # relative to experiments/rules/, where every rule is defined
GPU_CONDA_ENV = "../envs/gpu.yaml"  # requirements-gpu.lock: the same plus the gpu extra, for stages on GPUs
ON_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
# hub_mirror: the model and datasets come from the hub, fetched once by the local rule `prefetch`; every
# compute job then runs with the hub offline and reads the mirror (rredcot.pipeline.prefetch).
HUB_MIRROR = config.get("hub_mirror")
FROM_HUB = config["data"]["kind"] == "hub" or config["base_model"]["kind"] == "pretrained"
if HUB_MIRROR and not FROM_HUB:
    raise ValueError("hub_mirror is set, but neither the data (kind: hub) nor the model (pretrained) is on the hub")
if config["base_model"].get("revision") and not HUB_MIRROR:
    raise ValueError("base_model.revision is read by `prefetch` alone, which runs where hub_mirror is set")
OFFLINE = "".join(f"{name}={value} " for name, value in OFFLINE_ENV.items()) if HUB_MIRROR else ""
RUN_ENV = OFFLINE + (f"PYTHONPATH={shlex.quote(workflow.basedir)} " if ON_CONDA else "")
PYTHON = f"{RUN_ENV}python" if ON_CONDA else f"{RUN_ENV}{sys.executable}"
METHODS = config["train"]["methods"]
SEEDS = config["train"]["seeds"]
VARIANTS = config["train"]["variants"]
EVAL_SPLITS = list(config["eval"]["benchmarks"])




def stage_resources(stage):
    """Resources of a stage from the config; the executor (local or SLURM) maps them to a job."""
    return config["resources"][stage]


def conda_env(stage):
    """A stage's conda environment: the GPU lock's where the config gives the stage GPUs."""
    return GPU_CONDA_ENV if stage_resources(stage).get("gpu", 0) else CONDA_ENV


def launcher():
    """`accelerate launch` with one process per GPU where training has several GPUs, plain Python otherwise.
    Without GPUs, resources.train.processes > 1 launches that many CPU processes the same way (joined by
    gloo), so the multi-process path runs on CPU (experiments/overlays/nano_wiring.yaml)."""
    res = stage_resources("train")
    gpus = res.get("gpu", 0)
    processes = res.get("processes", gpus)
    if gpus and processes != gpus:
        raise ValueError(f"resources.train: processes {processes} must equal gpu {gpus} (one per GPU)")
    if processes > 1:
        # relative to the repository, as the data catalog is: a run in another --directory finds it
        accelerate_config = os.path.join(workflow.basedir, config["train"]["accelerate_config"])
        # accelerate's launcher from the Python that runs every other stage, not whichever `accelerate` is on PATH
        accelerate = f"{PYTHON} -m accelerate.commands.launch --config_file {accelerate_config}"
        return f"{accelerate} --num_processes {processes}"
    return PYTHON


def stage_params(stage, **params):
    """A pipeline rule's params, for `params: **stage_params(...)` and `shell: "{params.command} > {log} 2>&1"`.

    `command` calls rredcot.pipeline.stages.STAGES[stage] with the job's named inputs, its named outputs, these
    params (each a value or a function of the wildcards) and its threads, by name, as one JSON argument;
    training goes through `accelerate launch` where launcher() says so. Each param is also a param of its own,
    as JSON with sorted keys: Snakemake does not compare a param computed from inputs, outputs or threads (the
    command) with the one a file was made with, so only these make a changed setting rerun the job, and a
    config file that lists the same settings in another order does not."""

    def value(param, wildcards):
        return param(wildcards) if callable(param) else param

    def command(wildcards, input, output, threads):
        kwargs = {}
        for source in (dict(input.items()), dict(output.items()), params, {"threads": threads}):
            for name, param in source.items():
                if name in kwargs:
                    raise ValueError(f"stage {stage}: {name!r} is both an input, output or param of its rule")
                found = value(param, wildcards)
                kwargs[name] = found if isinstance(found, (str, int, float, bool, dict, type(None))) else list(found)
        launch = launcher() if stage == "train" else PYTHON
        return f"{launch} -m rredcot.pipeline.stages {stage} {shlex.quote(json.dumps(kwargs, sort_keys=True))}"

    # functions of the wildcards, so that Snakemake does not read braces in the JSON as wildcards
    tracked = {name: lambda wc, p=param: json.dumps(value(p, wc), sort_keys=True) for name, param in params.items()}
    return {**tracked, "command": command}


PREFETCH_MANIFEST = f"{HUB_MIRROR}/manifest_{SCALE}.json" if HUB_MIRROR else None


def prefetch_inputs():
    """The prefetch manifest where the pipeline mirrors the hub: an unnamed input, a dependency only (a stage
    gets its named inputs)."""
    return [PREFETCH_MANIFEST] if HUB_MIRROR else []


def base_model_ref():
    """The base policy: the tiny SFT model built by this pipeline, its hub mirror, or a hub id / local path."""
    base = config["base_model"]
    if base["kind"] == "sft":
        return f"{RESULTS}/base_model"
    if HUB_MIRROR:
        return str(mirror_dir(HUB_MIRROR, "model", base["name_or_path"], base.get("revision")))
    return base["name_or_path"]


def base_model_inputs():
    """The base model where this pipeline builds it (kind: sft) or mirrors it (the prefetch manifest): an
    unnamed input, a dependency only (stages get the model's path as the param `model` or `base`)."""
    return [f"{RESULTS}/base_model"] if config["base_model"]["kind"] == "sft" else prefetch_inputs()


SPREAD_SEEDS = config["base_model"].get("spread_seeds", [])
if config["seed"] in SPREAD_SEEDS:
    raise ValueError(f"base_model.spread_seeds {SPREAD_SEEDS} repeats the top-level seed {config['seed']}")


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
        if HUB_MIRROR:  # each dataset read from its prefetched copy
            for name, spec in hub["datasets"].items():
                mirror = mirror_dir(HUB_MIRROR, "dataset", spec["hub_id"], spec.get("revision"))
                hub["datasets"][name] = {**spec, "mirror": str(mirror)}
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
        return base_model_inputs()
    return [policy_model(wildcards.policy)]  # a spread base or a trained policy


# -------------------------------------------------------------------------------------------- analysis
ANALYSIS = config["analysis"]
ANALYSIS_BENCHMARK = ANALYSIS["benchmark"]
SEGMENTATION_VARIANTS = list(ANALYSIS["segmentation_variants"])

if ANALYSIS_BENCHMARK not in EVAL_SPLITS:
    raise ValueError(
        f"analysis.benchmark {ANALYSIS_BENCHMARK!r} is not an evaluation benchmark {EVAL_SPLITS}"
    )
# The schema bounds each share; what it cannot say stops the workflow here, before any job, by the check the
# analysis makes: the shares sum to at most 1, and their minimum counts (share × n_traces, rounded up) fit.
try:
    check_strata(ANALYSIS["n_traces"], ANALYSIS["min_incorrect_share"], ANALYSIS["min_correct_share"])
except ValueError as err:
    raise ValueError(f"analysis: {err}") from err


def value_options():
    """The train.rredcot fields the analyses value with: they score the continuations training scores."""
    return {field: config["train"]["rredcot"][field] for field in VALUE_OPTION_FIELDS}


def analysis_settings():
    return {**ANALYSIS, "value_options": value_options()}


def analysis_targets():
    credit = [f"{RESULTS}/analysis/credit.jsonl", f"{RESULTS}/analysis/credit_draws.jsonl"]
    return [*credit, f"{RESULTS}/analysis/value_sanity.json"] + expand(
        f"{RESULTS}/analysis/segmentation/{{variant}}.jsonl", variant=SEGMENTATION_VARIANTS
    )


def value_sanity_settings():
    sanity = ANALYSIS["value_sanity"]
    return {
        **sanity,
        "options": value_options(),
        "bootstrap_resamples": config["artifacts"]["bootstrap_resamples"],
        "ci_level": config["artifacts"]["ci_level"],
        "backend": ANALYSIS["backend"],
        "dtype": ANALYSIS["dtype"],
        "device": ANALYSIS["device"],
    }
