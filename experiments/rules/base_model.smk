if config["base_model"]["kind"] == "sft":

    rule sft_base_model:
        """The tiny CPU default's 'base reasoning model': a small Qwen3 trained with SFT on reference traces."""
        input:
            train=f"{RESULTS}/data/train.jsonl",
        output:
            directory(f"{RESULTS}/base_model"),
        params:
            python=PYTHON,
            base=as_json(config["base_model"]),
            seed=config["seed"],
        log:
            f"{RESULTS}/logs/sft_base_model.log",
        threads: stage_resources("sft").get("cpus_per_task", 1)
        resources:
            **stage_resources("sft"),
        conda:
            conda_env("sft")
        shell:
            "{params.python} -m rredcot.cli sft --base-json {params.base:q} --train {input.train}"
            " --seed {params.seed} --out {output} --threads {threads} > {log} 2>&1"
