"""`radimpress score`: ROUGE of predicted impressions against reference impressions, per study_id.

Clinical agreement (radimpress.clinical, the Score step's labeler) is computed beside ROUGE
unless ``--no-clinical``: each row gets the Score step's ``clinical`` object (positive-observation
precision, recall, F1, missed and invented observations; uncertain counts as positive) and the
tables a Clinical F1 column plus a clinical P/R/F1 table.

Fast as a whole process because the two files are read in blocks that are validated a column at
a time (``prediction_files``; side by side in two processes when a second CPU is idle), every
distinct (reference, prediction) pair is scored, labelled and serialised once (orjson, rows built
from parts shared by many rows; half of the pairs by a second process, ``score_worker``, when a
CPU is idle for it), and aggregates come from the rows' value counts (``summarize_group``: the
numbers ``summarize`` gives for the rows). Both files are read like the pipeline's input.
Predictions may be the
pipeline's own impressions.jsonl / scores.jsonl or evaluate's predictions.jsonl (text in
``generated``, rows naming their model): ``--model NAME`` picks one model of a mixed file and a
mixed file without it is refused. Every record is accounted for: rejected records and ids present
in only one file are reported, never dropped. Outputs are checked before any work and written
whole or not at all.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import operator
import os
import sys
from collections import Counter
from collections.abc import Sequence
from itertools import chain, compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import orjson

from radimpress.records import UnreadableFile
from radimpress.scoring import (
    ROUGE_TYPES,
    GroupSummary,
    RougeScorer,
    format_distribution_table,
    format_mean_table,
    summarize_group,
)
from radimpress.scoring.aggregate import CLINICAL
from radimpress.scoring.rouge import Counts, scores_from_counts
from radimpress_workstation.console import error, explain
from radimpress_workstation.output_files import OutputError, atomic_output, check_output_file
from radimpress_workstation.prediction_files import read_pair
from radimpress_workstation.score_worker import ScoreWorker

EXIT_OK, EXIT_INCOMPLETE = 0, 1
COMMAND = "score"
LISTED_IDS = 20
# The Score step's row object (radimpress.steps.score), so both rows read the same.
CLINICAL_FIELDS = ("precision", "recall", "f1", "missed", "invented")
CLINICAL_PR = ("clinical_precision", "clinical_recall")
# Rows whose distinct pairs are scored together; a bigger file only re-scores pairs seen long
# before.
PAIR_MEMO_SIZE = 200_000
PIECES_PER_WRITE = 3_000  # about 1,000 rows, 300 KB
# A second process scores half the distinct pairs of a block of at least WORKER_MIN_PAIRS, for
# predictions files of WORKER_MIN_BYTES or more (smaller ones are scored before it would help).
WORKER_MIN_PAIRS = 2_000
WORKER_MIN_BYTES = 1 << 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="ROUGE-1/2/L/Lsum of predicted impressions against references, per study_id",
        description=(
            "Scores equal Google's rouge-score package. Writes one JSON line per matched "
            "study_id and prints the mean-F1 and distribution tables. Exit 0 when every record "
            "was valid and matched, 1 when some were rejected or unmatched (the rest is scored), "
            "2 when a file is unreadable or nothing could be scored."
        ),
    )
    parser.add_argument(
        "--references", required=True, help="report file with the reference impressions"
    )
    parser.add_argument(
        "--predictions",
        required=True,
        help="file of study_id + generated (or impression), e.g. a run's impressions.jsonl",
    )
    parser.add_argument("--output", help="JSON Lines of scores (default: standard output)")
    parser.add_argument("--stemmer", action="store_true", help="Porter-stem tokens (needs nltk)")
    parser.add_argument(
        "--dataset", help="dataset label in the rows (default: references file name)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="the model to score in a file of several (its label, e.g. 'fine-tuned (restate)', "
        "its name, e.g. restate, or its role); also the rows' model label (default: the "
        "file's model, else the predictions file name)",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="add a 95%% bootstrap interval of each mean from N resamples (default: none)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument(
        "--no-clinical",
        dest="clinical",
        action="store_false",
        help="ROUGE only: leave out clinical agreement (CheXpert labels of both texts), which "
        "costs most of the time on large files",
    )
    parser.add_argument(
        "--summary", help="write a JSON summary: counts, rejections, every unmatched id, aggregates"
    )
    parser.set_defaults(handler=run)


def _label(path: str) -> str:
    name = Path(path).name
    for suffix in (".jsonl", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _report(title: str, ids: list[str], out: IO[str]) -> None:
    if not ids:
        return
    shown = ", ".join(ids[:LISTED_IDS])
    more = f" and {len(ids) - LISTED_IDS} more" if len(ids) > LISTED_IDS else ""
    print(f"  {title} ({len(ids)}): {shown}{more}", file=out)


class _Scored:
    """The JSON Lines output as pieces (joined once when written) and each row's metric values,
    built pair by pair."""

    def __init__(self, metrics: Sequence[str]) -> None:
        self.pieces: list[bytes] = []
        # per row: metric F1s, then clinical P, R, the two texts' positive sets, missed
        self.values: list[tuple[Any, ...]] = []
        self.metrics = tuple(metrics)

    def columns(self) -> list[tuple[Any, ...]]:
        return list(zip(*self.values, strict=True)) if self.values else []

    def value_counts(self) -> list[Counter[Any]]:
        """Per value position, {value: rows}: rows share a few hundred value tuples."""
        per_row = Counter(self.values)
        counts: list[Counter[Any]] = [Counter() for _ in next(iter(per_row), ())]
        for row, times in per_row.items():
            for position, value in enumerate(row):
                counts[position][value] += times
        return counts


# A serialised part of a row and its values for the aggregates: (JSON bytes, values).
_Part = tuple[bytes, tuple[Any, ...]]
# The two texts' positive observations (None: a blank text, which has no labels).
_PositivePair = tuple[frozenset[str] | None, frozenset[str] | None]


def _score_distinct(
    keys: Sequence[tuple[str, str]], use_stemmer: bool, clinical: bool, prefix: bytes
) -> list[_Part]:
    """(the row's bytes after its study_id, values) of each distinct (reference, prediction)
    pair, in order; ``prefix`` holds the dataset and model fields.

    A row is built from parts serialised once each: the ROUGE part per distinct ROUGE counts
    (``RougeScorer.counts``, integers the scores are quotients of, so the floats are computed
    once per counts) and the clinical part per pair of the two texts' positive observations
    (agreement depends only on those; each distinct text is labelled once). Pairs with the same
    parts share one row.
    """
    scorer = RougeScorer(use_stemmer=use_stemmer)
    counts = scorer.counts
    agreement_part = _ClinicalParts() if clinical else None
    head = b"," + prefix + b","
    rouge_parts: dict[Counts, _Part] = {}
    rows: dict[tuple[Any, ...], _Part] = {}
    out: list[_Part] = []
    for reference, prediction in keys:
        key: tuple[Any, ...] = counts(reference, prediction)
        extra = None
        if agreement_part is not None:
            pair, extra = agreement_part(reference, prediction)
            key += pair
        hit = rows.get(key)
        if hit is None:
            rouge_counts = key[:6]
            rouge = rouge_parts.get(rouge_counts)
            if rouge is None:
                rouge = rouge_parts[rouge_counts] = _rouge_part(rouge_counts)
            if extra is None:
                hit = (head + rouge[0] + b"}\n", rouge[1])
            else:
                hit = (head + rouge[0] + extra[0] + b"}\n", rouge[1] + extra[1])
            rows[key] = hit
        out.append(hit)
    return out


def _rouge_part(counts: Counts) -> _Part:
    """The four metrics' JSON members (no braces) and their F1s, from one pair's counts."""
    scores = scores_from_counts(counts)
    metric = [scores[name] for name in ROUGE_TYPES]
    members = {
        name: {"precision": s[0], "recall": s[1], "fmeasure": s[2]}
        for name, s in zip(ROUGE_TYPES, metric, strict=True)
    }
    return orjson.dumps(members)[1:-1], tuple(s[2] for s in metric)


class _ClinicalParts:
    """(reference, prediction) -> (the pair of positive-observation sets, (the clinical JSON
    member, its values)): each text labelled once, agreement computed once per pair of sets."""

    def __init__(self) -> None:
        # Imported here: a --no-clinical run starts without the labeler.
        from radimpress.clinical import agreement, labeler

        self._agreement_from_labels = agreement.agreement_from_labels
        self._label_text = labeler.label_text
        self._positive_observations = labeler.positive_observations
        self._labels: dict[str, dict[str, str]] = {}
        self._positives: dict[str, frozenset[str] | None] = {}
        self._parts: dict[_PositivePair, _Part] = {}

    def _positive_of(self, text: str) -> frozenset[str] | None:
        if text in self._positives:
            return self._positives[text]
        self._labels[text] = labels = self._label_text(text)
        positive = self._positives[text] = self._positive_observations(labels) if labels else None
        return positive

    def __call__(self, reference: str, prediction: str) -> tuple[_PositivePair, _Part]:
        pair = (self._positive_of(reference), self._positive_of(prediction))
        part = self._parts.get(pair)
        if part is None:
            labels = self._labels
            found = self._agreement_from_labels(labels[reference], labels[prediction]).to_dict()
            member = b',"' + CLINICAL.encode() + b'":'
            member += orjson.dumps({name: found[name] for name in CLINICAL_FIELDS})
            values = (
                found["f1"],
                found["precision"],
                found["recall"],
                pair,  # for the per-observation counts (radimpress.clinical.per_observation)
                bool(found["missed"]),
            )
            part = self._parts[pair] = (member, values)
        return pair, part


def _score(
    study_ids: Sequence[str],
    references: Sequence[str],
    predictions: Sequence[str],
    labels: tuple[str, str],
    use_stemmer: bool,
    clinical: bool,
    worker: ScoreWorker | None = None,
) -> _Scored:
    """Score each study's prediction against its reference, in order; each distinct pair once.

    ``labels`` are the rows' dataset and model. Impressions repeat (normal studies, stock
    wording), so the rows are taken in blocks of ``PAIR_MEMO_SIZE`` (memory stays bounded) and
    each distinct pair of a block is scored and serialised once, half of them by ``worker``
    when there is one and the block is large enough to gain.
    """
    scored = _Scored((*ROUGE_TYPES, CLINICAL) if clinical else ROUGE_TYPES)
    prefix = orjson.dumps({"dataset": labels[0], "model": labels[1]})[1:-1]
    pieces, values = scored.pieces, scored.values
    options = (use_stemmer, clinical, prefix)
    for begin in range(0, len(study_ids), PAIR_MEMO_SIZE):
        end = begin + PAIR_MEMO_SIZE
        keys = list(zip(references[begin:end], predictions[begin:end], strict=True))
        rows_by_pair: dict[tuple[str, str], Any] = dict.fromkeys(keys)  # first-seen order
        distinct = list(rows_by_pair)
        rows_by_pair.update(zip(distinct, _score_shared(distinct, options, worker), strict=True))
        tails = list(map(rows_by_pair.__getitem__, keys))
        # Each row is three pieces: the opening, the study_id as a JSON string, the rest.
        pieces.extend(
            chain.from_iterable(
                zip(
                    repeat(b'{"study_id":'),
                    _json_strings(study_ids[begin:end]),
                    map(itemgetter(0), tails),
                    strict=False,
                )
            )
        )
        values.extend(map(itemgetter(1), tails))
    return scored


def _score_shared(
    distinct: list[tuple[str, str]], options: tuple[bool, bool, bytes], worker: ScoreWorker | None
) -> list[_Part]:
    """``_score_distinct`` of the pairs, the second half by the worker while this process
    scores the first (by this process too when the worker cannot)."""
    half = len(distinct) // 2
    if (
        worker is None
        or len(distinct) < WORKER_MIN_PAIRS
        or not worker.submit(distinct[half:], *options)
    ):
        return _score_distinct(distinct, *options)
    rows = _score_distinct(distinct[:half], *options)
    theirs = worker.collect()
    return rows + (theirs if theirs is not None else _score_distinct(distinct[half:], *options))


def _json_strings(strings: Sequence[str]) -> list[bytes]:
    """Each string as orjson writes it: when all are printable ASCII without a quote or
    backslash (the usual study_ids), each is itself between quotes, encoded in one pass for all
    (split at NUL, which is not printable); otherwise each goes to orjson."""
    joined = "".join(strings)
    if joined.isascii() and joined.isprintable() and '"' not in joined and "\\" not in joined:
        return ('"' + '"\0"'.join(strings) + '"').encode().split(b"\0") if strings else []
    return list(map(orjson.dumps, strings))


def _write_rows(pieces: list[bytes], output: str | None) -> None:
    """JSON Lines, UTF-8 (orjson writes no ASCII escapes): to the file, or to stdout's bytes."""
    if output is None:
        sys.stdout.flush()
        _write_pieces(pieces, getattr(sys.stdout, "buffer", None), sys.stdout)
        sys.stdout.flush()
        return
    with atomic_output(output) as handle:
        handle.flush()
        # The text handle would write the same bytes where lines end in "\n": skip the round trip.
        _write_pieces(pieces, handle.buffer if os.linesep == "\n" else None, handle)


