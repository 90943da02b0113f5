"""profiles/slurm: the rules it names exist, every rule that can get GPUs is named and warned before its time
limit, and the launch command reads the same wherever it is written. Parses only (no SLURM needed)."""

import ast
import re
import signal
from collections import defaultdict
from pathlib import Path

import pytest
from snakemake.api import SnakemakeApi
from snakemake.cli import parse_set_resources
from snakemake.profiles import ProfileConfigFileParser
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

from rredcot.pipeline.train import STOP_SIGNALS

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
SCALES = ["tiny", "smoke", "nano", "paper"]
LAUNCH = "snakemake --workflow-profile profiles/slurm --configfile experiments/paper.yaml"
LAUNCH_DOCS = ["README.md", "Snakefile", "profiles/slurm/README.md", "profiles/slurm/config.yaml"]
# sbatch --signal to every job step (no `B:`, which signals only the batch shell), by name or number.
SIGNAL = re.compile(r"--signal=(?P<name>[A-Z0-9]+)@(?P<lead>\d+)")
MIN_LEAD_S = 900  # a paper-scale step (~450 s) begun just before the notice, then its checkpoint


def profile_resources() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """default-resources and set-resources ({rule: {resource: value}}) as Snakemake reads them from the
    profile (YAML anchors resolved)."""
    with PROFILE.open() as stream:
        args = ProfileConfigFileParser().parse(stream)
    parse_set_resources(args["set-resources"])  # raises on an entry Snakemake would refuse
    by_rule = defaultdict(dict)
    for entry in args["set-resources"]:
        rule, assignment = entry.split(":", 1)
        resource, value = assignment.split("=", 1)
        by_rule[rule][resource] = value
    return dict(entry.split("=", 1) for entry in args["default-resources"]), dict(by_rule)


@pytest.fixture(scope="module")
def rule_gpus(tmp_path_factory) -> dict[str, dict[str, int]]:
    """scale -> {rule: GPUs its resources request} for every rule the workflow defines under that config."""
    gpus = {}
    for scale in SCALES:
        with SnakemakeApi(OutputSettings()) as api:
            workflow_api = api.workflow(
                resource_settings=ResourceSettings(),
                config_settings=ConfigSettings(configfiles=[ROOT / "experiments" / f"{scale}.yaml"]),
                snakefile=ROOT / "Snakefile",
                workdir=tmp_path_factory.mktemp(scale),
            )
            # The parsed workflow; the public API only prints rule names.
            rules = workflow_api._workflow.rules
            gpus[scale] = {
                rule.name: rule.resources["gpu"].value if "gpu" in rule.resources else 0 for rule in rules
            }
    return gpus


def test_set_resources_names_only_rules_of_the_workflow(rule_gpus):
    named = set(profile_resources()[1])
    defined = set().union(*rule_gpus.values())
    assert named <= defined, f"profiles/slurm names rules no config defines: {sorted(named - defined)}"


def test_every_rule_that_gets_gpus_has_a_gpu_partition(rule_gpus):
    default, by_rule = profile_resources()
    gpu_rules = {rule for gpus in rule_gpus.values() for rule, n in gpus.items() if n > 0}
    assert gpu_rules, "no configuration gives any rule GPUs"
    for rule in sorted(gpu_rules):
        assert rule in by_rule, f"{rule} gets GPUs but profiles/slurm has no set-resources entry for it"
        partition = by_rule[rule].get("slurm_partition")
        assert partition and partition != default["slurm_partition"], f"{rule}: not on the GPU partition"


def test_every_rule_that_gets_gpus_is_warned_in_time_by_a_signal_the_trainer_stops_on(rule_gpus):
    by_rule = profile_resources()[1]
    gpu_rules = {rule for gpus in rule_gpus.values() for rule, n in gpus.items() if n > 0}
    for rule in sorted(gpu_rules):
        extra = ast.literal_eval(by_rule[rule].get("slurm_extra", "''"))
        refused = get_forbidden_slurm_options().items()
        forbidden = [name for pattern, name in refused if re.search(pattern, extra)]
        assert not forbidden, f"{rule}: the SLURM plugin refuses slurm_extra with {forbidden}"
        match = SIGNAL.fullmatch(extra)
        assert match, f"{rule}: slurm_extra {extra!r} sets no --signal=<SIG>@<seconds> for every job step"
        name = match["name"]
        signum = signal.Signals(int(name)) if name.isdigit() else signal.Signals[f"SIG{name}"]
        assert signum in STOP_SIGNALS and signum != signal.SIGTERM, (
            f"{rule}: training must stop on {signum.name}, and bash and the launcher must ignore it"
        )
        assert int(match["lead"]) >= MIN_LEAD_S, f"{rule}: {match['lead']} s is too little lead"


@pytest.mark.parametrize("path", LAUNCH_DOCS)
def test_launch_command_is_the_same_everywhere(path):
    assert LAUNCH in (ROOT / path).read_text()
