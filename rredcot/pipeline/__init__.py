"""The replication pipeline: data, the tiny base model, RL runs, evaluation and the credit analyses.

Each stage is a function that ``rredcot.pipeline.cli`` exposes to a Snakemake rule; none of it is needed to
use the method (``rredcot.RREDCoTTrainer``).
"""