def _write_pieces(pieces: list[bytes], binary: IO[bytes] | None, text: IO[str]) -> None:
    """Join and write PIECES_PER_WRITE pieces at a time: the memory of one join is reused by the
    next, where joining the whole output at once cost more in fresh pages than in copying."""
    for begin in range(0, len(pieces), PIECES_PER_WRITE):
        data = b"".join(pieces[begin : begin + PIECES_PER_WRITE])
        if binary is not None:
            binary.write(data)
        else:
            text.write(data.decode("utf-8"))  # pieces are whole UTF-8 strings
    if binary is not None:
        binary.flush()


def _aggregate(
    scored: _Scored, dataset: str, model: str, bootstrap: int, seed: int
) -> tuple[GroupSummary, GroupSummary | None, int, Any]:
    """(the group's summary, its clinical P/R/F1 view or None, reports missing a finding, the
    per-observation counts or None).

    The summary equals ``summarize(rows, metrics=...)`` on the rows written (tests check it);
    every interval uses ``seed`` (radimpress.scoring.bootstrap's one rule). Without bootstrap the
    columns go as value counts (same numbers, in time of the distinct values).
    """
    columns: list[Any] = scored.columns() if bootstrap else scored.value_counts()
    metrics = scored.metrics
    summary = summarize_group(
        dataset, model, dict(zip(metrics, columns, strict=False)), bootstrap=bootstrap, seed=seed
    )
    if CLINICAL not in metrics:
        return summary, None, 0, None
    extra = summarize_group(
        dataset,
        model,
        dict(zip(CLINICAL_PR, columns[len(metrics) : len(metrics) + 2], strict=True)),
        bootstrap=bootstrap,
        seed=seed,
    )
    view = GroupSummary(dataset, model, scored=summary.scored)
    for name in (*CLINICAL_PR, CLINICAL):
        source = summary if name == CLINICAL else extra
        view.distributions[name] = source.distributions[name]
        if name in source.intervals:
            view.intervals[name] = source.intervals[name]
    missed = columns[-1]  # each row's "misses a positive finding" flag, or the flags' counts
    return summary, view, sum(missed) if bootstrap else missed[True], _per_observation(columns[-2])


