"""`select` and the sparse neighbour search: behaviour on tiny data, leave-one-out, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from test_models import NORMAL_A, NORMAL_B, PAIRS

from radimpress_training.models import base
from radimpress_training.models.base import TrainingPair
from radimpress_training.models.select import NUMERIC_FEATURES, SelectModel
from radimpress_training.models.sparse import NeighbourIndex, bm25_weights, top_k

EFFUSION = "Small left pleural effusion. Heart size normal."
# More abnormal studies than PAIRS has, so the selector has both classes to learn from.
ABNORMAL = [
    TrainingPair(
        "Large right pleural effusion. Heart size normal.", "Large right pleural effusion."
    ),
    TrainingPair(
        "Moderate left pleural effusion. Lungs are clear.", "Moderate left pleural effusion."
    ),
    TrainingPair(
        "Small right pleural effusion. Heart size normal.", "Small right pleural effusion."
    ),
    TrainingPair(NORMAL_A + " Mild spine degeneration.", "Normal chest."),
    TrainingPair(NORMAL_B + " Calcified granuloma.", "No acute cardiopulmonary abnormality."),
]
TRAIN = [*PAIRS, *ABNORMAL]


def test_select_is_registered_and_the_default() -> None:
    assert "select" in base.available_models()
    assert base.get_model_class("select") is SelectModel
    assert base.DEFAULT_MODEL == "select"


def test_top_k_ranks_best_first_and_excludes_ranges() -> None:
    documents = sparse.csr_matrix(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]))
    queries = sparse.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
    rows, scores = top_k(queries, documents, 2)
    assert rows.tolist() == [[0, 3], [2, 1]]  # equal scores: lower row first
    assert scores.tolist() == [[1.0, 1.0], [1.0, 0.5]]
    rows, _ = top_k(queries, documents, 2, exclude=(np.array([0, 2]), np.array([1, 3])))
    assert rows.tolist() == [[3, 1], [1, 0]]


def test_clustered_search_finds_the_exact_neighbours_on_separable_data() -> None:
    rng = np.random.default_rng(0)
    # 40 groups of 20 near-identical documents over disjoint words: the nearest are in-group.
    blocks = [np.zeros((20, 400)) for _ in range(40)]
    for g, block in enumerate(blocks):
        block[:, g * 10 : g * 10 + 10] = 1.0 + rng.random((20, 10))
    documents = sparse.csr_matrix(np.vstack(blocks))
    exact = NeighbourIndex(documents)
    clustered = NeighbourIndex(documents, exact_limit=100, cluster_size=20, probes=2)
    assert clustered.centroids is not None and exact.centroids is None
    own = (np.arange(800), np.arange(800) + 1)
    a_rows, a_scores = exact.search(documents, 5, own)
    b_rows, b_scores = clustered.search(documents, 5, own)
    assert np.allclose(a_scores, b_scores)
    assert (np.arange(800)[:, None] != b_rows).all()  # leave-one-out holds in clusters too
    assert (a_rows // 20 == b_rows // 20).all()


def test_bm25_saturates_term_frequency_and_normalises_length() -> None:
    counts = sparse.csr_matrix(np.array([[1.0, 0.0, 0.0], [4.0, 0.0, 0.0], [1.0, 3.0, 3.0]]))
    weights = bm25_weights(counts, k1=1.2, b=0.75).toarray()
    assert weights[1, 0] > weights[0, 0]  # more occurrences weigh more ...
    assert weights[1, 0] < 4 * weights[0, 0]  # ... but saturate
    assert weights[2, 0] < weights[0, 0]  # one occurrence in a long report weighs less
    flat = bm25_weights(counts, k1=1.2, b=0.0).toarray()
    assert flat[2, 0] == pytest.approx(flat[0, 0])  # b = 0: no length normalisation


def test_select_answers_the_template_for_normal_studies_and_restates_findings() -> None:
    model = SelectModel(neighbours=3).fit(TRAIN)
    normal, effusion = model.predict([NORMAL_A, EFFUSION])
    assert normal == "Normal chest."
    assert "left pleural effusion" in effusion.lower()


def test_select_selector_probabilities_follow_the_training_labels() -> None:
    model = SelectModel(neighbours=3).fit(TRAIN)
    texts = ["Moderate right pleural effusion.", "Mild spine degeneration."]
    near = model._neighbours([EFFUSION, NORMAL_A])
    templates = [model._template(n) for n in near]
    p_effusion, p_spine = model._probabilities(
        model._design(texts, near, templates, [(0, 1), (3, 4)])
    )
    assert p_effusion > 0.5 > p_spine


def test_select_training_is_leave_one_out() -> None:
    # Each report would be its own nearest neighbour and its sentence its own most similar one;
    # leave-one-out, the restated effusion sees only the other report (restated nothing).
    model = SelectModel(neighbours=1).fit(
        [
            TrainingPair("Large right pleural effusion.", "Large right pleural effusion."),
            TrainingPair("Mild right spine degeneration.", "Normal chest."),
        ]
    )
    assert model._sentence_text == [
        "Large right pleural effusion.",
        "Mild right spine degeneration.",
    ]
    assert model._restated.tolist() == [1.0, 0.0]
    numeric = model.training_design().toarray()[:, -NUMERIC_FEATURES:]
    sentence_share, report_share = numeric[:, 0].tolist(), numeric[:, 1].tolist()
    assert sentence_share == [0.0, 1.0]  # the similar sentence is never the sentence itself
    assert report_share == [0.0, 1.0]  # the neighbour report is the other one


def test_wording_maximises_expected_rouge_against_pseudo_references() -> None:
    model = SelectModel(neighbours=3).fit(TRAIN)
    near = [(0, 1.0)]  # the neighbour says "Normal chest."
    sure = model._word("Normal chest.", near, [("Small left pleural effusion.", 0.95)])
    unlikely = model._word("Normal chest.", near, [("Small left pleural effusion.", 0.05)])
    assert sure == "Normal chest. Small left pleural effusion."
    assert unlikely == "Normal chest."


def test_select_writes_the_placeholder_convention_of_the_input() -> None:
    pairs = [
        TrainingPair(
            "Since ___ the heart is enlarged. Lungs are clear.", "Cardiomegaly since XXXX."
        ),
        *TRAIN,
    ]
    model = SelectModel(neighbours=1).fit(pairs)
    query = "Since ___ the heart is enlarged. Lungs are clear."
    assert model.predict([query]) == ["Cardiomegaly since XXXX."]  # the training convention
    assert model.predict([query], convention="___") == ["Cardiomegaly since ___."]
    assert model.predict([query.replace("___", "[**2101**]")]) == ["Cardiomegaly since [** **]."]
    assert model.predict([query.replace("___", "XXXX")], convention="___") == [
        "Cardiomegaly since ___."
    ]


def test_select_answers_duplicates_once_and_in_order() -> None:
    model = SelectModel(neighbours=3).fit(TRAIN)
    queries = [NORMAL_A, EFFUSION, NORMAL_A, "", EFFUSION]
    out = model.predict(queries)
    assert out[0] == out[2] and out[1] == out[4]
    assert out == [model.predict([q])[0] for q in queries]


def test_select_saves_its_settings_and_reloads_identically(tmp_path: Path) -> None:
    model = SelectModel(neighbours=3, k1=1.5, b=0.5, regularization=0.5).fit(TRAIN)
    queries = [NORMAL_A + " Small left pleural effusion.", EFFUSION, "", "zzz", NORMAL_B]
    before = model.predict(queries)
    model.save(tmp_path)
    assert json.loads((tmp_path / base.MANIFEST).read_text())["model"] == "select"
    loaded = base.load_model(tmp_path)
    assert isinstance(loaded, SelectModel)
    assert loaded.state() == model.state()
    assert loaded.predict(queries) == before


def test_select_untrained_and_empty_training_fail_clearly() -> None:
    with pytest.raises(RuntimeError, match="not trained"):
        SelectModel().predict(["x"])
    with pytest.raises(ValueError, match="at least one"):
        SelectModel().fit([])
    # One class only (nothing restated): a constant selector, still answers.
    only_normal = [p for p in TRAIN if "effusion" not in p.impression.lower()]
    assert SelectModel().fit(only_normal).predict([EFFUSION])[0]


def test_utility_equals_rouge_scorer_sums_bit_for_bit() -> None:
    import random

    from radimpress.scoring import RougeScorer
    from radimpress_training.models.utility import Utility

    rng = random.Random(0)
    vocabulary = ["no", "acute", "effusion", "left", "small", "heart", "___", "1.", "the", "is"]
    texts = ["", "Normal.", "no no", "Normal chest. No acute disease."] + [
        " ".join(rng.choice(vocabulary) for _ in range(rng.randint(1, 14))) for _ in range(60)
    ]
    scorer = RougeScorer(use_stemmer=False)
    utility = Utility(cache_size=50)  # small: the memo is emptied and refilled on the way
    ids = [utility.register(t) for t in texts]
    for a, ref in zip(ids, texts, strict=True):
        for b, cand in zip(ids, texts, strict=True):
            s = scorer.score(ref, cand)
            want = s["rouge1"].fmeasure + s["rouge2"].fmeasure + s["rougeL"].fmeasure
            assert utility.pair(a, b) == want
            assert utility.texts(ref, cand) == want


def test_distinct_search_equals_per_occurrence_search_with_exclusion() -> None:
    from radimpress_training.models.sparse import distinct_search

    texts = ["a b", "a c", "a b", "b c", "a b", "c"]
    vocabulary = {"a": 0, "b": 1, "c": 2}

    def vectorize(items: list[str]) -> sparse.csr_matrix:
        dense = np.zeros((len(items), 3))
        for i, item in enumerate(items):
            for word in item.split():
                dense[i, vocabulary[word]] += 1.0
        return sparse.csr_matrix(dense)

    index = NeighbourIndex(vectorize(texts))
    own = (np.array([0, 0, 2, 3, 3, 5]), np.array([2, 2, 3, 5, 5, 6]))
    _, want_scores = index.search(vectorize(texts), 3, own)
    rows, scores = distinct_search(index, vectorize, texts, 3, own)
    assert scores.tolist() == want_scores.tolist()  # rows may differ only among equal scores
    for row, (lo, hi) in enumerate(zip(*own, strict=True)):
        assert not ((rows[row] >= lo) & (rows[row] < hi)).any()  # never its own range


def test_a_fit_with_a_helper_process_is_the_fit_in_one(monkeypatch) -> None:
    """From parallel_fit_min_pairs pairs on, the sentence half of the fit runs in a helper
    process (issue 19 item 8: at 50,000 pairs it is a quarter of the fit, on a core the training
    job's thread leaves idle): the same model, bit for bit."""
    from radimpress_training.models import select
    from radimpress_workstation.synthetic import generate_reports

    reports = generate_reports(300, seed=5)
    pairs = [TrainingPair(r["findings"], r["impression"]) for r in reports if r.get("impression")]
    started: list[int] = []
    real = select.worker_processes

    def counted(workers: int):
        started.append(workers)
        return real(workers)

    monkeypatch.setattr(select, "worker_processes", counted)
    monkeypatch.setattr(select, "usable_cpus", lambda: 2)
    inline = SelectModel().fit(pairs)
    assert started == []  # 300 pairs: below the threshold, no process
    monkeypatch.setattr(SelectModel, "parallel_fit_min_pairs", 1)
    helped = SelectModel().fit(pairs)
    assert started == [1]
    for name in select.SENTENCE_STATE[:-1]:
        assert np.array_equal(np.asarray(getattr(helped, name)), np.asarray(getattr(inline, name)))
    assert np.array_equal(helped._coef, inline._coef) and helped._intercept == inline._intercept
    queries = [r["findings"] for r in generate_reports(40, seed=6)]
    assert helped.predict(queries) == inline.predict(queries)
    monkeypatch.setattr(select, "usable_cpus", lambda: 1)
    SelectModel().fit(pairs)
    assert started == [1]  # one CPU: no helper, whatever the size
