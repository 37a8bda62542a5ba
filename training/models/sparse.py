"""Sparse term weighting and batched top-k neighbour search shared by the local models.

The models compare findings (and findings sentences) by bag-of-features similarity. Written as
dict loops, every query walked Python postings; here documents are scipy CSR matrices built by
scikit-learn's vectorizers, and a batch of queries is scored against all documents with one sparse
product whose result is cut to the k best per row with ``argpartition``. A batch holds at most
:data:`BATCH_CELLS` dense scores, so memory is bounded whatever the data size, and the work per
query is a few vectorised passes over the scores instead of Python per posting.

A fitted index is saved as plain arrays (:meth:`NeighbourIndex.arrays`) and restored from them,
so that loading a model does not run k-means again.

Not for Lambda code: scikit-learn and scipy run in the training/transform jobs and on the
workstation only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import sparse
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

# Dense score cells per batch (float64): 4M cells = 32 MB, whatever the number of documents.
BATCH_CELLS = 4_000_000
# Up to this many documents the search is exact (every document scored); above it, an inverted
# file of k-means clusters of about CLUSTER_SIZE documents, PROBES clusters searched per query.
EXACT_LIMIT = 8192
CLUSTER_SIZE = 256
PROBES = 4

Analyzer = Callable[[str], list[str]]


def tfidf_vectorizer(analyzer: Analyzer) -> TfidfVectorizer:
    """(1 + log tf) * (ln((1 + n) / (1 + df)) + 1), L2-normalised: the models' historic weights."""
    return TfidfVectorizer(
        analyzer=analyzer, sublinear_tf=True, smooth_idf=True, norm="l2", dtype=np.float64
    )


def restored_tfidf_vectorizer(
    analyzer: Analyzer, vocabulary: Sequence[str], idf: np.ndarray
) -> TfidfVectorizer:
    """:func:`tfidf_vectorizer` as fitted, without refitting: its terms (by column) and idf.

    scikit-learn's documented ways: the ``vocabulary`` argument fixes the columns and the
    ``idf_`` setter the weights; ``transform`` then gives the fitted vectorizer's output."""
    vectorizer = tfidf_vectorizer(analyzer)
    vectorizer.set_params(vocabulary=list(vocabulary))
    vectorizer.idf_ = idf
    return vectorizer


def count_vectorizer(
    analyzer: Analyzer, vocabulary: Sequence[str] | None = None
) -> CountVectorizer:
    """``vocabulary``: the terms (by column) of a vectorizer fitted before, which it restores."""
    fixed = list(vocabulary) if vocabulary is not None else None
    return CountVectorizer(analyzer=analyzer, dtype=np.float64, vocabulary=fixed)


def vocabulary_of(vectorizer: CountVectorizer) -> list[str]:
    """A fitted vectorizer's terms by column: what restores it (see :func:`count_vectorizer`)."""
    return [str(term) for term in vectorizer.get_feature_names_out()]


