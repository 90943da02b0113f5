# The replication report (names from artifacts_common.smk): paper_tables/<scale>/REPLICATION.md at every
# scale and, where artifacts.publish_report is true (the tiny default), the same report with its links
# relative to the repository root as the top-level REPLICATION.md that readers open first.


rule replication_report:
    """REPLICATION.md: each claim of the paper, the paper's number, ours, a rule-based verdict, the
    assumptions table and the command that rebuilds each artifact."""
    input:
        evals=evaluation_targets(),
        metrics=training_metrics() + control_metrics(),
        credit=CREDIT_LOG,
        sanity=f"{RESULTS}/analysis/value_sanity.json",
        draws=credit_draws_input(),
        paper=expand(f"{PAPER_NUMBERS}/{{name}}.csv", name=["table1", "table2", "claims"]),
        tables=[f"{PAPER_TABLES}/{name}.md" for name in TABLE_NAMES],
        figures=[f"{FIGURES}/{name}.png" for name in DEFAULT_FIGURES],
    output:
        report(REPORT_FILE, caption="../report/replication.rst", category="Report"),
        *([PUBLISHED_REPORT] if ARTIFACTS["publish_report"] else []),
    params:
        python=PYTHON,
        config=lambda wc: as_json(config),
        targets=[t for t in artifact_targets() if t not in report_outputs()] + figure_files(NAMED_ONLY_FIGURES),
        command=lambda wc: regenerate_command(),
        benchmark_cost=f"{PAPER_TABLES}/compute_cost.csv",
        named_only=[f"{FIGURES}/{name}.png" for name in NAMED_ONLY_FIGURES],
        optional_eval=ablation_only_evals(),
        machines=machine_dirs(),
        paper_dir=lambda wc, input: os.path.dirname(input.paper[0]),
        draws=lambda wc, input: f"--credit-draws {input.draws}" if input.draws else "",
    log:
        f"{RESULTS}/logs/report/replication_report.log",
    localrule: True
    conda:
        CONDA_ENV
    shell:
        "{params.python} -m rredcot.pipeline.cli report --config-json {params.config:q} --eval {input.evals}"
        " --optional-eval {params.optional_eval} --machines {params.machines}"
        " --metrics {input.metrics} --credit {input.credit} --value-sanity {input.sanity} {params.draws}"
        " --paper-dir {params.paper_dir}"
        " --tables-md {input.tables} --figures-png {input.figures} --named-only-figures {params.named_only}"
        " --targets {params.targets}"
        " --snakemake-command {params.command:q} --benchmark-cost {params.benchmark_cost} --out {output}"
        " > {log} 2>&1"


rule report:
    """The replication report of this scale (and the top-level copy where artifacts.publish_report)."""
    input:
        report_outputs(),
    localrule: True
