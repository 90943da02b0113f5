"""The (B, T) advantages of RREDCoTTrainer make TRL's loss give exactly Σ_t σ(t)·A·∇log π per completion.

For every supported ``loss_type``, autograd gradients of TRL's own ``_compute_loss`` fed with
``token_advantages`` are compared with the gradient of the formula computed directly from the model's logits
(on-policy: ratios 1, clipping inactive), also when a generation batch is split over accumulation steps.
"""

from __future__ import annotations

import pytest
import torch
from conftest import make_tiny_model
from datasets import Dataset

import rredcot.trainer as trainer_module
from rredcot.trainer import SUPPORTED_LOSS_TYPES, RREDCoTConfig, RREDCoTTrainer, token_advantages

ROWS = [{"prompt": [{"role": "user", "content": "Start with 3. Add 4."}], "answer": "7", "solution": "7"}] * 4
MAX_COMPLETION = 12


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one CPU thread (more only add synchronisation)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def constant_reward(completions, **kwargs):
    return [0.0] * len(completions)


def make_trainer(tmp_path, model, tokenizer, **overrides) -> RREDCoTTrainer:
    config = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=MAX_COMPLETION,
        temperature=0.7,  # TRL's log-probs divide the logits by it; the direct formula must agree
        beta=0.0,
        epsilon=0.2,
        epsilon_high=5.0,  # cispo caps the ratio at epsilon_high: ≥ 1 leaves the on-policy gradient untouched
        use_cpu=True,
        report_to="none",
        bf16=False,
        gradient_checkpointing=False,
    )
    args = RREDCoTConfig(**{**config, **overrides})
    trainer = RREDCoTTrainer(
        model=model,
        reward_funcs=[constant_reward],
        args=args,
        train_dataset=Dataset.from_list(ROWS),
        processing_class=tokenizer,
    )
    trainer.model.train()  # _compute_loss takes the training branch of each normaliser
    return trainer


def random_batch(tokenizer, batch: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Left-padded prompts and right-padded completions of different lengths, σ random, one A = 0."""
    prompt_len, completion_len = 5, MAX_COMPLETION
    low = len(tokenizer.all_special_ids)
    prompt_ids = torch.randint(low, len(tokenizer), (batch, prompt_len), generator=generator)
    completion_ids = torch.randint(low, len(tokenizer), (batch, completion_len), generator=generator)
    prompt_mask = torch.ones_like(prompt_ids)
    prompt_mask[0, :2] = 0
    lengths = torch.tensor([completion_len, 3, 7, 10][:batch])
    completion_mask = (torch.arange(completion_len)[None, :] < lengths[:, None]).long()
    prompt_ids[prompt_mask == 0] = tokenizer.pad_token_id
    completion_ids[completion_mask == 0] = tokenizer.pad_token_id
    sigma = torch.rand(batch, completion_len, generator=generator) * completion_mask
    sigma = sigma / sigma.sum(dim=1, keepdim=True)
    advantages = torch.randn(batch, generator=generator)
    advantages[1] = 0.0  # a group whose rewards were all equal
    return dict(
        prompt_ids=prompt_ids,
        prompt_mask=prompt_mask,
        completion_ids=completion_ids,
        completion_mask=completion_mask,
        sigma=sigma,
        sequence_advantages=advantages,
    )


def gradient(model) -> torch.Tensor:
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    model.zero_grad()
    return grads


def formula_gradient(model, batch, temperature) -> torch.Tensor:
    """∇ of −(1/B) Σ_i Σ_t σ_i(t) A_i log π(o_t), log π from the plain forward's logits."""
    input_ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    attention_mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    completion_len = batch["completion_ids"].size(1)
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, -completion_len - 1 : -1]
    logps = torch.log_softmax(logits / temperature, dim=-1)
    logps = logps.gather(-1, batch["completion_ids"][..., None]).squeeze(-1)
    weights = batch["sigma"] * batch["completion_mask"] * batch["sequence_advantages"][:, None]
    (-(weights * logps).sum() / len(logps)).backward()
    return gradient(model)


def trl_gradient(trainer, batch, micro_batches: int) -> torch.Tensor:
    """∇ of TRL's loss over one optimizer step: the generation batch split into ``micro_batches`` steps."""
    num_items = batch["completion_mask"].sum()
    advantages = token_advantages(
        batch["sequence_advantages"],
        batch["sigma"],
        batch["completion_mask"],
        loss_type=trainer.loss_type,
        max_completion_length=trainer.max_completion_length,
        num_items_in_batch=num_items,
        num_processes=1,
    )
    assert advantages.shape == batch["sigma"].shape
    keys = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask")
    trainer.current_gradient_accumulation_steps = micro_batches
    size = len(advantages) // micro_batches
    for k in range(micro_batches):
        part = slice(k * size, (k + 1) * size)
        inputs = {key: batch[key][part] for key in keys}
        trainer._compute_loss(
            trainer.model, {**inputs, "advantages": advantages[part], "num_items_in_batch": num_items}
        ).backward()
    return gradient(trainer.model)


