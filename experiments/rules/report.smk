# The replication report (names from artifacts_common.smk): paper_tables/<scale>/REPLICATION.md at every
# scale and, where artifacts.publish_report is true (the default scale, the testbed), the same report with its
# links relative to the repository root as the top-level REPLICATION.md that readers open first. Its function:
# rredcot.artifacts.report.write_report (rredcot/artifacts/make.py).
import glob


rule replication_report:
    """REPLICATION.md: each claim of the paper, the paper's number, ours, a rule-based verdict, each figure
    with the caption of its report() flag, the assumptions table and the command that rebuilds each
    artifact."""
    input:
        evals=evaluation_targets(),
        metrics=training_metrics() + control_metrics(),
        traces=CREDIT_LOG,
        sanity=f"{RESULTS}/analysis/value_sanity.json",
        draws=credit_draws_input(),
        machines=MACHINE_LOG,
        paper_tables=expand(f"{PAPER_NUMBERS}/{{name}}.csv", name=["table1", "table2"]),
        claims=f"{PAPER_NUMBERS}/claims.csv",
        schema=CONFIG_SCHEMA,
        tables_md=[f"{PAPER_TABLES}/{name}.md" for name in TABLE_NAMES],
        figures_png=[f"{FIGURES}/{name}.png" for name in DEFAULT_FIGURES],
        headroom=[rules.headroom.output.md, rules.headroom.output.png] if "headroom" in ARTIFACTS else [],
        # the benchmark scripts' rows (no rule writes them): the cost verdicts read them where they exist
        benchmark_cost=[BENCHMARK_COST] if os.path.exists(BENCHMARK_COST) else [],
    output:
        out=report(REPORT_FILE, caption="../report/replication.rst", category="Report"),
        **({"published": PUBLISHED_REPORT} if ARTIFACTS["publish_report"] else {}),
    params:
        config=config,
        metric=ARTIFACTS["metric"],
        optional_evals=ablation_only_evals(),
        named_only_figures=[f"{FIGURES}/{name}.png" for name in NAMED_ONLY_FIGURES],
        captions=lambda wc: report_captions(
            [f"{FIGURES}/{name}.png" for name in DEFAULT_FIGURES + NAMED_ONLY_FIGURES]
            + ([f"{FIGURES}/headroom.png"] if "headroom" in ARTIFACTS else [])
        ),
        # the positive control's committed tables under other designs: overlays' scales named <scale>_*, and
        # the dose-response tables scripts/testbed_dose_response.py writes beside this scale's
        readings=sorted(glob.glob(f"paper_tables/{SCALE}_*/headroom.md"))
        + sorted(glob.glob(f"{PAPER_TABLES}/dose_response*.md")),
        targets=lambda wc: artifact_rules(
            [t for t in artifact_targets() if t not in report_outputs()] + figure_files(NAMED_ONLY_FIGURES)
        ),
        snakemake_command=lambda wc: regenerate_command(),
    log:
        f"{RESULTS}/logs/report/replication_report.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule report:
    """The replication report of this scale (and the top-level copy where artifacts.publish_report)."""
    input:
        report_outputs(),
    localrule: True
