"""The assumptions table of the report: every choice the paper leaves open, its value in the config and
what it means, described by the config's own help text (``experiments/schema.yaml``) and nowhere else."""

from __future__ import annotations

import json
from collections.abc import Mapping

# Where the report's claims, sections (§) and confidence tags ([ours], ...) come from: this repository's
# account of the paper (what it claims, how sure each reading is, where each reading comes from).
PAPER = "docs/paper.md"

# Every choice the paper leaves open ([ours] in docs/paper.md), and the analysis choices of this report: the
# config field and where docs/paper.md speaks of it. The table describes a field with its description in the
# config's schema (experiments/schema.yaml, the config's help text), which must give one.
ASSUMPTIONS: list[tuple[str, str]] = [
    ("train.rredcot.segmentation.strategy", "§2 [likely]"),
    ("train.rredcot.segmentation.keywords", "§2 [ours]"),
    ("train.rredcot.segmentation.max_segments", "§2 [ours]"),
    ("train.rredcot.segmentation.chunk_size", "§2 [ours]"),
    ("train.rredcot.value_estimator", "§3 [ours]"),
    ("train.rredcot.value_space", "§3 [ours]"),
    ("train.rredcot.end_of_thinking", "§3 [ours]"),
    ("train.rredcot.exit_string", "§3 [ours]"),
    ("train.rredcot.answer_template", "§3 [ours]"),
    ("train.rredcot.sigma_mode", "§4 [ours]"),
    ("train.rredcot.sigma_mix", "§4 [ours]"),
    ("train.rredcot.sigma_temperature", "§4 [ours]"),
    ("train.trl.beta", "§5 [ours]"),
    ("train.trl.epsilon", "§5 [ours]"),
    ("train.trl.temperature", "§5 [ours]"),
    ("train.trl.top_p", "§5 [ours]"),
    ("train.trl.per_device_train_batch_size", "§5 [ours]"),
    ("train.trl.gradient_accumulation_steps", "§5 [ours]"),
    ("train.trl.loss_type", "§4 [ours]"),
    ("train.trl.scale_rewards", "§5 [ours]"),
    ("train.trl.warmup_steps", "§5 [ours]"),
    ("train.seeds", "§5 [ours]"),
    ("data.hub.train_limit", "§5 [ours]"),
    ("eval.temperature", "§5 [ours]"),
    ("eval.top_p", "§5 [ours]"),
    ("eval.max_new_tokens", "§5 [ours]"),
    ("eval.benchmarks.*.n_samples", "§5 [ours]"),
    ("artifacts.metric", "report [ours]"),
    ("artifacts.threshold_fraction", "report [ours]"),
    ("artifacts.sample_efficiency_effect", "report [ours]"),
    ("artifacts.credit_effects.*", "report [ours]"),
    ("artifacts.smooth_window", "report [ours]"),
    ("artifacts.final_window", "report [ours]"),
    ("artifacts.correlation", "§5 Fig. 4 [ours]"),
    ("artifacts.position_bins", "report [ours]"),
    ("artifacts.late_position", "report [ours]"),
    ("artifacts.bootstrap_resamples", "report [ours]"),
    ("artifacts.mc_sd_max_samples", "§5 Fig. 7"),
    ("artifacts.verdict_z", "report [ours]"),
    ("artifacts.min_seeds", "report [ours]"),
    ("artifacts.min_traces", "report [ours]"),
    ("artifacts.value_cost_tolerance", "report [ours]"),
]


def schema_description(schema: Mapping, field: str) -> str | None:
    """The description the config's JSON schema gives a dotted config field (its own, not one of a type it
    refers to with ``$ref``; a ``$ref`` is followed only to reach the fields beneath it), on one line; None
    where it gives none."""
    node = schema
    for part in field.split("."):
        if "properties" not in node and node.get("$ref", "").startswith("#/$defs/"):
            node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
        extra = node.get("additionalProperties")
        node = node.get("properties", {}).get(part, extra if isinstance(extra, dict) else None)
        if node is None:
            return None
    text = node.get("description")
    return " ".join(text.split()) if text else None


def _described(schema: Mapping, field: str) -> str:
    """The schema's description of ``field``: the config's help text, the one place a field is described."""
    text = schema_description(schema, field)
    if text is None:
        raise ValueError(f"experiments/schema.yaml gives no description of {field}: add one there")
    return text


def _lookup(config: dict, dotted: str) -> list[tuple[str, object]]:
    """(field, value) pairs of a dotted path; ``*`` expands over a mapping's keys; missing → not set."""
    results = [("", config)]
    for part in dotted.split("."):
        nxt = []
        for prefix, node in results:
            name = f"{prefix}.{part}" if prefix else part
            if not isinstance(node, dict):
                nxt.append((name, _MISSING))
            elif part == "*":
                nxt.extend((f"{prefix}.{k}" if prefix else k, v) for k, v in node.items())
            else:
                nxt.append((name, node.get(part, _MISSING)))
        results = nxt
    return results


_MISSING = object()


def _cell(text: str) -> str:
    """``text`` as one cell of a Markdown table."""
    return text.replace("|", "\\|")


def _show(value) -> str:
    if value is _MISSING:
        return "not set in this config"
    return _cell(f"`{json.dumps(value, ensure_ascii=False)}`")


def assumptions_table(config: dict, schema: Mapping) -> str:
    """The config's fields that the paper leaves open (:data:`ASSUMPTIONS`) and the credit analysis's, each
    with its value and what it means; ``schema``: the config's JSON schema, whose descriptions say that."""
    lines = [f"| config field | value here | what the paper leaves open | {PAPER} |", "|---|---|---|---|"]
    for dotted, where in ASSUMPTIONS:
        for name, value in _lookup(config, dotted):
            what = _described(schema, name)
            lines.append(f"| `{name}` | {_show(value)} | {_cell(what)} | {where} |")
    for key, value in config.get("analysis", {}).items():
        name = f"analysis.{key}"
        what = _described(schema, name)
        lines.append(f"| `{name}` | {_show(value)} | {_cell(what)} | §5 [ours] |")
    overrides = config.get("train", {}).get("method_overrides", {})
    for method, fields in overrides.items():
        for key, value in fields.items():
            lines.append(
                f"| `train.method_overrides.{method}.{key}` | {_show(value)} | per-method setting | §5 |"
            )
    return "\n".join(lines) + "\n"
