"""What a local run takes out of the embedded bucket and publishes into its run folder.

The score rows of each inference execution are labelled and streamed into the run's files
(``add_score_rows`` into ``RunRows``; local_results decides when and in which process), its
rejections fetched (``rejected_rows``); every model's rows are then published as one run with the
Lambda's own publish_run (``read_rows``, ``publish_rows``), on local folders through ``FolderS3``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from radimpress.layout import PRETRAINED
from radimpress.storage import iter_jsonl
from radimpress_workstation.model_specs import BASELINE_MODEL
from radimpress_workstation.output_files import partial_path

if TYPE_CHECKING:
    from radimpress.records import Report
    from radimpress.results.publish import ScoresRead

# The stand-ins of the JumpStart container double (radimpress_workstation.job_backend.jumpstart):
# what really wrote a double's impressions, per model role.
STANDIN_PRETRAINED = "first sentence of the findings"


def generator_label(role_key: str, model_name: str, double_spec: str | None) -> str:
    """What generated a row's impressions, for the ``generator`` column and the report's banner:
    ``local:<model>`` for a local model, ``double:<spec> (stand-in: <what>)`` when the JumpStart
    container double answered for a cloud model, ``double:bedrock-<model id> (stand-in: lead)``
    for the Bedrock double (their numbers are the stand-in's, not the named model's). Cloud rows
    say ``sagemaker`` or ``bedrock`` (the Score step's)."""
    from radimpress.steps.resolve_models import BEDROCK
    from radimpress_workstation.job_backend.bedrock.standin import (
        generator_label as bedrock_label,
    )
    from radimpress_workstation.job_backend.jumpstart.standin import FINE_TUNE_MODEL

    if role_key == BEDROCK:  # no Bedrock on this machine: always the double's stand-in
        return bedrock_label(model_name)
    if double_spec is None:
        return f"local:{model_name}"
    standin = STANDIN_PRETRAINED if role_key == PRETRAINED else FINE_TUNE_MODEL
    return f"double:{double_spec} (stand-in: {standin})"


# Every byte but 0-9 and a-z -> a space: bytes.translate does in C what the expression does.
_KEEP = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyz")
_TO_SPACE = bytes(c if c in _KEEP else 0x20 for c in range(256))


def _overlap_key(text: str) -> str:
    """Findings text compared without case, punctuation, spacing or de-identification marks:
    ``" ".join(re.sub("[^0-9a-z]+", " ", normalized.lower()).split())``, which took half of
    checking two files of 50,000 reports; ASCII text (nearly all) goes through a byte table."""
    from radimpress import deid

    lowered = deid.normalize(text).lower()
    if lowered.isascii():
        return b" ".join(lowered.encode("ascii").translate(_TO_SPACE).split()).decode("ascii")
    import re

    return " ".join(re.sub(r"[^0-9a-z]+", " ", lowered).split())


class Overlap:
    """Studies of a findings file that are also in a training file: same study_id, or the same
    findings text once case, punctuation, spacing and placeholders are ignored (exact duplicates
    after that normalisation; near duplicates are not searched). Fed every training report
    (:meth:`add_train`) and then every findings report (:meth:`add_infer`), as the files are read
    for another reason; :meth:`found` gives ids and counts only, never text."""

    def __init__(self) -> None:
        self._train_ids: set[str] = set()
        self._train_texts: set[str] = set()
        self._by_id: list[str] = []
        self._by_text: list[str] = []
        self._studies = 0

    def add_train(self, report: Report) -> None:
        self._train_ids.add(report.study_id)
        self._train_texts.add(_overlap_key(report.findings))

    def add_infer(self, report: Report) -> None:
        self._studies += 1
        if report.study_id in self._train_ids:
            self._by_id.append(report.study_id)
        elif _overlap_key(report.findings) in self._train_texts:
            self._by_text.append(report.study_id)

    def found(self) -> dict[str, Any]:
        return {
            "studies": self._studies,
            "overlapping": len(self._by_id) + len(self._by_text),
            "by_study_id": len(self._by_id),
            "by_findings_text": len(self._by_text),
            "study_ids": sorted(self._by_id + self._by_text),
        }


def find_overlap(train: Path, infer: Path) -> dict[str, Any]:
    """:class:`Overlap` of two files, read for it alone."""
    from radimpress.records import Purpose, validate_file

    overlap = Overlap()
    validate_file(train, Purpose.TRAIN, overlap.add_train)
    validate_file(infer, Purpose.INFER, overlap.add_infer)
    return overlap.found()


def overlap_note(overlap: dict[str, Any], excluded: bool) -> str:
    """The ``train_overlap`` column and the printed warning: "" when nothing overlaps."""
    if not overlap.get("overlapping"):
        return ""
    note = (
        f"{overlap['overlapping']} of {overlap['studies']} studies overlap the training file"
        f" (same study_id {overlap['by_study_id']},"
        f" same findings text {overlap['by_findings_text']})"
    )
    return note + (
        "; excluded from the scores"
        if excluded
        else "; scored: their scores may overstate the model"
    )


class RunRows:
    """Every model's score rows streamed into their files as they are fetched: nothing holds
    the rows (a million-record run once held them all, 3 GB).

    Each row goes to ``impressions.jsonl`` and ``scores.jsonl`` in the run folder and to its
    model label's score file under ``scratch`` (what :func:`publish_rows` publishes), in the
    order fetched, as the same lines the whole lists once gave. On the way the numbers of the
    tables (values counted per metric, :meth:`summaries`, which are radimpress.scoring's
    ``summarize`` bit for bit) are kept, never the text; the paired comparisons are the
    report's, computed by :func:`publish_rows` from the score files.
    """

    def __init__(self, out_dir: Path, scratch: Path, run_id: str) -> None:
        from radimpress import layout
        from radimpress.scoring import ROUGE_TYPES
        from radimpress.scoring.aggregate import CLINICAL

        self.impressions = out_dir / "impressions.jsonl"
        self.scores = out_dir / "scores.jsonl"
        self._scratch = scratch
        self._keys = layout.RunKeys(run_id)
        self._impressions: IO[str] | None = None
        self._scores: IO[str] | None = None
        self._labels: dict[str, IO[str]] = {}
        self.score_keys: list[str] = []
        self.metrics = (*ROUGE_TYPES, CLINICAL)
        self._counts: dict[tuple[str, str], list[dict[float, int]]] = {}
        self._unscored: dict[tuple[str, str], int] = {}
        self.written = 0

    def __enter__(self) -> RunRows:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the files; the run folder's two are removed unless :meth:`finish` was called
        (they are whole or absent, as the other outputs)."""
        self._close()
        for path in (self.impressions, self.scores):
            partial_path(path).unlink(missing_ok=True)

    def _open(self) -> tuple[IO[str], IO[str]]:
        if self._impressions is None or self._scores is None:
            self._impressions = partial_path(self.impressions).open("w", encoding="utf-8")
            self._scores = partial_path(self.scores).open("w", encoding="utf-8")
        return self._impressions, self._scores

    def _close(self) -> None:
        for handle in (self._impressions, self._scores, *self._labels.values()):
            if handle is not None:
                handle.close()

    def finish(self) -> None:
        """Every row is written: close the files and put the run folder's two in place."""
        self._open()
        self._close()
        for path in (self.impressions, self.scores):
            partial_path(path).replace(path)

    def add(self, row: dict[str, Any]) -> None:
        """Write one row to its three files and count its numbers."""
        self._tally(row)
        line = json.dumps(row, ensure_ascii=False) + "\n"
        impression = {k: row.get(k) for k in ("study_id", "model", "generated")}
        impressions, scores = self._open()
        impressions.write(json.dumps(impression, ensure_ascii=False) + "\n")
        scores.write(line)
        label = row["model"]
        handle = self._labels.get(label)
        if handle is None:
            from radimpress import layout

            key = self._keys.scores(layout.safe_name(label).lower())
            path = self._scratch / key
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self._labels[label] = path.open("w", encoding="utf-8")
            self.score_keys.append(key)
        handle.write(line)
        self.written += 1

    def _tally(self, row: dict[str, Any]) -> None:
        """summarize's per-row work (same checks, same messages), counting values."""
        from radimpress.scoring.aggregate import _f1

        ident = row.get("study_id")
        where = f"score row {self.written + 1}" + (
            f" (study_id={ident})" if ident is not None else ""
        )
        key = (str(row.get("dataset", "")), str(row.get("model", "")))
        f1s = [_f1(row, metric, where) for metric in self.metrics]
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [{} for _ in self.metrics]
            self._unscored[key] = 0
        if all(v is None for v in f1s):
            self._unscored[key] += 1
        elif any(v is None for v in f1s):
            missing = [m for m, v in zip(self.metrics, f1s, strict=True) if v is None]
            raise ValueError(f"{where}: some metrics are scored and {missing} are not")
        else:
            for column, value in zip(counts, f1s, strict=True):
                column[value] = column.get(value, 0) + 1

    def summaries(self) -> list[Any]:
        """radimpress.scoring.summarize of every row written (the same numbers, bit for bit:
        Distribution.of_counts), with clinical agreement beside ROUGE."""
        from radimpress.scoring.aggregate import summarize_group

        return [
            summarize_group(
                dataset,
                model,
                dict(zip(self.metrics, self._counts[(dataset, model)], strict=True)),
                unscored=self._unscored[(dataset, model)],
            )
            for dataset, model in sorted(self._counts)
        ]


class ScoreRows:
    """The score rows of a run, read from its scores.jsonl each time they are iterated."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)


def wanted(item: dict[str, Any], skip_baseline: bool) -> bool:
    """Whether a Score result's rows go into the run: not a failed model (its execution then
    failed too), and the baseline only from the first execution."""
    return not item.get("failed") and not (item["model_key"] == PRETRAINED and skip_baseline)


def add_score_rows(
    rows: RunRows,
    scored: Iterable[dict[str, Any]],
    item: dict[str, Any],
    model: str,
    run_id: str,
    *,
    double_spec: str | None = None,
    train_overlap: str = "",
    leave_out: frozenset[str] = frozenset(),
) -> None:
    """Label the score rows of one Score result (``item``, of an execution run for ``model``)
    and stream them into ``rows``.

    Each execution compares one local model with the lead baseline; the rows of all of them
    become ONE run (``run_id``, the id of the folder and of the CLI) that :func:`publish_rows`
    turns into one set of tables and one report. Rows are labelled "<role> (<model name>)"
    ("pre-trained (lead)", "fine-tuned (consensus)"), the name the Score step wrote into each
    row. Each row also says what generated it (``generator``: ``local:<model>``, or
    ``double:<spec> (stand-in: ...)`` when the JumpStart container double answered, whose label
    then names the stand-in too) and how the findings file overlaps the training file
    (``train_overlap``, "" when it does not). Studies in ``leave_out`` (--exclude-overlap) are
    not kept.
    """
    for row in scored:
        if leave_out and row["study_id"] in leave_out:
            continue
        name = row.get("model_name") or (
            BASELINE_MODEL if item["model_key"] == PRETRAINED else model
        )
        generator = generator_label(item["model_key"], name, double_spec)
        if generator.startswith("local:"):
            row["model"] = f"{row.get('model_role') or row['model']} ({name})"
        else:  # the label itself says that a stand-in wrote these impressions
            standin = generator.partition("(stand-in: ")[2].rstrip(")")
            row["model"] = f"{row.get('model_role') or row['model']} ({name}, stand-in: {standin})"
        row["generator"] = generator
        row["train_overlap"] = train_overlap
        row["run_id"] = run_id
        rows.add(row)


def rejected_rows(stack: Any, output: dict[str, Any]) -> list[dict[str, Any]]:
    """The rejections of one inference execution (its ``output``), from the embedded bucket."""
    rejected_key = output.get("ingest", {}).get("rejected_key")
    if not rejected_key:
        return []
    return [row for _, row in iter_jsonl(stack.client("s3"), stack.bucket, rejected_key)]


def publish_rows(
    rows: RunRows,
    rejected: list[dict[str, Any]],
    *,
    scratch: Path,
    out_dir: Path,
    run_id: str,
    dataset: str,
    started_at: str,
    ingest: dict[str, Any],
    executions: Sequence[str],
    lineage: dict[str, Any] | None = None,
    scores: ScoresRead | None = None,
) -> dict[str, Any] | None:
    """Publish every model's rows (their score files under ``scratch``, written by ``rows``) as
    one run into ``<out>/results`` with the Lambda's own publish_run, so the local tables,
    queries and report.html are the cloud's, for all the models of the run at once. ``ingest``
    is the last execution's Ingest output, ``executions`` the inference executions' names,
    ``lineage`` the run's (run_lineage.LocalLineage.compose), ``scores`` the rows already read
    (:func:`read_rows`). Returns publish_run's answer (None without rows)."""
    from radimpress import layout
    from radimpress.results import publish_run

    if not rows.written:
        return None
    s3 = FolderS3(scratch, out_dir)
    s3.write_lines(layout.RunKeys(run_id).rejected, rejected)
    return publish_run(
        s3,
        "local",
        run_id=run_id,
        dataset=dataset,
        score_keys=list(rows.score_keys),
        scores=scores,
        run={
            "source_key": str(ingest.get("source_key", "")),
            "records": int(ingest.get("records", 0)),
            "rejected": int(ingest.get("rejected", 0)),
            "started_at": started_at,
            "execution": ",".join(executions),
            **({"lineage": lineage} if lineage is not None else {}),
        },
    )


