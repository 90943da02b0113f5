"""Problem data in one schema, ``{id, problem, solution, answer, source}``, whatever its origin."""

from __future__ import annotations

REQUIRED_FIELDS = ("id", "problem", "solution", "answer", "source")


def prompt_messages(problem: str) -> list[dict[str, str]]:
    """The conversational prompt for a problem.

    The one place the user turn is built, so that SFT, RL and evaluation show the model the same prompt.
    """
    return [{"role": "user", "content": problem}]
