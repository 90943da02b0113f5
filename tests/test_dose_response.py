"""scripts/testbed_dose_response.py: the pre-registered dose-response verdict on hand-made gaps."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "testbed_dose_response.py"
spec = importlib.util.spec_from_file_location("testbed_dose_response", SCRIPT)
dose = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dose)


def rows_and_draws(gaps_by_h: dict[int, list[float]]):
    rng = np.random.default_rng(0)
    rows, draws = [], {}
    for horizon, gaps in gaps_by_h.items():
        gaps = np.asarray(gaps)
        draws[horizon] = dose.resampled_means(gaps, rng)
        rows.append({"H": horizon, "seeds": len(gaps), "gap_eval": gaps.mean(), "control": "not shown"})
    return rows, draws


def test_paired_gaps_pair_the_arms_by_seed():
    table = pd.DataFrame(
        {"arm": ["grpo", "oracle", "grpo", "oracle"], "seed": [0, 0, 1, 1], "eval": [0.5, 0.7, 0.6, 0.5]}
    )
    np.testing.assert_allclose(dose.paired_gaps(table, "eval"), [0.2, -0.1])


@pytest.mark.parametrize(
    ("gaps", "verdict"),
    [
        ({4: [0.0, 0.01, -0.01], 8: [0.05, 0.06, 0.04], 16: [0.2, 0.22, 0.18]}, "shown"),
        ({4: [0.1, 0.11, 0.09], 8: [0.05, 0.06, 0.04], 16: [0.0, 0.01, -0.01]}, "not shown"),
        ({4: [0.0, 0.1, -0.1], 8: [0.01, 0.0, 0.02], 16: [0.05, -0.1, 0.2]}, "inconclusive"),
        # Growing means with a contrast whose interval holds 0 are not enough.
        ({4: [0.0, 0.0, 0.0], 8: [0.01, 0.01, 0.01], 16: [0.3, -0.2, 0.0]}, "inconclusive"),
    ],
)
def test_reading_follows_the_pre_registered_rule(gaps, verdict):
    assert f"dose-response **{verdict}**" in dose.reading(*rows_and_draws(gaps))


def test_a_horizon_with_too_few_seeds_leaves_it_undecided():
    rows, draws = rows_and_draws({4: [0.0, 0.0, 0.0], 8: [0.1, 0.1], 16: [0.3, 0.3, 0.3]})
    assert dose.reading(rows, draws).startswith("dose-response **not decided**: H = 8")


def test_a_horizon_whose_control_is_not_testable_leaves_it_undecided():
    rows, draws = rows_and_draws({4: [0.0, 0.0, 0.0], 8: [0.1, 0.1, 0.1], 16: [0.3, 0.3, 0.3]})
    rows[2]["control"] = "not testable: grpo does not learn here"
    assert dose.reading(rows, draws) == (
        "dose-response **not decided**: the control is H = 16 (not testable: grpo does not learn here)"
    )


def test_the_asides_axis_reads_by_its_own_symbol():
    rows, draws = rows_and_draws({0: [0.0, 0.0, 0.0], 2: [0.1, 0.1], 4: [0.3, 0.3, 0.3]})
    rows = [{"asides": row.pop("H"), **row} for row in rows]
    assert dose.reading(rows, draws, "asides").startswith("dose-response **not decided**: asides = 2 not run")
    assert set(dose.DOSES["asides"].scales) == {0, 2, 4}
