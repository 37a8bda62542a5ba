"""`select`: BM25 neighbours, their consensus template, and learned choice of restated findings.

`restate` showed the recipe (the house template of similar studies plus the positive findings
radiologists restate) but with hand-set parts: TF-IDF cosine neighbours, a fixed mixing weight
and a fixed probability threshold. Each part here is learned or chosen by expected score:

* **Neighbours** by Okapi BM25 over placeholder-normalised findings words plus one token per
  whole sentence (template sentences identify the dictating radiologist): term frequency
  saturates (``k1``) and long reports are length-normalised (``b``), so a report that repeats
  normal boilerplate does not outrank one that shares the rare positive words. Neighbour weights
  are ``(score / best score) ** sharpness``.
* **Template**: minimum Bayes risk over the neighbours' impressions, as in `consensus`.
* **Selector**: a logistic regression that gives each non-normal findings sentence the
  probability that the impression restates it, from the sentence's words and word pairs plus
  numeric evidence: the restated share of similar training sentences and of the neighbour
  reports, the best sentence similarity, position, number of positive sentences, whether the
  template is normal and how much of the sentence it already names. It is trained leave-one-out:
  a training report's features come from the other reports only, as at generation time.
* **Wording**: the answer is the template plus the first 0..``max_candidates`` most probable
  sentences, whichever has the highest expected ROUGE against pseudo-references, the neighbours'
  impressions with and without each candidate sentence, weighted by neighbour weight and
  selector probability. No threshold to tune.
* **Placeholders** are written in the convention of the findings: ``predict(..., convention=)``
  takes the input file's convention when the caller knows it (the pipeline hands findings over
  normalised to ``___``); otherwise an explicit ``XXXX`` / ``[** **]`` in the findings, otherwise
  the training impressions' convention.

Cost grows linearly (bench/model_scale.py: 16k + 16k reports in about 15 s on 2 cores): each
distinct findings text and sentence is searched once (:func:`sparse.distinct_search`), and the
expected ROUGE works on token profiles built once with the utility of each pair of impressions
memoised (:mod:`utility`): the same choices as full ``RougeScorer`` calls, bit for bit.

Loading is paid by every transform job, so the archive (format 2) keeps what fitting computed:
both vectorizers' vocabularies and the sentence idf, the BM25 and TF-IDF document matrices (each
distinct row once), the k-means inverted files and the sentence labels, as JSON and an .npz of
plain arrays (no pickle: loading a model runs no code from it). At 50,000 synthetic training
reports, loading takes 0.35-0.47 s of CPU instead of 12.9-14.8 s rebuilding (format 1 archives,
still read), and the archive grows from 14.8 MB to 33.7 MB (0.6 MB to 5.7 MB as .tar.gz); the
answers are the same, bit for bit.

Hyperparameters were chosen by 5-fold cross-validation on the Open-i training file only
(bench/quality.py). scikit-learn, scipy and numpy: workstation and training/transform jobs only.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from radimpress import deid
from radimpress_training.models.base import ImpressionModel, TrainingPair, archive_format
from radimpress_training.models.consensus import (
    _majority_convention,
    features,
    load_training_pairs,
    predict_batched,
    save_training_pairs,
)
from radimpress_training.models.helper_process import (
    InlineExecutor,
    usable_cpus,
    worker_processes,
)
from radimpress_training.models.restate import (
    SentenceIndex,
    is_normal_statement,
    sentence_features,
    sentences,
    specific_words,
    terse,
)
from radimpress_training.models.sparse import (
    NeighbourIndex,
    binary,
    bm25_weights,
    count_vectorizer,
    distinct_search,
    under_prefix,
    unique_index,
    vocabulary_of,
    weighted_share,
    with_prefix,
)
from radimpress_training.models.utility import Utility

STATE_FILE = "select.json"
SELECTOR_FILE = "select-selector.npz"
INDEX_FILE = "select-index.npz"
INDEX_WORDS_FILE = "select-index.json"
HASH_FEATURES = 2**18
NUMERIC_FEATURES = 9
# MBR candidates per query (the heaviest distinct neighbour impressions): bounds ROUGE calls.
TEMPLATE_CANDIDATES = 8
# Pseudo-reference combinations below this probability are left out of the expectation.
MIN_CHANCE = 0.02
# Neighbour impressions lighter than this share of the heaviest are left out of expectations.
MIN_WEIGHT = 0.05


# Per candidate sentence: restated share of similar training sentences, best similarity, hashed
# words and word pairs (:meth:`SelectModel._sentence_evidence`).
SentenceEvidence = tuple[np.ndarray, np.ndarray, sp.csr_matrix]
# What the sentence half of the fit (:func:`_fit_sentence_side`) hands back to the model.
SENTENCE_STATE = (
    "_report_restates",
    "_restated",
    "_sentence_report",
    "_sentence_bounds",
    "_sentence_text",
    "_sentence_position",
    "_sentences",
)


def _fit_sentence_side(
    params: dict[str, Any], findings: list[str], impressions: list[str]
) -> dict[str, Any]:
    """The sentence half of :meth:`SelectModel.fit` (in a helper process when it pays): each
    training report's candidate sentences with their labels, their TF-IDF index, and their
    leave-one-out evidence for the selector's design (``evidence``; None without sentences)."""
    model = SelectModel(**params)
    model._findings, model._impressions = findings, impressions
    model._index_sentences()
    side = {name: getattr(model, name) for name in SENTENCE_STATE}
    side["evidence"] = model.training_evidence() if model._sentence_text else None
    return side


