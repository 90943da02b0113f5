"""The settings one run trains with, composed once from the config's ``train`` section.

The train rule, the recipe pilot, the step-time benchmark and the tests all call :func:`run_settings`, so a
run cannot train with one order of precedence and be checked against another. Standard library only: the
Snakefile imports it in whatever environment runs Snakemake (which has PyYAML).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml


def layered_config(paths: Iterable[str | os.PathLike]) -> dict[str, Any]:
    """Config files merged in order, a later file's mappings over an earlier one's key by key: what Snakemake
    makes of several ``--configfile``, for scripts that read a scale's settings outside the workflow."""
    config: dict[str, Any] = {}
    for path in paths:
        with open(path) as f:
            _update(config, yaml.safe_load(f) or {})
    return config


def _update(config: dict[str, Any], overlay: Mapping[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            _update(config[key], value)
        else:
            config[key] = value


def run_settings(train: Mapping[str, Any], run: str, seed: int, scale: str) -> dict[str, Any]:
    """``{"method", "trl", "rredcot"}`` of ``run`` (a method or a ``train.variants`` name) at ``seed``.

    GRPOConfig fields, from least to most specific: ``train.trl``, then ``train.method_overrides[method]``,
    then the variant's ``trl``; then ``train.tracking`` sets ``report_to`` and ``run_name`` (formatted with
    ``scale``, ``run`` and ``seed``). RREDCoT fields: ``train.rredcot``, then the variant's ``rredcot``, whose
    ``segmentation`` mapping replaces only the fields it names (``{segmentation: {max_segments: 3}}`` keeps
    the shared strategy and keywords); ``None`` for a GRPO run. A variant is the most specific, so it wins:
    an ablation of the learning rate keeps its own rate where the method overrides the shared one.
    """
    variant = {} if run in train["methods"] else train["variants"][run]
    method = variant.get("method", run)
    tracking = train["tracking"]
    trl = {
        **train["trl"],
        **train["method_overrides"].get(method, {}),
        **variant.get("trl", {}),
        "report_to": tracking["report_to"],
        "run_name": tracking["run_name"].format(scale=scale, run=run, seed=seed),
    }
    rredcot = _rredcot(train["rredcot"], variant.get("rredcot", {})) if method == "rredcot" else None
    return {"method": method, "trl": trl, "rredcot": rredcot}


def _rredcot(shared: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """A variant's RREDCoT fields over the shared ones, its segmentation field by field."""
    merged = {**shared, **own}
    if isinstance(shared.get("segmentation"), Mapping) and isinstance(own.get("segmentation"), Mapping):
        merged["segmentation"] = {**shared["segmentation"], **own["segmentation"]}
    return merged
