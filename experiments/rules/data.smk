if HUB_MIRROR:

    rule prefetch:
        """The hub model and datasets at their configured revisions, mirrored where compute jobs read them
        offline; the manifest records the commit each revision resolved to. A local rule: it runs where
        Snakemake runs (on a cluster, the login node, which has network)."""
        output:
            manifest=PREFETCH_MANIFEST,
        params:
            model=(
                [config["base_model"]["name_or_path"], config["base_model"].get("revision")]
                if config["base_model"]["kind"] == "pretrained"
                else None
            ),
            datasets=data_section()["hub"]["datasets"] if config["data"]["kind"] == "hub" else {},
        localrule: True
        run:
            from rredcot.pipeline.prefetch import prefetch

            prefetch(HUB_MIRROR, params.model, params.datasets, output.manifest)


rule prepare_data:
    """Training set and every evaluation benchmark, normalised to {id, problem, solution, answer, source}."""
    input:
        prefetch_inputs(),
    output:
        train=f"{RESULTS}/data/train.jsonl",
        validation=f"{RESULTS}/data/validation.jsonl" if config["data"]["kind"] == "synthetic" else [],
        benchmarks=expand(f"{RESULTS}/data/eval/{{split}}.jsonl", split=EVAL_SPLITS),
    params:
        **stage_params("prepare_data", data=data_section()),
    log:
        f"{RESULTS}/logs/prepare_data.log",
    resources:
        **stage_resources("prepare_data"),
    conda:
        conda_env("prepare_data")
    shell:
        "{params.command} > {log} 2>&1"
