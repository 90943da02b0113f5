"""profiles/from-logs lets exactly the rules that turn logs into artifacts run (tests/test_pipeline.py
rebuilds the smoke artifacts through it from the shipped logs alone)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT_RULE_FILES = ["figures.smk", "tables.smk", "report.smk"]
PIPELINE_RULE_FILES = [
    "data.smk", "base_model.smk", "train.smk", "evaluate.smk", "analysis.smk", "machines.smk"
]  # fmt: skip


def rules_in(files: list[str]) -> set[str]:
    text = "".join((ROOT / "experiments" / "rules" / name).read_text() for name in files)
    return set(re.findall(r"^\s*rule (\w+):", text, re.M))


def test_from_logs_allows_every_artifact_rule_and_no_pipeline_rule():
    allowed = set(
        yaml.safe_load((ROOT / "profiles" / "from-logs" / "config.yaml").read_text())["allowed-rules"]
    )
    assert allowed == rules_in(ARTIFACT_RULE_FILES) | {"all"}
    pipeline = rules_in(PIPELINE_RULE_FILES)
    assert {"train_policy", "evaluate_policy", "credit_analysis"} <= pipeline
    assert not allowed & pipeline
