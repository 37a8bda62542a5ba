"""Sparse term weighting and batched top-k neighbour search shared by the local models.

The models compare findings (and findings sentences) by bag-of-features similarity. Written as
dict loops, every query walked Python postings; here documents are scipy CSR matrices built by
scikit-learn's vectorizers, and a batch of queries is scored against all documents with one sparse
product whose result is cut to the k best per row with ``argpartition``. A batch holds at most
:data:`BATCH_CELLS` dense scores, so memory is bounded whatever the data size, and the work per
query is a few vectorised passes over the scores instead of Python per posting.

Not for Lambda code: scikit-learn and scipy run in the training/transform jobs and on the
workstation only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

# Dense score cells per batch (float64): 4M cells = 32 MB, whatever the number of documents.
BATCH_CELLS = 4_000_000

Analyzer = Callable[[str], list[str]]


def tfidf_vectorizer(analyzer: Analyzer) -> TfidfVectorizer:
    """(1 + log tf) * (ln((1 + n) / (1 + df)) + 1), L2-normalised: the models' historic weights."""
    return TfidfVectorizer(
        analyzer=analyzer, sublinear_tf=True, smooth_idf=True, norm="l2", dtype=np.float64
    )


def count_vectorizer(analyzer: Analyzer) -> CountVectorizer:
    return CountVectorizer(analyzer=analyzer, dtype=np.float64)


def bm25_weights(counts: sparse.csr_matrix, k1: float, b: float) -> sparse.csr_matrix:
    """Okapi BM25 document weights (saturating tf, length-normalised, BM25 idf) per cell.

    A query's score against every document is then ``binary_query @ weights.T``.
    """
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    n = counts.shape[0]
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    average = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    row_of_cell = np.repeat(np.arange(n), np.diff(counts.indptr))
    tf = counts.data
    norm = k1 * (1.0 - b + b * lengths[row_of_cell] / average)
    weights = counts.copy()
    weights.data = idf[counts.indices] * tf * (k1 + 1.0) / (tf + norm)
    return weights


def binary(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    out = sparse.csr_matrix(matrix, dtype=np.float64, copy=True)
    out.data[:] = 1.0
    return out


def top_k(
    queries: sparse.csr_matrix,
    documents: sparse.csr_matrix,
    k: int,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best documents per query row by dot product, best first (ties: lower row first).

    Returns (rows, scores), both ``(queries, min(k, documents))``. ``exclude = (lo, hi)`` drops
    documents ``lo[i] <= row < hi[i]`` for query ``i`` (leave-one-out: a training report or its
    own sentences never count as its neighbours); they come back with score ``-inf``.
    """
    n_queries, n_docs = queries.shape[0], documents.shape[0]
    k = min(k, n_docs)
    rows = np.zeros((n_queries, k), dtype=np.int64)
    scores = np.zeros((n_queries, k), dtype=np.float64)
    if k == 0 or n_queries == 0:
        return rows, scores
    transposed = sparse.csr_matrix(documents.T)
    batch = max(1, BATCH_CELLS // max(n_docs, 1))
    for start in range(0, n_queries, batch):
        stop = min(start + batch, n_queries)
        block = (queries[start:stop] @ transposed).toarray()
        if exclude is not None:
            lows, highs = exclude[0][start:stop].tolist(), exclude[1][start:stop].tolist()
            for offset, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
                block[offset, lo:hi] = -np.inf
        if k < n_docs:
            best = np.argpartition(-block, k - 1, axis=1)[:, :k]
        else:
            best = np.broadcast_to(np.arange(n_docs), (stop - start, n_docs)).copy()
        values = np.take_along_axis(block, best, axis=1)
        order = np.lexsort((best, -values), axis=1)
        rows[start:stop] = np.take_along_axis(best, order, axis=1)
        scores[start:stop] = np.take_along_axis(values, order, axis=1)
    return rows, scores


def weighted_share(
    rows: np.ndarray, scores: np.ndarray, labels: np.ndarray, power: float = 1.0
) -> np.ndarray:
    """Per query, the ``score ** power``-weighted mean label of its neighbours (0: no weight)."""
    weights = np.maximum(scores, 0.0) ** power
    total = weights.sum(axis=1)
    hits = (weights * labels[rows]).sum(axis=1)
    return np.divide(hits, total, out=np.zeros_like(total), where=total > 0)


def unique_index(items: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Distinct items (first-seen order) and each item's position among them."""
    positions: dict[str, int] = {}
    codes = np.fromiter((positions.setdefault(i, len(positions)) for i in items), np.int64)
    return list(positions), codes
