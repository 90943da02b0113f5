# Segment-credit analyses of the base policy (docs/paper.md §5 "Analyses"): MC values, RREDCoT values of
# every estimator variant and attribution baselines on sampled traces (Fig. 3, 4, 7), and the segmentation
# ablation.


rule credit_analysis:
    """Traces of the base policy, one per problem in benchmark order, kept while their stratum (correct or
    incorrect) has room under the quotas (analysis.n_traces, min_incorrect_share, min_correct_share); for each
    kept trace MC outcomes at every value boundary, RREDCoT values of every estimator variant, gradient and
    leave-one-out credits, each with its measured cost, and the ground-truth first error (synthetic data).
    credit_draws.jsonl lists every draw, kept or not.

    Finished traces and draw grades are appended to partial logs outside the declared outputs, so a preempted
    job resumes; a finished one removes them, so a rerun starts over.
    """
    input:
        base_model_inputs(),
        benchmark=f"{RESULTS}/data/eval/{ANALYSIS_BENCHMARK}.jsonl",
    output:
        credit=f"{RESULTS}/analysis/credit.jsonl",
        draws=f"{RESULTS}/analysis/credit_draws.jsonl",
    params:
        **stage_params(
            "analyze_credit",
            analysis=analysis_settings(),
            model=base_model_ref(),
            random_init=config["base_model"].get("random_init", False),
            partial=f"{RESULTS}/analysis/partial/credit.jsonl",
            seed=config["seed"],
        ),
    log:
        f"{RESULTS}/logs/analysis/credit.log",
    threads: stage_resources("analysis").get("cpus_per_task", 1)
    resources:
        **stage_resources("analysis"),
    conda:
        conda_env("analysis")
    shell:
        "{params.command} > {log} 2>&1"


rule segmentation_analysis:
    """The segmentation ablation: the credit analysis's accepted traces (its draws file), segmented by every
    variant of analysis.segmentation_variants, with MC outcomes and the default estimator's values at each
    variant's boundaries. One job for all variants, so every trace is sampled once."""
    input:
        base_model_inputs(),
        benchmark=f"{RESULTS}/data/eval/{ANALYSIS_BENCHMARK}.jsonl",
        draws=f"{RESULTS}/analysis/credit_draws.jsonl",
    output:
        variants=expand(f"{RESULTS}/analysis/segmentation/{{variant}}.jsonl", variant=SEGMENTATION_VARIANTS),
    params:
        **stage_params(
            "analyze_segmentation",
            analysis=analysis_settings(),
            model=base_model_ref(),
            random_init=config["base_model"].get("random_init", False),
            partial_dir=f"{RESULTS}/analysis/partial/segmentation",
            seed=config["seed"],
        ),
    log:
        f"{RESULTS}/logs/analysis/segmentation.log",
    threads: stage_resources("analysis").get("cpus_per_task", 1)
    resources:
        **stage_resources("analysis"),
    conda:
        conda_env("analysis")
    shell:
        "{params.command} > {log} 2>&1"


rule value_sanity:
    """Does the estimator rank the base policy's own states as Monte Carlo does? Greedy traces, values and MC
    values at every line end of the thinking, and a corrupted twin of the state after the first step. On the
    analysis benchmark, or with the suffix _validation on the validation split, where choices are made."""
    input:
        base_model_inputs(),
        benchmark=lambda wc: (
            f"{RESULTS}/data/validation.jsonl" if wc.split else f"{RESULTS}/data/eval/{ANALYSIS_BENCHMARK}.jsonl"
        ),
    output:
        sanity=f"{RESULTS}/analysis/value_sanity{{split}}.json",
    wildcard_constraints:
        split="(_validation)?",
    params:
        **stage_params(
            "value_sanity",
            settings=value_sanity_settings(),
            model=base_model_ref(),
            random_init=config["base_model"].get("random_init", False),
            seed=config["seed"],
        ),
    log:
        f"{RESULTS}/logs/analysis/value_sanity{{split}}.log",
    threads: stage_resources("analysis").get("cpus_per_task", 1)
    resources:
        **stage_resources("analysis"),
    conda:
        conda_env("analysis")
    shell:
        "{params.command} > {log} 2>&1"
