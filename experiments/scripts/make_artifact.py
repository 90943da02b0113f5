"""The ``script:`` of every figure, table and report rule: the rule's name picks its function in
``rredcot.artifacts.make.MAKERS``, which gets the rule's inputs (loaded), outputs and params by name."""

import sys
from pathlib import Path

# This checkout's code, as the shell rules run it (common.smk: RUN_ENV), also where it is not installed.
sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1]))  # noqa: F821 (defined by Snakemake)

from rredcot.artifacts.make import make_from_snakemake  # noqa: E402

make_from_snakemake(snakemake)  # noqa: F821
