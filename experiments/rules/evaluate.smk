rule evaluate_policy:
    """avg@k and pass@k of one policy on one benchmark; per-problem records kept beside the summary.

    Finished problems are appended to a partial log outside the declared outputs, so a preempted evaluation
    resumes where it stopped; a finished one removes it, so a rerun starts over.
    """
    input:
        policy_inputs,
        benchmark=f"{RESULTS}/data/eval/{{split}}.jsonl",
    output:
        summary=f"{RESULTS}/eval/{{policy}}/{{split}}.json",
        records=f"{RESULTS}/eval/{{policy}}/{{split}}.records.jsonl",
    wildcard_constraints:
        policy=r"base|[A-Za-z0-9_.-]+/seed\d+",
        split="|".join(EVAL_SPLITS),
    params:
        **stage_params(
            "evaluate",
            settings=lambda wc: evaluation_settings(wc.split),
            model=lambda wc: policy_model(wc.policy),
            # a trained policy is its saved weights; only the base is built with random weights when asked
            random_init=lambda wc: wc.policy == "base" and config["base_model"].get("random_init", False),
            partial=lambda wc: f"{RESULTS}/eval/partial/{wc.policy}/{wc.split}.records.jsonl",
            seed=config["seed"],
        ),
    log:
        f"{RESULTS}/logs/eval/{{policy}}/{{split}}.log",
    threads: stage_resources("evaluate").get("cpus_per_task", 1)
    resources:
        **stage_resources("evaluate"),
    conda:
        conda_env("evaluate")
    shell:
        "{params.command} > {log} 2>&1"
