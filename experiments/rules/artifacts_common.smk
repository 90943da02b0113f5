# Names and helpers shared by figures.smk, tables.smk and report.smk (include this file before them). The
# artifact rules read only logged data: training metrics, evaluation summaries and the credit-analysis logs.
import os
import shlex

ARTIFACTS = config["artifacts"]
FIGURES = f"figures/{SCALE}"
PAPER_TABLES = f"paper_tables/{SCALE}"
# benchmarks/' timings of this scale, appended by those scripts and read by the report's cost verdicts
BENCHMARK_COST = f"{PAPER_TABLES}/compute_cost.csv"
PAPER_NUMBERS = os.path.join(workflow.basedir, "paper_tables", "paper")  # the paper's numbers: docs/paper.md
# The config's JSON schema, its help text: the report describes config fields with its descriptions.
CONFIG_SCHEMA = os.path.join(os.path.dirname(workflow.current_basedir), "schema.yaml")
CREDIT_LOG = f"{RESULTS}/analysis/credit.jsonl"
MACHINE_LOG = f"{RESULTS}/logs/machines.json"  # rule machine_records (machines.smk)
MAKE_ARTIFACT = "../scripts/make_artifact.py"  # every artifact rule's script: (relative to experiments/rules/)
# The configured training estimator, as the credit log names its values (e.g. "reference/log").
DEFAULT_VARIANT = "{value_estimator}/{value_space}".format(**config["train"]["rredcot"])
FIGURE_NAMES = [
    "training_curves", "fig3_mc_cost", "fig7_mc_sd", "fig4_estimator_correlation", "value_sanity",
    "credit_agreement", "error_localization", "delimiter_drift",
]
TRAINING_ABLATIONS = ARTIFACTS["training_ablations"]
TRAINING_ABLATION_NAMES = [f"ablation_training_{name}" for name in TRAINING_ABLATIONS]
ABLATION_NAMES = ["ablation_segmentation", "ablation_estimator"] + TRAINING_ABLATION_NAMES
# Training ablations cost one RL run per variant: where they leave the default target (tiny, for its time
# budget), `snakemake training_ablations` builds them and the report shows them when they exist.
DEFAULT_FIGURES = FIGURE_NAMES + [
    name
    for name in ABLATION_NAMES
    if name not in TRAINING_ABLATION_NAMES or ARTIFACTS["training_ablations_in_default_target"]
]
NAMED_ONLY_FIGURES = [name for name in ABLATION_NAMES if name not in DEFAULT_FIGURES]
TABLE_NAMES = ["table1", "table2", "compute_cost_logged", "credit_agreement", "error_localization"]
CREDIT_TABLE_NAMES = ["credit_agreement", "error_localization"]  # from the credit-analysis log only
CREDIT_DRAWS_LOG = f"{RESULTS}/analysis/credit_draws.jsonl"
REPORT_FILE = f"{PAPER_TABLES}/REPLICATION.md"
PUBLISHED_REPORT = "REPLICATION.md"

for _table, _rows in ARTIFACTS["paper_rows"].items():
    if set(_rows) - set(EVAL_SPLITS):
        raise ValueError(
            f"artifacts.paper_rows.{_table}: {sorted(set(_rows) - set(EVAL_SPLITS))} are not evaluation "
            f"benchmarks {EVAL_SPLITS}"
        )


def training_metrics():
    return expand(f"{RESULTS}/train/{{method}}/seed{{seed}}/metrics.jsonl", method=METHODS, seed=SEEDS)


def control_metrics():
    """Metrics of the control runs (artifacts.controls): the report states their cost per step."""
    return [f"{RESULTS}/train/{run}/metrics.jsonl" for run in CONTROL_RUNS]


def segmentation_logs():
    return expand(
        f"{RESULTS}/analysis/segmentation/{{variant}}.jsonl", variant=config["analysis"]["segmentation_variants"]
    )


def credit_draws_input():
    """The credit analysis's log of draws (one line per sampled trace, accepted or not) where the
    credit_analysis rule declares it as an output; an empty list otherwise (the report then says nothing
    about the draws)."""
    declared = [str(path) for path in rules.credit_analysis.output]
    return [CREDIT_DRAWS_LOG] if CREDIT_DRAWS_LOG in declared else []


def figure_files(names):
    return [f"{FIGURES}/{name}.{ext}" for name in names for ext in ("pdf", "png")]