@pytest.mark.parametrize(
    ("loss_type", "micro_batches"),
    [(lt, 1) for lt in SUPPORTED_LOSS_TYPES] + [(lt, 2) for lt in SUPPORTED_LOSS_TYPES if lt != "bnpo"],
)
def test_gradient_equals_redistributed_policy_gradient(tmp_path, char_tokenizer, loss_type, micro_batches):
    model = make_tiny_model(len(char_tokenizer), seed=1)
    trainer = make_trainer(
        tmp_path,
        model,
        char_tokenizer,
        loss_type=loss_type,
        gradient_accumulation_steps=micro_batches,
    )
    batch = random_batch(char_tokenizer, 4, torch.Generator().manual_seed(0))
    expected = formula_gradient(trainer.model, batch, temperature=0.7)
    actual = trl_gradient(trainer, batch, micro_batches)
    assert expected.abs().max() > 1e-3  # the comparison is not vacuous
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-6)


def test_uniform_sigma_reproduces_grpo(tmp_path, char_tokenizer):
    """σ = 1/|o| with loss_type='grpo' gives TRL's plain (B,) advantage loss: RREDCoT generalises GRPO."""
    trainer = make_trainer(
        tmp_path, make_tiny_model(len(char_tokenizer), seed=2), char_tokenizer, loss_type="grpo"
    )
    batch = random_batch(char_tokenizer, 4, torch.Generator().manual_seed(1))
    mask = batch["completion_mask"]
    batch["sigma"] = mask / mask.sum(dim=1, keepdim=True)
    ours = trl_gradient(trainer, batch, 1)
    inputs = {k: batch[k] for k in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask")}
    trainer._compute_loss(trainer.model, {**inputs, "advantages": batch["sequence_advantages"]}).backward()
    torch.testing.assert_close(ours, gradient(trainer.model), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"loss_type": "luspo", "importance_sampling_level": "sequence"}, "loss_type"),
        ({"loss_type": "grpo", "importance_sampling_level": "sequence"}, "importance_sampling_level"),
        ({"loss_type": "bnpo", "gradient_accumulation_steps": 2}, "steps_per_generation=1"),
        ({"sigma_mode": "linear"}, "sigma_mode"),
        ({"segmentation": {"strategy": "sentences"}}, "segmentation: strategy"),
        ({"segmentation": "hybrid"}, "segmentation must be a mapping"),
        ({"segmentation": {"strategy": "fixed"}}, "segmentation: strategy 'fixed' needs chunk_size"),
        ({"sigma_mix": 1.5}, "sigma_mix"),
    ],
)
def test_config_refuses_what_cannot_be_exact(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        RREDCoTConfig(output_dir=str(tmp_path), use_cpu=True, num_generations=4, **overrides)


def test_zero_advantages_stay_zero(char_tokenizer):
    """Groups with equal rewards (A = 0) and completions without loss tokens get zero, finite advantages."""
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    sigma = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
    for loss_type in SUPPORTED_LOSS_TYPES:
        adv = token_advantages(
            torch.tensor([0.0, 1.5]),
            sigma,
            mask,
            loss_type=loss_type,
            max_completion_length=3,
            num_items_in_batch=mask.sum(),
            num_processes=1,
        )
        assert torch.equal(adv, torch.zeros_like(adv)), loss_type


SOLUTION = "<think>\n3 + 4 = 7\nSo the result is 7.\n</think>\n\\boxed{7}"
SCORED_ROWS = [
    {"prompt": [{"role": "user", "content": "Start with 3. Add 4."}], "answer": "7", "solution": SOLUTION},
    {"prompt": [{"role": "user", "content": "Start with 2. Add 2."}], "answer": "4", "solution": SOLUTION},
]


def parity_reward(completions, answer, **kwargs):
    """Varied rewards for the first prompt's group, all-equal rewards (A = 0) for the second's."""
    return [
        float(len(c[0]["content"]) % 2) if a == "7" else 1.0 for c, a in zip(completions, answer, strict=True)
    ]


def scoring_trainer(
    tmp_path, tokenizer, per_device: int = 8, extra_ids: int = 0, **overrides
) -> RREDCoTTrainer:
    """An RREDCoT trainer on the tiny random model, whose output layer has ``extra_ids`` rows past the
    tokenizer."""
    config = dict(
        output_dir=str(tmp_path),
        per_device_train_batch_size=per_device,
        num_generations=4,
        max_completion_length=MAX_COMPLETION,
        loss_type="grpo",
        beta=0.0,
        use_cpu=True,
        report_to="none",
        bf16=False,
        gradient_checkpointing=False,
        segmentation={
            "strategy": "entropy",
            "max_segments": 4,
        },  # uses the entropies, wherever they come from
        value_estimator="reference",
    )
    trainer = RREDCoTTrainer(
        model=make_tiny_model(len(tokenizer) + extra_ids, seed=3),
        reward_funcs=[parity_reward],
        args=RREDCoTConfig(**{**config, **overrides}),
        train_dataset=Dataset.from_list(SCORED_ROWS),
        processing_class=tokenizer,
    )
    trainer.model.train()
    torch.manual_seed(0)
    return trainer


GENERATION_BATCH = [SCORED_ROWS[0]] * 4 + [SCORED_ROWS[1]] * 4


@pytest.mark.parametrize("steps_per_generation", [None, 2])
def test_scored_batch_carries_redistributed_token_advantages(tmp_path, char_tokenizer, steps_per_generation):
    """End to end through TRL's scoring: Σ_t of the (B, T) advantages is A·|o| under loss_type='grpo'.

    With ``steps_per_generation=2`` TRL also computes ``old_per_token_logps`` (off-policy ratios).
    """
    per_device = 8 if steps_per_generation is None else 4
    trainer = scoring_trainer(tmp_path, char_tokenizer, per_device, steps_per_generation=steps_per_generation)
    output = trainer._generate_and_score_completions(GENERATION_BATCH)

    mask = output["completion_mask"]
    advantages = output["advantages"]
    sequence = torch.tensor(list(trainer._logs["advantages"]))
    assert advantages.shape == mask.shape and torch.isfinite(advantages).all()
    torch.testing.assert_close(advantages.sum(dim=1), sequence * mask.sum(dim=1))
    assert torch.equal(advantages[4:], torch.zeros_like(advantages[4:]))  # the equal-reward group
    assert (advantages[:4] * mask[:4] != 0).any()
    sigma = advantages[:4] / (sequence[:4, None] * mask[:4].sum(dim=1, keepdim=True))
    uniform = mask[:4] / mask[:4].sum(dim=1, keepdim=True)
    assert not torch.allclose(sigma[sequence[:4] != 0], uniform[sequence[:4] != 0])  # σ is redistributed
    metrics = trainer._metrics["train"]
    assert metrics["rredcot/active_frac"] == [pytest.approx((sequence != 0).float().mean().item())]
    assert metrics["rredcot/segments_mean"][0] >= 2


def test_a_sampled_id_past_the_tokenizer_is_segmented_as_empty_text(tmp_path, char_tokenizer):
    """Qwen-family models have more output rows than tokenizer entries, and a policy can sample them. With
    8 such rows and a uniform policy (zero output layer), 4 scored completions of 12 tokens sample some."""
    trainer = scoring_trainer(tmp_path, char_tokenizer, extra_ids=8)
    with torch.no_grad():
        trainer.model.lm_head.weight.zero_()
    assert len(trainer._token_table) == len(char_tokenizer) + 8
    output = trainer._generate_and_score_completions(GENERATION_BATCH)
    ids, mask = output["completion_ids"], output["completion_mask"].bool()
    assert (ids[:4][mask[:4]] >= len(char_tokenizer)).any()  # in the group whose completions are scored
    assert torch.isfinite(output["advantages"]).all()
    assert trainer._metrics["train"]["rredcot/active_frac"][0] > 0


def test_segmentation_sees_trls_temperature_scaled_entropies(tmp_path, char_tokenizer, monkeypatch):
    """Entropies from the value pass equal those of TRL's own log-prob pass at the sampling temperature."""
    trainer = scoring_trainer(tmp_path, char_tokenizer, temperature=0.7)
    seen = []
    segment = trainer_module.segment_completion
    monkeypatch.setattr(
        trainer_module,
        "segment_completion",
        lambda ids, table, entropies, spec, **kw: (
            seen.append((ids, entropies)) or segment(ids, table, entropies, spec, **kw)
        ),
    )
    output = trainer._generate_and_score_completions(GENERATION_BATCH)

    with torch.no_grad():
        _, expected, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model,
            torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1),
            torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1),
            output["completion_ids"].size(1),
            compute_entropy=True,
        )
    assert seen
    for ids, entropies in seen:
        row = next(i for i, c in enumerate(output["completion_ids"].tolist()) if c[: len(ids)] == ids)
        torch.testing.assert_close(torch.as_tensor(entropies), expected[row, : len(ids)], atol=1e-4, rtol=0)