def with_prefix(prefix: str, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` under ``prefix`` (several objects' arrays in one .npz file)."""
    return {prefix + key: value for key, value in arrays.items()}


def under_prefix(prefix: str, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays :func:`with_prefix` stored under ``prefix``, without it."""
    return {key[len(prefix) :]: arrays[key] for key in arrays if key.startswith(prefix)}


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


def distinct_search(
    index: NeighbourIndex,
    vectorize: Callable[[list[str]], sparse.csr_matrix],
    texts: Sequence[str],
    k: int,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``index.search(vectorize(texts), k, exclude)``, each distinct text searched once.

    Findings sentences repeat (16,000 synthetic reports hold 39,085 candidate sentences, 819
    distinct) and so do whole findings, so searching per occurrence repeats the same sparse
    product. Each distinct text is searched once for ``k`` plus the widest excluded range more,
    then every occurrence drops the rows of its own range and keeps its first ``k``: at most that
    many rows can be excluded, so the answer is the per-occurrence one (excluded rows, where too
    few are left, come back last with score ``-inf`` as :func:`top_k` returns them).
    """
    distinct, codes = unique_index(texts)
    extra = int((exclude[1] - exclude[0]).max()) if exclude is not None and len(texts) else 0
    rows, scores = index.search(vectorize(distinct), k + extra)
    rows, scores = rows[codes], scores[codes]
    if exclude is None or not extra:
        return rows[:, :k], scores[:, :k]
    excluded = (rows >= exclude[0][:, None]) & (rows < exclude[1][:, None])
    scores = np.where(excluded, -np.inf, scores)
    order = np.argsort(excluded, axis=1, kind="stable")[:, : min(k, rows.shape[1])]
    return np.take_along_axis(rows, order, axis=1), np.take_along_axis(scores, order, axis=1)


def _merge(
    best_rows: np.ndarray, best_scores: np.ndarray, rows: np.ndarray, scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``k`` highest of two candidate sets per row."""
    all_rows = np.concatenate([best_rows, rows], axis=1)
    all_scores = np.concatenate([best_scores, scores], axis=1)
    if all_rows.shape[1] > k:
        keep = np.argpartition(-all_scores, k - 1, axis=1)[:, :k]
        all_rows = np.take_along_axis(all_rows, keep, axis=1)
        all_scores = np.take_along_axis(all_scores, keep, axis=1)
    return all_rows, all_scores


def csr_arrays(matrix: sparse.csr_matrix) -> dict[str, np.ndarray]:
    """A CSR matrix as the arrays :func:`csr_from_arrays` takes back (scipy's own .npz layout)."""
    return {
        "data": matrix.data,
        "indices": matrix.indices,
        "indptr": matrix.indptr,
        "shape": np.asarray(matrix.shape, dtype=np.int64),
    }


def csr_from_arrays(arrays: Mapping[str, np.ndarray]) -> sparse.csr_matrix:
    rows, columns = (int(n) for n in arrays["shape"])
    return sparse.csr_matrix(
        (arrays["data"], arrays["indices"], arrays["indptr"]), shape=(rows, columns)
    )


def distinct_rows(matrix: sparse.csr_matrix) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The distinct rows of ``matrix`` (first-seen order) and each row's position among them.

    ``distinct[codes]`` is ``matrix`` again, cell for cell. Findings and their sentences repeat
    (50,000 synthetic reports: 24,830 distinct findings, 1,400 distinct candidate sentences of
    122,601), so a saved index keeps each row once."""
    indices, data, bounds = matrix.indices, matrix.data, matrix.indptr.tolist()
    first: dict[tuple[bytes, bytes], int] = {}
    keep: list[int] = []
    codes = np.zeros(matrix.shape[0], dtype=np.int64)
    for row, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        key = (indices[lo:hi].tobytes(), data[lo:hi].tobytes())
        code = first.setdefault(key, len(first))
        if code == len(keep):
            keep.append(row)
        codes[row] = code
    return sparse.csr_matrix(matrix[keep]), codes


class NeighbourIndex:
    """Top-k search by dot product over the rows of a sparse matrix, memory bounded.

    Small collections are searched exactly (:func:`top_k`). Above :data:`EXACT_LIMIT` documents,
    exact search costs queries x documents, so the documents are grouped by k-means into clusters
    of about :data:`CLUSTER_SIZE` (an inverted file, as approximate nearest-neighbour libraries
    do) and a query scores only the members of its :data:`PROBES` nearest clusters: the work per
    query is the cluster centroids plus a fixed number of documents. Deterministic (seed 0).
    """

    def __init__(
        self,
        documents: sparse.csr_matrix,
        exact_limit: int | None = None,
        cluster_size: int | None = None,
        probes: int = PROBES,
    ) -> None:
        """``exact_limit`` and ``cluster_size``: :data:`EXACT_LIMIT`, :data:`CLUSTER_SIZE` if None
        (read when called, so a test can lower them for every index a model builds)."""
        self.documents = sparse.csr_matrix(documents)
        self.probes = probes
        self.centroids: np.ndarray | None = None
        self.members: list[np.ndarray] = []
        n = self.documents.shape[0]
        if n <= (EXACT_LIMIT if exact_limit is None else exact_limit):
            return
        clusters = -(-n // (CLUSTER_SIZE if cluster_size is None else cluster_size))
        kmeans = MiniBatchKMeans(
            n_clusters=clusters,
            batch_size=4096,
            n_init=1,
            max_iter=5,
            random_state=0,
            compute_labels=True,
        )
        labels = kmeans.fit(self.documents).labels_
        self.centroids = np.asarray(kmeans.cluster_centers_, dtype=np.float64)
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(clusters + 1))
        self.members = [order[bounds[c] : bounds[c + 1]] for c in range(clusters)]

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as plain numeric arrays (an .npz needs no pickle for them): the documents as
        their distinct rows plus each row's code, and the inverted file (k-means centroids, kept
        sparse as most of their cells are 0, and the members of each cluster).
        :meth:`from_arrays` restores it without running k-means."""
        distinct, codes = distinct_rows(self.documents)
        members = self.members
        centroids = self.centroids
        if centroids is None:  # exact search: no clusters
            centroids = np.zeros((0, self.documents.shape[1]))
        return {
            **with_prefix("documents.", csr_arrays(distinct)),
            "row_codes": codes,
            "probes": np.asarray(self.probes, dtype=np.int64),
            **with_prefix("centroids.", csr_arrays(sparse.csr_matrix(centroids))),
            "members": np.concatenate(members) if members else np.zeros(0, dtype=np.int64),
            "member_bounds": np.cumsum([0, *(len(m) for m in members)], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> NeighbourIndex:
        """The index :meth:`arrays` describes, searching as the original did, bit for bit."""
        distinct = csr_from_arrays(under_prefix("documents.", arrays))
        index = cls.__new__(cls)
        index.documents = sparse.csr_matrix(distinct[arrays["row_codes"]])
        index.probes = int(arrays["probes"])
        centroids = csr_from_arrays(under_prefix("centroids.", arrays)).toarray()
        index.centroids = centroids if len(centroids) else None
        members, bounds = arrays["members"], arrays["member_bounds"].tolist()
        index.members = [members[lo:hi] for lo, hi in itertools.pairwise(bounds)]
        return index

    def search(
        self,
        queries: sparse.csr_matrix,
        k: int,
        exclude: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :func:`top_k` (best first, ties: lower row first)."""
        if self.centroids is None:
            return top_k(queries, self.documents, k, exclude)
        queries = sparse.csr_matrix(queries)
        n_queries = queries.shape[0]
        k = min(k, self.documents.shape[0])
        probes = min(self.probes, len(self.members))
        near = np.asarray(queries @ self.centroids.T)
        probed = np.argpartition(-near, probes - 1, axis=1)[:, :probes]
        # Keep k candidates per query throughout: pad with nothing (score -inf).
        best_rows = np.zeros((n_queries, k), dtype=np.int64)
        best_scores = np.full((n_queries, k), -np.inf)
        for cluster, members in enumerate(self.members):
            asking = np.flatnonzero((probed == cluster).any(axis=1))
            if not len(asking) or not len(members):
                continue
            block_docs = sparse.csr_matrix(self.documents[members].T)
            step = max(1, BATCH_CELLS // len(members))
            for start in range(0, len(asking), step):
                who = asking[start : start + step]
                block = (queries[who] @ block_docs).toarray()
                if exclude is not None:
                    lo, hi = exclude[0][who][:, None], exclude[1][who][:, None]
                    block[(members[None, :] >= lo) & (members[None, :] < hi)] = -np.inf
                take = min(k, len(members))
                if take < len(members):
                    part = np.argpartition(-block, take - 1, axis=1)[:, :take]
                else:
                    part = np.broadcast_to(np.arange(len(members)), block.shape).copy()
                rows = members[part]
                scores = np.take_along_axis(block, part, axis=1)
                best_rows[who], best_scores[who] = _merge(
                    best_rows[who], best_scores[who], rows, scores, k
                )
        order = np.lexsort((best_rows, -best_scores), axis=1)
        return np.take_along_axis(best_rows, order, axis=1), np.take_along_axis(
            best_scores, order, axis=1
        )
