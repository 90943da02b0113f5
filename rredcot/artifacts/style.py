"""One look per policy and per credit estimator, shared by every figure, so that a colour means one thing.

Policies are the base model, the methods (``train.methods``) and their variants (``train.variants``); a
training-ablation label is drawn as the run it names. Estimators are MC, RREDCoT's value variants
(``<estimator>/<space>``: the estimator gives the colour, the space the marker, line and hatch) and the two
attributions. GRPO is blue, RREDCoT vermillion, the base model and MC black, exact values green, in every
figure. Two entries share a colour only where no configured figure shows them together (the tests check the
configs), or where one is the other's hollow twin (dashed line, open markers: ``oracle_mix1`` beside
``oracle``, an estimator's linear space beside its log space); their markers always differ. Categories that
are neither (trace strata, correlation kinds, parts of a value) are drawn in greys. Colours: Okabe–Ito and
its grey, readable with colour-vision deficiencies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from rredcot.artifacts.logs import GRADIENT, LOO, MC

PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}


@dataclass(frozen=True)
class Style:
    """Colour and marker of one series; ``hollow`` (dashed line, open markers, hatched bars) tells apart two
    series of one colour, e.g. an estimator's linear space from its log space."""

    color: str
    marker: str
    linestyle: str = "-"
    hollow: bool = False

    @property
    def line(self) -> dict:
        """Keywords of ``Axes.plot``."""
        face = {"markerfacecolor": "white"} if self.hollow else {}
        return {"color": self.color, "marker": self.marker, "linestyle": self.linestyle, **face}

    @property
    def bar(self) -> dict:
        """Keywords of ``Axes.bar``."""
        if self.hollow:
            return {"color": "white", "edgecolor": self.color, "hatch": "////"}
        return {"color": self.color, "edgecolor": "0.3"}


BASE = "base"
POLICIES = {
    BASE: Style(PALETTE["black"], "*", "--"),
    "grpo": Style(PALETTE["blue"], "o"),
    "rredcot": Style(PALETTE["vermillion"], "s"),
    "oracle": Style(PALETTE["green"], "^"),  # exact values through σ (the testbed's positive control)
    "rredcot_mc": Style(PALETTE["green"], "v"),  # MC values: the oracle where no exact value exists
    "oracle_mix1": Style(PALETTE["green"], "D", "--", hollow=True),  # exact values, all of σ redistributed
    "grpo_lr0": Style(PALETTE["grey"], "x"),  # learning rate 0: must reproduce the base model
    "rredcot_mix0": Style(PALETTE["sky"], "D"),
    "rredcot_uniform": Style(PALETTE["sky"], "d"),
    "rredcot_mix1": Style(PALETTE["purple"], "v"),
    "rredcot_softmax": Style(PALETTE["purple"], "P"),
    "rredcot_clip": Style(PALETTE["purple"], "X"),
    "rredcot_k3": Style(PALETTE["sky"], "<"),
    "rredcot_k12": Style(PALETTE["purple"], ">"),
    "rredcot_answer_only": Style(PALETTE["sky"], "h"),
    "rredcot_lr5e-5": Style(PALETTE["purple"], "p"),
}
LABELS = {BASE: "base", "grpo": "GRPO", "rredcot": "RREDCoT"}

ATTRIBUTIONS = {
    MC: Style(PALETTE["black"], "o"),
    GRADIENT: Style(PALETTE["purple"], "v", ":"),
    LOO: Style(PALETTE["grey"], "^", ":"),
}
ESTIMATOR_COLORS = {
    "reference": PALETTE["vermillion"],
    "answer_only": PALETTE["sky"],
    "self": PALETTE["orange"],
    "self_inclusive": PALETTE["yellow"],
    "oracle": PALETTE["green"],
}
SPACES = {"log": ("s", "-", False), "linear": ("D", "--", True)}  # marker, line, hollow

FALLBACK_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "h")


def policy_label(name: str) -> str:
    """How figures and tables name a policy: ``grpo`` -> GRPO; other names as they are."""
    return LABELS.get(name, name)


def run_policy(run: str) -> str:
    """The policy of a run directory, ``rredcot_mix0/seed0`` -> ``rredcot_mix0``."""
    return PurePosixPath(run).parts[0]


def estimator_style(name: str) -> Style | None:
    """The style of a credit column (``MC``, ``RREDCoT reference/log``, ``gradient``, ``LOO``), or None."""
    if name in ATTRIBUTIONS:
        return ATTRIBUTIONS[name]
    estimator, _, space = name.removeprefix("RREDCoT ").partition("/")
    if estimator not in ESTIMATOR_COLORS or space not in SPACES:
        return None
    return Style(ESTIMATOR_COLORS[estimator], *SPACES[space])


def _with_fallbacks(names: Sequence[str], known: Callable[[str], Style | None]) -> dict[str, Style]:
    """``known``'s style of each name; a name it lacks gets a colour no other name of the same figure has."""
    found = {name: known(name) for name in names}
    taken = {style.color for style in found.values() if style is not None}
    spare = [color for color in PALETTE.values() if color not in taken] or list(PALETTE.values())
    unknown = [name for name, style in found.items() if style is None]
    for i, name in enumerate(unknown):
        found[name] = Style(spare[i % len(spare)], FALLBACK_MARKERS[i % len(FALLBACK_MARKERS)])
    return found


def policy_styles(names: Sequence[str]) -> dict[str, Style]:
    """Style of each policy (base model, method or variant) drawn in one figure."""
    return _with_fallbacks(names, POLICIES.get)


def estimator_styles(names: Sequence[str]) -> dict[str, Style]:
    """Style of each credit column drawn in one figure."""
    return _with_fallbacks(names, estimator_style)
