"""The quotas of the credit analysis's stratified trace selection (correct / incorrect traces).

Standard library only: the analysis applies them, and the Snakefile checks them with the same function
before any job, in whatever environment runs Snakemake.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Strata:
    """How many traces the credit analysis keeps, and the least of them that must be incorrect and correct.

    The minimum counts are the shares of ``n_traces`` rounded up; a stratum may take at most ``n_traces``
    minus the other stratum's minimum.
    """

    n_traces: int
    min_incorrect: int
    min_correct: int

    def cap(self, correct: int) -> int:
        return self.n_traces - (self.min_incorrect if correct else self.min_correct)


def check_strata(n_traces: int, min_incorrect_share: float, min_correct_share: float) -> Strata:
    """The quotas of the stratified selection; a bad setting stops with its field's name."""
    if isinstance(n_traces, bool) or not isinstance(n_traces, int) or n_traces < 1:
        raise ValueError(f"n_traces must be an integer >= 1, got {n_traces!r}")
    shares = {"min_incorrect_share": min_incorrect_share, "min_correct_share": min_correct_share}
    for name, share in shares.items():
        if not (isinstance(share, int | float) and math.isfinite(share) and 0.0 <= share <= 1.0):
            raise ValueError(f"{name} must be a number in [0, 1], got {share!r}")
    if min_incorrect_share + min_correct_share > 1.0 + 1e-9:
        raise ValueError(
            f"min_incorrect_share + min_correct_share must be <= 1, got {min_incorrect_share} + "
            f"{min_correct_share}"
        )
    # Rounded up (with slack for binary fractions: 0.1 * 30 is 3, not 4).
    least = {name: math.ceil(share * n_traces - 1e-9) for name, share in shares.items()}
    if sum(least.values()) > n_traces:
        raise ValueError(
            f"min_incorrect_share and min_correct_share of n_traces={n_traces} round up to "
            f"{least['min_incorrect_share']} + {least['min_correct_share']} traces, more than n_traces"
        )
    return Strata(n_traces, least["min_incorrect_share"], least["min_correct_share"])


def stratified_draws(
    rows: Sequence[Mapping], correct_of: Callable[[Mapping], int], strata: Strata
) -> Iterator[dict]:
    """Draw one trace per row, in row order, until ``strata.n_traces`` are accepted or the rows run out.

    ``correct_of(row)`` samples and grades the row's trace (0 or 1). A draw is accepted when its stratum is
    below its cap (:meth:`Strata.cap`), so both minimums can still be met. Yields every draw as
    ``{"id", "correct", "accepted"}``.
    """
    counts = {0: 0, 1: 0}
    for row in rows:
        if counts[0] + counts[1] >= strata.n_traces:
            return
        correct = int(correct_of(row))
        if correct not in counts:
            raise ValueError(f"problem {row['id']!r}: a grade must be 0 or 1, got {correct!r}")
        accepted = counts[correct] < strata.cap(correct)
        counts[correct] += accepted
        yield {"id": row["id"], "correct": correct, "accepted": accepted}
