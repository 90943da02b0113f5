"""The logs that a scale's figures, tables and report read, to commit beside them.

    python scripts/ship_logs.py --configfile experiments/testbed.yaml experiments/overlays/testbed_h4.yaml
    python scripts/ship_logs.py --configfile experiments/testbed.yaml ... --add      # git add -f them

``results/`` is git-ignored (models and checkpoints are large); the small logs the artifacts read (per-step
metrics, evaluation summaries, analysis logs) are committed by name, so that on a fresh clone
``snakemake --profile profiles/from-logs <figure>`` rebuilds any figure, table or the report from them in
about a minute, without training. The list is what Snakemake plans as the inputs of every artifact rule
(``--forceall`` under that profile) that lie under the scale's results folder; rerunning a stage overwrites
these files in the usual way, and git shows them changed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = "profiles/from-logs"


def artifact_inputs(configfiles: list[str], targets: list[str], workdir: Path = ROOT) -> list[str]:
    """Every input of the artifact jobs that build ``targets`` (default: the config's default target), as
    paths relative to ``workdir``."""
    plan = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--profile", str(ROOT / PROFILE), *targets]
        + ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", *configfiles],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    inputs = set()
    for line in plan.splitlines():
        if line.strip().startswith("input: "):
            inputs.update(path.strip() for path in line.strip().removeprefix("input: ").split(", "))
    return sorted(inputs)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configfile", nargs="+", required=True)
    parser.add_argument("--targets", nargs="*", default=[], help="artifact targets (default: the config's)")
    parser.add_argument("--results", default="results", help="the results root (results_root)")
    parser.add_argument("--add", action="store_true", help="git add -f the logs")
    args = parser.parse_args(argv)
    logs = [p for p in artifact_inputs(args.configfile, args.targets) if p.startswith(f"{args.results}/")]
    missing = [p for p in logs if not (ROOT / p).exists()]
    if missing:
        raise SystemExit(f"{len(missing)} logs are missing (run the pipeline first), e.g. {missing[:3]}")
    size = sum((ROOT / p).stat().st_size for p in logs)
    print("\n".join(logs))
    print(f"{len(logs)} files, {size / 2**20:.2f} MiB", file=sys.stderr)
    if args.add:
        subprocess.run(["git", "add", "-f", "--", *logs], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
