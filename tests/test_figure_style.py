"""One visual language: every configured policy and estimator has its look, a figure shows each series once
and none under another, accuracies stay in [0, 1], few seeds are drawn as seeds, and the base model is drawn
where a figure is about improvement."""

from __future__ import annotations

import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib import pyplot as plt
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer
from synthetic_logs import BENCHMARKS, REPO, make_trace, write_credit, write_evals, write_metrics

from rredcot.artifacts import figures, headroom
from rredcot.artifacts.logs import (
    EXACT,
    GRADIENT,
    LOO,
    MC,
    load_credit,
    load_eval,
    load_metrics,
    rredcot_name,
)
from rredcot.artifacts.style import (
    POLICIES,
    estimator_style,
    estimator_styles,
    policy_styles,
    run_policy,
)
from rredcot.io import write_jsonl

CONFIGS = sorted(
    path
    for path in (REPO / "experiments").glob("*.yaml")
    if "train" in (yaml.safe_load(path.read_text()) or {})
)
SCHEMA = yaml.safe_load((REPO / "experiments" / "schema.yaml").read_text())


def config_figures(config: dict) -> dict[str, list[str]]:
    """Figure -> the policies it draws together, for one config: the methods, each training ablation (its
    labels as the runs they name) and the headroom arms."""
    drawn = {"methods": list(config["train"]["methods"])}
    artifacts = config.get("artifacts", {})
    for name, groups in artifacts.get("training_ablations", {}).items():
        drawn[f"ablation {name}"] = [run_policy(runs[0]) for runs in groups.values()]
    if "headroom" in artifacts:
        spec = artifacts["headroom"]
        drawn["headroom"] = [spec["baseline"], spec["control"], *spec["compared"]]
    return drawn


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_policy_a_config_names_has_a_look_of_its_own(path):
    config = yaml.safe_load(path.read_text())
    named = {*config["train"]["methods"], *config["train"]["variants"]}
    for policies in config_figures(config).values():
        named |= set(policies)
    assert named <= set(POLICIES), f"{path.name}: no style for {sorted(named - set(POLICIES))}"
    for figure, policies in config_figures(config).items():
        colors = [POLICIES[name].color for name in policies]
        assert len(set(colors)) == len(colors), f"{path.name}, {figure}: {policies} share a colour"
    for name in config.get("analysis", {}).get("estimators", []):
        assert estimator_style(rredcot_name(name)) is not None, f"{path.name}: no style for {name}"


def test_no_two_policies_or_estimators_look_alike():
    looks = [(style.color, style.marker) for style in POLICIES.values()]
    assert len(set(looks)) == len(looks)
    estimators = [MC, GRADIENT, LOO, rredcot_name(EXACT)]
    estimators += [rredcot_name(v) for v in SCHEMA["$defs"]["estimator_variant"]["enum"]]
    styles = [estimator_style(name) for name in estimators]
    assert None not in styles, [n for n, s in zip(estimators, styles, strict=True) if s is None]
    looks = [(s.color, s.marker, s.linestyle, s.hollow) for s in styles]
    assert len(set(looks)) == len(looks)
    assert estimator_style(MC).color != estimator_style("RREDCoT self/linear").color


def test_names_without_a_style_get_colours_no_other_series_of_the_figure_has():
    styles = policy_styles(["grpo", "rredcot", "new_variant", "another"])
    colors = [s.color for s in styles.values()]
    assert len(set(colors)) == len(colors)
    assert styles["grpo"] == POLICIES["grpo"]
    assert (
        len(set(s.color for s in estimator_styles([MC, "RREDCoT new/log", "RREDCoT newer/log"]).values()))
        == 3
    )


# ------------------------------------------------------------------------------------- drawn figures
@pytest.fixture
def drawn(monkeypatch):
    """The figures the functions make, kept open for inspection instead of saved."""
    made = []
    monkeypatch.setattr(figures, "save", lambda fig, pdf, png: made.append(fig))
    monkeypatch.setattr(headroom, "save", lambda fig, pdf, png: made.append(fig))
    yield made
    for fig in made:
        plt.close(fig)


