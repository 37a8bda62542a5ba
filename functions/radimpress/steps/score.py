"""The Score state: score one model's transform output against the run's records, a row a report.

The transform keeps input order (one instance, SplitType=Line), so records and output lines are
read side by side and their ``study_id`` compared; only if the order differs is the output indexed
by ``study_id`` (generated texts in memory, never the records). A record with no reference
impression gets a row with null ROUGE and clinical fields (summarize-only runs).

Clinical agreement (radimpress.clinical, standard library only) labels each reference once and
each generated impression once; the row keeps precision/recall/F1 and the names of the missed and
invented positive observations, never more text than the row already holds. Every row names the
model that produced it (role, name, version, SageMaker model, training job and run).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from radimpress.clinical.agreement import agreement_from_labels
from radimpress.clinical.labeler import label_text
from radimpress.errors import OutputMismatch
from radimpress.events import ModelRef, ScoreResult
from radimpress.jumpstart import generated_text
from radimpress.layout import FINE_TUNED, PRETRAINED, RunKeys
from radimpress.scoring import ROUGE_TYPES, RougeScorer, score_rows
from radimpress.storage import S3LineWriter, iter_jsonl


def _outputs(s3: Any, bucket: str, output_key: str) -> Iterator[tuple[str, str]]:
    for number, line in iter_jsonl(s3, bucket, output_key):
        where = f"s3://{bucket}/{output_key} line {number}"
        study_id = line.get("study_id")
        if study_id is None:
            raise OutputMismatch(f"{where}: no study_id (DataProcessing must join the input)")
        yield str(study_id), generated_text(line, where)


def _paired(
    s3: Any, bucket: str, records_key: str, output_key: str
) -> Iterator[tuple[dict[str, Any], str]]:
    """(record, generated text) for every record, in record order."""
    records = iter_jsonl(s3, bucket, records_key)
    outputs = _outputs(s3, bucket, output_key)
    for _, record in records:
        step = next(outputs, None)
        if step is None:
            raise OutputMismatch(
                f"s3://{bucket}/{output_key}: fewer output lines than records "
                f"(no output for study_id={record['study_id']})"
            )
        study_id, text = step
        if study_id != record["study_id"]:
            # Out of order: index what is left of the output and join the rest by id.
            index = {study_id: text, **dict(outputs)}
            yield record, _take(index, record, output_key)
            for _, rest in records:
                yield rest, _take(index, rest, output_key)
            if index:
                raise OutputMismatch(
                    f"s3://{bucket}/{output_key}: {len(index)} output line(s) match no record"
                )
            return
        yield record, text
    if next(outputs, None) is not None:
        raise OutputMismatch(f"s3://{bucket}/{output_key}: more output lines than records")


def _take(index: dict[str, str], record: dict[str, Any], output_key: str) -> str:
    try:
        return index.pop(record["study_id"])
    except KeyError:
        raise OutputMismatch(f"{output_key}: no output for study_id={record['study_id']}") from None


def score_model(
    s3: Any,
    bucket: str,
    *,
    run_id: str,
    dataset: str,
    records_key: str,
    output_key: str,
    model: ModelRef,
) -> ScoreResult:
    """Write ``runs/<run_id>/scores/<model_key>.jsonl``; returns its key and counts."""
    pairs = _paired(s3, bucket, records_key, output_key)
    return write_scores(s3, bucket, pairs, run_id=run_id, dataset=dataset, model=model)


def write_scores(
    s3: Any,
    bucket: str,
    pairs: Iterable[tuple[dict[str, Any], str]],
    *,
    run_id: str,
    dataset: str,
    model: ModelRef,
) -> ScoreResult:
    """One score row per (record, generated text): ROUGE and clinical agreement against the
    reference when there is one; returns the rows' key and counts."""
    scorer = RougeScorer(use_stemmer=False)
    score_key = RunKeys(run_id).scores(model.model_key)
    identity = model_identity(model)
    scored = 0
    rouge_l_total = clinical_f1_total = 0.0
    with S3LineWriter(s3, bucket, score_key) as out:
        for record, text in pairs:
            reference = record.get("impression")
            row: dict[str, Any] = {
                "run_id": run_id,
                "dataset": dataset,
                "model": model.label,
                "study_id": record["study_id"],
                "findings": record["findings"],
                "reference": reference,
                "generated": text,
                **identity,
            }
            if reference is not None:
                row.update(score_rows(scorer.score(reference, text)))
                rouge_l_total += row["rougeL"]["fmeasure"]
                agreement = agreement_from_labels(label_text(reference), label_text(text))
                clinical_f1_total += agreement.f1
                row["clinical"] = {
                    k: v
                    for k, v in agreement.to_dict().items()
                    if k in ("precision", "recall", "f1", "missed", "invented")
                }
                scored += 1
            else:
                row.update(dict.fromkeys(ROUGE_TYPES))
                row["clinical"] = None
            out.write_json(row)
        generated = out.lines
    return ScoreResult(
        model_key=model.model_key,
        label=model.label,
        score_key=score_key,
        generated=generated,
        scored=scored,
        # The promotion gate compares these; the published tables recompute every statistic.
        rouge_l_mean=rouge_l_total / scored if scored else None,
        clinical_f1_mean=clinical_f1_total / scored if scored else None,
    )


def model_identity(model: ModelRef) -> dict[str, Any]:
    """The row fields naming the model; a ModelRef from before they existed falls back to its
    key (pre-trained / fine-tuned, else candidate) and SageMaker model name."""
    default_role = model.model_key if model.model_key in (PRETRAINED, FINE_TUNED) else "candidate"
    return {
        "model_role": model.role or default_role,
        "model_name": model.name or model.model_name,
        "model_version": model.version,
        "sagemaker_model": model.model_name,
        "training_job": model.training_job,
        "training_run_id": model.training_run_id,
        # The Model Registry version a fine-tuned or candidate model stands for (None: none).
        "model_package_version": model.package_version or None,
        "model_package_arn": model.package_arn,
        # A SageMaker job (or Bedrock) wrote the impressions; the local runtime relabels its
        # rows with what really wrote them (a local model, or a double's stand-in).
        "generator": "bedrock" if model.role == "bedrock" else "sagemaker",
    }
