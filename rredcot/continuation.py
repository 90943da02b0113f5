"""The continuation a value estimator scores after a state (docs/paper.md §3): one spec, its defaults defined
here.

Every estimator appends ``end_of_thinking + u + answer_template(y)`` to a state; ``estimator`` says where u
comes from. The trainer (:class:`rredcot.RREDCoTConfig`, whose fields of the same names build one), the value
API (:mod:`rredcot.values`) and the analyses share this spec, so they score the same tokens.

Standard library only: the Snakefile imports :data:`VALUE_OPTION_FIELDS` from here, in whatever environment
runs Snakemake.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# "self" scores the other correct completions of a completion's group; "self_inclusive" also its own, which
# measures how well the model copies its own later text (an ablation, not a value).
SELF_ESTIMATORS = ("self", "self_inclusive")
ESTIMATORS = ("reference", "answer_only", *SELF_ESTIMATORS)


@dataclass(frozen=True)
class Continuation:
    """What follows a state when it is valued.

    ``end_of_thinking`` is the marker forced first; ``exit_string`` is the fixed u of the ``answer_only``
    estimator; ``answer_template`` formats the answer y (``str.format`` with ``answer``); ``estimator`` is
    where u comes from: the dataset's worked solution (``reference``), the exit string (``answer_only``) or
    the group's correct completions (:data:`SELF_ESTIMATORS`).
    """

    end_of_thinking: str = "</think>"
    exit_string: str = "The final answer is "
    answer_template: str = "\\boxed{{{answer}}}"
    estimator: str = "reference"

    def __post_init__(self):
        for name in TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string, got {getattr(self, name)!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        # A template that drops the answer (or cannot be formatted) would score the same text for every y.
        try:
            uses_answer = self.answer_template.format(answer="0") != self.answer_template.format(answer="1")
        except (AttributeError, IndexError, KeyError, ValueError):
            uses_answer = False
        if not uses_answer:
            raise ValueError(
                f"answer_template must be a str.format template of {{answer}}, got {self.answer_template!r}"
            )


# The RREDCoTConfig fields (train.rredcot) that spell the continuation's text: a Continuation's own fields
# but the estimator (the config's value_estimator, which also admits the MC oracle).
TEXT_FIELDS = tuple(field.name for field in fields(Continuation) if field.name != "estimator")
# The train.rredcot fields the analyses value with, so that they score what training scores: the
# continuation's text and the scoring budget.
VALUE_OPTION_FIELDS = (*TEXT_FIELDS, "value_batch_tokens")
# The project's spec, the default of every argument that takes one.
DEFAULT_CONTINUATION = Continuation()
