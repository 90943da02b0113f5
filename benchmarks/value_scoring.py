"""Benchmark: one-pass vs naive value scoring, and RREDCoT values vs Monte Carlo values (issue 6).

Times, in one process on one trace, ``score_continuations`` (one prefix forward + batched continuation rows
against its KV cache) against ``score_continuations_naive`` (one full forward per boundary and reference) at
K boundaries, checks that they agree within 1e-4, then times ``estimate_values`` against ``mc_values``.
Every timing is repeated; the table gives min and median. A random model never emits end-of-sequence, so
MC rollouts run ``max_new_tokens`` each, set to the mean number of completion tokens after a boundary: the
length a rollout that finishes the trace would have.

    .venv/bin/python benchmarks/value_scoring.py                 # tiny random model, 2 threads
    .venv/bin/python benchmarks/value_scoring.py --model PATH    # a saved model and its tokenizer
    .venv/bin/python benchmarks/value_scoring.py --profile       # plus a torch.profiler table, one-pass K=16
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median as med

import numpy as np
import torch
from cost_log import append_rows, load_at_start, machine, versions
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

from rredcot.continuation import Continuation
from rredcot.mc import mc_values
from rredcot.pipeline.tokenizer import build_char_tokenizer
from rredcot.scoring import score_continuations, score_continuations_naive
from rredcot.values import answer_only_continuations, estimate_values, reference_continuations

PROBLEM = "Pens cost 3 dollars and notebooks 5 dollars. Tom spends 31 dollars on both. How many pens?"
STEP = "Try {n} notebooks: 5*{n}={m}, and 31-{m}={r}, so {r}/3 pens.\n"
REFERENCES = [
    (
        "Pens cost 31 minus 5 times the notebooks. 31-5*2=21 and 21/3=7, a whole number, so he buys 7 pens. ",
        "7",
    ),
    (
        "Let p pens and q notebooks: 3p+5q=31. q=2 gives 3p=21, p=7; q=5 gives 3p=6, p=2. The first fits. ",
        "7",
    ),
]


def tiny_model(vocab_size: int, seed: int = 0) -> Qwen3ForCausalLM:
    """The tiny CPU default's size class: hidden 192, 4 layers, GQA 4/2 heads, about 1.8M parameters."""
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=192,
        intermediate_size=576,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=48,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
    return Qwen3ForCausalLM(config).eval()


def trace(tokenizer, completion_tokens: int) -> tuple[list[int], list[int]]:
    """A chat prompt and a ~``completion_tokens`` reasoning completion ending in a boxed answer."""
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": PROBLEM}], add_generation_prompt=True, tokenize=False
    )
    steps, n = "<think>", 0
    while len(tokenizer(steps, add_special_tokens=False)["input_ids"]) < completion_tokens - 12:
        m = 5 * n
        steps += STEP.format(n=n, m=m, r=31 - m)
        n += 1
    completion = tokenizer(steps, add_special_tokens=False)["input_ids"][: completion_tokens - 12]
    completion += tokenizer("</think>\\boxed{7}", add_special_tokens=False)["input_ids"]
    return tokenizer(prompt, add_special_tokens=False)["input_ids"], completion


def boundaries(n_completion: int, k: int) -> list[int]:
    """K evenly spaced completion prefix lengths from 0 (prompt only) to the whole completion."""
    return sorted({int(round(x)) for x in np.linspace(0, n_completion, k)})


@dataclass
class Timing:
    """Wall and process-CPU seconds per repeat: on a shared machine CPU time is the steadier of the two."""

    wall: list[float]
    cpu: list[float]

    def cells(self) -> str:
        return f"{min(self.wall):>8.3f} {med(self.wall):>8.3f} {min(self.cpu):>8.3f}"

    def ratios(self, other: Timing) -> str:
        """How many times faster ``other`` is: wall min, wall median, CPU min."""
        return (
            f"{min(self.wall) / min(other.wall):>6.1f}x {med(self.wall) / med(other.wall):>6.1f}x"
            f" {min(self.cpu) / min(other.cpu):>6.1f}x"
        )


def timed(fns: dict, repeats: int) -> dict[str, tuple[Timing, object]]:
    """Time each function ``repeats`` times, interleaved round-robin so that all share the machine's load."""
    timings, results = {name: Timing([], []) for name in fns}, {}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            results[name] = fn()
            timings[name].cpu.append(time.process_time() - cpu)
            timings[name].wall.append(time.perf_counter() - wall)
    return {name: (timings[name], results[name]) for name in fns}


