import os

import yaml


def data_section():
    """The data config, with the hub catalog entries it names inlined (so editing them reruns this rule)."""
    data = dict(config["data"])
    if data["kind"] == "hub":
        hub = dict(data["hub"])
        catalog_path = os.path.join(workflow.basedir, hub.pop("catalog"))
        with open(catalog_path) as f:
            catalog = yaml.safe_load(f)["hub_datasets"]
        names = [hub["train"], *hub["benchmarks"]]
        missing = [name for name in names if name not in catalog]
        if missing:
            raise ValueError(f"data.hub names datasets missing from {catalog_path}: {missing}")
        hub["datasets"] = {name: catalog[name] for name in names}
        data["hub"] = hub
    return data


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
    shell:
        "{params.python} -m rredcot.cli prepare-data --data-json {params.data:q} --out-dir {params.out_dir}"
        " --benchmarks {params.benchmarks} > {log} 2>&1"
