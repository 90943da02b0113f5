"""The Snakemake pipeline end to end on the smoke config: locally, under real SLURM, on hub-schema data."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_slurm import run_snakemake_slurm, slurm_cluster  # noqa: F401  (fixture)

from rredcot.io import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "smoke.yaml"
pytestmark = pytest.mark.slow


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


browser = _script("check_report_in_browser")
ship_logs = _script("ship_logs")


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
    ]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=900)


def check_smoke_outputs(workdir: Path, config: dict) -> None:
    results = workdir / "results" / config["scale"]
    steps = config["train"]["trl"]["max_steps"]
    for method in config["train"]["methods"]:
        for seed in config["train"]["seeds"]:
            run = results / "train" / method / f"seed{seed}"
            assert (run / "model" / "config.json").is_file()
            assert [row["step"] for row in read_jsonl(run / "metrics.jsonl")] == list(range(1, steps + 1))
    for policy in [
        "base",
        *(f"{m}/seed{s}" for m in config["train"]["methods"] for s in config["train"]["seeds"]),
    ]:
        for benchmark, settings in config["eval"]["benchmarks"].items():
            summary = json.loads((results / "eval" / policy / f"{benchmark}.json").read_text())
            assert 0.0 <= summary["avg_at_n"] <= 1.0
            assert summary["n_samples"] == settings["n_samples"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    proc = snakemake(workdir, "--cores", "2", "--configfile", str(SMOKE))
    assert proc.returncode == 0, proc.stderr[-6000:]
    return workdir


def test_smoke_pipeline_produces_every_declared_output(smoke_run):
    check_smoke_outputs(smoke_run, yaml.safe_load(SMOKE.read_text()))


def test_finished_pipeline_has_nothing_left_to_do(smoke_run):
    proc = snakemake(smoke_run, "-n", "--configfile", str(SMOKE))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def html_report(smoke_run):
    report = smoke_run / "report.html"
    proc = snakemake(smoke_run, "--report", str(report), "--configfile", str(SMOKE))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return report


def caption_openings() -> dict[str, str]:
    """Each caption file -> its first words up to the first literal, which the report shows verbatim."""
    return {
        rst.name: " ".join(itertools.takewhile(lambda word: "`" not in word, rst.read_text().split()[:6]))
        for rst in (ROOT / "experiments" / "report").glob("*.rst")
    }


def test_html_report_holds_every_figure_and_table_under_its_caption(smoke_run, html_report):
    html = html_report.read_text()
    # the report embeds its items as one JSON object: path -> name, caption (rendered .rst), data, ...
    start = re.search(r'<script id="results">\s*var results = ', html).end()
    items, _ = json.JSONDecoder().raw_decode(html, start)
    made = [*(smoke_run / "figures").rglob("*.png"), *(smoke_run / "paper_tables").rglob("*.csv")]
    expected = {str(path.relative_to(smoke_run)) for path in made} | {"paper_tables/smoke/REPLICATION.md"}
    assert made and set(items) == expected
    # docutils writes what it cannot parse into the caption as a "system message" and carries on
    assert not [path for path, item in items.items() if "system-message" in item["caption"]]
    captions = [re.sub(r"<[^>]+>|\s+", " ", item["caption"]).strip() for item in items.values()]
    assert all(captions)
    for name, opening in caption_openings().items():
        assert any(caption.startswith(opening) for caption in captions), name


def test_html_report_shows_every_figure_with_its_caption_in_chromium(smoke_run, html_report):
    """The report's figures exist only once its JavaScript ran and a reader clicked to them: the browser
    clicks to each one, and the figure must be decoded and inside the window, beside its caption."""
    chromium = browser.find_chromium()
    if chromium is None:
        pytest.skip("no Chromium on PATH or in $CHROMIUM (Debian: apt-get install chromium-headless-shell)")
    shown, errors = browser.render_report(html_report, chromium)
    assert errors == []
    figures = {str(path.relative_to(smoke_run)) for path in (smoke_run / "figures").rglob("*.png")}
    assert figures and {item["path"] for item in shown if item["image"]} == figures
    assert {item["path"]: browser.problems(item) for item in shown} == {item["path"]: [] for item in shown}
    for name, opening in caption_openings().items():
        assert any(item["caption"].startswith(opening) for item in shown), name


def test_changed_eval_setting_reruns_only_evaluation(smoke_run):
    config = yaml.safe_load(SMOKE.read_text())
    config["eval"]["max_new_tokens"] += 1
    changed = smoke_run / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    proc = snakemake(smoke_run, "-n", "--configfile", str(changed))
    planned = set(re.findall(r"^rule (\w+):", proc.stdout, flags=re.M))
    assert "evaluate_policy" in planned
    assert not planned & {"prepare_data", "sft_base_model", "train_policy"}


@pytest.mark.slurm
def test_smoke_pipeline_under_slurm(slurm_cluster, tmp_path):  # noqa: F811
    """Data, SFT, one training run and its evaluation as sbatch jobs (the artifact rules are local rules)."""
    target = "results/smoke/eval/rredcot/seed0/in_dist.json"
    run_snakemake_slurm(ROOT / "Snakefile", tmp_path, configfile=SMOKE, targets=[target], timeout_s=900)
    assert json.loads((tmp_path / target).read_text())["n_samples"] == 2
    logs = sorted((tmp_path / "results" / "smoke" / "logs").rglob("*.log"))
    assert len(logs) == 4  # prepare_data, sft_base_model, train_policy, evaluate_policy
    for log in logs:
        job = re.search(r"SLURM_JOB_ID=(\S+)", log.read_text())
        assert job and job.group(1).isdigit(), f"{log} did not run under SLURM"


def test_hub_data_with_pretrained_random_init_policy(tmp_path, char_tokenizer):
    """The nano/paper code path offline: hub-schema fixtures, a pretrained model dir with random weights."""
    from transformers import Qwen3Config

    model_dir = tmp_path / "hub_model"
    Qwen3Config(
        vocab_size=len(char_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=1024,
        pad_token_id=char_tokenizer.pad_token_id, eos_token_id=char_tokenizer.eos_token_id,
    ).save_pretrained(model_dir)  # fmt: skip
    char_tokenizer.save_pretrained(model_dir)

    fixtures = ROOT / "tests" / "fixtures" / "hub"
    config = yaml.safe_load(SMOKE.read_text())
    config["scale"] = "smoke_hub"
    config["data"] = {
        "kind": "hub",
        "seed": 0,
        "hub": {
            "catalog": "experiments/datasets.yaml",
            "train": "open_rs",
            "train_limit": None,
            "benchmarks": ["math500", "aime24"],
            "data_files": {
                "open_rs": str(fixtures / "open_rs.parquet"),
                "math500": str(fixtures / "math500.jsonl"),
                "aime24": str(fixtures / "aime24.parquet"),
            },
        },
    }
    config["base_model"] = {"kind": "pretrained", "name_or_path": str(model_dir), "random_init": True}
    config["train"]["methods"] = ["rredcot"]
    config["train"]["trl"].update(max_steps=1, per_device_train_batch_size=4, max_completion_length=24)
    config["eval"]["max_new_tokens"] = 16
    config["eval"]["benchmarks"] = {
        "math500": {"n_samples": 1, "pass_k": [1]},
        "aime24": {"n_samples": 1, "pass_k": [1]},
    }
    config["analysis"].update(
        benchmark="math500",
        n_traces=1,
        min_incorrect_share=0.0,
        min_correct_share=0.0,
        n_mc_samples=2,
        n_mc_samples_ablation=1,
    )
    configfile = tmp_path / "hub.yaml"
    configfile.write_text(yaml.safe_dump(config))

    results = tmp_path / "results" / "smoke_hub"
    targets = [
        f"results/smoke_hub/eval/{policy}/{name}.json"
        for policy in ("base", "rredcot/seed0")
        for name in ("math500", "aime24")
    ]
    proc = snakemake(tmp_path, "--cores", "2", *targets, "--configfile", str(configfile))
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert len(read_jsonl(results / "data" / "eval" / "aime24.jsonl")) == 3
    assert read_jsonl(results / "train" / "rredcot" / "seed0" / "metrics.jsonl")[0]["step"] == 1
    assert json.loads((results / "eval" / "rredcot" / "seed0" / "math500.json").read_text())["n_samples"] == 1


def test_artifacts_rebuild_from_the_shipped_logs_alone(smoke_run, tmp_path):
    """A fresh clone holds only the shipped logs, with checkout-order mtimes: the from-logs profile rebuilds
    every figure, table and the report from them, and runs no training, evaluation or analysis."""
    import random
    import shutil

    shutil.copytree(smoke_run / "results", tmp_path / "results")
    logs = set(ship_logs.artifact_inputs([str(SMOKE)], [], tmp_path))
    shipped = [
        p for p in (tmp_path / "results").rglob("*") if p.is_file() and str(p.relative_to(tmp_path)) in logs
    ]
    assert shipped and all(p.suffix in (".json", ".jsonl", ".csv") for p in shipped)
    for path in (tmp_path / "results").rglob("*"):
        if path.is_file() and path not in shipped:
            path.unlink()  # models, checkpoints, data: what a clone does not have
    for path in random.Random(0).sample(shipped, len(shipped)):
        path.touch()  # a checkout writes files in its own order
    profile = str(ROOT / "profiles" / "from-logs")
    proc = snakemake(tmp_path, "--profile", profile, "--cores", "1", "--configfile", str(SMOKE))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = set(re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, re.M))
    allowed = set(
        yaml.safe_load((ROOT / "profiles" / "from-logs" / "config.yaml").read_text())["allowed-rules"]
    )
    assert ran and ran <= allowed, ran - allowed
    config = yaml.safe_load(SMOKE.read_text())
    report = Path("paper_tables") / config["scale"] / "REPLICATION.md"
    # the same logs give the same report as the run that made them, machines table included
    assert (tmp_path / report).read_text() == (smoke_run / report).read_text()
    assert "Machines behind these numbers" in (tmp_path / report).read_text()
    assert (tmp_path / "figures" / config["scale"] / "fig4_estimator_correlation.png").is_file()