def table_files(names):
    return [f"{PAPER_TABLES}/{name}.{ext}" for name in names for ext in ("csv", "tex", "md")]


def training_ablation_metrics(name):
    """The metrics files of every run of artifacts.training_ablations[name] (run dirs under results/<scale>/train)."""
    runs = dict.fromkeys(run for runs in TRAINING_ABLATIONS[name].values() for run in runs)
    return [f"{RESULTS}/train/{run}/metrics.jsonl" for run in runs]


def training_ablation_evals(name):
    """The evaluation summaries of every run of one training ablation, on every test split."""
    runs = dict.fromkeys(run for runs in TRAINING_ABLATIONS[name].values() for run in runs)
    return [f"{RESULTS}/eval/{run}/{split}.json" for run in runs for split in EVAL_SPLITS]


def ablation_only_evals():
    """Evaluations of training-ablation runs outside the default target: the report reads those that exist."""
    if ARTIFACTS["training_ablations_in_default_target"]:
        return []
    listed = set(evaluation_targets())
    return [p for name in TRAINING_ABLATIONS for p in training_ablation_evals(name) if p not in listed]


def machine_dirs():
    """The model directories whose machine.json the report lists (the SFT bases and every RL run), as two
    lists: those of the default target, and the training-ablation runs outside it (listed where they exist)."""
    bases = [f"{RESULTS}/base_model"] + [f"{RESULTS}/base_model_seed{s}" for s in SPREAD_SEEDS]
    runs = [f"{m}/seed{s}" for m in METHODS for s in SEEDS] + CONTROL_RUNS
    ablations = [run for name in TRAINING_ABLATIONS for runs_ in TRAINING_ABLATIONS[name].values() for run in runs_]
    if ARTIFACTS["training_ablations_in_default_target"]:
        runs, ablations = runs + ablations, []
    default = (bases if config["base_model"]["kind"] == "sft" else []) + [
        policy_model(run) for run in dict.fromkeys(runs)
    ]
    return default, [policy_model(run) for run in dict.fromkeys(ablations) if policy_model(run) not in default]


def report_outputs():
    """The scale's report and, where artifacts.publish_report (the default scale, the testbed), the top-level
    copy."""
    return [REPORT_FILE] + ([PUBLISHED_REPORT] if ARTIFACTS["publish_report"] else [])


def headroom_files():
    """The credit testbed's positive control (table and figure), where the config defines one."""
    return figure_files(["headroom"]) + table_files(["headroom"]) if "headroom" in ARTIFACTS else []


def artifact_targets():
    """Every figure, table and report of this scale that `rule all` builds."""
    return figure_files(DEFAULT_FIGURES) + table_files(TABLE_NAMES) + headroom_files() + report_outputs()


def regenerate_command():
    """The snakemake command line the report prints to rebuild one artifact of this scale; `{target}` stands
    for the artifact. The target goes before --configfile, which would take it for another config file."""
    configfiles = [os.path.relpath(path) for path in workflow.overwrite_configfiles]
    words = ["snakemake --cores 2 {target}", *(f"--configfile {path}" for path in configfiles)]
    if "results_root" in config:  # it may come from --config, which no config file records
        words.append(f"--config results_root={shlex.quote(config['results_root'])}")
    return " ".join(words)


def report_captions(targets):
    """target -> the text of the caption its rule's report() flag names, read as `snakemake --report` reads it:
    the replication report prints it under the figure, so the caption's path is written once, in that flag."""
    captions = {}
    for target in targets:
        flags = [
            item.flags["report"]
            for rule in workflow.rules
            for item in rule.output
            if "report" in item.flags and item.match(target)
        ]
        if not flags or flags[0].caption is None:
            raise ValueError(f"no rule flags {target} for the report with a caption")
        captions[target] = workflow.sourcecache.open(flags[0].caption).read()
    return captions


def artifact_rules(targets):
    """target -> the name of the artifact rule that makes it (the report names that rule's function)."""
    makers = [rule for rule in workflow.rules if rule.script == MAKE_ARTIFACT]
    found = {target: [rule.name for rule in makers if rule.is_producer(target)] for target in targets}
    orphans = sorted(target for target, names in found.items() if not names)
    if orphans:
        raise ValueError(f"no artifact rule makes {orphans}")
    return {target: names[0] for target, names in found.items()}
