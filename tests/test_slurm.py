"""Runs Snakemake workflows through a real SLURM (``--executor slurm``).

Needs a running cluster with an idle node, e.g. the local one from
``bash scripts/slurm_local.sh start``; otherwise every test here is skipped.
The helper :func:`run_snakemake_slurm` is meant for reuse: adding the project's smoke
pipeline is one call, e.g.::

    def test_smoke_pipeline_under_slurm(slurm_cluster, tmp_path):
        run_snakemake_slurm(REPO / "Snakefile", tmp_path,
                            configfile=REPO / "experiments" / "smoke.yaml", timeout_s=600)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SLURM_LOCAL_PROFILE = REPO / "profiles" / "slurm-local"

pytestmark = pytest.mark.slurm


def slurm_unavailable_reason() -> str | None:
    """Why SLURM can't be used here, or None when a node is idle."""
    if shutil.which("sinfo") is None:
        return "sinfo not on PATH (start a local SLURM: bash scripts/slurm_local.sh start)"
    try:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"SLURM not reachable (sinfo: {exc}); start it: bash scripts/slurm_local.sh start"
    if out.returncode != 0:
        err = out.stderr.strip().splitlines()[-1:] or [""]
        return f"SLURM not running (sinfo: {err[0]}); start it: bash scripts/slurm_local.sh start"
    if "idle" not in out.stdout.split():
        return f"no idle SLURM node (node states: {out.stdout.split()})"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Skips the test unless a SLURM node is idle."""
    reason = slurm_unavailable_reason()
    if reason:
        pytest.skip(reason)


def run_snakemake_slurm(
    snakefile: Path,
    workdir: Path,
    *,
    configfile: Path | Sequence[Path] | None = None,
    targets: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    profile: Path = SLURM_LOCAL_PROFILE,
    timeout_s: int = 300,
    entry: Sequence[str] = ("-m", "snakemake"),
) -> subprocess.CompletedProcess[str]:
    """Run ``snakemake --executor slurm`` and fail the test with the logs if it fails.

    The run is wrapped in ``timeout -k 10 timeout_s``: a misconfigured status check makes
    the plugin wait forever, ignoring SIGTERM. The jobs inherit this environment
    (``sbatch --export=ALL``); the venv's bin/ is put first on PATH so that commands in the
    rules (``python``, ``rredcot``...) resolve to this interpreter's environment. ``configfile``
    may be a config and its overlays; ``entry`` is what the interpreter runs (a script that
    wraps Snakemake's CLI, e.g. tests/fake_hub.py).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "timeout", "-k", "10", str(timeout_s),
        sys.executable, *entry,
        "--snakefile", str(snakefile),
        "--directory", str(workdir),
        "--executor", "slurm",
        "--profile", str(profile),
        "--workflow-profile", "none",
    ]  # fmt: skip
    cmd += [*targets, *extra_args]  # before --configfile, which would swallow them
    if configfile is not None:
        configfiles = [configfile] if isinstance(configfile, (str, Path)) else configfile
        cmd += ["--configfile", *map(str, configfiles)]
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
        log_text = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs[-4:])
        what = "TIMED OUT" if proc.returncode in (124, 137) else f"exit {proc.returncode}"
        pytest.fail(
            f"snakemake under SLURM failed ({what}): {' '.join(cmd)}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-8000:]}\n{log_text}",
            pytrace=False,
        )
    return proc


TINY_SNAKEFILE = textwrap.dedent(
    """\
    rule all:
        input: "b.txt"

    rule a:
        output: "a.txt"
        resources: mem_mb=100, runtime=5
        shell: 'echo "$SLURM_JOB_ID" > {output}'

    rule b:
        input: "a.txt"
        output: id="b.txt", env="b_env.txt"
        resources: mem_mb=100, runtime=5
        shell:
            '''
            echo "$SLURM_JOB_ID" > {output.id}
            python -c 'import sys; print(sys.prefix)' > {output.env}
            '''
    """
)


def test_tiny_workflow_runs_as_slurm_jobs(slurm_cluster, tmp_path):
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(TINY_SNAKEFILE)
    run_snakemake_slurm(snakefile, tmp_path, timeout_s=300)

    job_ids = [(tmp_path / name).read_text().strip() for name in ("a.txt", "b.txt")]
    for job_id in job_ids:
        assert job_id.isdigit(), f"SLURM_JOB_ID not set inside the job: {job_ids!r}"
    assert job_ids[0] != job_ids[1], "both rules ran in the same SLURM job"
    # the job saw the same Python environment as the submitting process
    assert (tmp_path / "b_env.txt").read_text().strip() == sys.prefix