OUT = {"pdf": "unused.pdf", "png": "unused.png"}


def check_legends(fig) -> None:
    """Each legend entry is one series: no label twice, and every label names an artist of its axes."""
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        _, labels = ax.get_legend_handles_labels()
        assert len(labels) == len(set(labels)), labels
        assert [t.get_text() for t in legend.get_texts()] == labels
    for legend in fig.legends:  # a legend beside the panels: still one entry per series
        texts = [t.get_text() for t in legend.get_texts()]
        assert len(texts) == len(set(texts)), texts


def check_nothing_hidden(ax) -> None:
    """Two labelled curves with the same points differ in line style or marker positions: both show."""
    lines = [
        line for line in ax.get_lines() if not line.get_label().startswith("_") and len(line.get_xdata()) > 1
    ]
    for a, b in combinations(lines, 2):
        same = np.array_equal(a.get_xdata(), b.get_xdata()) and np.allclose(
            a.get_ydata(), b.get_ydata(), equal_nan=True
        )
        if same:
            assert a.get_linestyle() != b.get_linestyle() or a.get_markevery() != b.get_markevery(), (
                a.get_label(),
                b.get_label(),
            )


def check_accuracy_axes(ax) -> None:
    low, high = ax.get_ylim()
    assert low >= -0.05 and high <= 1.05, (low, high)
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all((y[np.isfinite(y)] >= 0) & (y[np.isfinite(y)] <= 1)), line.get_label()
    for band in (c for c in ax.collections if isinstance(c, PolyCollection)):
        for path in band.get_paths():
            assert np.all((path.vertices[:, 1] >= 0) & (path.vertices[:, 1] <= 1))


