rule prepare_data:
    """Training set and every evaluation benchmark, normalised to {id, problem, solution, answer, source}."""
    output:
        train=f"{RESULTS}/data/train.jsonl",
        validation=f"{RESULTS}/data/validation.jsonl" if config["data"]["kind"] == "synthetic" else [],
        benchmarks=expand(f"{RESULTS}/data/eval/{{split}}.jsonl", split=EVAL_SPLITS),
    params:
        python=PYTHON,
        data=as_json(data_section()),
        out_dir=lambda wc, output: os.path.dirname(output.train),
        benchmarks=EVAL_SPLITS,
    log:
        f"{RESULTS}/logs/prepare_data.log",
    resources:
        **stage_resources("prepare_data"),
    conda:
        conda_env("prepare_data")
    shell:
        "{params.python} -m rredcot.pipeline.cli prepare-data --data-json {params.data:q} --out-dir {params.out_dir}"
        " --benchmarks {params.benchmarks} > {log} 2>&1"