def _hasher() -> HashingVectorizer:
    return HashingVectorizer(
        analyzer=sentence_features,
        n_features=HASH_FEATURES,
        alternate_sign=False,
        binary=True,
        norm="l2",
    )


class SelectModel(ImpressionModel):
    name = "select"
    # 2: the fitted indexes are saved (INDEX_FILE, INDEX_WORDS_FILE); 1: rebuilt on every load.
    format_version = 2
    # From this many training pairs on, the fit's sentence half runs in a helper process: one
    # starts in about a second (Python, numpy, scipy, scikit-learn), more than it saves below.
    parallel_fit_min_pairs = 20_000

    def __init__(
        self,
        neighbours: int = 25,
        k1: float = 2.0,
        b: float = 0.75,
        sharpness: float = 4.0,
        sentence_neighbours: int = 20,
        regularization: float = 1.0,
        max_candidates: int = 3,
        min_overlap: int = 2,
        pseudo_references: int = 5,
    ) -> None:
        self.neighbours = neighbours
        self.k1 = k1
        self.b = b
        self.sharpness = sharpness
        self.sentence_neighbours = sentence_neighbours
        self.regularization = regularization
        self.max_candidates = max_candidates
        self.min_overlap = min_overlap
        self.pseudo_references = pseudo_references
        self._convention: str | None = None
        self._findings: list[str] = []
        self._impressions: list[str] = []  # canonical placeholders
        self._impression_ids: list[int] = []  # per training report: its impression's utility id
        self._counts = count_vectorizer(features)
        self._reports: NeighbourIndex | None = None
        self._most_frequent = 0
        self._report_restates = np.zeros(0)
        self._restated = np.zeros(0)  # per training candidate sentence
        self._sentence_report = np.zeros(0, dtype=np.int64)
        self._sentence_bounds = np.zeros((0, 2), dtype=np.int64)  # per report: its sentence rows
        self._sentence_text: list[str] = []
        self._sentence_position: list[tuple[int, int]] = []  # (position, positive sentences)
        self._sentences: SentenceIndex | None = None
        self._coef = np.zeros(HASH_FEATURES + NUMERIC_FEATURES)
        self._intercept = 0.0
        self._utility = Utility()

    # ---- training -------------------------------------------------------------------------

    def fit(self, pairs: Sequence[TrainingPair]) -> SelectModel:
        """Index, then train the selector leave-one-out.

        The fit has two halves that share nothing until the selector's design: the sentences
        (labels, TF-IDF index and their leave-one-out evidence, :func:`_fit_sentence_side`) and
        the reports (BM25 index and leave-one-out neighbours). From ``parallel_fit_min_pairs``
        pairs on, with a second CPU, the sentence half runs in a helper process meanwhile
        (at 50,000 pairs it is about 5 s of a 20 s fit); the model is the same, bit for bit.
        """
        if not pairs:
            raise ValueError("select needs at least one training pair")
        self._convention = _majority_convention(p.impression for p in pairs)
        self._findings = [p.findings for p in pairs]
        self._impressions = [deid.normalize(p.impression) for p in pairs]
        parallel = len(pairs) >= self.parallel_fit_min_pairs and usable_cpus() > 1
        with worker_processes(1) if parallel else InlineExecutor() as helper:
            sentence_side = helper.submit(
                _fit_sentence_side, self.state(), self._findings, self._impressions
            )
            self._index_reports()
            near = self.training_neighbours()
            side = sentence_side.result()
        evidence = side.pop("evidence")
        for name, value in side.items():
            setattr(self, name, value)
        self._train_selector(near, evidence)
        return self

    def _index(self) -> None:
        """State derived from the training pairs: the BM25 report index, the impressions'
        utility ids and the labelled training sentences with their TF-IDF index."""
        self._index_reports()
        self._index_sentences()

    def _index_reports(self) -> None:
        """The BM25 report index and the impressions' utility ids."""
        self._counts = count_vectorizer(features)
        counts = self._counts.fit_transform(self._findings)
        self._reports = NeighbourIndex(bm25_weights(counts, self.k1, self.b))
        self._register_impressions()

    def _index_sentences(self) -> None:
        """The labelled training sentences and their TF-IDF index."""
        self._label_sentences()
        texts = self._sentence_text
        self._sentences = SentenceIndex(texts) if texts else None

    def _register_impressions(self) -> None:
        """Utility ids and the commonest impression: cheap (0.15 s at 50,000), never saved."""
        self._utility = Utility()
        self._impression_ids = [self._utility.register(t) for t in self._impressions]
        frequency: dict[str, int] = {}
        for text in self._impressions:
            frequency[text] = frequency.get(text, 0) + 1
        common = max(frequency.values())
        self._most_frequent = next(
            i for i, t in enumerate(self._impressions) if frequency[t] == common
        )

    def _label_sentences(self) -> None:
        """Each training report's candidate sentences, restated or not, and where they are."""
        texts: list[str] = []
        labels: list[float] = []
        owners: list[int] = []
        positions: list[tuple[int, int]] = []
        bounds = np.zeros((len(self._findings), 2), dtype=np.int64)
        reports = np.zeros(len(self._findings))
        for row, (findings, impression) in enumerate(
            zip(self._findings, self._impressions, strict=True)
        ):
            said = [specific_words(s) for s in sentences(impression)]
            bounds[row, 0] = len(texts)
            candidates = self._candidates(findings)
            for position, sentence in candidates:
                overlap = max((len(specific_words(sentence) & s) for s in said), default=0)
                texts.append(sentence)
                labels.append(1.0 if overlap >= self.min_overlap else 0.0)
                owners.append(row)
                positions.append((position, len(candidates)))
                reports[row] = max(reports[row], labels[-1])
            bounds[row, 1] = len(texts)
        self._report_restates = reports
        self._restated = np.asarray(labels)
        self._sentence_report = np.asarray(owners, dtype=np.int64)
        self._sentence_bounds = bounds
        self._sentence_text = texts
        self._sentence_position = positions

    @staticmethod
    def _candidates(findings: str) -> list[tuple[int, str]]:
        """(position, sentence) of the findings sentences that could be restated."""
        return [
            (i, s)
            for i, s in enumerate(sentences(deid.normalize(findings)))
            if not is_normal_statement(s) and specific_words(s)
        ]

    def training_design(
        self,
        near: list[list[tuple[int, float]]] | None = None,
        evidence: SentenceEvidence | None = None,
    ) -> sp.csr_matrix:
        """Selector features of every training candidate sentence, leave-one-out: a report's
        neighbours (``near``: :meth:`training_neighbours`) and similar sentences (``evidence``:
        :meth:`training_evidence`) come from the other reports only; each is worked out here
        when not given."""
        if near is None:
            near = self.training_neighbours()
        if evidence is None:
            evidence = self.training_evidence()
        owners = self._sentence_report.tolist()
        # Only reports with candidate sentences need their (leave-one-out) template.
        templates = {r: self._template(near[r]) for r in dict.fromkeys(owners)}
        return self._design(
            self._sentence_text,
            [near[r] for r in owners],
            [templates[r] for r in owners],
            self._sentence_position,
            evidence=evidence,
        )

    def training_neighbours(self) -> list[list[tuple[int, float]]]:
        """:meth:`_neighbours` of every training report, its own left out."""
        n = len(self._findings)
        return self._neighbours(self._findings, (np.arange(n), np.arange(n) + 1))

    def training_evidence(self) -> SentenceEvidence:
        """:meth:`_sentence_evidence` of the training sentences, each report's own left out."""
        exclude = (
            self._sentence_bounds[self._sentence_report, 0],
            self._sentence_bounds[self._sentence_report, 1],
        )
        return self._sentence_evidence(self._sentence_text, exclude)

    def _train_selector(
        self, near: list[list[tuple[int, float]]], evidence: SentenceEvidence | None
    ) -> None:
        """Logistic regression on the leave-one-out features."""
        if not self._sentence_text or evidence is None:
            return
        design = self.training_design(near, evidence)
        labels = self._restated
        if labels.min() == labels.max():  # one class: a constant answer
            share = float(labels[0])
            self._coef = np.zeros(design.shape[1])
            self._intercept = math.log((share + 1e-6) / (1 - share + 1e-6))
            return
        model = LogisticRegression(C=self.regularization, solver="liblinear", max_iter=1000)
        model.fit(design, labels)
        self._coef = model.coef_.ravel().astype(np.float64)
        self._intercept = float(model.intercept_[0])

    # ---- shared by training and generation ------------------------------------------------

    def _neighbours(
        self, texts: Sequence[str], exclude: tuple[np.ndarray, np.ndarray] | None = None
    ) -> list[list[tuple[int, float]]]:
        """Per query, (training row, sharpened weight) of its BM25 neighbours, best first."""
        assert self._reports is not None
        rows, scores = distinct_search(
            self._reports,
            lambda distinct: binary(self._counts.transform(distinct)),
            texts,
            self.neighbours,
            exclude,
        )
        out: list[list[tuple[int, float]]] = []
        for row_list, score_list in zip(rows.tolist(), scores.tolist(), strict=True):
            top = score_list[0] if score_list else 0.0
            if top <= 0:  # nothing in common: no neighbour (the template is the commonest one)
                out.append([])
                continue
            out.append(
                [
                    (r, (s / top) ** self.sharpness)
                    for r, s in zip(row_list, score_list, strict=True)
                    if s > 0
                ]
            )
        return out

    def _template(self, near: list[tuple[int, float]]) -> str:
        """Minimum Bayes risk among the neighbours' impressions (first of equals: nearest).

        Equal impressions are merged (their weights add up: the same expectation with fewer
        ROUGE calls) and only the ``TEMPLATE_CANDIDATES`` heaviest are candidates. Impressions
        are compared by utility id, so a pair met in another neighbourhood costs a dict lookup."""
        if not near:
            return self._impressions[self._most_frequent]
        ids = self._impression_ids
        merged: dict[int, float] = {}
        first: dict[int, int] = {}
        for row, w in near:
            text_id = ids[row]
            merged[text_id] = merged.get(text_id, 0.0) + w
            first.setdefault(text_id, row)
        if len(merged) == 1:
            return self._impressions[near[0][0]]
        heaviest = max(merged.values())
        # Neighbours weighing under MIN_WEIGHT of the nearest barely move the expectation.
        references = [(t, w) for t, w in merged.items() if w >= MIN_WEIGHT * heaviest]
        if len(references) == 1:
            return self._impressions[first[references[0][0]]]
        ranked = sorted(range(len(references)), key=lambda i: -references[i][1])
        candidates = [references[i][0] for i in sorted(ranked[:TEMPLATE_CANDIDATES])]
        expected = self._utility.expected
        best = max(candidates, key=lambda c: expected(references, c))
        return self._impressions[first[best]]

    def _design(
        self,
        texts: list[str],
        near: list[list[tuple[int, float]]],
        templates: list[str],
        positions: list[tuple[int, int]],
        exclude: tuple[np.ndarray, np.ndarray] | None = None,
        evidence: SentenceEvidence | None = None,
    ) -> sp.csr_matrix:
        """Selector features of candidate sentences: hashed words/pairs + numeric evidence
        (``evidence``: :meth:`_sentence_evidence` of ``texts`` when the caller has it)."""
        if evidence is None:
            evidence = self._sentence_evidence(texts, exclude)
        sentence_share, best, hashed = evidence
        numeric = np.zeros((len(texts), NUMERIC_FEATURES))
        restates = self._report_restates.tolist()
        # A report's sentences share its neighbour list and template; texts and templates
        # repeat across reports: each is worked out once.
        shares: dict[int, float] = {}
        words_of: dict[str, set[str]] = {}
        for i, (text, neighbours, template, (position, count)) in enumerate(
            zip(texts, near, templates, positions, strict=True)
        ):
            report_share = shares.get(id(neighbours))
            if report_share is None:
                total = sum(w for _, w in neighbours)
                report_share = sum(w * restates[r] for r, w in neighbours) / total if total else 0.0
                shares[id(neighbours)] = report_share
            words = words_of.get(text)
            if words is None:
                words = words_of[text] = specific_words(text)
            named = words_of.get(template)
            if named is None:
                named = words_of[template] = specific_words(template)
            numeric[i] = (
                sentence_share[i],
                report_share,
                best[i],
                sentence_share[i] * report_share,
                position / max(count - 1, 1) if count > 1 else 0.0,
                1.0 / count,
                1.0 if not named else 0.0,
                len(words & named) / len(words) if words else 1.0,
                1.0,
            )
        return sp.hstack([hashed, sp.csr_matrix(numeric)], format="csr")

    def _sentence_evidence(
        self, texts: list[str], exclude: tuple[np.ndarray, np.ndarray] | None = None
    ) -> SentenceEvidence:
        """What a candidate sentence's features take from the training sentences alone: the
        restated share of its similar sentences, the best similarity, and its hashed words."""
        assert self._sentences is not None
        index = self._sentences
        rows, scores = distinct_search(
            index.index, index.vectorizer.transform, texts, self.sentence_neighbours, exclude
        )
        sentence_share = weighted_share(rows, scores, self._restated)
        best = np.maximum(scores[:, 0], 0.0) if scores.shape[1] else np.zeros(len(texts))
        return sentence_share, best, _hasher().transform(texts)

    def _probabilities(self, design: sp.csr_matrix) -> np.ndarray:
        logits = design @ self._coef + self._intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(logits).ravel()))

    # ---- generation -----------------------------------------------------------------------

    def _word(
        self, template: str, near: list[tuple[int, float]], picks: list[tuple[str, float]]
    ) -> str:
        """The template plus the prefix of ``picks`` with the highest expected ROUGE."""
        options = [template]
        for j in range(1, len(picks) + 1):
            options.append(" ".join([template, *(text for text, _ in picks[:j])]))
        if len(options) == 1 or not near:
            return template
        merged: dict[str, float] = {}
        for row, w in near:
            text = self._impressions[row]
            merged[text] = merged.get(text, 0.0) + w
        references = sorted(merged.items(), key=lambda i: -i[1])[: self.pseudo_references]
        references = [(t, w) for t, w in references if w >= MIN_WEIGHT * references[0][1]]
        total = sum(w for _, w in references)
        pseudo: list[tuple[str, float]] = []
        for subset in itertools.product((False, True), repeat=len(picks)):
            chance = 1.0
            for included, (_, p) in zip(subset, picks, strict=True):
                chance *= p if included else 1.0 - p
            added = [text for included, (text, _) in zip(subset, picks, strict=True) if included]
            if chance < MIN_CHANCE:
                continue
            for text, w in references:
                pseudo.append((" ".join([text, *added]), chance * w / total))

        score = self._utility.texts
        weighted = [(ref, w) for ref, w in pseudo if w > 0]

        def expected(option: int) -> float:
            return sum(w * score(ref, options[option]) for ref, w in weighted)

        return options[max(range(len(options)), key=expected)]

    def _answer_batch(self, texts: list[str]) -> list[str]:
        near = self._neighbours(texts)
        templates = [self._template(rows) for rows in near]
        if self._sentences is None:
            return templates
        owners: list[int] = []
        found: list[str] = []
        positions: list[tuple[int, int]] = []
        for row, text in enumerate(texts):
            candidates = self._candidates(text)
            for position, sentence in candidates:
                owners.append(row)
                found.append(sentence)
                positions.append((position, len(candidates)))
        if not found:
            return templates
        probability = self._probabilities(
            self._design(
                found, [near[r] for r in owners], [templates[r] for r in owners], positions
            )
        ).tolist()
        per_report: dict[int, list[tuple[float, int, str]]] = {}
        for owner, p, sentence, (position, _) in zip(
            owners, probability, found, positions, strict=True
        ):
            per_report.setdefault(owner, []).append((p, position, sentence))
        out = list(templates)
        for row, scored in per_report.items():
            named = specific_words(templates[row])
            picks: list[tuple[str, float]] = []
            for p, _, sentence in sorted(scored, key=lambda i: (-i[0], i[1])):
                text = terse(sentence)
                if specific_words(text) <= named or any(text == t for t, _ in picks):
                    continue
                picks.append((text, p))
                if len(picks) == self.max_candidates:
                    break
            out[row] = self._word(templates[row], near[row], picks)
        return out

    def predict(self, findings: Sequence[str], convention: str | None = None) -> list[str]:
        """One impression per findings text; ``convention``: the input file's placeholders."""
        if self._reports is None:
            raise RuntimeError("select model is not trained")
        return predict_batched(findings, self._answer_batch, self._convention, convention)

    # ---- persistence ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "neighbours": self.neighbours,
            "k1": self.k1,
            "b": self.b,
            "sharpness": self.sharpness,
            "sentence_neighbours": self.sentence_neighbours,
            "regularization": self.regularization,
            "max_candidates": self.max_candidates,
            "min_overlap": self.min_overlap,
            "pseudo_references": self.pseudo_references,
        }

    def save(self, directory: str | Path) -> None:
        """Training pairs, the selector's weights and the fitted indexes (:meth:`_index_arrays`)."""
        super().save(directory)
        directory = Path(directory)
        save_training_pairs(
            directory / STATE_FILE, self._convention, self._findings, self._impressions
        )
        np.savez(directory / SELECTOR_FILE, coef=self._coef, intercept=self._intercept)
        words, arrays = self._index_arrays()
        (directory / INDEX_WORDS_FILE).write_text(json.dumps(words), encoding="utf-8")
        np.savez(directory / INDEX_FILE, allow_pickle=False, **arrays)

    def _index_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What :meth:`_index` computed, as JSON (vocabularies, sentence texts) and arrays:
        both neighbour indexes (documents and k-means clusters), the BM25 and sentence TF-IDF
        weights and the sentence labels. Only the impressions' utility ids are left to redo."""
        assert self._reports is not None
        distinct, codes = unique_index(self._sentence_text)
        words: dict[str, Any] = {
            "report_vocabulary": vocabulary_of(self._counts),
            "sentence_texts": distinct,
            "sentence_vocabulary": None,
        }
        arrays = {
            **with_prefix("reports.", self._reports.arrays()),
            "sentence_codes": codes,
            "restated": self._restated,
            "sentence_bounds": self._sentence_bounds,
            "sentence_position": np.asarray(self._sentence_position, dtype=np.int64).reshape(-1, 2),
            "report_restates": self._report_restates,
        }
        if self._sentences is not None:
            words["sentence_vocabulary"], sentence_arrays = self._sentences.saved()
            arrays.update(with_prefix("sentences.", sentence_arrays))
        return words, arrays

    def _restore_index(self, directory: Path) -> None:
        """:meth:`_index`'s state from :meth:`_index_arrays`' files: no fitting, no k-means."""
        words = json.loads((directory / INDEX_WORDS_FILE).read_text(encoding="utf-8"))
        with np.load(directory / INDEX_FILE, allow_pickle=False) as saved:
            arrays = dict(saved)
        self._counts = count_vectorizer(features, words["report_vocabulary"])
        self._reports = NeighbourIndex.from_arrays(under_prefix("reports.", arrays))
        self._register_impressions()
        distinct = words["sentence_texts"]
        self._sentence_text = [distinct[code] for code in arrays["sentence_codes"].tolist()]
        self._restated = arrays["restated"]
        self._sentence_bounds = arrays["sentence_bounds"]
        self._sentence_report = np.repeat(
            np.arange(len(self._sentence_bounds)), np.diff(self._sentence_bounds, axis=1).ravel()
        )
        self._sentence_position = [(p, c) for p, c in arrays["sentence_position"].tolist()]
        self._report_restates = arrays["report_restates"]
        self._sentences = None
        if words["sentence_vocabulary"] is not None:
            self._sentences = SentenceIndex.restore(
                words["sentence_vocabulary"], under_prefix("sentences.", arrays)
            )

    @classmethod
    def from_state(cls, state: dict[str, Any], directory: Path) -> SelectModel:
        """Format 2 archives hold the fitted indexes; format 1 (training pairs and selector
        only) rebuilds them, as it always did: the same model either way."""
        model = cls(**state)
        model._convention, model._findings, model._impressions = load_training_pairs(
            directory / STATE_FILE
        )
        if archive_format(directory) >= 2:
            model._restore_index(directory)
        else:
            model._index()
        with np.load(directory / SELECTOR_FILE) as selector:
            model._coef = selector["coef"]
            model._intercept = float(selector["intercept"])
        return model
