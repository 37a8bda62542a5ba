"""A saved `select` model loads its fitted indexes instead of rebuilding them, and answers alike.

The k-means inverted file starts above ``sparse.EXACT_LIMIT`` documents (8,192); the tests lower
it (and the cluster size) so that a few hundred synthetic reports build clustered indexes for
both the reports and the training sentences, as 50,000 reports do.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse as sp
from sklearn.cluster import MiniBatchKMeans

from radimpress import deid
from radimpress_training.models import base, sparse
from radimpress_training.models.base import TrainingPair
from radimpress_training.models.select import INDEX_FILE, INDEX_WORDS_FILE, SelectModel
from radimpress_training.models.sparse import NeighbourIndex, vocabulary_of
from radimpress_workstation.synthetic import generate_reports

TRAIN_REPORTS = 700
EXACT_LIMIT = 300
CLUSTER_SIZE = 40


@pytest.fixture(autouse=True)
def small_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads that rebuild the indexes must build them as the fit did."""
    monkeypatch.setattr(sparse, "EXACT_LIMIT", EXACT_LIMIT)
    monkeypatch.setattr(sparse, "CLUSTER_SIZE", CLUSTER_SIZE)


@pytest.fixture(scope="module")
def queries() -> list[str]:
    held_out = [r["findings"] for r in generate_reports(200, seed=11, prefix="Q")]
    return [*held_out, "", "zzz", "Small left pleural effusion. Heart size normal."]


@pytest.fixture(scope="module")
def fitted() -> Iterator[SelectModel]:
    records = generate_reports(TRAIN_REPORTS, seed=5)
    pairs = [TrainingPair(deid.normalize(r["findings"]), r["impression"]) for r in records]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sparse, "EXACT_LIMIT", EXACT_LIMIT)
        patch.setattr(sparse, "CLUSTER_SIZE", CLUSTER_SIZE)
        model = SelectModel().fit(pairs)
    yield model


