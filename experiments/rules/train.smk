rule train_policy:
    """RL fine-tuning of the base policy with plain GRPO (TRL) or RREDCoT, one seed; {method} is a method or
    an ablation variant of train.variants, whose settings rredcot.pipeline.settings.run_settings composes.

    Checkpoints live in checkpoints/, which is not a declared output: Snakemake never deletes it, so a rerun of
    an interrupted job (SLURM time limit, preemption) resumes from the latest checkpoint.
    """
    input:
        **base_model_inputs(),
        train=f"{RESULTS}/data/train.jsonl",
    output:
        model=directory(f"{RESULTS}/train/{{method}}/seed{{seed}}/model"),
        metrics=f"{RESULTS}/train/{{method}}/seed{{seed}}/metrics.jsonl",
    wildcard_constraints:
        method="|".join(METHODS + list(VARIANTS)),
        seed=r"\d+",
    params:
        settings=lambda wc: as_json(run_settings(config["train"], wc.method, int(wc.seed), SCALE)),
        base=base_model_param,
        run_dir=lambda wc: f"{RESULTS}/train/{wc.method}/seed{wc.seed}/checkpoints",
        random_init=config["base_model"].get("random_init", False),
        launch=launcher("train"),
    log:
        f"{RESULTS}/logs/train/{{method}}/seed{{seed}}.log",
    threads: stage_resources("train").get("cpus_per_task", 1)
    resources:
        **stage_resources("train"),
    conda:
        conda_env("train")
    shell:
        "{params.launch} train --settings-json {params.settings:q} --seed {wildcards.seed}"
        " --model {params.base} --random-init {params.random_init} --train {input.train}"
        " --run-dir {params.run_dir} --model-out {output.model} --metrics-out {output.metrics}"
        " --threads {threads} > {log} 2>&1"
