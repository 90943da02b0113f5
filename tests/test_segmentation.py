"""Segmenters: hand-worked spans, invariants, and the completion helper on the char tokenizer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rredcot.pipeline.tokenizer import build_char_tokenizer
from rredcot.segmentation import (
    STRATEGIES,
    CompletionSegments,
    Segmentation,
    segment,
    segment_completion,
    token_table,
    token_texts,
    value_boundaries,
)

# ---------------------------------------------------------------- keyword


def test_keyword_cuts_after_each_newline_token():
    tokens = ["a", "b", "\n", "c", "\n", "\n", "d", "e"]
    assert segment(tokens, None, Segmentation("keyword")) == [(0, 3), (3, 5), (5, 6), (6, 8)]


def test_keyword_spanning_two_tokens_cuts_after_the_token_where_it_ends():
    tokens = ["a", "b", "\n", "c", "\n", "\n", "d", "e"]
    assert segment(tokens, None, Segmentation("keyword", keywords=("\n\n",))) == [(0, 6), (6, 8)]
    assert segment(["x\n", "\ny", "z"], None, Segmentation("keyword", keywords=("\n\n",))) == [(0, 2), (2, 3)]


def test_keyword_inside_a_multi_character_token():
    tokens = ["The", " end.\nNext", " line"]
    assert segment(tokens, None, Segmentation("keyword")) == [(0, 2), (2, 3)]


def test_keyword_occurrences_do_not_overlap():
    # "\n\n\n" holds one non-overlapping "\n\n" (chars 0-1), as str.split would see it.
    assert segment(["\n", "\n", "\n"], None, Segmentation("keyword", keywords=("\n\n",))) == [(0, 2), (2, 3)]


def test_keyword_cuts_of_several_keywords_are_united():
    tokens = ["a", ".", "b", "\n", "c"]
    assert segment(tokens, None, Segmentation("keyword", keywords=("\n", "."))) == [(0, 2), (2, 4), (4, 5)]


def test_keyword_in_last_token_or_absent_gives_no_extra_span():
    assert segment(["a", "\n"], None, Segmentation("keyword")) == [(0, 2)]
    assert segment(["a", "b"], None, Segmentation("keyword")) == [(0, 2)]


def test_keyword_ignores_max_segments():
    tokens = ["a", "\n", "b", "\n", "c"]
    assert segment(tokens, None, Segmentation("keyword", max_segments=1)) == [(0, 2), (2, 4), (4, 5)]


# ---------------------------------------------------------------- entropy

ENT_TOKENS = list("abcdefgh")
ENTROPIES = [0.1, 0.9, 0.5, 0.9, 0.2, 0.7, 0.3, 5.0]  # the last token (5.0) is never a cut


def test_entropy_tie_goes_to_the_earlier_token():
    assert segment(ENT_TOKENS, ENTROPIES, Segmentation("entropy", max_segments=2)) == [(0, 2), (2, 8)]


def test_entropy_cuts_after_the_highest_tokens_but_never_the_last():
    assert segment(ENT_TOKENS, ENTROPIES, Segmentation("entropy", max_segments=3)) == [(0, 2), (2, 4), (4, 8)]
    assert segment(ENT_TOKENS, ENTROPIES, Segmentation("entropy", max_segments=4)) == [
        (0, 2),
        (2, 4),
        (4, 6),
        (6, 8),
    ]
    assert segment(ENT_TOKENS, ENTROPIES, Segmentation("entropy", max_segments=1)) == [(0, 8)]


def test_entropy_with_more_segments_than_tokens_gives_one_token_each():
    assert segment(list("abc"), [1.0, 2.0, 3.0], Segmentation("entropy", max_segments=10)) == [
        (0, 1),
        (1, 2),
        (2, 3),
    ]


# ---------------------------------------------------------------- fixed


def test_fixed_chunks_with_shorter_last_chunk():
    assert segment(list("abcdefgh"), None, Segmentation("fixed", chunk_size=3)) == [(0, 3), (3, 6), (6, 8)]
    assert segment(list("abcdefgh"), None, Segmentation("fixed", chunk_size=8)) == [(0, 8)]
    assert segment(list("abcdefgh"), None, Segmentation("fixed", chunk_size=10)) == [(0, 8)]


# ---------------------------------------------------------------- hybrid

# Keyword segments (0,2) (2,4) (4,6) (6,8) (8,9) with summed entropies 1.0, 0.5, 0.5, 2.0, 0.25.
HYB_TOKENS = ["a", "\n", "b", "\n", "c", "\n", "d", "\n", "e"]
HYB_ENTROPIES = [0.25, 0.75, 0.5, 0.0, 0.25, 0.25, 1.5, 0.5, 0.25]


@pytest.mark.parametrize(
    ("max_segments", "expected"),
    [
        (5, [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]),  # already few enough: keyword split unchanged
        (4, [(0, 2), (2, 6), (6, 8), (8, 9)]),  # pair sums 1.5 1.0 2.5 2.25 -> merge segments 1+2
        (3, [(0, 6), (6, 8), (8, 9)]),  # sums 1 1 2 .25 -> pair sums 2.0 3.0 2.25 -> merge 0+1
        (2, [(0, 6), (6, 9)]),  # sums 2 2 .25 -> pair sums 4.0 2.25 -> merge 1+2
        (1, [(0, 9)]),
    ],
)
def test_hybrid_merges_lowest_summed_entropy_pair(max_segments, expected):
    assert segment(HYB_TOKENS, HYB_ENTROPIES, Segmentation("hybrid", max_segments=max_segments)) == expected


def test_hybrid_tie_merges_the_leftmost_pair():
    tokens = ["a", "\n"] * 4  # four segments, each with summed entropy 1.0
    entropies = [0.5] * 8
    assert segment(tokens, entropies, Segmentation("hybrid", max_segments=3)) == [(0, 4), (4, 6), (6, 8)]
    # then sums 2 1 1: the pair (1, 2) is lowest, not a tie
    assert segment(tokens, entropies, Segmentation("hybrid", max_segments=2)) == [(0, 4), (4, 8)]


def _naive_hybrid(tokens, entropies, max_segments):
    """Test oracle: O(K^2) merge straight from the definition."""
    spans = segment(tokens, None, Segmentation("keyword"))
    sums = [sum(entropies[s:e]) for s, e in spans]
    while len(spans) > max_segments:
        pair = [sums[i] + sums[i + 1] for i in range(len(spans) - 1)]
        i = pair.index(min(pair))  # first minimum: leftmost pair
        spans[i : i + 2] = [(spans[i][0], spans[i + 1][1])]
        sums[i : i + 2] = [pair[i]]
    return spans


# ---------------------------------------------------------------- properties

TOKEN_TEXTS = st.sampled_from(["a", "bc", "\n", "\n\n", "x\ny", " ", ""])


@st.composite
def token_lists(draw, min_size=0):
    tokens = draw(st.lists(TOKEN_TEXTS, min_size=min_size, max_size=60))
    # Quarter-integers: segment sums are exact, so ties in the heap and the oracle agree.
    entropies = [
        q / 4 for q in draw(st.lists(st.integers(0, 16), min_size=len(tokens), max_size=len(tokens)))
    ]
    return tokens, entropies


def _assert_tiles(spans, n):
    assert [s for s, _ in spans[1:]] == [e for _, e in spans[:-1]]
    assert all(s < e for s, e in spans)
    if n:
        assert spans[0][0] == 0 and spans[-1][1] == n
    else:
        assert spans == []


@settings(max_examples=150, deadline=None)
@given(
    data=token_lists(),
    strategy=st.sampled_from(STRATEGIES),
    max_segments=st.integers(1, 20),
    chunk_size=st.integers(1, 20),
    keywords=st.sampled_from([("\n",), ("\n\n",), ("\n", "b")]),
)
def test_every_strategy_tiles_the_tokens(data, strategy, max_segments, chunk_size, keywords):
    tokens, entropies = data
    spans = segment(
        tokens,
        entropies,
        Segmentation(strategy, max_segments, keywords, chunk_size),
    )
    _assert_tiles(spans, len(tokens))
    n = len(tokens)
    if strategy == "entropy":
        assert len(spans) == min(max_segments, n)
    elif strategy == "fixed":
        assert len(spans) == math.ceil(n / chunk_size)
    elif strategy == "hybrid":
        n_keyword = len(segment(tokens, None, Segmentation("keyword", keywords=keywords)))
        assert len(spans) == min(max_segments, n_keyword)


@settings(max_examples=100, deadline=None)
@given(data=token_lists())
def test_single_character_keyword_cuts_after_exactly_the_tokens_containing_it(data):
    tokens, _ = data
    ends = [e for _, e in segment(tokens, None, Segmentation("keyword"))]
    expected = [i + 1 for i, t in enumerate(tokens) if "\n" in t]
    if tokens and (not expected or expected[-1] != len(tokens)):
        expected.append(len(tokens))
    assert ends == expected


@settings(max_examples=150, deadline=None)
@given(data=token_lists(min_size=1), max_segments=st.integers(1, 20))
def test_hybrid_heap_matches_the_naive_merge(data, max_segments):
    tokens, entropies = data
    assert segment(tokens, entropies, Segmentation("hybrid", max_segments=max_segments)) == _naive_hybrid(
        tokens, entropies, max_segments
    )


@settings(max_examples=100, deadline=None)
@given(data=token_lists(min_size=2), max_segments=st.integers(2, 20))
def test_entropy_cut_tokens_are_the_highest(data, max_segments):
    tokens, entropies = data
    spans = segment(tokens, entropies, Segmentation("entropy", max_segments=max_segments))
    cut_tokens = [e - 1 for _, e in spans[:-1]]
    others = [h for i, h in enumerate(entropies[:-1]) if i not in cut_tokens]
    if others:
        assert min(entropies[i] for i in cut_tokens) >= max(others)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_empty_input_gives_no_spans(strategy):
    assert segment([], [], Segmentation(strategy, max_segments=3, chunk_size=2)) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "sentence"}, "strategy"),
        ({"strategy": "entropy", "max_segments": None}, "max_segments"),
        ({"strategy": "hybrid", "max_segments": None}, "max_segments"),
        ({"strategy": "fixed"}, "chunk_size"),
        ({"strategy": "fixed", "chunk_size": 0}, "chunk_size"),
        ({"strategy": "entropy", "max_segments": 0}, "max_segments"),
        ({"strategy": "keyword", "max_segments": 2.5}, "max_segments"),
        ({"strategy": "keyword", "chunk_size": True}, "chunk_size"),
        ({"strategy": "keyword", "keywords": "\n"}, "keywords"),
        ({"strategy": "keyword", "keywords": ()}, "keywords"),
        ({"strategy": "hybrid", "max_segments": 2, "keywords": ("",)}, "keywords"),
    ],
)
def test_bad_fields_name_the_field(kwargs, match):
    """A spec is checked when it is made: a config fails at start-up, not at the first completion."""
    with pytest.raises(ValueError, match=match):
        Segmentation(**kwargs)
    with pytest.raises(ValueError, match=rf"^train\.rredcot\.segmentation: .*{match}"):
        Segmentation.from_config(kwargs, where="train.rredcot.segmentation")


def test_spec_from_a_config_mapping():
    spec = Segmentation.from_config({"strategy": "entropy", "max_segments": 3, "keywords": ["\n\n"]})
    assert spec == Segmentation("entropy", 3, ("\n\n",), None)  # a list of keywords becomes a tuple
    assert hash(spec) == hash(Segmentation("entropy", 3, ("\n\n",)))
    assert Segmentation.from_config(spec.as_config()) == spec
    assert spec.as_config() == {
        "strategy": "entropy",
        "max_segments": 3,
        "keywords": ["\n\n"],
        "chunk_size": None,
    }
    assert Segmentation.from_config({}) == Segmentation()  # fields left out take the defaults
    assert Segmentation.from_config(spec) is spec


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (
            "hybrid",
            r"analysis\.segmentation must be a mapping .*"
            r"the strategy alone is analysis\.segmentation\.strategy",
        ),
        ({"strategy": "keyword", "segment_keywords": ["\n"]}, r"unknown field\(s\) \['segment_keywords'\]"),
    ],
)
def test_config_in_an_old_spelling_is_refused(config, match):
    with pytest.raises(ValueError, match=match):
        Segmentation.from_config(config, where="analysis.segmentation")


def test_bad_entropies():
    with pytest.raises(ValueError, match="entropies"):
        segment(["a", "b"], None, Segmentation("entropy", max_segments=2))
    with pytest.raises(ValueError, match="entropies"):
        segment(["a", "b"], [1.0], Segmentation("hybrid", max_segments=2))
    with pytest.raises(ValueError, match=r"entropies\[1\]"):
        segment(["a", "b", "c"], [1.0, float("nan"), 0.0], Segmentation("entropy", max_segments=2))


# ---------------------------------------------------------------- completions


@pytest.fixture(scope="module")
def tokenizer():
    return build_char_tokenizer()


def _ids(tokenizer, text, n_pad=0):
    return tokenizer(text, add_special_tokens=False).input_ids + [tokenizer.pad_token_id] * n_pad


def test_completion_answer_is_its_own_last_segment(tokenizer):
    ids = _ids(tokenizer, "ab\ncd\n</think>42<|im_end|>", n_pad=2)
    entropies = np.arange(len(ids), dtype=float)
    segs = segment_completion(ids, tokenizer, entropies, Segmentation("keyword"), n_tokens=10)
    assert segs == CompletionSegments([(0, 3), (3, 6), (6, 10)], n_reasoning_segments=2, think_end=6)
    assert value_boundaries(segs) == [0, 3, 6]


def test_completion_strategy_and_max_segments_apply_to_the_reasoning_only(tokenizer):
    ids = _ids(tokenizer, "ab\ncd\nef</think>4")
    entropies = [0, 0, 0, 0, 0, 0, 9, 0, 5, 0]  # entropies after </think> must not matter
    segs = segment_completion(ids, tokenizer, entropies, Segmentation("entropy", max_segments=2))
    assert segs.spans == [(0, 7), (7, 8), (8, 10)]
    assert (segs.n_reasoning_segments, segs.think_end) == (2, 8)
    assert value_boundaries(segs) == [0, 7, 8]


def test_truncated_completion_is_all_reasoning(tokenizer):
    ids = _ids(tokenizer, "ab\ncd", n_pad=3)
    segs = segment_completion(ids, tokenizer, None, Segmentation("keyword"), n_tokens=5)
    assert segs == CompletionSegments([(0, 3), (3, 5)], n_reasoning_segments=2, think_end=None)
    assert value_boundaries(segs) == [0, 3, 5]


def test_marker_in_padding_is_not_found(tokenizer):
    ids = _ids(tokenizer, "ab</think>")
    segs = segment_completion(ids, tokenizer, None, Segmentation("fixed", chunk_size=4), n_tokens=2)
    assert segs == CompletionSegments([(0, 2)], n_reasoning_segments=1, think_end=None)


def test_completion_starting_with_the_marker_has_only_the_answer(tokenizer):
    segs = segment_completion(_ids(tokenizer, "</think>7"), tokenizer, None, Segmentation("keyword"))
    assert segs == CompletionSegments([(0, 2)], n_reasoning_segments=0, think_end=0)
    assert value_boundaries(segs) == [0]


def test_empty_completion_has_no_spans(tokenizer):
    segs = segment_completion(
        [tokenizer.pad_token_id] * 3, tokenizer, None, Segmentation("keyword"), n_tokens=0
    )
    assert segs == CompletionSegments([], n_reasoning_segments=0, think_end=None)
    assert value_boundaries(segs) == [0]


def test_vocabulary_table_and_a_marker_split_over_tokens():
    table = ["a", "\n", "</", "think", ">"]
    assert token_texts([0, 1, 2], table) == ["a", "\n", "</"]
    segs = segment_completion([0, 1, 0, 2, 3, 4, 0], table, None, Segmentation("keyword"))
    assert segs == CompletionSegments([(0, 2), (2, 3), (3, 7)], n_reasoning_segments=2, think_end=3)


def test_token_texts_keep_special_tokens(tokenizer):
    ids = _ids(tokenizer, "a\n</think>")
    assert token_texts(ids, tokenizer) == ["a", "\n", "</think>"]


def test_token_table_covers_the_models_ids_not_the_tokenizers(tokenizer):
    """A model with 8 more output rows than tokenizer entries: those ids get "", and a completion that
    contains one still segments on the text around it."""
    n = len(tokenizer)
    table = token_table(tokenizer, n + 8)
    assert len(table) == n + 8 and table[n:] == [""] * 8
    assert table[:n] == token_texts(range(n), tokenizer)
    assert token_table(tokenizer, 10) == table[:10]  # a model smaller than its tokenizer
    ids = _ids(tokenizer, "a\nb") + [n + 3] + _ids(tokenizer, "\nc</think>")
    segs = segment_completion(ids, table, None, Segmentation("keyword"))
    assert segs == CompletionSegments([(0, 2), (2, 5), (5, 6), (6, 7)], n_reasoning_segments=3, think_end=6)


# One completion, hand-worked under every strategy: the char tokenizer gives one token per character, so 18
# reasoning tokens, the marker </think> (one token) and a two-token answer.
PINNED_TEXT = "3+4\n=7\n\n7*2\n=14 ok</think>14"
PINNED_ENTROPIES = [
    0.5,
    0.0,
    0.25,
    1.0,
    2.0,
    0.0,
    0.5,
    0.75,
    0.25,
    3.0,
    0.0,
    0.5,
    1.5,
    0.0,
    0.25,
    0.0,
    0.0,
    4.0,
]
PINNED_ENTROPIES += [9.0, 9.0, 9.0]  # the marker and the answer: never used
PINNED = {
    # cuts after every "\n": the reasoning "3+4\n|=7\n|\n|7*2\n|=14 ok"
    Segmentation("keyword"): [(0, 4), (4, 7), (7, 8), (8, 12), (12, 18)],
    # "\n\n" ends in token 7 (the second of the two newlines)
    Segmentation("keyword", keywords=("\n\n",)): [(0, 8), (8, 18)],
    # the two highest entropies among tokens 0..16: 3.0 (token 9) and 2.0 (token 4); token 17 never cuts
    Segmentation("entropy", max_segments=3): [(0, 5), (5, 10), (10, 18)],
    Segmentation("fixed", chunk_size=5): [(0, 5), (5, 10), (10, 15), (15, 18)],
    # keyword sums 1.75 2.5 0.75 3.75 5.75; pair sums 4.25 3.25 4.5 9.5: merge 1+2 -> 1.75 3.25 3.75 5.75;
    # pair sums 5.0 7.0 9.5: merge 0+1 -> 5.0 3.75 5.75
    Segmentation("hybrid", max_segments=3): [(0, 8), (8, 12), (12, 18)],
}


@pytest.mark.parametrize("spec", list(PINNED), ids=lambda spec: f"{spec.strategy}")
def test_pinned_boundaries_of_a_hand_worked_completion(tokenizer, spec):
    """The segments every strategy gives one completion, worked by hand: a change of the segmenter that
    moves a boundary changes what training and the analyses value, and must show here."""
    ids = _ids(tokenizer, PINNED_TEXT)
    assert len(ids) == len(PINNED_ENTROPIES) == 21
    segs = segment_completion(ids, tokenizer, PINNED_ENTROPIES, spec)
    assert segs.spans == [*PINNED[spec], (18, 21)]
    assert (segs.n_reasoning_segments, segs.think_end) == (len(PINNED[spec]), 18)


def test_completion_rejects_bad_n_tokens(tokenizer):
    with pytest.raises(ValueError, match="n_tokens"):
        segment_completion([5, 6], tokenizer, None, Segmentation("keyword"), n_tokens=3)
