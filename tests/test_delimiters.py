"""Delimiter statistics: the counts on hand-written completions and the logged means."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from rredcot.pipeline.delimiters import (
    NEWLINES_METRIC,
    THINKING_LINES_METRIC,
    DelimiterStatsMixin,
    delimiter_counts,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, 0)),
        ("no newline", (0, 1)),
        ("<think>\n2+3=5\n\n5*2=10\n</think>\n\\boxed{10}", (5, 3)),  # '<think>' counts as a line
        ("2+3=5\n5*2=10", (1, 2)),  # no marker: the whole text is thinking
        ("a</think>\nb\nc\n", (3, 1)),
    ],
)
def test_delimiter_counts(text, expected):
    assert delimiter_counts(text) == expected


class _Base:
    def __init__(self, output):
        self.output = output

    def _generate_and_score_completions(self, inputs):
        return self.output


class _Logged(DelimiterStatsMixin, _Base):
    def __init__(self, output, texts):
        super().__init__(output)
        by_length = {len(t): t for t in texts}
        self.processing_class = SimpleNamespace(
            batch_decode=lambda ids, skip_special_tokens: [by_length[len(i)] for i in ids]
        )
        self.accelerator = SimpleNamespace(device="cpu", reduce=lambda t, reduction: t)
        self.model = SimpleNamespace(training=True)
        self._metrics = {"train": defaultdict(list)}


def test_mixin_logs_means_over_unpadded_completions_and_returns_the_output_unchanged():
    texts = ["a\nb", "x\n\ny\nz\n"]  # (1, 2) and (4, 3): padding beyond the mask must not be decoded
    ids = torch.zeros(2, 10, dtype=torch.long)
    mask = torch.tensor([[1] * 3 + [0] * 7, [1] * 7 + [0] * 3])
    output = {"completion_ids": ids, "completion_mask": mask}
    trainer = _Logged(output, texts)
    assert trainer._generate_and_score_completions({}) is output
    assert trainer._metrics["train"][NEWLINES_METRIC] == [2.5]
    assert trainer._metrics["train"][THINKING_LINES_METRIC] == [2.5]
