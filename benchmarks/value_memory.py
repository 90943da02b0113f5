"""Benchmark: peak memory and time of value scoring against trace length, full-vocabulary logits (old) vs
logits chunks through lm_head (new), and one-pass vs naive scoring against the token-count bound (issue 13).

The model is a random Qwen3 with Qwen3's vocabulary (151,936), one layer and hidden size 64, so nearly all
of its memory and time is the output layer: the worst case for full-vocabulary logits. Each trace is
``--lengths`` random tokens, valued at K evenly spaced boundaries against references of ``--ref-lengths``
tokens. The old path is ``rredcot/values.py`` at ``--old-commit`` (the last one whose scoring took
``model(...).logits``), read with ``git show`` and imported beside the library, so the library keeps no
copy of it. Naive scoring (one full forward per boundary and reference) runs at ``--naive-lengths`` only:
at 16k tokens it costs about a minute on one thread. Two bounds of the one-pass speed-up: the token count,
naive tokens / one-pass tokens (Σ (boundary + continuation) over the pairs, against the trace plus
Σ continuation), and FLOPs (``forward_flops``), which also count that both paths send every continuation
token, and only those, through lm_head. Here lm_head is nearly all of a continuation token's cost, so the
FLOP bound is far below the token bound; for a real model (lm_head about 15 % of a 1.5B model's per-token
FLOPs) the two are close.

Peak memory: the rise of peak RSS (CPU, ``benchmarks/step_time.py``'s counters) or of
``torch.cuda.max_memory_allocated`` over the start of the call. Also printed: the projected scoring peak of
the new path, per token slot of ``value_batch_tokens`` (KV of the trace pass and of the continuation rows,
one layer's transients) plus one logits chunk, for this model and for Qwen3-4B, and the budget that fits
in the memory left beside the training state (``--free-gib``).

    .venv/bin/python benchmarks/value_memory.py --threads 1 --csv paper_tables/tiny/compute_cost.csv

``--projections-only`` writes the projections alone (arithmetic on the two configs; no measurement).

About 8 minutes on one thread of the 2-core reference machine (naive scoring at 2k and 16k tokens only, one
500-token reference per trace by default; ``--ref-lengths 300 500`` doubles the time).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from cost_log import append_rows, load_at_start, machine, versions
from step_time import read_peak_memory, reset_peak_memory
from transformers import Qwen3Config, Qwen3ForCausalLM

from rredcot.scoring import (
    DEFAULT_MAX_LOGITS,
    DEFAULT_VALUE_BATCH_TOKENS,
    score_continuations,
    score_continuations_naive,
)

REPO = Path(__file__).resolve().parents[1]
OLD_COMMIT = "ab579fe"
MODEL = dict(
    vocab_size=151_936,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=1,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=32_768,
    tie_word_embeddings=True,
)
# Qwen3-4B's config.json (the fields the projection reads).
QWEN3_4B = dict(
    vocab_size=151_936,
    hidden_size=2560,
    intermediate_size=9728,
    num_hidden_layers=36,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
)


def old_values(commit: str):
    """``rredcot.values`` as it was at ``commit``, imported as a separate module."""
    source = subprocess.run(
        ["git", "show", f"{commit}:rredcot/values.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "values_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("values_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["values_old"] = module
    spec.loader.exec_module(module)
    return module


def measured(fn, device: torch.device) -> tuple[float, float, object]:
    """(seconds, peak memory rise in MiB, result) of one call."""
    base = reset_peak_memory(device)
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    return seconds, read_peak_memory(device) - base, result


def projected_peak(
    config: dict, budget: int, dtype_bytes: int, max_logits: int = DEFAULT_MAX_LOGITS
) -> float:
    """Projected scoring peak (bytes) of the new path at a token budget: per token slot, the trace pass's KV
    cache and the continuation rows' (cache copy joined with the new tokens), both over every layer, plus one
    layer's transients (the MLP's three intermediate tensors, or GQA's repeated keys and values, whichever is
    larger, and a few hidden-state copies); plus one logits chunk: lm_head's output, its fp32 copy (none for
    an fp32 model) and logsumexp's fp32 temporary."""
    layers, kv, head_dim = config["num_hidden_layers"], config["num_key_value_heads"], config["head_dim"]
    kv_slot = layers * 2 * kv * head_dim * dtype_bytes
    transient = max(3 * config["intermediate_size"], 2 * config["num_attention_heads"] * head_dim)
    transient = (transient + 4 * config["hidden_size"]) * dtype_bytes
    logits = max_logits * (dtype_bytes + 4 * (1 + (dtype_bytes != 4)))
    return budget * (2 * kv_slot + transient) + logits