def cost_rows(setting: str, slow_name: str, slow: Timing, fast_name: str, fast: Timing) -> list[tuple]:
    """compute_cost.csv rows: both timings (wall and CPU) and the per-repeat speed-up, min and median."""
    speedup = [a / b for a, b in zip(slow.wall, fast.wall, strict=True)]
    return [
        (setting, f"{slow_name}_wall_s", min(slow.wall), med(slow.wall), len(slow.wall)),
        (setting, f"{slow_name}_cpu_s", min(slow.cpu), med(slow.cpu), len(slow.cpu)),
        (setting, f"{fast_name}_wall_s", min(fast.wall), med(fast.wall), len(fast.wall)),
        (setting, f"{fast_name}_cpu_s", min(fast.cpu), med(fast.cpu), len(fast.cpu)),
        (setting, f"{slow_name}_over_{fast_name}", min(speedup), med(speedup), len(speedup)),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="saved model directory (with its tokenizer); default: tiny random model"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ks", type=int, nargs="+", default=[4, 16, 40])
    parser.add_argument("--n-refs", type=int, default=2, choices=(1, 2))
    parser.add_argument("--completion-tokens", type=int, default=300)
    parser.add_argument("--mc-boundaries", type=int, default=16)
    parser.add_argument("--mc-samples", type=int, nargs="+", default=[5])
    parser.add_argument(
        "--value-batch-tokens", type=int, default=None, help="token budget of one scoring forward"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a torch.profiler table of one-pass K=16"
    )
    parser.add_argument("--csv", type=Path, help="append the results to this CSV file")
    args = parser.parse_args(argv)
    load = load_at_start()

    torch.set_num_threads(args.threads)
    if args.model:
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    else:
        tokenizer = build_char_tokenizer()
        model = tiny_model(len(tokenizer))
    budget = {} if args.value_batch_tokens is None else {"value_batch_tokens": args.value_batch_tokens}
    prompt, completion = trace(tokenizer, args.completion_tokens)
    prefix = prompt + completion
    references = REFERENCES[: args.n_refs]
    continuations = reference_continuations(tokenizer, references)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"model: {args.model or 'tiny random Qwen3'} ({n_params / 1e6:.2f}M params); "
        f"{machine(args.threads)}; {versions()}"
    )
    print(f"load average at start: {load:.2f}")
    print(
        f"trace: prompt {len(prompt)} + completion {len(completion)} tokens; "
        f"{len(continuations)} reference continuation(s) of {[len(c) for c in continuations]} tokens"
    )

    rows = []
    header = f"{'wall min':>8} {'wall med':>8} {'cpu min':>8}"
    print("\nseconds; speed-up = naive / one-pass (wall min, wall median, CPU min)")
    print(
        f"{'K':>3}  naive: {header}  one-pass: {header}  speed-up: {'wmin':>7} {'wmed':>7} {'cpu':>7}"
        "  max |Δ|"
    )
    for k in args.ks:
        absolute = [max(len(prompt) + b, 1) for b in boundaries(len(completion), k)]
        out = timed(
            {
                "naive": lambda a=absolute: score_continuations_naive(model, prefix, a, continuations),
                "fast": lambda a=absolute: score_continuations(model, prefix, a, continuations, **budget),
            },
            args.repeats,
        )
        (naive, slow), (fast, quick) = out["naive"], out["fast"]
        diff = (quick - slow).abs().max().item()
        rows += cost_rows(f"K={k}", "naive", naive, "one_pass", fast)
        rows.append((f"K={k}", "max_abs_diff", diff, diff, 1))
        print(
            f"{k:>3}  naive: {naive.cells()}  one-pass: {fast.cells()}  speed-up: {naive.ratios(fast)}"
            f"  {diff:.1e}"
        )
        if diff > 1e-4:
            print(f"ERROR: one-pass and naive scores differ by {diff:.2e} > 1e-4 at K={k}")
            return 1

    bounds = boundaries(len(completion), args.mc_boundaries)
    max_new = int(round(np.mean([len(completion) - b for b in bounds])))
    answer_len = len(answer_only_continuations(tokenizer, "7")[0])
    print(f"\nvalues vs MC at {len(bounds)} boundaries; MC rollouts of {max_new} new tokens")
    print(f"{'method':<36} {header}   MC / this: {'wmin':>7} {'wmed':>7} {'cpu':>7}")
    estimators = {
        f"reference ({len(references)} x ~{len(continuations[0])} tok)": dict(references=references),
        f"answer_only ({answer_len} tok)": dict(
            continuation=Continuation(estimator="answer_only"), answer="7"
        ),
    }
    for n_samples in args.mc_samples:
        mc_kwargs = dict(n_samples=n_samples, max_new_tokens=max_new, batch_size=len(bounds) * n_samples)
        fns = {
            name: lambda kw=kwargs: estimate_values(
                model, tokenizer, prompt, completion, bounds, **kw, **budget
            )
            for name, kwargs in estimators.items()
        }
        fns["mc"] = lambda kw=mc_kwargs: mc_values(
            model, tokenizer, prompt, completion, bounds, "7", grade_fn=lambda text, ref: 0.0, **kw
        )
        out = timed(fns, args.repeats)
        mc = out.pop("mc")[0]
        print(f"{f'MC, {n_samples} samples/boundary':<36} {mc.cells()}")
        for name, (timing, _) in out.items():
            print(f"{'  RREDCoT ' + name:<36} {timing.cells()}              {mc.ratios(timing)}")
            setting = f"boundaries={len(bounds)}, mc_samples={n_samples}"
            measured = {row[:2] for row in rows}  # MC's own timings once per setting, not per estimator
            new = cost_rows(setting, "mc", mc, name.split()[0], timing)
            rows += [row for row in new if row[:2] not in measured]

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        absolute = [max(len(prompt) + b, 1) for b in boundaries(len(completion), 16)]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            score_continuations(model, prefix, absolute, continuations, **budget)
        print(
            "\none-pass K=16 profile\n"
            + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
        )

    if args.csv:
        model_name = args.model or "tiny-random"
        append_rows(
            args.csv,
            "value_scoring",
            rows,
            model=model_name,
            params=n_params,
            threads=args.threads,
            load=load,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
