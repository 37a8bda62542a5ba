"""rouge-score's tokenizer, reproduced exactly and cached.

rouge-score (``rouge_score.tokenize.tokenize``) lower-cases the text, replaces every run of
characters outside ``[a-z0-9]`` with a space, splits on white space, stems tokens longer than 3
characters with NLTK's Porter stemmer (``NLTK_EXTENSIONS`` mode) when asked, and keeps tokens that
match ``^[a-z0-9]+$``. Impressions repeat a lot ("No acute cardiopulmonary abnormality."), so the
token tuples of whole texts and the stems of single words are cached: profiling shows re-stemming
the same words is most of rouge-score's time with the stemmer on.

Only the stemmer needs NLTK, and it is imported when the first stemming tokenizer is built, so the
default (no stemming) path is pure standard library.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN = re.compile(r"[a-z0-9]+")
# For ASCII text (nearly every report) one C pass does rouge-score's lower-casing and
# non-alphanumeric replacement: A-Z -> a-z, a-z and 0-9 kept, every other byte -> space.
_ASCII_FOLD = bytes(
    c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256)
)


def words(text: str) -> list[str]:
    """rouge-score's unstemmed tokens: the maximal runs of [a-z0-9] in the lower-cased text."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_FOLD).decode("ascii").split()
    # str.lower() can turn non-ASCII letters into ASCII ones (KELVIN SIGN -> "k"): the regex path.
    return _TOKEN.findall(text.lower())


_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")

# Caches are bounded so a long-lived Lambda container or a large batch cannot grow them forever;
# when one is full it is simply emptied (texts repeat in bursts, an LRU buys little here).
TEXT_CACHE_SIZE = 20_000
WORD_CACHE_SIZE = 100_000

Tokens = tuple[str, ...]


def _porter_stem() -> Callable[[str], str]:
    """NLTK's PorterStemmer().stem in its default mode, exactly what rouge-score constructs."""
    from nltk.stem import porter  # lazy: only the stemming path needs NLTK

    return porter.PorterStemmer().stem


class Tokenizer:
    """Text -> token tuple, equal to rouge_score's DefaultTokenizer(use_stemmer).tokenize."""

    def __init__(self, use_stemmer: bool = False) -> None:
        self.use_stemmer = use_stemmer
        self._stem = _porter_stem() if use_stemmer else None
        self._texts: dict[str, Tokens] = {}
        self._words: dict[str, str | None] = {}

    def _stem_word(self, word: str) -> str | None:
        """The stemmed word, or None when rouge-score's final validity check would drop it."""
        try:
            return self._words[word]
        except KeyError:
            pass
        stemmed = self._stem(word) if len(word) > 3 else word  # type: ignore[misc]
        kept = stemmed if _VALID_TOKEN.match(stemmed) else None
        if len(self._words) >= WORD_CACHE_SIZE:
            self._words.clear()
        self._words[word] = kept
        return kept

    def tokenize(self, text: str, cache: bool = True) -> Tokens:
        """Tokens of one text (cached unless the caller keeps its own cache)."""
        cached = self._texts.get(text) if cache else None
        if cached is not None:
            return cached
        # rouge-score replaces runs of [^a-z0-9] with a space, splits on white space and keeps
        # non-empty tokens: exactly the maximal runs of [a-z0-9] of the lower-cased text.
        found = words(text)
        if self._stem is not None:
            stem = self._stem_word
            found = [s for s in map(stem, found) if s is not None]
        tokens = tuple(found)
        if cache:
            if len(self._texts) >= TEXT_CACHE_SIZE:
                self._texts.clear()
            self._texts[text] = tokens
        return tokens

    def sentences(self, text: str) -> list[Tokens]:
        """Token tuples of the newline-separated sentences rougeLsum uses, empty ones dropped.

        rouge-score splits on "\\n" only (a "\\r" becomes a space in tokenization) and drops
        empty strings; a line that yields no tokens contributes nothing to union-LCS, so dropping
        it here changes no score.
        """
        tokenize = self.tokenize
        return [tokens for line in text.split("\n") if line and (tokens := tokenize(line))]