@pytest.fixture(scope="module")
def archive(fitted: SelectModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("select")
    fitted.save(directory)
    return directory


def old_format_copy(archive: Path, directory: Path) -> Path:
    """The archive as format 1 wrote it: training pairs and selector only."""
    shutil.copytree(archive, directory)
    (directory / INDEX_FILE).unlink()
    (directory / INDEX_WORDS_FILE).unlink()
    manifest = json.loads((directory / base.MANIFEST).read_text())
    (directory / base.MANIFEST).write_text(json.dumps({**manifest, "format_version": 1}))
    return directory


def loaded_select(directory: Path) -> SelectModel:
    model = base.load_model(directory)
    assert isinstance(model, SelectModel)
    return model


def same_csr(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def same_index(a: NeighbourIndex, b: NeighbourIndex) -> bool:
    assert a.centroids is not None and b.centroids is not None
    return (
        same_csr(a.documents, b.documents)
        and np.array_equal(a.centroids, b.centroids)
        and len(a.members) == len(b.members)
        and all(np.array_equal(x, y) for x, y in zip(a.members, b.members, strict=True))
        and a.probes == b.probes
    )


def test_both_indexes_are_clustered_at_this_size(fitted: SelectModel) -> None:
    assert fitted._reports is not None and fitted._reports.centroids is not None
    assert fitted._sentences is not None and fitted._sentences.index.centroids is not None


def test_neighbour_index_round_trips_through_plain_arrays() -> None:
    rng = np.random.default_rng(0)
    dense = (rng.random((400, 60)) < 0.1) * rng.random((400, 60))
    documents = sp.csr_matrix(np.vstack([dense, dense[:100]]))  # repeated rows are kept once
    queries = sp.csr_matrix((rng.random((50, 60)) < 0.2) * 1.0)
    own = (np.arange(50), np.arange(50) + 3)
    for index in (NeighbourIndex(documents), NeighbourIndex(documents, 100, 30, 3)):
        arrays = index.arrays()
        assert len(arrays["documents.indptr"]) == 401
        assert all(a.dtype.kind in "biuf" for a in arrays.values())
        restored = NeighbourIndex.from_arrays(arrays)
        assert same_csr(restored.documents, index.documents)
        assert (restored.centroids is None) == (index.centroids is None)
        want_rows, want_scores = index.search(queries, 7, own)
        rows, scores = restored.search(queries, 7, own)
        assert rows.tolist() == want_rows.tolist() and scores.tolist() == want_scores.tolist()


def test_saved_select_model_predicts_as_fitted_and_as_rebuilt(
    fitted: SelectModel, archive: Path, queries: list[str], tmp_path: Path
) -> None:
    want = fitted.predict(queries)
    assert base.archive_format(archive) == 2
    assert loaded_select(archive).predict(queries) == want
    rebuilt_archive = old_format_copy(archive, tmp_path / "v1")
    assert base.archive_format(rebuilt_archive) == 1
    assert loaded_select(rebuilt_archive).predict(queries) == want


def test_loading_runs_no_kmeans_and_no_vectorizer_fit(
    archive: Path, queries: list[str], fitted: SelectModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("refitted on load")

    monkeypatch.setattr(MiniBatchKMeans, "fit", refuse)
    monkeypatch.setattr(sparse.CountVectorizer, "fit_transform", refuse)
    monkeypatch.setattr(sparse.TfidfVectorizer, "fit_transform", refuse)
    assert loaded_select(archive).predict(queries) == fitted.predict(queries)


def test_loaded_state_equals_the_fitted_state(fitted: SelectModel, archive: Path) -> None:
    loaded = loaded_select(archive)
    assert loaded._reports is not None and fitted._reports is not None
    assert same_index(loaded._reports, fitted._reports)
    assert loaded._sentences is not None and fitted._sentences is not None
    assert same_index(loaded._sentences.index, fitted._sentences.index)
    assert vocabulary_of(loaded._counts) == vocabulary_of(fitted._counts)
    words = vocabulary_of(loaded._sentences.vectorizer)
    assert words == vocabulary_of(fitted._sentences.vectorizer)
    assert np.array_equal(loaded._sentences.vectorizer.idf_, fitted._sentences.vectorizer.idf_)
    assert loaded._sentence_text == fitted._sentence_text
    assert loaded._sentence_position == fitted._sentence_position
    for name in ("_restated", "_sentence_report", "_sentence_bounds", "_report_restates"):
        mine, theirs = getattr(loaded, name), getattr(fitted, name)
        assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name
    assert loaded._impression_ids == fitted._impression_ids
    assert loaded._most_frequent == fitted._most_frequent


def test_archive_holds_plain_arrays_and_json_only(archive: Path) -> None:
    with np.load(archive / INDEX_FILE, allow_pickle=False) as arrays:
        assert all(arrays[key].dtype.kind in "biuf" for key in arrays.files)
    words = json.loads((archive / INDEX_WORDS_FILE).read_text())
    assert set(words) == {"report_vocabulary", "sentence_vocabulary", "sentence_texts"}


def test_a_model_without_candidate_sentences_round_trips(tmp_path: Path) -> None:
    normal = [
        TrainingPair("Heart size normal. Lungs are clear.", "Normal chest."),
        TrainingPair("No effusion or pneumothorax. Lungs are clear.", "No acute disease."),
    ]
    model = SelectModel(neighbours=1).fit(normal)
    assert model._sentences is None
    model.save(tmp_path)
    loaded = loaded_select(tmp_path)
    assert loaded._sentences is None
    queries = ["Lungs are clear.", "Mild cardiomegaly.", ""]
    assert loaded.predict(queries) == model.predict(queries)


def test_load_model_refuses_an_archive_newer_than_it_reads(archive: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    shutil.copytree(archive, newer)
    manifest = json.loads((newer / base.MANIFEST).read_text())
    (newer / base.MANIFEST).write_text(json.dumps({**manifest, "format_version": 3}))
    with pytest.raises(ValueError, match="has format 3; this version reads formats up to 2"):
        base.load_model(newer)
