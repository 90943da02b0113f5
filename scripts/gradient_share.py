"""Where GRPO's update falls on the credit testbed before any credit is given: each token class's share of it.

    snakemake --cores 2 headroom --configfile experiments/testbed.yaml experiments/overlays/testbed_h4.yaml
    python scripts/gradient_share.py testbed_h4

At a sampled token y the gradient of log p(y) with respect to the logits is e_y − p, of norm ‖e_y − p‖₂: about
0 where the policy is sure of its token. GRPO weights every token of a trace alike (A/|o|), so the share of
Σ‖e_y − p‖₂ that each class of tokens holds is where its update goes. If the decisive tokens (the result
digits of the thinking's steps) already hold nearly all of it, exact credit can only rescale that update,
which Adam undoes; headroom for redistribution needs tokens that are uncertain but do not matter (the
testbed's asides). Classes: ``decisive`` (a step line's result), ``aside`` (an aside line's characters),
``line start`` (the first token of a thinking line and the end of thinking: where the policy goes on or
stops), ``other thinking`` and ``write-up`` (after the end of thinking).

Samples one completion per in_dist problem from ``results/<scale>/base_model`` at the evaluation's
temperature and writes ``paper_tables/<scale>/gradient_share.{csv,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from rredcot.io import read_jsonl
from rredcot.pipeline.base_model import load_model_and_tokenizer
from rredcot.pipeline.data import prompt_messages
from rredcot.pipeline.data.first_error import ASIDE_LINE, STEP, thinking_lines
from rredcot.pipeline.evaluate import hf_sampler
from rredcot.rewards import grade

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("decisive", "aside", "line start", "other thinking", "write-up")


def char_classes(text: str, end_of_thinking: str) -> list[str]:
    """The class of every character of a completion (module docstring)."""
    lines = thinking_lines(text, end_of_thinking)
    stop = text.find(end_of_thinking, lines[0][0] if lines else 0)
    classes = ["other thinking"] * len(text)
    if stop >= 0:
        classes[stop:] = ["write-up"] * (len(text) - stop)
        classes[stop] = "line start"  # the choice to stop thinking here
    for offset, raw in lines:
        line = raw.strip()
        if raw and classes[offset] != "write-up":
            classes[offset] = "line start"  # the choice of what comes next (or to stop)
        start = offset + raw.index(line) if line else offset
        if STEP.match(line):
            for k in range(line.index("=") + 1, len(line)):
                classes[start + k] = "decisive"
        elif ASIDE_LINE.match(line):
            for k in range(line.index(":") + 2, len(line)):
                classes[start + k] = "aside"
    return classes


def token_rows(model, tokenizer, prompt: str, text: str, end_of_thinking: str) -> list[dict]:
    """Per completion token: its class (of its first character) and ‖e_y − p‖₂ at it."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([prompt_ids + ids])).logits[0, len(prompt_ids) - 1 : -1].float()
    probs = torch.softmax(logits, dim=-1)
    target = torch.nn.functional.one_hot(torch.tensor(ids), probs.shape[-1]).float()
    norms = (target - probs).norm(dim=-1).tolist()
    classes = char_classes(text, end_of_thinking)
    rows, offset = [], 0
    for token, norm in zip(ids, norms, strict=True):
        piece = tokenizer.decode([token], skip_special_tokens=False)
        rows.append({"class": classes[offset] if offset < len(classes) else "write-up", "grad_norm": norm})
        offset += len(piece)
    return rows


def measure(scale: str, n: int, end_of_thinking: str) -> pd.DataFrame:
    """Token rows of one sampled completion per problem, with the trace's reward."""
    results = ROOT / "results" / scale
    model, tokenizer = load_model_and_tokenizer(results / "base_model", dtype="float32", device="cpu")
    sample = hf_sampler(model, tokenizer, n=1, temperature=1.0, top_p=1.0, max_new_tokens=256, device="cpu")
    problems = read_jsonl(results / "data" / "eval" / "in_dist.jsonl")[:n]
    torch.manual_seed(0)
    rows = []
    for start in range(0, len(problems), 50):
        batch = problems[start : start + 50]
        messages = [prompt_messages(p["problem"]) for p in batch]
        prompts = [
            tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages
        ]
        for problem, prompt, [completion] in zip(batch, prompts, sample(prompts), strict=True):
            reward = grade(completion.text, problem["answer"])
            for row in token_rows(model, tokenizer, prompt, completion.text, end_of_thinking):
                rows.append({"id": problem["id"], "reward": reward, **row})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scale")
    parser.add_argument("--n", type=int, default=200, help="in_dist problems, one completion each")
    parser.add_argument("--end-of-thinking", default="</think>\n", help="as train.rredcot.end_of_thinking")
    args = parser.parse_args(argv)
    tokens = measure(args.scale, args.n, args.end_of_thinking)
    table = (
        tokens.groupby("class")["grad_norm"]
        .agg(tokens="size", grad_norm_sum="sum", grad_norm_mean="mean")
        .reindex(CLASSES, fill_value=0)
    )
    table["token_share"] = table["tokens"] / table["tokens"].sum()
    table["update_share"] = table["grad_norm_sum"] / table["grad_norm_sum"].sum()
    out = ROOT / "paper_tables" / args.scale
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "gradient_share.csv")
    accuracy = tokens.groupby("id")["reward"].first().mean()
    lines = [
        f"**Where GRPO's update falls on the base policy ({args.scale}, {tokens['id'].nunique()} in_dist "
        f"completions, accuracy {accuracy:.3f})**",
        "",
        "Per token class: its share of the tokens, and of Σ‖e_y − p‖₂, the norm of log p's gradient at the "
        "logits, summed over tokens (GRPO weights every token of a trace alike).",
        "",
        "| class | tokens | share of tokens | mean ‖e_y − p‖₂ | share of the update |",
        "|---|---|---|---|---|",
    ]
    for name, row in table.iterrows():
        lines.append(
            f"| {name} | {int(row['tokens'])} | {row['token_share']:.3f} | {row['grad_norm_mean']:.3f} | "
            f"{row['update_share']:.3f} |"
        )
    lines.append("")
    (out / "gradient_share.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