def bands(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def noisy_runs(root: Path, method: str, seeds: int, level: float, steps: int = 12) -> list[Path]:
    """Runs near 0 or 1 whose seeds disagree: a t-band around their mean would leave [0, 1]."""
    rng = np.random.default_rng(seeds)
    paths = []
    for seed in range(seeds):
        accuracy = np.clip(level + rng.normal(0, 0.3, steps), 0, 1)
        accuracy[0] = 0.25  # the first step: sampled from the base model
        rows = [
            {"step": s, "accuracy": float(a), "reward": float(a), "generated_tokens": 100.0 * s}
            for s, a in zip(range(1, steps + 1), accuracy, strict=True)
        ]
        path = root / "train" / method / f"seed{seed}" / "metrics.jsonl"
        write_jsonl(path, rows)
        paths.append(path)
    return paths


def test_training_curves_draw_few_seeds_as_seeds_bands_in_range_and_the_base_model(tmp_path, drawn):
    metrics = load_metrics(noisy_runs(tmp_path, "grpo", 5, 0.95) + noisy_runs(tmp_path, "rredcot", 2, 0.05))
    figures.training_curves(metrics, **OUT, threshold_fraction=0.5, smooth_window=1, final_window=3)
    (fig,) = drawn
    assert len(fig.axes) == 2  # vs step, vs tokens: a 0/1 reward would repeat the accuracy
    check_legends(fig)
    for ax in fig.axes:
        check_accuracy_axes(ax)
        base = [line for line in ax.get_lines() if line.get_label().startswith("base model")]
        assert len(base) == 1 and np.allclose(base[0].get_ydata(), 0.25)  # every run's first step
    left = fig.axes[0]
    assert len(bands(left)) == 1  # GRPO: 5 seeds, a band; RREDCoT: 2 seeds, no band
    thin = [
        line for line in left.get_lines() if line.get_label().startswith("_") and line.get_linewidth() < 1
    ]
    assert len(thin) == 2 and {line.get_color() for line in thin} == {POLICIES["rredcot"].color}


def test_the_reward_gets_panels_only_where_it_is_not_the_accuracy(tmp_path, drawn):
    same = load_metrics(write_metrics(tmp_path / "same", seeds=[0, 1]))  # reward = accuracy
    figures.training_curves(same, **OUT, threshold_fraction=0.5, smooth_window=1, final_window=3)
    other = same.assign(reward=same["accuracy"] - 0.5)  # e.g. a ±1 reward
    figures.training_curves(other, **OUT, threshold_fraction=0.5, smooth_window=1, final_window=3)
    assert [len(fig.axes) for fig in drawn] == [2, 4]
    rows = drawn[1].axes
    assert rows[2].get_ylabel() == "mean reward per completion"
    assert rows[2].get_ylim()[0] < -0.3  # not clipped to the accuracy's range


def test_dotted_lines_say_what_they_mark(tmp_path, drawn):
    metrics = load_metrics(write_metrics(tmp_path, seeds=[0, 1]))
    figures.training_curves(metrics, **OUT, threshold_fraction=0.5, smooth_window=3, final_window=5)
    for ax in drawn[0].axes:
        dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
        assert dotted and all("reaches it" in line.get_label() for line in dotted)


def ablation_logs(root: Path):
    """GRPO, an identical copy of it (σ uniform gives GRPO's weights) and RREDCoT, two seeds each."""
    metrics = write_metrics(root, seeds=[0, 1])
    for seed in (0, 1):
        copy = root / "train" / "rredcot_mix0" / f"seed{seed}" / "metrics.jsonl"
        copy.parent.mkdir(parents=True)
        shutil.copy(root / "train" / "grpo" / f"seed{seed}" / "metrics.jsonl", copy)
        metrics.append(copy)
    values = {"base": {"in_dist": 0.3, "more_steps": 0.1}}
    for run, level in (("grpo", 0.5), ("rredcot_mix0", 0.5), ("rredcot", 0.8)):
        values |= {f"{run}/seed{s}": {"in_dist": level, "more_steps": level / 2} for s in (0, 1)}
    groups = {
        "GRPO": ["grpo/seed0", "grpo/seed1"],
        "mix 0": ["rredcot_mix0/seed0", "rredcot_mix0/seed1"],
        "mix 0.5": ["rredcot/seed0", "rredcot/seed1"],
    }
    return load_metrics(metrics), load_eval(write_evals(root / "e", values)), groups


def test_ablation_shows_coinciding_runs_both_and_the_base_model(tmp_path, drawn):
    metrics, evals, groups = ablation_logs(tmp_path)
    figures.ablation_training(
        metrics, evals, groups=groups, benchmarks=BENCHMARKS, metric="avg_at_n", smooth_window=3, **OUT
    )
    (fig,) = drawn
    left, right = fig.axes
    check_legends(fig)
    check_nothing_hidden(left)
    check_accuracy_axes(left)
    assert right.get_ylim()[0] >= -0.05 and right.get_ylim()[1] <= 1.05
    means = {
        line.get_label().split(" (")[0]: line for line in left.get_lines() if "seeds" in line.get_label()
    }
    assert "same curve as GRPO" in means["mix 0"].get_label()
    assert means["GRPO"].get_color() == POLICIES["grpo"].color
    assert means["mix 0"].get_color() == POLICIES["rredcot_mix0"].color
    assert means["mix 0.5"].get_color() == POLICIES["rredcot"].color
    assert not bands(left)  # two seeds: the seeds themselves
    base = [c for c in right.collections if c.get_label() == "base model"]
    assert len(base) == 1
    levels = sorted(float(segment[0, 1]) for segment in base[0].get_segments())
    assert levels == [0.1, 0.3]  # the base model's evaluation on each split
    assert any(line.get_label().startswith("base model") for line in left.get_lines())


def test_without_the_new_looks_the_hidden_curve_check_fails(tmp_path, drawn):
    """The check above can fail: two identical solid lines with the same markers hide one another."""
    fig, ax = plt.subplots()
    drawn.append(fig)
    ax.plot([1, 2, 3], [0.1, 0.2, 0.3], color="blue", label="GRPO")
    ax.plot([1, 2, 3], [0.1, 0.2, 0.3], color="orange", label="mix 0")
    with pytest.raises(AssertionError):
        check_nothing_hidden(ax)


def test_delimiter_drift_shows_equal_methods_both(tmp_path, drawn):
    paths = write_metrics(tmp_path, seeds=[0])
    metrics = load_metrics(paths)
    metrics["delimiters/newlines_mean"] = metrics["step"] * 0.1  # the same for both methods
    metrics["delimiters/thinking_lines_mean"] = 1.0
    figures.delimiter_drift(metrics, **OUT, smooth_window=1)
    for ax in drawn[0].axes:
        check_nothing_hidden(ax)
        assert any("same curve as GRPO" in line.get_label() for line in ax.get_lines())


def test_fig7_averages_over_the_boundaries_its_verdict_reads(tmp_path, drawn):
    rng = np.random.default_rng(0)
    trace = make_trace(rng, 0, n_seg=2)
    trace["mc"]["outcomes"] = [[0] * 8, [1, 0] * 4, [1] * 8]  # only the middle boundary has both outcomes
    figures.fig7_mc_sd([trace], **OUT, max_samples=8, n_resamples=50, n_bins=2)
    right = drawn[0].axes[1]  # after the left panel (its colour bar comes last)
    lines = {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in right.get_lines()}
    varied = lines["mean over the 1 boundaries with both outcomes"]
    every = lines["mean over all 3 boundaries (2 with SD 0 included)"]
    assert np.allclose(every, varied / 3)  # the two degenerate boundaries have SD 0
    assert "1 of 3 boundaries have both outcomes" in right.get_title()


def test_fig3_draws_each_mc_sample_count_apart(tmp_path, drawn):
    rng = np.random.default_rng(0)
    main = [make_trace(rng, i, n_seg=3, n_mc=16) for i in range(3)]
    fewer = [make_trace(rng, i, n_seg=3, n_mc=4) for i in range(3)]  # the segmentation ablation's
    figures.fig3_mc_cost(main, **OUT, variant="reference/log", extra_traces=fewer)
    left = drawn[0].axes[0]
    check_legends(drawn[0])
    labels = [text.get_text() for text in left.get_legend().get_texts()]
    assert labels[:2] == [
        "Monte Carlo values, 16 samples per boundary",
        "Monte Carlo values, 4 samples per boundary",
    ]
    filled, hollow = left.collections[:2]
    assert tuple(hollow.get_facecolor()[0]) == (1.0, 1.0, 1.0, 0.5)  # white, at the points' alpha
    assert tuple(filled.get_facecolor()[0]) != tuple(hollow.get_facecolor()[0])


def test_error_localization_and_fig4_give_each_estimator_its_look_and_an_interval(tmp_path, drawn):
    traces = load_credit(write_credit(tmp_path))
    for trace in traces:
        if trace["correct"] == 0:
            trace.update(first_error=trace["spans"][1][0], first_error_checked=True)
    figures.error_localization(traces, **OUT, n_resamples=20)
    bars = drawn[0].axes[0].patches
    looks = [(tuple(bar.get_facecolor()), tuple(bar.get_edgecolor()), bar.get_hatch()) for bar in bars]
    assert len(set(looks)) == len(looks)  # MC and self/linear no longer both black
    figures.fig4_estimator_correlation(traces, **OUT, n_bins=2, n_resamples=50)
    right = drawn[1].axes[2]
    check_legends(drawn[1])
    intervals = [c for c in right.containers if isinstance(c, ErrorbarContainer)]
    assert len(intervals) == 8  # every estimator but MC: six RREDCoT variants, gradient, LOO
    for container in intervals:
        (segments,) = container.lines[2]
        assert any(np.ptp(s[:, 1]) > 0 for s in segments.get_segments())


def test_headroom_uses_the_shared_looks(tmp_path, drawn):
    from test_headroom import make, write_logs

    make(tmp_path, *write_logs(tmp_path))
    (fig,) = drawn
    curves, points = fig.axes
    check_legends(fig)
    check_accuracy_axes(curves)
    means = {line.get_label().split(" (")[0]: line.get_color() for line in curves.get_lines()}
    assert means["GRPO"] == POLICIES["grpo"].color and means["oracle"] == POLICIES["oracle"].color
    assert [t.get_text() for t in points.get_xticklabels()] == ["GRPO", "oracle", "RREDCoT"]
    (legend,) = fig.legends  # the curves' legend sits below the panels, over no line
    assert curves.get_legend() is None and "GRPO final 0.600" in [t.get_text() for t in legend.get_texts()]
