rule prepare_data:
    """Training set and every evaluation benchmark, normalised to {id, problem, solution, answer, source}."""
    output:
        train=f"{RESULTS}/data/train.jsonl",
        benchmarks=expand(f"{RESULTS}/data/eval/{{split}}.jsonl", split=EVAL_SPLITS),
    params:
        data=as_json(config["data"]),
    log:
        f"{RESULTS}/logs/prepare_data.log",
    resources:
        **stage_resources("prepare_data"),
    shell:
        "{PYTHON} -m rredcot.cli prepare-data --data-json {params.data:q} --out-dir {RESULTS}/data > {log} 2>&1"
