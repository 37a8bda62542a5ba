"""radimpress.scoring must give rouge-score's numbers exactly: every field compared with ==."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
from rouge_score import rouge_scorer

from radimpress.scoring import ROUGE_TYPES, RougeScorer, Score
from radimpress.scoring import rouge as rouge_module
from radimpress.scoring import tokenize as tokenize_module
from radimpress.scoring.lcs import lcs_length, lcs_positions, match_masks

# A small vocabulary so that texts share many tokens (ties in the LCS tables, repeated n-grams),
# with stemmer-sensitive words, unicode that lower-cases into [a-z] (Kelvin sign, dotted I) or
# not at all, punctuation-only pieces and every kind of line break.
WORDS = [
    "a",
    "b",
    "c",
    "a",
    "b",
    "no",
    "No",
    "NO",
    "acute",
    "effusion",
    "effusions",
    "lungs",
    "clear",
    "opacities",
    "opacity",
    "atelectasis",
    "consolidation",
    "stable",
    "stably",
    "heart",
    "size",
    "normal",
    "x1",
    "3",
    "3cm",
    "dying",
    "skies",
    "news",
    "sky",
    "running",
    "relational",
    "generalization",
    "caresses",
    "ponies",
    "agreed",
    "feed",
    "hopping",
    "É",
    "ß",
    "\u212a",
    "\u0130",
    "ﬁ",
    "Σ",
    "σ",
    "ς",
    "日本",
    "🙂",
    "é",
    "naïve",
    "ÀB",
    "...",
    "-",
    "1.",
    "2)",
    "(",
    "n/a",
    "x-ray",
    "pleural/pericardial",
    "_",
    "a_b",
    "\n",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "  ",
    "\n\n",
    "\u2028",
    "\x0b",
]


def _random_text(rng: random.Random, max_words: int = 30) -> str:
    count = rng.choice((0, 1, 2, 3, rng.randint(0, max_words), rng.randint(0, max_words)))
    joiners = (" ", " ", " ", "", "\n", ". ", ", ")
    parts = []
    for _ in range(count):
        parts.append(rng.choice(WORDS))
        parts.append(rng.choice(joiners))
    return "".join(parts)


def _assert_same(pairs: list[tuple[str, str]], use_stemmer: bool) -> None:
    reference = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
    ours = RougeScorer(use_stemmer=use_stemmer)
    for index, (target, prediction) in enumerate(pairs):
        expected = reference.score(target, prediction)
        got = ours.score(target, prediction)
        assert set(got) == set(ROUGE_TYPES)
        for name in ROUGE_TYPES:
            want, have = expected[name], got[name]
            assert isinstance(have, Score)
            # == on every field: bit for bit the same float (0 == 0.0 for empty texts).
            assert (have.precision, have.recall, have.fmeasure) == (
                want.precision,
                want.recall,
                want.fmeasure,
            ), f"pair {index} {name}: {have} != {want} for {target!r} / {prediction!r}"
            assert all(isinstance(v, float) for v in have)


def _random_pairs(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    texts = [_random_text(rng) for _ in range(count // 3)]
    pairs = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.6:  # repeats: from a pool, so the caches are hit
            pairs.append((rng.choice(texts), rng.choice(texts)))
        elif kind < 0.7:  # identical texts, and identical but for line breaks
            text = rng.choice(texts)
            pairs.append((text, text if rng.random() < 0.5 else text.replace("\n", " ")))
        else:
            pairs.append((_random_text(rng), _random_text(rng)))
    return pairs


def test_random_pairs_without_stemmer_equal_rouge_score() -> None:
    _assert_same(_random_pairs(seed=20240601, count=4000), use_stemmer=False)


def test_random_pairs_with_stemmer_equal_rouge_score() -> None:
    _assert_same(_random_pairs(seed=7, count=2500), use_stemmer=True)


EDGE_TEXTS = [
    "",
    " ",
    "...",
    "\n",
    "\r\n",
    "\n\n\n",
    "a",
    "a a a a",
    "a\na\na",
    "a\r\nb\r\nc",
    "a b\n\n...\nb a",
    "No acute cardiopulmonary abnormality.",
    "1. No acute disease.\n2. Stable cardiomegaly.\n3. No acute disease.",
    "\u212a\u0130 ÉCOLE straße ﬁne",
    "🙂🙂🙂",
    "the the the the the cat the the",
]


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_edge_cases_every_ordered_pair(use_stemmer: bool) -> None:
    pairs = [(a, b) for a in EDGE_TEXTS for b in EDGE_TEXTS]
    _assert_same(pairs, use_stemmer)


def test_long_texts_with_many_sentences() -> None:
    rng = random.Random(3)
    vocabulary = ["a", "b", "c", "d", "lung", "clear", "effusion", "."]

    def long_text() -> str:
        lines = [
            " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 40))) for _ in range(12)
        ]
        return "\n".join(lines)

    pairs = [(long_text(), long_text()) for _ in range(6)]
    pairs.append((" ".join(rng.choice(vocabulary) for _ in range(700)),) * 2)
    pairs.append(
        (
            " ".join(rng.choice(vocabulary) for _ in range(600)),
            " ".join(rng.choice(vocabulary) for _ in range(500)),
        )
    )
    _assert_same(pairs, use_stemmer=False)


def test_lcs_and_traceback_match_rouge_score_tables() -> None:
    """The bit-parallel rows give rouge-score's LCS length and the exact traceback positions."""
    rng = random.Random(11)
    for case in range(3300):
        alphabet, longest = ("abcd", 14) if case < 3000 else ("abcdefgh", 70)
        a = [rng.choice(alphabet) for _ in range(rng.randint(0, longest))]
        b = [rng.choice(alphabet) for _ in range(rng.randint(0, longest))]
        table = rouge_scorer._lcs_table(a, b)
        masks = match_masks(b)
        assert lcs_length(a, masks, len(b)) == table[-1][-1]
        expected = rouge_scorer._backtrack_norec(table, a, b)
        chosen = lcs_positions(a, b, masks)
        assert [i for i in range(len(a)) if chosen >> i & 1] == expected


