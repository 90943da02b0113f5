# Figures of the paper (docs/paper.md §5) from logged data only (names from artifacts_common.smk). A figure
# rule never trains or samples: `snakemake figures/<scale>/<name>.pdf` after a finished run only replots. Each
# figure is written as PDF and PNG; the PNG is annotated for `snakemake --report report.html`, and its caption
# is printed under it in REPLICATION.md (report_captions in artifacts_common.smk). A rule's name
# picks its function in rredcot/artifacts/makers.py (MAKERS); its inputs, outputs and params are that
# function's arguments, by name.


rule training_curves:
    """Accuracy vs step and vs generated tokens per method beside the base model's, steps to threshold."""
    input:
        metrics=training_metrics(),
    output:
        pdf=f"{FIGURES}/training_curves.pdf",
        png=report(f"{FIGURES}/training_curves.png", caption="../report/training_curves.rst", category="Figures"),
    params:
        threshold_fraction=ARTIFACTS["threshold_fraction"],
        smooth_window=ARTIFACTS["smooth_window"],
        final_window=ARTIFACTS["final_window"],
        ci_level=ARTIFACTS["ci_level"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/training_curves.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule delimiter_drift:
    """Newlines and thinking lines per completion over training, per method: does RREDCoT's credit, tied to
    newlines, teach the policy to write fewer of them than GRPO does?"""
    input:
        metrics=training_metrics(),
    output:
        pdf=f"{FIGURES}/delimiter_drift.pdf",
        png=report(f"{FIGURES}/delimiter_drift.png", caption="../report/delimiter_drift.rst", category="Figures"),
    params:
        smooth_window=ARTIFACTS["smooth_window"],
        ci_level=ARTIFACTS["ci_level"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/delimiter_drift.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule fig3_mc_cost:
    """Fig. 3: MC value-estimation seconds vs segments and vs questions, beside RREDCoT's value seconds."""
    input:
        traces=CREDIT_LOG,
        extra_traces=segmentation_logs(),
        claims=f"{PAPER_NUMBERS}/claims.csv",
    output:
        pdf=f"{FIGURES}/fig3_mc_cost.pdf",
        png=report(f"{FIGURES}/fig3_mc_cost.png", caption="../report/fig3_mc_cost.rst", category="Figures"),
    params:
        variant=DEFAULT_VARIANT,
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/fig3_mc_cost.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule value_sanity_figure:
    """Value sanity: estimator vs MC values at the base policy's own states and their corrupted twins."""
    input:
        sanity=f"{RESULTS}/analysis/value_sanity.json",
    output:
        pdf=f"{FIGURES}/value_sanity.pdf",
        png=report(f"{FIGURES}/value_sanity.png", caption="../report/value_sanity.rst", category="Figures"),
    params:
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/value_sanity.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule fig7_mc_sd:
    """Fig. 7: bootstrapped SD of MC values vs samples per boundary × relative boundary position."""
    input:
        traces=CREDIT_LOG,
        claims=f"{PAPER_NUMBERS}/claims.csv",
    output:
        pdf=f"{FIGURES}/fig7_mc_sd.pdf",
        png=report(f"{FIGURES}/fig7_mc_sd.png", caption="../report/fig7_mc_sd.rst", category="Figures"),
    params:
        max_samples=ARTIFACTS["mc_sd_max_samples"],
        n_resamples=ARTIFACTS["bootstrap_resamples"],
        n_bins=ARTIFACTS["position_bins"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/fig7_mc_sd.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule fig4_estimator_correlation:
    """Fig. 4: Pearson and Spearman correlation of segment credits (MC, RREDCoT variants, gradient, LOO)."""
    input:
        traces=CREDIT_LOG,
    output:
        pdf=f"{FIGURES}/fig4_estimator_correlation.pdf",
        png=report(
            f"{FIGURES}/fig4_estimator_correlation.png",
            caption="../report/fig4_estimator_correlation.rst",
            category="Figures",
        ),
    params:
        n_bins=ARTIFACTS["position_bins"],
        n_resamples=ARTIFACTS["bootstrap_resamples"],
        method=ARTIFACTS["correlation"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/fig4_estimator_correlation.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule credit_agreement_figure:
    """Values and credits vs MC, pooled and per trace, by correct / incorrect trace and without degenerate
    boundaries (our addition, not a paper figure)."""
    input:
        traces=CREDIT_LOG,
    output:
        pdf=f"{FIGURES}/credit_agreement.pdf",
        png=report(f"{FIGURES}/credit_agreement.png", caption="../report/credit_agreement.rst", category="Figures"),
    params:
        method=ARTIFACTS["correlation"],
        n_resamples=ARTIFACTS["bootstrap_resamples"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/credit_agreement.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule error_localization_figure:
    """Share of incorrect traces whose most-blamed segment holds the first error, per estimator, beside the
    uniform-random baseline (our addition, not a paper figure)."""
    input:
        traces=CREDIT_LOG,
    output:
        pdf=f"{FIGURES}/error_localization.pdf",
        png=report(
            f"{FIGURES}/error_localization.png", caption="../report/error_localization.rst", category="Figures"
        ),
    params:
        n_resamples=ARTIFACTS["bootstrap_resamples"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/error_localization.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule ablation_segmentation:
    """Agreement of RREDCoT credits with MC credits per segmentation strategy and K."""
    input:
        variants=segmentation_logs(),
    output:
        pdf=f"{FIGURES}/ablation_segmentation.pdf",
        png=report(
            f"{FIGURES}/ablation_segmentation.png",
            caption="../report/ablation_segmentation.rst",
            category="Ablations",
        ),
    params:
        variant=config["analysis"]["ablation_estimator"],
        n_resamples=ARTIFACTS["bootstrap_resamples"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/ablation_segmentation.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


rule ablation_estimator:
    """Agreement with MC credits per value estimator (reference / answer-only / self × log / linear)."""
    input:
        traces=CREDIT_LOG,
    output:
        pdf=f"{FIGURES}/ablation_estimator.pdf",
        png=report(
            f"{FIGURES}/ablation_estimator.png", caption="../report/ablation_estimator.rst", category="Ablations"
        ),
    params:
        n_resamples=ARTIFACTS["bootstrap_resamples"],
        scale=SCALE,
    log:
        f"{RESULTS}/logs/figures/ablation_estimator.log",
    localrule: True
    conda:
        CONDA_ENV
    script:
        MAKE_ARTIFACT


if TRAINING_ABLATIONS:

    rule ablation_training:
        """Training accuracy and test-split accuracy of the runs of one training ablation (e.g. sigma mode and
        mix), grouped by label; the runs are evaluated like the main runs, the base model's evaluation beside."""
        input:
            metrics=lambda wc: training_ablation_metrics(wc.name),
            evals=lambda wc: training_ablation_evals(wc.name)
            + [f"{RESULTS}/eval/base/{split}.json" for split in EVAL_SPLITS],
        output:
            pdf=f"{FIGURES}/ablation_training_{{name}}.pdf",
            png=report(
                f"{FIGURES}/ablation_training_{{name}}.png",
                caption="../report/ablation_training.rst",
                category="Ablations",
            ),
        wildcard_constraints:
            name="|".join(TRAINING_ABLATIONS),
        params:
            groups=lambda wc: TRAINING_ABLATIONS[wc.name],
            benchmarks=EVAL_SPLITS,
            metric=ARTIFACTS["metric"],
            smooth_window=ARTIFACTS["smooth_window"],
            ci_level=ARTIFACTS["ci_level"],
            title=lambda wc: f"Training ablation ({wc.name}, {SCALE} scale)",
        log:
            f"{RESULTS}/logs/figures/ablation_training_{{name}}.log",
        localrule: True
        conda:
            CONDA_ENV
        script:
            MAKE_ARTIFACT


rule figures:
    """Every paper figure of this scale."""
    input:
        figure_files(FIGURE_NAMES),
    localrule: True


rule ablations:
    """Every ablation figure of this scale."""
    input:
        figure_files(ABLATION_NAMES),
    localrule: True


rule training_ablations:
    """The training-ablation figures (one RL run per variant of artifacts.training_ablations)."""
    input:
        figure_files(TRAINING_ABLATION_NAMES),
    localrule: True
