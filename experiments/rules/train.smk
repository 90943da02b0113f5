rule train_policy:
    """RL fine-tuning of the base policy with plain GRPO (TRL) or RREDCoT, one seed; {method} is a method or
    an ablation variant of train.variants, whose settings rredcot.pipeline.settings.run_settings composes.

    Checkpoints live in checkpoints/, which is not a declared output: Snakemake never deletes it, so a rerun of
    an interrupted job (SLURM time limit, preemption) resumes from the latest checkpoint. A finished job
    removes it, so a rerun of a finished one (new settings, new code) trains from the start.
    """
    input:
        base_model_inputs(),
        train=f"{RESULTS}/data/train.jsonl",
    output:
        model=directory(f"{RESULTS}/train/{{method}}/seed{{seed}}/model"),
        metrics=f"{RESULTS}/train/{{method}}/seed{{seed}}/metrics.jsonl",
    wildcard_constraints:
        method="|".join(METHODS + list(VARIANTS)),
        seed=r"\d+",
    params:
        **stage_params(
            "train",
            settings=lambda wc: run_settings(config["train"], wc.method, int(wc.seed), SCALE),
            seed=lambda wc: int(wc.seed),
            base=base_model_ref(),
            random_init=config["base_model"].get("random_init", False),
            run_dir=lambda wc: f"{RESULTS}/train/{wc.method}/seed{wc.seed}/checkpoints",
        ),
    log:
        f"{RESULTS}/logs/train/{{method}}/seed{{seed}}.log",
    threads: stage_resources("train").get("cpus_per_task", 1)
    resources:
        **stage_resources("train"),
    conda:
        conda_env("train")
    shell:
        "{params.command} > {log} 2>&1"
