"""The conda environment, the lock, pyproject and CI stay in step with the README."""

import ast
import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_pins(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]).union(*(project["optional-dependencies"][e] for e in extras))


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[=<>!~\[;]", requirement, maxsplit=1)[0]).strip().lower()


def _locked(lock: str = "requirements.lock") -> dict[str, dict]:
    """A lock as {name: {version, hashes, direct, via}}; direct: pinned by pyproject itself."""
    packages = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text()):
        if match := re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block):
            packages[_name(match[1])] = {
                "version": match[2],
                "hashes": re.findall(r"--hash=sha256:[0-9a-f]{64}", block),
                "direct": "rredcot (pyproject.toml)" in block,
                "via": {_name(n) for n in re.findall(r"^ +#(?: via |   )([A-Za-z0-9][\w.\-]*)", block, re.M)},
            }
    return packages


def _conda_env(env_file: str) -> tuple[list, list]:
    """A conda environment file's conda dependencies and its pip section."""
    dependencies = yaml.safe_load((ROOT / env_file).read_text())["dependencies"]
    pip_section = next(d["pip"] for d in dependencies if isinstance(d, dict))
    return [d for d in dependencies if isinstance(d, str)], pip_section


def test_conda_environment_mirrors_pyproject_dependencies():
    assert set(_conda_env("environment.yml")[1]) == _pyproject_pins()


def test_every_dependency_is_pinned_exactly():
    for requirement in _pyproject_pins():
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", requirement), requirement


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_lock_pins_exactly_pyprojects_dependencies_and_dev_extra():
    """Fails when pyproject.toml changes without `pip-compile` (README, "Quick start")."""
    locked = _locked()
    direct = {name: entry["version"] for name, entry in locked.items() if entry["direct"]}
    pinned = {_name(r): r.split("==")[1] for r in _pyproject_pins("dev")}
    # the CPU wheel's local label (+cpu) is the same release as pyproject's pin
    assert {name: version.split("+")[0] for name, version in direct.items()} == pinned


def test_lock_is_complete_hashed_and_cpu_only():
    locked = _locked()
    assert len(locked) > len(_pyproject_pins("dev"))  # transitive packages are locked too
    assert not [name for name, entry in locked.items() if not entry["hashes"]]
    assert locked["torch"]["version"].endswith("+cpu")
    assert not [name for name in locked if name.startswith(("nvidia-", "cuda-", "triton"))]
    assert "setuptools" in locked  # builds the editable install without network (--no-build-isolation)


def test_workflow_lints_clean(tmp_path):
    """Every rule declares its software (a conda environment), so `--software-deployment-method conda`
    has an environment for each job; the other lints stay fixed too."""
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "-d", str(tmp_path)]
        + ["--lint", "--configfile", str(ROOT / "experiments" / "tiny.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _rredcot_imports(path: Path) -> set[str]:
    """Every rredcot module a source file imports (at its top or inside a function)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rredcot"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("rredcot")}
    return names


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [("method", ("rredcot.pipeline", "rredcot.artifacts")), ("pipeline", ("rredcot.artifacts",))],
)
def test_layers_import_only_downwards(layer, forbidden):
    """The method imports neither the pipeline nor the artifacts; the pipeline never imports the artifacts."""
    package = ROOT / "rredcot"
    files = package.glob("*.py") if layer == "method" else (package / layer).rglob("*.py")
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _rredcot_imports(path)
        if name.startswith(forbidden)
    }
    assert not wrong, sorted(wrong)


def _modules_loaded_by(module: str) -> set[str]:
    """sys.modules after importing ``module`` in a fresh interpreter."""
    code = f"import json, sys; import {module}; print(json.dumps([*sys.modules]))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    return set(json.loads(proc.stdout))


@pytest.mark.parametrize(
    "module", ["rredcot.artifacts.figures", "rredcot.artifacts.report", "rredcot.artifacts.make"]
)
def test_artifacts_import_without_transformers(module):
    """Artifacts read logs only; loading transformers would slow every figure job and tie it to the model
    libraries for two metric names."""
    assert "transformers" not in _modules_loaded_by(module)


def test_report_does_not_import_make_which_calls_it():
    """make resolves report.write_report at call time; the registry they share lives below both."""
    assert "rredcot.artifacts.make" not in _modules_loaded_by("rredcot.artifacts.report")


GPU_LOCK = "requirements-gpu.lock"
GPU_INSTALL = f"pip install -r {GPU_LOCK} && pip install --no-deps --no-build-isolation -e ."


def _lock_python(lock: str) -> str:
    return re.search(r"autogenerated by pip-compile with Python (3\.\d+)", (ROOT / lock).read_text())[1]


def test_gpu_lock_pins_exactly_pyprojects_dependencies_and_gpu_and_dev_extras():
    """Fails when pyproject.toml changes without refreshing the GPU lock (README, "Quick start")."""
    locked = _locked(GPU_LOCK)
    direct = {name: entry["version"] for name, entry in locked.items() if entry["direct"]}
    assert direct == {_name(r): r.split("==")[1] for r in _pyproject_pins("gpu", "dev")}


def test_gpu_lock_is_complete_hashed_and_cuda():
    locked = _locked(GPU_LOCK)
    assert not [name for name, entry in locked.items() if not entry["hashes"]]
    # PyPI's torch, the CUDA build, of the release the CPU lock holds as +cpu; no local label anywhere
    assert not [name for name, entry in locked.items() if "+" in entry["version"]]
    assert locked["torch"]["version"] == _locked()["torch"]["version"].split("+")[0]
    assert {"triton", "nvidia-nccl-cu13", "cuda-toolkit"} <= set(locked)
    # one torch for all of them: vLLM pins it exactly, DeepSpeed and accelerate take that one
    assert {"vllm", "deepspeed", "accelerate", "rredcot"} <= locked["torch"]["via"]
    assert {"vllm", "deepspeed"} <= {name for name, entry in locked.items() if entry["direct"]}
    assert "setuptools" in locked  # builds the editable install without network (--no-build-isolation)
    assert not re.search(r"^-", (ROOT / GPU_LOCK).read_text(), re.M)  # no index or wheel folder named


def test_gpu_conda_environment_installs_the_gpu_lock():
    env_file = ROOT / "experiments" / "envs" / "gpu.yaml"
    conda, pip_section = _conda_env("experiments/envs/gpu.yaml")
    assert f"python={_lock_python(GPU_LOCK)}" in conda
    assert pip_section == [f"-r ../../{GPU_LOCK}"]
    # conda resolves the path from the folder of the file it is given: this file's by hand, and under
    # Snakemake its copy in .snakemake/conda/ of the working directory (the repository root)
    relative = pip_section[0].split()[1]
    assert (env_file.parent / relative).resolve() == ROOT / GPU_LOCK
    assert (ROOT / ".snakemake" / "conda" / relative).resolve() == ROOT / GPU_LOCK
    # Snakemake hashes the file's text only: the lock's hash in it rebuilds the environment on a new lock
    digest = hashlib.sha256((ROOT / GPU_LOCK).read_bytes()).hexdigest()
    assert f"# {GPU_LOCK} sha256: {digest}" in env_file.read_text().splitlines()


def test_readme_installs_gpu_machines_from_the_gpu_lock():
    readme = (ROOT / "README.md").read_text()
    at_scale = readme.split("## Running at scale", 1)[1].split("\n## ", 1)[0]
    venv = f"python{_lock_python(GPU_LOCK)} -m venv .venv && . .venv/bin/activate"
    assert f"{venv} && {GPU_INSTALL}" in at_scale
    assert "[gpu]" not in readme