def test_mc_rollouts_are_batched_by_their_own_budget(tmp_path, char_tokenizer, monkeypatch):
    """The mc estimator's rollout batch is mc_batch_tokens over a row's width (prompt + completion budget),
    whatever the value-scoring budget."""
    trainer = scoring_trainer(
        tmp_path,
        char_tokenizer,
        value_estimator="mc",
        value_space="linear",
        mc_samples=1,
        mc_batch_tokens=100,
        value_batch_tokens=4096,
    )
    batch_sizes = []
    rollouts = trainer_module.mc_values_batch
    monkeypatch.setattr(
        trainer_module,
        "mc_values_batch",
        lambda *args, batch_size, **kwargs: (
            batch_sizes.append(batch_size) or rollouts(*args, batch_size=batch_size, **kwargs)
        ),
    )
    output = trainer._generate_and_score_completions(GENERATION_BATCH)
    width = output["prompt_mask"].sum(dim=1).max().item() + MAX_COMPLETION
    assert batch_sizes == [100 // width]


def _self_requests(tmp_path, char_tokenizer, monkeypatch, estimator: str):
    """The value requests of one scored batch under a self estimator (odd-length text counts as correct),
    the batch's completions, and the indices of the correct ones in the first (active) group."""
    trainer = scoring_trainer(tmp_path, char_tokenizer, value_estimator=estimator)
    monkeypatch.setattr(trainer_module, "grade", lambda text, reference: float(len(text) % 2))
    requests = []
    estimate = trainer_module.segment_and_estimate
    monkeypatch.setattr(
        trainer_module,
        "segment_and_estimate",
        lambda model, items, *args, **kwargs: (
            requests.extend(items) or estimate(model, items, *args, **kwargs)
        ),
    )
    output = trainer._generate_and_score_completions(GENERATION_BATCH)
    lengths = output["completion_mask"].sum(dim=1)
    completions = [ids[:n].tolist() for ids, n in zip(output["completion_ids"], lengths, strict=True)]
    texts = char_tokenizer.batch_decode(completions, skip_special_tokens=True)
    correct = [i for i in range(4) if len(texts[i]) % 2]
    assert requests and correct
    return requests, completions, correct


def test_self_estimator_scores_the_groups_other_correct_completions(tmp_path, char_tokenizer, monkeypatch):
    """``value_estimator="self"``: each request carries the correct completions of its own group but itself
    (scoring its own later text after its own prefix would measure copying)."""
    requests, completions, correct = _self_requests(tmp_path, char_tokenizer, monkeypatch, "self")
    for request in requests:
        me = completions.index(request.completion_ids)
        assert me < 4
        assert request.group_correct == [completions[i] for i in correct if i != me]


def test_self_inclusive_keeps_the_valued_completion(tmp_path, char_tokenizer, monkeypatch):
    requests, completions, correct = _self_requests(tmp_path, char_tokenizer, monkeypatch, "self_inclusive")
    assert all(request.group_correct == [completions[i] for i in correct] for request in requests)


def test_mc_estimator_values_boundaries_by_rollouts(tmp_path, char_tokenizer, monkeypatch):
    """``value_estimator="mc"``: the σ pipeline runs on rollout values in [0, 1]; log space is refused."""
    seen = []
    batch = trainer_module.mc_values_batch
    monkeypatch.setattr(
        trainer_module,
        "mc_values_batch",
        lambda *args, **kwargs: seen.append(kwargs["n_samples"]) or batch(*args, **kwargs),
    )
    trainer = scoring_trainer(
        tmp_path, char_tokenizer, value_estimator="mc", value_space="linear", mc_samples=3
    )
    output = trainer._generate_and_score_completions(GENERATION_BATCH)
    assert seen == [3]
    assert torch.isfinite(output["advantages"]).all()
    logged = trainer._metrics["train"]
    assert logged["rredcot/mc_generated_tokens"][0] > 0
    assert 0.0 <= logged["rredcot/value_start_mean"][0] <= 1.0
    with pytest.raises(ValueError, match="value_estimator='mc' needs value_space='linear'"):
        scoring_trainer(tmp_path, char_tokenizer, value_estimator="mc", value_space="log")