def read_rows(
    rows: RunRows, *, scratch: Path, out_dir: Path, run_id: str, dataset: str
) -> contextlib.AbstractContextManager[ScoresRead]:
    """publish_run's reading of every model's rows (``rows``' score files under ``scratch``), done
    before the run's other facts are known; hand it to :func:`publish_rows` as ``scores``."""
    from radimpress.results.publish import read_scores

    return read_scores(
        FolderS3(scratch, out_dir),
        "local",
        run_id=run_id,
        dataset=dataset,
        score_keys=list(rows.score_keys),
    )


class FolderS3:
    """The S3 calls publish_run makes, on local folders: ``results/...`` keys under ``out``
    (the run folder), every other key under ``scratch``. Writes are atomic (temp + rename)."""

    def __init__(self, scratch: Path, out: Path) -> None:
        self._scratch, self._out = scratch, out

    def _path(self, key: str) -> Path:
        if ".." in key.split("/"):
            raise ValueError(f"unsafe key {key!r}")
        return (self._out if key.startswith("results/") else self._scratch) / key

    def write_lines(self, key: str, rows: Sequence[dict[str, Any]]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        path = self._path(Key)
        if not path.is_file():
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        return {"Body": _LineBody(path.open("rb"))}

    def upload_fileobj(self, fileobj: Any, bucket: str, key: str, ExtraArgs: Any = None) -> None:
        import shutil

        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        with partial.open("wb") as handle:
            shutil.copyfileobj(fileobj, handle)
        partial.replace(path)

    def delete_object(self, Bucket: str, Key: str) -> None:
        self._path(Key).unlink(missing_ok=True)


class _LineBody:
    """The part of botocore's StreamingBody that publish_run reads."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def iter_lines(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        for line in self._handle:
            yield line.rstrip(b"\r\n")

    def close(self) -> None:
        self._handle.close()
