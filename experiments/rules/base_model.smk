if config["base_model"]["kind"] == "sft":

    rule sft_base_model:
        """The CPU scales' 'base reasoning model': a small Qwen3 trained with SFT on reference traces."""
        input:
            train=f"{RESULTS}/data/train.jsonl",
        output:
            model=directory(f"{RESULTS}/base_model"),
        params:
            **stage_params("sft", base=config["base_model"], seed=config["seed"]),
        log:
            f"{RESULTS}/logs/sft_base_model.log",
        threads: stage_resources("sft").get("cpus_per_task", 1)
        resources:
            **stage_resources("sft"),
        conda:
            conda_env("sft")
        shell:
            "{params.command} > {log} 2>&1"

    rule sft_base_model_spread:
        """The same base model from another SFT seed (base_model.spread_seeds): evaluated as policy
        base/seed<n>, it measures how far the base model alone moves the numbers (floating-point differences
        between machines move it too)."""
        input:
            train=f"{RESULTS}/data/train.jsonl",
        output:
            model=directory(f"{RESULTS}/base_model_seed{{seed}}"),
        wildcard_constraints:
            seed=r"\d+",
        params:
            **stage_params("sft", base=config["base_model"], seed=lambda wc: int(wc.seed)),
        log:
            f"{RESULTS}/logs/sft_base_model_seed{{seed}}.log",
        threads: stage_resources("sft").get("cpus_per_task", 1)
        resources:
            **stage_resources("sft"),
        conda:
            conda_env("sft")
        shell:
            "{params.command} > {log} 2>&1"
