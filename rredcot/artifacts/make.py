"""One hop from an artifact rule to the function that makes it: ``MAKERS[<rule name>]``
(:mod:`rredcot.artifacts.makers`).

Every figure, table and report rule runs ``experiments/scripts/make_artifact.py``, which calls
:func:`make` with the rule's name, inputs, outputs and params. The function named for the rule is called with

* each input, loaded by its name (:data:`LOADERS`: ``metrics`` → the training-metrics table, ``traces`` →
  the credit log, ...);
* each output path by its name (``pdf``/``png`` for figures, ``csv``/``tex``/``md`` for tables);
* each param as a keyword argument.

So a parameter is written once in the rule, under the name of the keyword it fills, and nowhere else on its
way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rredcot.artifacts.logs import load_credit, load_eval, load_metrics
from rredcot.artifacts.makers import MAKERS
from rredcot.artifacts.tables import read_paper_claims, read_paper_table
from rredcot.io import read_json, read_jsonl

# input name -> how it is read; ``params`` are the rule's params (the evaluations are read in its ``metric``).
LOADERS: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "metrics": lambda paths, params: load_metrics(paths),
    "evals": lambda paths, params: load_eval(paths, metric=params["metric"]),
    "traces": lambda path, params: load_credit(path),
    "extra_traces": lambda paths, params: [trace for path in paths for trace in load_credit(path)],
    "variants": lambda paths, params: {Path(path).stem: load_credit(path) for path in paths},
    "sanity": lambda path, params: read_json(path),
    "machines": lambda path, params: {entry["model"]: entry["machine"] for entry in read_json(path)},
    "draws": lambda paths, params: read_jsonl(paths[0]) if paths else None,
    "claims": lambda path, params: read_paper_claims(path),
    "paper": lambda path, params: read_paper_table(path),
    "paper_tables": lambda paths, params: {Path(path).stem: read_paper_table(path) for path in paths},
    "tables_md": lambda paths, params: paths,
    "figures_png": lambda paths, params: paths,
    "headroom": lambda paths, params: paths,
    "benchmark_cost": lambda paths, params: paths[0] if paths else None,  # the path: the report links it
    "schema": lambda path, params: yaml.safe_load(Path(path).read_text()),
}


def maker(rule: str) -> Callable[..., None]:
    """The function that makes the artifact of ``rule``."""
    if rule not in MAKERS:
        raise ValueError(f"rule {rule!r} has no artifact function in rredcot.artifacts.makers.MAKERS")
    module, name = MAKERS[rule].rsplit(".", 1)
    return getattr(importlib.import_module(f"rredcot.artifacts.{module}"), name)


def make(rule: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Load ``inputs`` by name and call the rule's function with them, its ``outputs`` and its ``params``.

    A value is a path or a list of paths; a name without a loader is an error that names the rule."""
    unknown = sorted(set(inputs) - set(LOADERS))
    if unknown:
        raise ValueError(f"rule {rule!r}: inputs {unknown} have no loader in rredcot.artifacts.make.LOADERS")
    loaded = {name: LOADERS[name](value, params) for name, value in inputs.items()}
    maker(rule)(**loaded, **outputs, **params)


def make_from_snakemake(job) -> None:
    """:func:`make` for the ``snakemake`` object of a ``script:`` job; stdout and stderr go to its log."""
    import contextlib
    import logging
    import traceback

    def named(items) -> dict[str, Any]:
        return {name: value if isinstance(value, str) else list(value) for name, value in items.items()}

    with open(job.log[0], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        logging.basicConfig(
            stream=log, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        try:
            make(job.rule, named(job.input), named(job.output), dict(job.params.items()))
        except Exception:
            traceback.print_exc(file=log)  # the log keeps the error as the shell rules' logs do
            raise