def test_small_caches_still_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded caches are emptied when full; results must not depend on what is cached."""
    monkeypatch.setattr(rouge_module, "TEXT_CACHE_SIZE", 3)
    monkeypatch.setattr(rouge_module, "PAIR_CACHE_SIZE", 2)
    monkeypatch.setattr(tokenize_module, "TEXT_CACHE_SIZE", 2)
    monkeypatch.setattr(tokenize_module, "WORD_CACHE_SIZE", 2)
    _assert_same(_random_pairs(seed=5, count=400), use_stemmer=True)


def test_score_many_keeps_order_and_returns_independent_dicts() -> None:
    scorer = RougeScorer()
    pairs = [("a b c", "a b"), ("x", "y"), ("a b c", "a b")]
    results = scorer.score_many(pairs)
    assert [r["rouge1"].recall for r in results] == [2 / 3, 0.0, 2 / 3]
    results[0]["rouge1"] = None  # a caller changing its dict does not change the memo
    assert scorer.score("a b c", "a b")["rouge1"].recall == 2 / 3
    assert results[0] is not results[2]


def test_non_text_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="must be str, got NoneType"):
        RougeScorer().score("a", None)  # type: ignore[arg-type]


def test_score_rows_json_form() -> None:
    scores = RougeScorer().score("no acute disease", "no disease")
    rows = rouge_module.score_rows(scores)
    assert list(rows) == list(ROUGE_TYPES)
    assert rows["rouge1"] == {"precision": 1.0, "recall": 2 / 3, "fmeasure": 0.8}
    json.dumps(rows)


def test_default_path_imports_neither_numpy_nor_nltk() -> None:
    """The Score Lambda imports radimpress.scoring: no numpy/nltk unless stemming is asked for."""
    code = (
        "import sys\n"
        "from radimpress.scoring import RougeScorer\n"
        "RougeScorer().score('No acute disease.', 'No disease.')\n"
        "heavy = sorted(m for m in ('numpy', 'nltk', 'rouge_score') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.shared_data
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_openi_dev_against_itself_shuffled(shared_data, use_stemmer: bool) -> None:
    with open(shared_data / "openi" / "dev.jsonl", encoding="utf-8") as handle:
        impressions = [json.loads(line).get("impression") or "" for line in handle if line.strip()]
    shuffled = impressions[:]
    random.Random(2021).shuffle(shuffled)
    pairs = list(zip(impressions, shuffled, strict=True)) + list(
        zip(impressions, impressions, strict=True)
    )
    _assert_same(pairs, use_stemmer)


def test_tokenizer_equals_rouge_score_on_every_character() -> None:
    """ASCII text takes a translate() fast path, other text a regex: both must be rouge-score's."""
    from rouge_score import tokenize as reference_tokenize

    characters = [chr(c) for c in range(0x250)] + ["\u212a", "\u0130", "ﬁ", "\u2028", "🙂"]
    rng = random.Random(17)
    texts = [f"a{c}b {c}{c}x{c}" for c in characters]
    texts += ["".join(rng.choice(characters[:128]) for _ in range(40)) for _ in range(500)]
    texts += ["".join(rng.choice(characters) for _ in range(40)) for _ in range(500)]
    for text in texts:
        assert list(tokenize_module.words(text)) == reference_tokenize.tokenize(text, None), repr(
            text
        )