def forward_flops(config: dict, n: int, context: int, scored: int) -> float:
    """FLOPs of a forward over ``n`` new tokens that attend to ``context`` earlier ones (and causally to each
    other), ``scored`` of them through lm_head: weight matmuls, attention scores and sums, logits."""
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    q = config["num_attention_heads"] * config["head_dim"]
    kv = config["num_key_value_heads"] * config["head_dim"]
    weights = hidden * (2 * q + 2 * kv) + 3 * hidden * config["intermediate_size"]
    attention = 4 * q * n * (context + (n + 1) / 2)
    return layers * (2 * weights * n + attention) + 2 * hidden * config["vocab_size"] * scored


def fitting_budget(config: dict, free_bytes: float, dtype_bytes: int) -> int:
    """The largest power-of-two budget whose projected peak fits in ``free_bytes``."""
    budget = 1024
    while projected_peak(config, budget * 2, dtype_bytes) <= free_bytes:
        budget *= 2
    return budget


def projection_rows(value_batch_tokens: int, free_gib: float, dtype_bytes: int) -> list[tuple]:
    """The projected new-path peaks (:func:`projected_peak`), printed and as rows: this model's at
    ``value_batch_tokens``, Qwen3-4B's per token slot and at four budgets, and the largest budget that fits
    in ``free_gib``. Arithmetic on the two configs, the same on every machine."""
    qwen = "Qwen3-4B bf16"
    this_model = projected_peak(MODEL, value_batch_tokens, dtype_bytes) / 2**20
    per_slot = projected_peak(QWEN3_4B, 1, 2, 0) / 2**10
    fits = fitting_budget(QWEN3_4B, free_gib * 2**30, 2)
    print(
        f"\nprojected new-path peak, this model at value_batch_tokens={value_batch_tokens}: "
        f"{this_model:.0f} MiB"
    )
    print(f"{qwen}, per token slot of value_batch_tokens: {per_slot:.0f} KiB")
    rows = [
        (
            f"this model, value_batch_tokens={value_batch_tokens}",
            "projected_peak_mib",
            this_model,
            this_model,
            1,
        ),
        (qwen, "projected_kib_per_token_slot", per_slot, per_slot, 1),
    ]
    for tokens in (8192, 32768, 65536, 131072):
        peak = projected_peak(QWEN3_4B, tokens, 2) / 2**30
        print(f"  value_batch_tokens={tokens:>6}: {peak:6.1f} GiB")
        rows.append((f"{qwen}, value_batch_tokens={tokens}", "projected_peak_gib", peak, peak, 1))
    print(f"  largest power of two within {free_gib:g} GiB: value_batch_tokens={fits}")
    return [*rows, (f"{qwen}, free={free_gib:g} GiB", "projected_value_batch_tokens", fits, fits, 1)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--naive-lengths", type=int, nargs="*", default=[2048, 16384])
    parser.add_argument("--ref-lengths", type=int, nargs="+", default=[500])
    parser.add_argument("--boundaries", type=int, default=40)
    parser.add_argument(
        "--value-batch-tokens", type=int, default=DEFAULT_VALUE_BATCH_TOKENS, help="scoring token budget"
    )
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--free-gib", type=float, default=30.0, help="GPU memory left for value scoring")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--csv", type=Path, help="append the results to this CSV file")
    parser.add_argument(
        "--projections-only",
        action="store_true",
        help="only the projected peaks (arithmetic, no measurement)",
    )
    args = parser.parse_args(argv)
    load = load_at_start()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(**MODEL, attn_implementation="sdpa")).to(device).eval()
    old = None if args.projections_only else old_values(args.old_commit)  # needs that commit
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: random Qwen3, vocab 151,936, 1 layer, hidden 64 ({n_params / 1e6:.1f}M params)")
    print(f"{machine(args.threads)}; {versions()}; old path: rredcot/values.py at {args.old_commit}")
    print(
        f"K={args.boundaries} boundaries, references of {args.ref_lengths} tokens, "
        f"value_batch_tokens={args.value_batch_tokens}, max_logits={DEFAULT_MAX_LOGITS}"
    )
    generator = torch.Generator().manual_seed(0)
    draw = lambda n: torch.randint(0, MODEL["vocab_size"], (n,), generator=generator).tolist()  # noqa: E731
    conts = [draw(n) for n in args.ref_lengths]
    budget = {"value_batch_tokens": args.value_batch_tokens}

    rows = []
    lengths = () if args.projections_only else args.lengths
    if lengths:
        print(
            f"\n{'tokens':>6} {'old MiB':>8} {'new MiB':>8} {'old s':>7} {'new s':>7} {'max |Δ|':>8}"
            f" {'naive s':>8} {'speed-up':>8} {'tokens':>6} {'FLOPs':>6} {'of FLOPs':>6}"
        )
    for length in lengths:
        prefix = draw(length)
        bounds = sorted(
            {int(round(x)) for x in np.linspace(length / args.boundaries, length, args.boundaries)}
        )
        new_s, new_mib, fast = measured(
            lambda p=prefix, b=bounds: score_continuations(model, p, b, conts, **budget), device
        )
        old_s, old_mib, slow = measured(
            lambda p=prefix, b=bounds: old.score_continuations(model, p, b, conts, **budget), device
        )
        diff = (fast - slow).abs().max().item()
        setting = f"trace_tokens={length}, K={len(bounds)}, refs={args.ref_lengths}"
        rows += [
            (setting, "old_peak_mib", old_mib, old_mib, 1),
            (setting, "new_peak_mib", new_mib, new_mib, 1),
            (setting, "old_wall_s", old_s, old_s, 1),
            (setting, "new_wall_s", new_s, new_s, 1),
            (setting, "old_new_max_abs_diff", diff, diff, 1),
        ]
        line = f"{length:>6} {old_mib:>8.0f} {new_mib:>8.0f} {old_s:>7.1f} {new_s:>7.1f} {diff:>8.1e}"
        if length in args.naive_lengths:
            naive_s, _, oracle = measured(
                lambda p=prefix, b=bounds: score_continuations_naive(model, p, b, conts), device
            )
            pairs = [(b, len(c)) for b in bounds for c in conts]
            one_pass_tokens = (bounds[-1] - 1) + sum(c for _, c in pairs)
            bound = sum(b + c for b, c in pairs) / one_pass_tokens
            naive_flops = sum(forward_flops(MODEL, b + c, 0, c + 1) for b, c in pairs)
            one_pass_flops = forward_flops(MODEL, bounds[-1] - 1, 0, 0) + sum(
                forward_flops(MODEL, c, b - 1, c) for b, c in pairs
            )
            flop_bound = naive_flops / one_pass_flops
            speedup = naive_s / new_s
            diff = max(diff, (fast - oracle).abs().max().item())
            rows += [
                (setting, "naive_wall_s", naive_s, naive_s, 1),
                (setting, "naive_over_one_pass", speedup, speedup, 1),
                (setting, "token_bound", bound, bound, 1),
                (setting, "flop_bound", flop_bound, flop_bound, 1),
            ]
            line += (
                f" {naive_s:>8.1f} {speedup:>7.2f}x {bound:>5.1f}x {flop_bound:>5.2f}x"
                f" {speedup / flop_bound:>6.0%}"
            )
        print(line)
        if diff > 1e-3:
            print(f"ERROR: the paths disagree by {diff:.2e} at {length} tokens")
            return 1

    rows += projection_rows(args.value_batch_tokens, args.free_gib, torch.finfo(model.dtype).bits // 8)

    if args.csv:
        append_rows(
            args.csv, "value_memory", rows, model="random-qwen3-v151936-h64-l1", params=n_params,
            threads=args.threads, load=load,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
