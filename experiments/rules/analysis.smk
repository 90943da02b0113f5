# Segment-credit analyses of the base policy (PAPER.md §5 "Analyses"): MC values, RREDCoT values of every
# estimator variant and attribution baselines on sampled traces (Fig. 3, 4, 7), and the segmentation ablation.
ANALYSIS = config["analysis"]
ANALYSIS_BENCHMARK = ANALYSIS["benchmark"]
SEGMENTATION_VARIANTS = list(ANALYSIS["segmentation_variants"])
# The estimator's continuations are built exactly as in training.
VALUE_OPTION_FIELDS = ("end_of_thinking", "exit_string", "answer_template", "value_batch_tokens")

if ANALYSIS_BENCHMARK not in EVAL_SPLITS:
    raise ValueError(
        f"analysis.benchmark {ANALYSIS_BENCHMARK!r} is not an evaluation benchmark {EVAL_SPLITS}"
    )


def analysis_settings():
    options = {field: config["train"]["rredcot"][field] for field in VALUE_OPTION_FIELDS}
    return as_json({**ANALYSIS, "value_options": options})


def analysis_targets():
    return [f"{RESULTS}/analysis/credit.jsonl", f"{RESULTS}/analysis/value_sanity.json"] + expand(
        f"{RESULTS}/analysis/segmentation/{{variant}}.jsonl", variant=SEGMENTATION_VARIANTS
    )


rule credit_analysis:
    """Per problem: one trace of the base policy, MC outcomes at every value boundary, RREDCoT values of every
    estimator variant, gradient and leave-one-out credits, each with its measured cost.

    Finished problems are appended to a partial log outside the declared output, so a preempted job resumes.
    """
    input:
        base_model_inputs(),
        benchmark=f"{RESULTS}/data/eval/{ANALYSIS_BENCHMARK}.jsonl",
    output:
        f"{RESULTS}/analysis/credit.jsonl",
    params:
        python=PYTHON,
        analysis=lambda wc: analysis_settings(),  # a function: the JSON holds "{answer}" braces
        model=base_model_ref(),
        random_init=config["base_model"].get("random_init", False),
        partial=f"{RESULTS}/analysis/partial/credit.jsonl",
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/analysis/credit.log",
    threads: stage_resources("analysis").get("cpus_per_task", 1)
    resources:
        **stage_resources("analysis"),
    shell:
        "{params.python} -m rredcot.cli analyze-credit --model {params.model} --random-init {params.random_init}"
        " --benchmark {input.benchmark} --analysis-json {params.analysis:q} --partial {params.partial}"
        " --seed {params.seed} --out {output} --threads {threads} > {log} 2>&1"


rule segmentation_analysis:
    """The segmentation ablation: the credit analysis's traces, segmented by every variant of
    analysis.segmentation_variants, with MC outcomes and the default estimator's values at each variant's
    boundaries. One job for all variants, so every trace is sampled once."""
    input:
        base_model_inputs(),
        benchmark=f"{RESULTS}/data/eval/{ANALYSIS_BENCHMARK}.jsonl",
    output:
        expand(f"{RESULTS}/analysis/segmentation/{{variant}}.jsonl", variant=SEGMENTATION_VARIANTS),
    params:
        python=PYTHON,
        analysis=lambda wc: analysis_settings(),  # a function: the JSON holds "{answer}" braces
        model=base_model_ref(),
        random_init=config["base_model"].get("random_init", False),
        partial_dir=f"{RESULTS}/analysis/partial/segmentation",
        out_dir=f"{RESULTS}/analysis/segmentation",
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/analysis/segmentation.log",
    threads: stage_resources("analysis").get("cpus_per_task", 1)
    resources:
        **stage_resources("analysis"),
    shell:
        "{params.python} -m rredcot.cli analyze-segmentation --model {params.model}"
        " --random-init {params.random_init} --benchmark {input.benchmark} --analysis-json {params.analysis:q}"
        " --partial-dir {params.partial_dir} --seed {params.seed} --out-dir {params.out_dir}"
        " --threads {threads} > {log} 2>&1"


def value_sanity_settings():
    sanity = ANALYSIS["value_sanity"]
    return as_json(
        {
            **sanity,
            "options": {field: config["train"]["rredcot"][field] for field in VALUE_OPTION_FIELDS},
            "bootstrap_resamples": config["artifacts"]["bootstrap_resamples"],
            "ci_level": config["artifacts"]["ci_level"],
            "dtype": ANALYSIS["dtype"],
            "device": ANALYSIS["device"],
        }
    )


rule value_sanity:
    """Does the estimator rank the base policy's own states as Monte Carlo does? Greedy traces, values and MC
    values at every line end of the thinking, and a corrupted twin of the state after the first step."""
    input:
        base_model_inputs(),
        benchmark=f"{RESULTS}/data/eval/{ANALYSIS_BENCHMARK}.jsonl",
    output:
        f"{RESULTS}/analysis/value_sanity.json",
    params:
        python=PYTHON,
        settings=lambda wc: value_sanity_settings(),  # a function: the JSON holds "{answer}" braces
        model=base_model_ref(),
        random_init=config["base_model"].get("random_init", False),
        seed=config["seed"],
    log:
        f"{RESULTS}/logs/analysis/value_sanity.log",
    threads: stage_resources("analysis").get("cpus_per_task", 1)
    resources:
        **stage_resources("analysis"),
    shell:
        "{params.python} -m rredcot.cli value-sanity --model {params.model} --random-init {params.random_init}"
        " --benchmark {input.benchmark} --settings-json {params.settings:q} --seed {params.seed}"
        " --out {output} --threads {threads} > {log} 2>&1"
