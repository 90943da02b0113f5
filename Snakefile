"""RREDCoT replication pipeline.

Default: the credit testbed on CPU (experiments/testbed.yaml): the positive control at its main horizon, the
comparison it guards, value sanity and the credit analysis. Other scales by config file, e.g. the tiny task
(--configfile experiments/tiny.yaml) or, on a cluster:
    snakemake --workflow-profile profiles/slurm --configfile experiments/paper.yaml
A --configfile replaces the default configuration entirely (no key of testbed.yaml leaks into another scale).
"""

from snakemake.utils import min_version, validate

min_version("9.0")

if not workflow.overwrite_configfiles:

    configfile: "experiments/testbed.yaml"


validate(config, "experiments/schema.yaml")


include: "experiments/rules/common.smk"
include: "experiments/rules/data.smk"
include: "experiments/rules/base_model.smk"
include: "experiments/rules/train.smk"
include: "experiments/rules/evaluate.smk"
include: "experiments/rules/analysis.smk"
include: "experiments/rules/artifacts_common.smk"
include: "experiments/rules/machines.smk"
include: "experiments/rules/figures.smk"
include: "experiments/rules/tables.smk"
include: "experiments/rules/report.smk"


rule all:
    default_target: True
    input:
        evaluation_targets(),
        analysis_targets(),
        artifact_targets(),
