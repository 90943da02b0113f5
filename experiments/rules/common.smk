# Shared names and helpers for every stage. Paths are relative to the working directory.
import json
import sys

SCALE = config["scale"]
RESULTS = f"results/{SCALE}"
PYTHON = sys.executable
METHODS = config["train"]["methods"]
SEEDS = config["train"]["seeds"]
VARIANTS = config["train"]["variants"]
EVAL_SPLITS = list(config["eval"]["benchmarks"])


def as_json(section):
    """A config section as one shell-quotable JSON argument (rules pass only what they use)."""
    return json.dumps(section, sort_keys=True)


def run_method(run):
    """The training method of a run name: a method itself, or an ablation variant's method."""
    return run if run in METHODS else VARIANTS[run]["method"]


def run_settings(run, seed):
    """The train section a run trains with: the variant's trl/rredcot fields over the shared ones, and the
    tracker and this run's name (train.tracking) as the GRPOConfig fields TRL reads them from."""
    train = config["train"]
    variant = VARIANTS.get(run, {})
    settings = {key: train[key] for key in ("trl", "method_overrides", "rredcot")}
    for key in ("trl", "rredcot"):
        settings[key] = {**settings[key], **variant.get(key, {})}
    tracking = train["tracking"]
    settings["trl"]["report_to"] = tracking["report_to"]
    settings["trl"]["run_name"] = tracking["run_name"].format(scale=SCALE, run=run, seed=seed)
    return settings


def stage_resources(stage):
    """Resources of a stage from the config; the executor (local or SLURM) maps them to a job."""
    return config["resources"][stage]


def launcher(stage):
    """`accelerate launch` with one process per GPU for multi-GPU stages, plain Python otherwise."""
    res = stage_resources(stage)
    gpus = res.get("gpu", 0)
    if gpus > 1:
        accelerate_config = config["train"]["accelerate_config"]
        return f"accelerate launch --config_file {accelerate_config} --num_processes {gpus} -m rredcot.cli"
    return f"{PYTHON} -m rredcot.cli"


def base_model_ref():
    """The base policy: the tiny SFT model built by this pipeline, or a hub id / local path."""
    if config["base_model"]["kind"] == "sft":
        return f"{RESULTS}/base_model"
    return config["base_model"]["name_or_path"]


def base_model_inputs():
    return [f"{RESULTS}/base_model"] if config["base_model"]["kind"] == "sft" else []


def policy_tags():
    """Every evaluated policy: the base model and each trained (method, seed)."""
    return ["base"] + [f"{m}/seed{s}" for m in METHODS for s in SEEDS]


def evaluation_targets():
    return expand(f"{RESULTS}/eval/{{policy}}/{{split}}.json", policy=policy_tags(), split=EVAL_SPLITS)
