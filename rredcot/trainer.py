r"""RREDCoTTrainer: TRL's GRPOTrainer with segment-level redistributed token weights (docs/paper.md §4).

GRPO weighs every token of completion i uniformly, ``1/|o_i|``. RREDCoT replaces that weight by σ_i(t)
(``Σ_t σ_i(t) = 1``), built from value differences across segments of the chain of thought, so that the
policy gradient per completion is ``Σ_t σ_i(t) · A_i · ∇log π(o_t)`` with TRL's sequence advantage A_i.

TRL 1.16's ``_compute_loss`` accepts ``(B, T)`` advantages, so the trainer only replaces ``advantages``
after TRL has scored a generation batch: ``A_i·w_i(t)``, with ``w`` undoing the normaliser of the configured
``loss_type``. On-policy (ratio 1, clipping inactive) each loss type's gradient is then exactly
``-(1/B_step) Σ_i Σ_t σ_i(t) A_i ∇log π(o_t)``, B_step being the completions of one optimizer step over all
processes: GRPO's own scale (σ = 1/|o| recovers ``loss_type="grpo"``).

=====================  =========================================  =================================
loss_type              TRL divides Σ_(i,t) mask·ℓ by                w_i(t)
=====================  =========================================  =================================
grpo, sapo             |o_i| per sequence, then mean over B_micro  |o_i| · σ_i(t)
dr_grpo                B_micro · max_completion_length             max_completion_length · σ_i(t)
bnpo †                 N_micro (loss tokens of the micro-batch)    (N_local / B_local) · σ_i(t)
dapo, cispo, vespo     N_global / P · GA / steps_per_generation    (N_global / B_global) · σ_i(t)
luspo ‡                (sequence-level importance ratio)           refused
=====================  =========================================  =================================

|o_i| and N count loss-mask tokens; N_global is TRL's ``num_items_in_batch`` (the whole generation batch over
all P processes), B_global = local generation batch × P; GA = gradient accumulation steps. TRL further divides
grpo/sapo/dr_grpo/bnpo by GA, and every process's gradient is averaged, which gives 1/B_step in all rows.
† bnpo normalises by the micro-batch, unknown when a generation batch is shuffled and split over several
steps, so it needs ``steps_per_generation=1`` (micro-batch = local generation batch). ‡ A sequence-level ratio
(luspo, or ``importance_sampling_level="sequence"``) spreads its gradient uniformly over the tokens whatever
the advantages, so σ cannot act: refused. cispo is exact when ``epsilon_high ≥ 1`` (TRL caps the ratio at
``epsilon_high``, scaling GRPO alike); sapo's gate has slope 1 at ratio 1; vespo's φ(1) = 1. Options that
multiply the per-token loss (``top_entropy_quantile``, off-policy masks, vLLM importance sampling, truncation
masking) act on top of σ, as they do on GRPO's uniform weights. ``tests/test_trainer_gradients.py`` checks
every row against autograd.

Cost per generation batch, besides TRL's own passes: one call of :func:`rredcot.values.segment_and_estimate`.
Its no-grad forward over each trace fills the KV cache that value scoring attends to and gives the token
entropies the segmenter needs (of TRL's temperature-scaled distribution), so segmentation costs no pass of
its own; then the reference continuations are scored at every boundary against that cache. The ``mc``
estimator segments from the same entropies and values every boundary by ``mc_samples`` rollouts of the policy
instead, in batches of ``mc_batch_tokens`` (``rredcot/mc_generated_tokens`` logs their cost); the ``oracle``
estimator segments alike and takes exact values from the trainer's ``exact_values`` function (a checker of the
task's lines; on the synthetic task :func:`rredcot.pipeline.data.exact_values.exact_values`). Completions with
zero advantage (groups with equal rewards) or no loss tokens are not segmented or scored: their weights cannot
change the gradient.

Logged (mean over the redistributed completions of all processes): ``rredcot/segments_mean`` (spans, answer
span included), ``rredcot/sigma_max_mean``, ``rredcot/sigma_entropy`` (nats) and
``rredcot/sigma_entropy_ratio`` (over log|o|; 1 = uniform), ``rredcot/value_start_mean`` /
``rredcot/value_end_mean`` (first and last boundary value), ``rredcot/active_frac`` (share of completions
redistributed), ``rredcot/time_s`` (everything RREDCoT adds to a step) and ``rredcot/value_time_s`` (its
part in :func:`rredcot.values.segment_and_estimate`: trace forward, segmentation, value scoring), and
``rredcot/push_<class>``: the push σ adds of its own on this batch's values, per token class
(:func:`rredcot.redistribution.permutation_push`; 0 for a sign-free σ), and ``rredcot/push_<mode>_<class>``
the same for every σ mode on the same values, so one run measures the old and the new σ side by side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object
from trl import GRPOConfig, GRPOTrainer
from trl.models import unwrap_model_for_generation

from rredcot.continuation import ESTIMATORS, SELF_ESTIMATORS, Continuation
from rredcot.mc import MCRequest, mc_values_batch
from rredcot.redistribution import (
    MODES,
    PUSH_CLASSES,
    permutation_push,
    segment_rewards,
    span_classes,
    token_weight_matrix,
)
from rredcot.rewards import grade
from rredcot.scoring import DEFAULT_VALUE_BATCH_TOKENS, completion_entropies
from rredcot.segmentation import FIELDS as SEGMENTATION_FIELDS
from rredcot.segmentation import Segmentation, segment_completion, token_table, value_boundaries
from rredcot.values import SPACES, ValueRequest, segment_and_estimate

SEQUENCE_NORMALISED = ("grpo", "sapo")
TOKEN_NORMALISED_GLOBAL = ("dapo", "cispo", "vespo")
SUPPORTED_LOSS_TYPES = (*SEQUENCE_NORMALISED, "dr_grpo", "bnpo", *TOKEN_NORMALISED_GLOBAL)
# "mc": boundary values from the policy's own rollouts (VinePPO, SPO); "oracle": exact values from a checker
# of the task's lines, passed to the trainer as ``exact_values`` (the positive control). Both feed the same σ.
VALUE_ESTIMATORS = (*ESTIMATORS, "mc", "oracle")
LINEAR_ONLY_ESTIMATORS = ("mc", "oracle")  # their values reach 0, which has no logarithm


@dataclass
class RREDCoTConfig(GRPOConfig):
    """``GRPOConfig`` plus every RREDCoT choice (docs/paper.md §2–4); defaults are the project defaults (those
    of the continuation fields are :class:`~rredcot.continuation.Continuation`'s)."""

    segmentation: dict[str, Any] = field(
        default_factory=lambda: Segmentation().as_config(),
        metadata={
            "help": f"How a completion is segmented: a mapping of {SEGMENTATION_FIELDS} "
            "(rredcot.segmentation.Segmentation; a field left out takes its default)."
        },
    )
    value_estimator: str = field(
        default=Continuation.estimator, metadata={"help": f"Value estimator, one of {VALUE_ESTIMATORS}."}
    )
    mc_samples: int = field(
        default=4, metadata={"help": "Rollouts per boundary state of the 'mc' estimator (its cost knob)."}
    )
    value_space: str = field(default="log", metadata={"help": "Values as log v̂ or v̂ ('log' | 'linear')."})
    end_of_thinking: str = field(
        default=Continuation.end_of_thinking,
        metadata={"help": "Marker that ends the reasoning, forced before each reference."},
    )
    exit_string: str = field(
        default=Continuation.exit_string,
        metadata={"help": "The continuation u of the answer_only estimator."},
    )
    answer_template: str = field(
        default=Continuation.answer_template,
        metadata={"help": "Formats the answer y scored after u (str.format)."},
    )
    sigma_mode: str = field(default="clip", metadata={"help": f"Segment mass from rewards, one of {MODES}."})
    sigma_mix: float = field(default=0.5, metadata={"help": "λ in σ = (1 − λ)/|o| + λ·σ_red."})
    sigma_temperature: float = field(default=1.0, metadata={"help": "τ of sigma_mode='softmax'."})
    value_batch_tokens: int = field(
        default=DEFAULT_VALUE_BATCH_TOKENS,
        metadata={"help": "Token budget of one value-scoring forward (bounds its memory)."},
    )
    mc_batch_tokens: int = field(
        default=65536,
        metadata={
            "help": "Token budget of one batch of the 'mc' estimator's rollouts: rows of prompt + "
            "max_completion_length tokens each."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        # Stored as the mapping a config spells (TrainingArguments serialises its fields as JSON).
        self.segmentation = Segmentation.from_config(self.segmentation).as_config()
        for name, allowed in (
            ("value_estimator", VALUE_ESTIMATORS),
            ("value_space", SPACES),
            ("sigma_mode", MODES),
            ("loss_type", SUPPORTED_LOSS_TYPES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not 0.0 <= self.sigma_mix <= 1.0:
            raise ValueError(f"sigma_mix must be in [0, 1], got {self.sigma_mix}")
        if not self.sigma_temperature > 0:
            raise ValueError(f"sigma_temperature must be > 0, got {self.sigma_temperature}")
        if self.mc_samples < 1:
            raise ValueError(f"mc_samples must be >= 1, got {self.mc_samples}")
        if self.value_estimator in ESTIMATORS:
            _ = self.continuation  # a bad continuation field stops here, not at the first step
        if self.value_estimator in LINEAR_ONLY_ESTIMATORS and self.value_space != "linear":
            raise ValueError(
                f"value_estimator={self.value_estimator!r} needs value_space='linear': a value of 0 (no "
                f"rollout correct, or a wrong step) has no logarithm (got value_space={self.value_space!r})"
            )
        for name in ("value_batch_tokens", "mc_batch_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.importance_sampling_level != "token":
            raise ValueError(
                "RREDCoT needs importance_sampling_level='token': a sequence-level ratio gives every token "
                "the same gradient weight, so the redistributed weights σ would have no effect"
            )
        if self.loss_type == "bnpo" and self.steps_per_generation != 1:
            raise ValueError(
                "loss_type='bnpo' normalises by the tokens of each micro-batch, which RREDCoT can only match "
                "when a generation batch is one micro-batch: set steps_per_generation=1 "
                f"(got {self.steps_per_generation})"
            )

    @property
    def segmentation_spec(self) -> Segmentation:
        """How the trainer segments a completion, from this config's ``segmentation`` mapping."""
        return Segmentation.from_config(self.segmentation)

    @property
    def continuation(self) -> Continuation:
        """What the value estimator scores, from this config's fields (the ``mc`` oracle scores none: it
        rolls out)."""
        return Continuation(
            self.end_of_thinking, self.exit_string, self.answer_template, self.value_estimator
        )


# YAML keys of the RREDCoT section: the fields RREDCoTConfig adds to GRPOConfig.
RREDCOT_FIELDS = tuple(
    name for name in RREDCoTConfig.__dataclass_fields__ if name not in GRPOConfig.__dataclass_fields__
)
# Keys of the RREDCoT section in an older spelling and where each now lives: a config that uses one is refused
# with its new place (experiments/schema.yaml, rredcot.pipeline.train); the old segmentation: <strategy> is
# refused by Segmentation.from_config.
RENAMED_RREDCOT_FIELDS = {
    "max_segments": "segmentation.max_segments",
    "segment_keywords": "segmentation.keywords",
    "segment_chunk_size": "segmentation.chunk_size",
}


def token_advantages(
    advantages: torch.Tensor,
    sigma: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    loss_type: str,
    max_completion_length: int,
    num_items_in_batch: torch.Tensor | float,
    num_processes: int,
) -> torch.Tensor:
    """``(B, T)`` advantages ``A_i·w_i(t)`` that make TRL's ``loss_type`` yield ``Σ_t σ_i(t) A_i ∇log π``.

    ``advantages`` (B,) is TRL's sequence advantage of this process's completions, ``sigma`` (B, T) the token
    weights (rows sum to 1 over the loss tokens), ``loss_mask`` (B, T) TRL's completion (× tool) mask and
    ``num_items_in_batch`` TRL's count of loss tokens in the whole generation batch. See the module table.
    """
    batch = advantages.shape[0]
    if loss_type in SEQUENCE_NORMALISED:
        scale = loss_mask.sum(dim=1, keepdim=True).clamp(min=1)
    elif loss_type == "dr_grpo":
        scale = max_completion_length
    elif loss_type == "bnpo":
        scale = loss_mask.sum().clamp(min=1) / batch
    elif loss_type in TOKEN_NORMALISED_GLOBAL:
        scale = num_items_in_batch / (batch * num_processes)
    else:
        raise ValueError(
            f"loss_type {loss_type!r} is not supported by RREDCoT; use one of {SUPPORTED_LOSS_TYPES}"
        )
    return advantages[:, None] * sigma * loss_mask * scale


def check_distributed(accelerator) -> None:
    """Refuse, at start-up, the backends under which value scoring would hang.

    Processes score different numbers of completions, so they run different numbers of scoring forwards.
    Under DDP a forward needs no communication; under DeepSpeed ZeRO-3 the trainer gathers the full
    parameters once per step, on every process, and scores with the hooks removed. FSDP (1 and 2) all-gathers
    inside every forward, and a process with fewer forwards would leave the others waiting forever.
    """
    fsdp = getattr(accelerator.state, "fsdp_plugin", None)
    if fsdp is not None:
        raise ValueError(
            f"RREDCoTTrainer does not support FSDP (fsdp_version={getattr(fsdp, 'fsdp_version', 1)}): its "
            "all-gathers inside every forward would hang value scoring, whose number of forwards differs "
            "between processes; use DDP or DeepSpeed ZeRO-3 (experiments/accelerate/zero3.yaml)"
        )


class RREDCoTTrainer(GRPOTrainer):
    """Drop-in ``GRPOTrainer`` that trains with redistributed token weights; takes an :class:`RREDCoTConfig`.

    The dataset needs an ``answer`` column, and a ``solution`` column (the worked solution u, what the
    policy writes after ``end_of_thinking``) for the ``reference`` estimator. Logs ``rredcot/*`` metrics
    alongside TRL's.

    ``exact_values`` is the ``oracle`` estimator's source of values: called with the batch's dataset rows,
    the completions' texts (special tokens kept) and, per completion, the character offsets of the
    boundaries to value (empty for completions not valued), it returns one value array per completion and
    a dict of statistics to log (``{name: [numbers]}``).
    """

    def __init__(self, *args, exact_values: Callable | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(self.args, RREDCoTConfig):
            raise TypeError(f"RREDCoTTrainer needs an RREDCoTConfig, got {type(self.args).__name__}")
        if self.args.value_estimator == "oracle" and exact_values is None:
            raise ValueError("value_estimator='oracle' needs the trainer's exact_values function")
        self.exact_values = exact_values
        check_distributed(self.accelerator)
        self._segmentation = self.args.segmentation_spec
        # Decoded text of every id the policy can sample: segmentation matches keywords on token text.
        self._token_table = token_table(self._tokenizer, self.model.get_output_embeddings().out_features)

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if "tool_mask" in output:
            raise NotImplementedError(
                "RREDCoTTrainer does not support tool calling (tool-masked completions)"
            )
        start = time.perf_counter()
        sigma, stats = self._redistribute(inputs, output)
        output["advantages"] = token_advantages(
            output["advantages"],
            sigma,
            output["completion_mask"],
            loss_type=self.loss_type,
            max_completion_length=self.max_completion_length,
            num_items_in_batch=output["num_items_in_batch"],
            num_processes=self.accelerator.num_processes,
        )
        stats["time_s"] = [time.perf_counter() - start]
        self._log_means(stats)
        return output

    def _redistribute(self, inputs, output) -> tuple[torch.Tensor, dict[str, list[float]]]:
        """σ (B, T) for this process's completions, and per-completion statistics for the logs."""
        args = self.args
        advantages = output["advantages"].tolist()
        lengths = output["completion_mask"].sum(dim=1).tolist()
        completion_ids = [ids[:n].tolist() for ids, n in zip(output["completion_ids"], lengths, strict=True)]
        active = [i for i, (a, n) in enumerate(zip(advantages, lengths, strict=True)) if a != 0 and n > 0]

        start = time.perf_counter()
        segments, values, value_stats = self._segment_and_value(inputs, output, completion_ids, active)
        value_time = time.perf_counter() - start

        rewards: list[Sequence[float]] = [[] for _ in advantages]
        spans: list[Sequence[tuple[int, int]]] = [[] for _ in advantages]
        for i in active:
            answer_spans = len(segments[i].spans) - segments[i].n_reasoning_segments
            rewards[i] = [*segment_rewards(values[i]), *[0.0] * answer_spans]  # the answer segment: reward 0
            spans[i] = segments[i].spans
        sigma = token_weight_matrix(
            rewards,
            spans,
            [int(n) for n in lengths],
            advantages,
            width=output["completion_ids"].size(1),
            mode=args.sigma_mode,
            mix=args.sigma_mix,
            temperature=args.sigma_temperature,
            device=output["advantages"].device,
        )
        push = self._permutation_push(rewards, spans, segments, lengths, advantages)
        configured = push.get(args.sigma_mode)
        rows = sigma[active].double().cpu().numpy()
        entropy = [-(row[row > 0] * np.log(row[row > 0])).sum() for row in rows]
        stats = {
            "active_frac": [len(active) / max(len(advantages), 1)],
            "segments_mean": [len(spans[i]) for i in active],
            "sigma_max_mean": [row.max() for row in rows],
            "sigma_entropy": entropy,
            "sigma_entropy_ratio": [
                h / math.log(lengths[i]) for h, i in zip(entropy, active, strict=True) if lengths[i] > 1
            ],
            "value_start_mean": [values[i][0] for i in active],
            "value_end_mean": [values[i][-1] for i in active],
            "value_time_s": [value_time],
            **{
                f"push_{name}": [] if configured is None else [configured[k]]
                for k, name in enumerate(PUSH_CLASSES)
            },
            **{
                f"push_{mode}_{name}": [push[mode][k]] if mode in push else []
                for mode in MODES
                for k, name in enumerate(PUSH_CLASSES)
            },
            **value_stats,
        }
        if args.value_estimator == "mc":  # every process logs the same names: _log_means reduces them
            stats.setdefault("mc_generated_tokens", [])
        return sigma, stats

    def _permutation_push(self, rewards, spans, segments, lengths, advantages) -> dict[str, np.ndarray]:
        """:func:`~rredcot.redistribution.permutation_push` of this process's groups, for every σ mode on the
        same values (the configured one and its alternatives side by side); empty when the local completions
        do not form whole groups."""
        size = self.num_generations
        if len(advantages) % size:
            return {}
        classes = [
            span_classes(len(spans[i]), segments[i].n_reasoning_segments) if i in segments else []
            for i in range(len(advantages))
        ]
        return {
            mode: permutation_push(
                rewards,
                spans,
                classes,
                [int(n) for n in lengths],
                advantages,
                size,
                mode=mode,
                mix=self.args.sigma_mix,
                temperature=self.args.sigma_temperature,
            )
            for mode in MODES
        }

    def _segment_and_value(self, inputs, output, completion_ids, active) -> tuple[dict, dict, dict]:
        """Segments and boundary values of every active completion, and statistics of how they were made."""
        args = self.args
        # Gathering the groups is a collective: every process joins, with completions to score or not.
        group_correct = (
            self._group_correct(inputs, completion_ids) if args.value_estimator in SELF_ESTIMATORS else None
        )
        prompt_ids = [
            ids[mask.bool()].tolist()
            for ids, mask in zip(output["prompt_ids"], output["prompt_mask"], strict=True)
        ]
        if args.value_estimator in LINEAR_ONLY_ESTIMATORS:
            with self._scoring_model() as model:
                segments = self._segment_from_entropies(model, prompt_ids, completion_ids, active)
                if args.value_estimator == "mc":
                    return self._mc_values(model, inputs, prompt_ids, completion_ids, segments)
            return self._exact_values(inputs, completion_ids, segments)
        continuation = args.continuation
        references = {}  # a group shares its row: build each reference once
        requests = []
        for i in active:
            solution, answer = inputs[i].get("solution"), inputs[i]["answer"]
            # The self estimators fall back to the dataset reference only when the group has no (other)
            # correct completion.
            needed = args.value_estimator == "reference" or (
                args.value_estimator in SELF_ESTIMATORS and not group_correct[i]
            )
            if needed and (solution, answer) not in references:
                references[solution, answer] = self._reference(solution, answer)
            requests.append(
                ValueRequest(
                    prompt_ids=prompt_ids[i],
                    completion_ids=completion_ids[i],
                    tokenizer=self._tokenizer,
                    continuation=continuation,
                    references=references.get((solution, answer)),
                    group_correct=None if group_correct is None else group_correct[i],
                    answer=answer,
                    space=args.value_space,
                )
            )
        segments = {}

        def boundaries_of(k: int, entropies: np.ndarray) -> list[int]:
            i = active[k]
            segments[i] = self._segment(completion_ids[i], entropies)
            return value_boundaries(segments[i])

        with self._scoring_model() as model:
            results = segment_and_estimate(
                model,
                requests,
                boundaries_of,
                temperature=self.temperature,
                value_batch_tokens=args.value_batch_tokens,
            )
        values = {i: np.asarray(v, dtype=np.float64) for i, (_, v) in zip(active, results, strict=True)}
        return segments, values, {}

    def _segment_from_entropies(self, model, prompt_ids, completion_ids, active) -> dict:
        """Segments of the active completions from the policy's token entropies (one no-grad forward)."""
        entropies = completion_entropies(
            model,
            [prompt_ids[i] for i in active],
            [completion_ids[i] for i in active],
            temperature=self.temperature,
            value_batch_tokens=self.args.value_batch_tokens,
        )
        return {i: self._segment(completion_ids[i], h) for i, h in zip(active, entropies, strict=True)}

    def _mc_values(self, model, inputs, prompt_ids, completion_ids, segments):
        """Every boundary valued by ``mc_samples`` rollouts of the policy.

        A rollout may generate ``max_completion_length`` tokens from any boundary, so a completed trace can
        exceed the policy's budget by its prefix; traces of the tiny task end far below it. Rollouts use HF
        ``generate`` even under ``use_vllm``: TRL's engine serves its own rollouts (sized to the per-device
        batch, asleep between them in sleep mode, called by a whole tensor-parallel group at once, or on a
        server that only the main process talks to).
        """
        args = self.args
        requests = [
            MCRequest(prompt_ids[i], completion_ids[i], value_boundaries(segments[i]), inputs[i]["answer"])
            for i in segments
        ]
        width = max(len(p) for p in prompt_ids) + self.max_completion_length
        results = mc_values_batch(
            model,
            self._tokenizer,
            requests,
            n_samples=args.mc_samples,
            temperature=self.temperature,
            max_new_tokens=self.max_completion_length,
            batch_size=max(1, args.mc_batch_tokens // width),
            seed=(args.seed * 1_000_003 + self.state.global_step) * 1_009 + self.accelerator.process_index,
        )
        values = {i: r.means for i, r in zip(segments, results, strict=True)}
        return segments, values, {"mc_generated_tokens": [sum(r.generated_tokens for r in results)]}

    def _exact_values(self, inputs, completion_ids, segments):
        """Every boundary valued by ``exact_values`` from the completions' text; all of this process's
        completions are passed, since the oracle measures the policy on them."""
        texts, cuts = [], []
        for i, ids in enumerate(completion_ids):
            ends = np.cumsum([len(self._token_table[t]) for t in ids], dtype=np.int64)
            texts.append("".join(self._token_table[t] for t in ids))
            boundaries = value_boundaries(segments[i]) if i in segments else []
            cuts.append([int(ends[b - 1]) if b else 0 for b in boundaries])
        values, stats = self.exact_values(inputs, texts, cuts)
        return segments, {i: np.asarray(values[i], dtype=np.float64) for i in segments}, stats

    def _scoring_model(self):
        """The policy to score or roll out with, no gradient. Every process enters this every step, with
        completions to value or not: under ZeRO-3 it gathers the full parameters once (a collective), so the
        scoring forwards and rollouts, whose number differs between processes, need no communication."""
        return unwrap_model_for_generation(
            self.model_wrapped,
            self.accelerator,
            gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
        )

    def _segment(self, completion_ids: list[int], entropies: np.ndarray):
        return segment_completion(
            completion_ids,
            self._token_table,
            entropies,
            self._segmentation,
            end_of_thinking=self.args.end_of_thinking,
        )

    def _reference(self, solution: str | None, answer: str) -> list[tuple[str, str]]:
        """The row's reference pair (u, y): u is the dataset's worked solution as it stands (it is what the
        policy writes after ``end_of_thinking``)."""
        if not isinstance(solution, str):
            raise ValueError(
                f"value_estimator={self.args.value_estimator!r} needs a 'solution' column, got {solution!r}"
            )
        return [(solution, answer)]

    def _group_correct(self, inputs, completion_ids) -> list[list[list[int]]]:
        """For each local completion, the token ids of its group's other correct completions (all processes;
        ``self_inclusive`` keeps the completion itself: scoring its own later text after its own prefix
        measures copying, not value)."""
        texts = self._tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        correct = [grade(text, row["answer"]) == 1.0 for text, row in zip(texts, inputs, strict=True)]
        everyone = gather_object([(ids, ok) for ids, ok in zip(completion_ids, correct, strict=True)])
        offset = self.accelerator.process_index * len(inputs)
        size = self.num_generations if self.model.training else self.num_generations_eval
        own = self.args.value_estimator == "self_inclusive"  # else the valued completion is left out
        groups = []
        for i in range(len(inputs)):
            me = offset + i
            start = me // size * size  # first member of its group
            groups.append(
                [
                    ids
                    for j, (ids, ok) in enumerate(everyone[start : start + size])
                    if ok and (own or start + j != me)
                ]
            )
        return groups

    def _log_means(self, stats: dict[str, list[float]]) -> None:
        """Log each statistic's mean over all processes' values as ``rredcot/<name>`` (NaN when none)."""
        mode = "train" if self.model.training else "eval"
        names = sorted(stats)
        local = torch.tensor(
            [[float(np.sum(stats[n])), float(len(stats[n]))] for n in names], device=self.accelerator.device
        )
        totals = self.accelerator.reduce(local, reduction="sum").tolist()
        for name, (total, count) in zip(names, totals, strict=True):
            self._metrics[mode][f"rredcot/{name}"].append(total / count if count else math.nan)
