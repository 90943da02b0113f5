"""The replication pipeline: data, the tiny base model, RL runs, evaluation and the credit analyses.

Each stage is a function of ``rredcot.pipeline.stages`` that a Snakemake rule calls; none of it is needed to
use the method (``rredcot.RREDCoTTrainer``).
"""
