"""Which function makes each artifact rule's output: ``MAKERS[<rule name>]``.

The registry holds dotted names, not functions: :mod:`rredcot.artifacts.make` resolves one at call time and
the report prints them, so neither imports every artifact module, and the report, itself made through
:mod:`~rredcot.artifacts.make`, does not import its caller.
"""

MAKERS: dict[str, str] = {  # rule name -> function, relative to rredcot.artifacts
    "training_curves": "figures.training_curves",
    "delimiter_drift": "figures.delimiter_drift",
    "fig3_mc_cost": "figures.fig3_mc_cost",
    "value_sanity_figure": "figures.value_sanity",
    "fig7_mc_sd": "figures.fig7_mc_sd",
    "fig4_estimator_correlation": "figures.fig4_estimator_correlation",
    "credit_agreement_figure": "figures.credit_agreement",
    "error_localization_figure": "figures.error_localization",
    "ablation_segmentation": "figures.ablation_segmentation",
    "ablation_estimator": "figures.ablation_estimator",
    "ablation_training": "figures.ablation_training",
    "table1": "tables.write_comparison",
    "table2": "tables.write_comparison",
    "compute_cost_logged": "tables.write_cost_table",
    "credit_table": "tables.write_credit_table",
    "headroom": "headroom.write_headroom",
    "replication_report": "report.write_report",
}
