"""Character-level tokenizer for the tiny CPU default.

Saved as a ``PreTrainedTokenizerFast`` with a Qwen-style chat template, so every later stage loads it with
``AutoTokenizer.from_pretrained`` exactly as it would load a hub model's tokenizer. ``<think>`` and
``</think>`` are single tokens, as in real reasoning models, so the end-of-thinking marker has one position.
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD, UNK, IM_START, IM_END = "<pad>", "<unk>", "<|im_start|>", "<|im_end|>"
THINK_START, THINK_END = "<think>", "</think>"
SPECIAL_TOKENS = [PAD, UNK, IM_START, IM_END, THINK_START, THINK_END]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per printable ASCII character plus newline; special tokens are atomic."""
    characters = sorted(set(string.printable) - set("\t\r\x0b\x0c"))
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + characters)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=IM_END,
        bos_token=None,
        additional_special_tokens=[IM_START, THINK_START, THINK_END],
        chat_template=CHAT_TEMPLATE,
        model_max_length=4096,
        padding_side="left",
    )
    return tokenizer
