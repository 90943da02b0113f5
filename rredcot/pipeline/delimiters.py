"""Delimiter statistics of the sampled completions, logged at every training step for every method.

Newline segmentation ties credit to ``"\\n"``, and a policy can learn to avoid the delimiter its credit is
tied to (PURE reports a policy that stopped writing ``"\\n\\n"`` step delimiters). Logging the newlines and
thinking lines per completion for GRPO and RREDCoT alike shows whether RREDCoT's traces drift apart from
GRPO's (issue: delimiter drift; the figure ``delimiter_drift`` and the report read these metrics).
"""

from __future__ import annotations

from rredcot.pipeline.metric_names import NEWLINES_METRIC, THINKING_LINES_METRIC
from rredcot.pipeline.tokenizer import THINK_END

DELIMITER_METRICS = (NEWLINES_METRIC, THINKING_LINES_METRIC)


def delimiter_counts(text: str, end_of_thinking: str = THINK_END) -> tuple[int, int]:
    """``(newlines, thinking lines)`` of one completion: every ``"\\n"``, and the non-blank lines before the
    first ``end_of_thinking`` (the whole text when the marker is missing), i.e. what newline segmentation
    would cut the reasoning into before any cap on the number of segments."""
    thinking = text.split(end_of_thinking, 1)[0]
    return text.count("\n"), sum(1 for line in thinking.split("\n") if line.strip())


class DelimiterStatsMixin:
    """Logs :data:`DELIMITER_METRICS`, means over all processes' completions of the step; changes no loss."""

    def _generate_and_score_completions(self, inputs):
        import torch  # here, so the report can read the metric names without loading torch

        output = super()._generate_and_score_completions(inputs)
        lengths = output["completion_mask"].sum(dim=1).tolist()
        texts = self.processing_class.batch_decode(
            [ids[: int(n)].tolist() for ids, n in zip(output["completion_ids"], lengths, strict=True)],
            skip_special_tokens=False,  # keep the end-of-thinking marker, a special token in some tokenizers
        )
        counts = [delimiter_counts(text) for text in texts]
        local = torch.tensor(
            [sum(c[0] for c in counts), sum(c[1] for c in counts), len(counts)],
            dtype=torch.float64,
            device=self.accelerator.device,
        )
        newlines, lines, n = self.accelerator.reduce(local, reduction="sum").tolist()
        mode = "train" if self.model.training else "eval"
        self._metrics[mode][NEWLINES_METRIC].append(newlines / n if n else float("nan"))
        self._metrics[mode][THINKING_LINES_METRIC].append(lines / n if n else float("nan"))
        return output
