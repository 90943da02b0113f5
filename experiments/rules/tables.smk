# Tables of the paper from logged data only (names from artifacts_common.smk): Table 1 and Table 2 from the
# evaluation summaries, with the paper's numbers (paper_tables/paper/) beside ours, the compute-cost
# table from the training metrics and the credit-analysis log, and our credit-agreement and first-error
# localization tables from the credit-analysis log. CSV (numbers), LaTeX and Markdown. A rule's name picks
# its function in rredcot/artifacts/makers.py (MAKERS); its inputs, outputs and params are that function's
# arguments, by name.


rule table1:
    """Table 1: base vs GRPO vs RREDCoT per benchmark, mean ± SD over seeds, the paper's Table 1 beside."""
    input:
        evals=evaluation_targets(),
        paper=f"{PAPER_NUMBERS}/table1.csv",
    output:
        csv=report(f"{PAPER_TABLES}/table1.csv", caption="../report/table1.rst", category="Tables"),
        tex=f"{PAPER_TABLES}/table1.tex",
        md=f"{PAPER_TABLES}/table1.md",
    params:
        name="table1",
        methods=METHODS,
        benchmarks=EVAL_SPLITS,
        paper_rows=ARTIFACTS["paper_rows"].get("table1", {}),
        scale=SCALE,
        metric=ARTIFACTS["metric"],
    log:
        f"{RESULTS}/logs/tables/table1.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule table2:
    """Table 2: GRPO baseline (Open-RS recipe at nano scale) vs RREDCoT, the paper's Table 2 beside."""
    input:
        evals=evaluation_targets(),
        paper=f"{PAPER_NUMBERS}/table2.csv",
    output:
        csv=report(f"{PAPER_TABLES}/table2.csv", caption="../report/table2.rst", category="Tables"),
        tex=f"{PAPER_TABLES}/table2.tex",
        md=f"{PAPER_TABLES}/table2.md",
    params:
        name="table2",
        methods=METHODS,
        benchmarks=EVAL_SPLITS,
        paper_rows=ARTIFACTS["paper_rows"].get("table2", {}),
        scale=SCALE,
        metric=ARTIFACTS["metric"],
    log:
        f"{RESULTS}/logs/tables/table2.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule compute_cost_logged:
    """Per-step wall time GRPO vs RREDCoT and value vs MC seconds per trace, from the logs. (The benchmark
    scripts' side-by-side timings go to compute_cost.csv, which no rule writes.)"""
    input:
        metrics=training_metrics(),
        traces=CREDIT_LOG,
        claims=f"{PAPER_NUMBERS}/claims.csv",
    output:
        csv=report(
            f"{PAPER_TABLES}/compute_cost_logged.csv", caption="../report/compute_cost_logged.rst", category="Tables"
        ),
        tex=f"{PAPER_TABLES}/compute_cost_logged.tex",
        md=f"{PAPER_TABLES}/compute_cost_logged.md",
    params:
        variant=DEFAULT_VARIANT,
        scale=SCALE,
    log:
        f"{RESULTS}/logs/tables/compute_cost_logged.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule credit_table:
    """Agreement of values and credits with MC (pooled and per trace, by correct / incorrect trace, without
    degenerate boundaries) and first-error localization: our additions, from the credit-analysis log."""
    input:
        traces=CREDIT_LOG,
    output:
        csv=report(f"{PAPER_TABLES}/{{name}}.csv", caption="../report/credit_tables.rst", category="Tables"),
        tex=f"{PAPER_TABLES}/{{name}}.tex",
        md=f"{PAPER_TABLES}/{{name}}.md",
    wildcard_constraints:
        name="|".join(CREDIT_TABLE_NAMES),
    params:
        name=lambda wc: wc.name,
        method=ARTIFACTS["correlation"],
        n_resamples=ARTIFACTS["bootstrap_resamples"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/tables/{{name}}.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule tables:
    """Every table of this scale."""
    input:
        table_files(TABLE_NAMES),
    localrule: True


if "headroom" in ARTIFACTS:
    HEADROOM = ARTIFACTS["headroom"]
    HEADROOM_ARMS = [HEADROOM["baseline"], HEADROOM["control"], *HEADROOM["compared"]]

    rule headroom:
        """The credit testbed's positive control (exact credit vs GRPO, criteria fixed in the config) and the
        share of its gain that each compared arm recovers: a table and a figure."""
        input:
            metrics=expand(f"{RESULTS}/train/{{arm}}/seed{{seed}}/metrics.jsonl", arm=HEADROOM_ARMS, seed=SEEDS),
            evals=[f"{RESULTS}/eval/base/{HEADROOM['benchmark']}.json"]
            + expand(f"{RESULTS}/eval/{{arm}}/seed{{seed}}/{HEADROOM['benchmark']}.json", arm=HEADROOM_ARMS, seed=SEEDS),
        output:
            csv=report(f"{PAPER_TABLES}/headroom.csv", caption="../report/headroom.rst", category="Controls"),
            tex=f"{PAPER_TABLES}/headroom.tex",
            md=f"{PAPER_TABLES}/headroom.md",
            pdf=f"{FIGURES}/headroom.pdf",
            png=report(f"{FIGURES}/headroom.png", caption="../report/headroom.rst", category="Controls"),
        params:
            **HEADROOM,
            smooth_window=ARTIFACTS["smooth_window"],
            final_window=ARTIFACTS["final_window"],
            ci_level=ARTIFACTS["ci_level"],
            bootstrap_resamples=ARTIFACTS["bootstrap_resamples"],
            seed=config["seed"],
            scale=SCALE,
            metric=ARTIFACTS["metric"],
        log:
            f"{RESULTS}/logs/tables/headroom.log",
        localrule: True
        conda:
            CONDA_ENV
        script:
            MAKE_ARTIFACT