def _per_observation(pairs: Any) -> Any:
    """The per-observation counts from each row's two positive sets (a list of pairs, or the
    pairs' counts)."""
    from radimpress.clinical.per_observation import PerObservation

    tally = PerObservation()
    counted = pairs.items() if isinstance(pairs, Counter) else zip(pairs, repeat(1))
    for (reference, generated), times in counted:
        tally.add(reference, generated, times)
    return tally


def format_per_observation(tally: Any) -> str:
    """The per-observation table (n/a where a ratio has no denominator) and the normal/abnormal
    matrix, as plain text."""
    from radimpress.clinical.per_observation import ABNORMAL, NORMAL

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    head = ("observation", "ref+", "gen+", "TP", "FP", "FN", "precision", "recall", "F1")
    rows = [
        (
            row.observation,
            *map(str, (row.reference_positive, row.generated_positive)),
            *map(str, (row.true_positive, row.false_positive, row.false_negative)),
            cell(row.precision),
            cell(row.recall),
            cell(row.f1),
        )
        for row in tally.rows()
    ]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in (head, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    matrix = tally.matrix()
    lines += [
        "",
        f"Normal/abnormal ({tally.studies} studies; normal = No Finding positive)",
        f"{'reference / generated':<24}{NORMAL:>8}  {ABNORMAL:>8}",
        *(
            f"{ref:<24}{matrix[(ref, NORMAL)]:>8}  {matrix[(ref, ABNORMAL)]:>8}"
            for ref in (NORMAL, ABNORMAL)
        ),
    ]
    if tally.unlabelled:
        lines.append(f"  left out: {tally.unlabelled} study(ies) with a blank impression")
    return "\n".join(lines)


def _clinical_summary(view: GroupSummary | None, missing: int) -> dict[str, Any] | None:
    if view is None:
        return None
    out: dict[str, Any] = {
        "convention": "positive CheXpert observations; uncertain counts as positive",
        "precision": view.distributions[CLINICAL_PR[0]].mean,
        "recall": view.distributions[CLINICAL_PR[1]].mean,
        "f1": view.distributions[CLINICAL].mean,
        "reports_missing_a_positive_finding": missing,
    }
    for name, key in ((CLINICAL_PR[0], "precision"), (CLINICAL_PR[1], "recall"), (CLINICAL, "f1")):
        if name in view.intervals:
            out[f"{key}_ci"] = list(view.intervals[name])
    return out


def run(args: argparse.Namespace) -> int:
    """The command, with the cyclic garbage collector paused: reading and scoring allocate
    hundreds of thousands of small acyclic objects (strings, dicts, tuples), and the collections
    they trigger cost about a third of the scoring time; everything is freed by reference counts
    and the collector is back on before returning."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if enabled:
            gc.enable()


def _run(args: argparse.Namespace) -> int:
    if args.bootstrap < 0:
        return error(COMMAND, "--bootstrap must be 0 or more", str(args.bootstrap))
    worker = _start_worker(args.predictions)
    with worker if worker is not None else contextlib.nullcontext():
        return _run_with(args, worker)


def _start_worker(predictions_path: str) -> ScoreWorker | None:
    """A scoring worker for a predictions file large enough to gain from one (else None); it
    is started before anything is read (see score_worker)."""
    try:
        large = os.path.getsize(predictions_path) >= WORKER_MIN_BYTES
    except OSError:
        return None
    return ScoreWorker.start(_score_distinct) if large else None


def _run_with(args: argparse.Namespace, worker: ScoreWorker | None) -> int:
    try:
        for path, option in ((args.output, "--output"), (args.summary, "--summary")):
            if path is not None:
                check_output_file(path, option)
        references, predictions = read_pair(args.references, args.predictions, args.model)
    except (UnreadableFile, OutputError) as err:
        return error(COMMAND, *explain(err))
    dataset = args.dataset or _label(args.references)
    model = predictions.model or args.model or _label(args.predictions)

    predicted = predictions.impressions
    known = references.impressions
    missing_prediction: list[str] = []
    matched = list(map(predicted.get, known))  # in C: the usual file pair matches everywhere
    study_ids, texts = list(known), list(known.values())
    if None in matched:
        kept = list(map(operator.is_not, matched, repeat(None)))
        missing_prediction = [s for s, keep in zip(study_ids, kept, strict=True) if not keep]
        study_ids, texts = list(compress(study_ids, kept)), list(compress(texts, kept))
        matched = list(compress(matched, kept))
    # Every reference id has a prediction and the counts agree: the id sets are equal.
    missing_reference = (
        []
        if not missing_prediction and len(predicted) == len(known)
        else [s for s in predicted if s not in known]
    )

    if not study_ids:  # nothing to write: no output file at all rather than an empty one
        _log_counts(args, references, predictions, 0, missing_prediction, missing_reference)
        return error(
            COMMAND, "no study_id is in both files with a valid impression", args.predictions
        )
    labels = (dataset, model)
    scored = _score(study_ids, texts, matched, labels, args.stemmer, args.clinical, worker)
    _write_rows(scored.pieces, args.output)
    summary, clinical_view, missing_finding, per_observation = _aggregate(
        scored, dataset, model, args.bootstrap, args.seed
    )

    # The tables go to stdout unless stdout carries the JSON Lines.
    tables = sys.stdout if args.output else sys.stderr
    print("Mean F1", file=tables)
    print(format_mean_table([summary], scored.metrics), file=tables)
    if clinical_view is not None:
        print(
            "\nClinical agreement (positive CheXpert observations; uncertain counts as positive)",
            file=tables,
        )
        print(format_mean_table([clinical_view], (*CLINICAL_PR, CLINICAL)), file=tables)
        print(
            f"  reports whose generated impression misses a positive finding: "
            f"{missing_finding} of {summary.scored}",
            file=tables,
        )
    print("\nF1 distribution", file=tables)
    print(format_distribution_table([summary], scored.metrics), file=tables)
    if per_observation is not None:
        print(
            "\nPer-observation clinical agreement (micro counts over studies both texts label; "
            "uncertain counts as positive)",
            file=tables,
        )
        print(format_per_observation(per_observation), file=tables)

    _log_counts(
        args, references, predictions, len(study_ids), missing_prediction, missing_reference
    )
    if args.summary:
        report = {
            "dataset": dataset,
            "model": model,
            "stemmer": args.stemmer,
            "scored": len(study_ids),
            "references": references.summary(),
            "predictions": predictions.summary(),
            "references_without_prediction": missing_prediction,
            "predictions_without_reference": missing_reference,
            "metrics": list(scored.metrics),
            "aggregates": [summary.to_dict()],
            "clinical_agreement": _clinical_summary(clinical_view, missing_finding),
            "per_observation": per_observation.to_dict() if per_observation else None,
        }
        with atomic_output(args.summary) as handle:
            handle.write(json.dumps(report, indent=2) + "\n")
    incomplete = (
        references.rejections or predictions.rejections or missing_prediction or missing_reference
    )
    return EXIT_INCOMPLETE if incomplete else EXIT_OK


def _log_counts(
    args: argparse.Namespace,
    references: Any,
    predictions: Any,
    scored: int,
    missing_prediction: list[str],
    missing_reference: list[str],
) -> None:
    """Counts, rejections (position and field, never text) and unmatched ids, on stderr."""
    log = sys.stderr
    print(f"scored {scored} study_id(s){' with stemming' if args.stemmer else ''}", file=log)
    for name, part in (("references", references), ("predictions", predictions)):
        print(
            f"  {name}: {part.records_read} read, {len(part.impressions)} accepted, "
            f"{len(part.rejections)} rejected ({part.source})",
            file=log,
        )
        for rejection in part.rejections[:LISTED_IDS]:
            print(f"    - {rejection.describe(part.source)}", file=log)
        if len(part.rejections) > LISTED_IDS:
            print(f"    - ... and {len(part.rejections) - LISTED_IDS} more", file=log)
    _report("references without a prediction", missing_prediction, log)
    _report("predictions without a reference", missing_reference, log)
    if predictions.other_model_rows:
        print(
            f"  left out {predictions.other_model_rows} row(s) of other models "
            f"(scored: {predictions.model})",
            file=log,
        )
