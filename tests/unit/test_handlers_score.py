"""Score Lambda: transform output joined to the records by study_id, ROUGE as rouge-score's."""

from __future__ import annotations

import json

import pytest
from handler_support import BUCKET, jsonl
from rouge_score import rouge_scorer

from radimpress.errors import OutputMismatch
from radimpress.handlers import score

RECORDS = "runs/r/ingest/records.jsonl"
OUTPUT = "runs/r/transform/fine-tuned/output/input.jsonl.out"
MODEL = {"model_key": "fine-tuned", "label": "fine-tuned", "model_name": "radimpress-ft-x"}
REFERENCE = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"])


RECORD_ROWS = [
    {"study_id": "a", "findings": "Lungs clear.", "impression": "No acute disease."},
    {"study_id": "b", "findings": "Small effusion.", "impression": "Small left effusion.\nStable."},
    {"study_id": "c", "findings": "Heart normal."},  # no reference: summarized, not scored
]
GENERATED = {"a": "No acute cardiopulmonary disease.", "b": "Left effusion.", "c": "Normal heart."}


def output_line(study_id: str) -> dict:
    return {"study_id": study_id, "SageMakerOutput": {"generated_texts": [GENERATED[study_id]]}}


def run(aws, context, order: list[str]) -> dict:
    aws.put(RECORDS, jsonl(RECORD_ROWS))
    aws.put(OUTPUT, jsonl([output_line(s) for s in order]))
    event = {
        "bucket": BUCKET,
        "run_id": "r",
        "dataset": "openi",
        "records_key": RECORDS,
        "output_key": OUTPUT,
        "model": MODEL,
    }
    return score.handler(event, context)


@pytest.mark.parametrize("order", [["a", "b", "c"], ["c", "a", "b"]])
def test_rows_are_joined_by_study_id_and_scored_like_rouge_score(aws, context, order):
    result = run(aws, context, order)
    assert result == {
        "model_key": "fine-tuned",
        "label": "fine-tuned",
        "score_key": "runs/r/scores/fine-tuned.jsonl",
        "generated": 3,
        "scored": 2,
        "failed": False,
        "error": "",
        "cause": "",
    }
    rows = aws.lines(result["score_key"])
    assert [r["study_id"] for r in rows] == ["a", "b", "c"]  # record order
    for row in rows:
        record = next(r for r in RECORD_ROWS if r["study_id"] == row["study_id"])
        assert row["generated"] == GENERATED[row["study_id"]]
        assert row["model"] == "fine-tuned" and row["dataset"] == "openi" and row["run_id"] == "r"
        assert row["findings"] == record["findings"]
        if "impression" not in record:
            assert row["reference"] is None
            assert all(row[m] is None for m in ("rouge1", "rouge2", "rougeL", "rougeLsum"))
            continue
        expected = REFERENCE.score(record["impression"], row["generated"])
        for metric, value in expected.items():
            assert row[metric] == {
                "precision": value.precision,
                "recall": value.recall,
                "fmeasure": value.fmeasure,
            }


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        (["a", "b"], "fewer output lines than records"),
        (["a", "b", "c", "c"], "more output lines than records"),
        (["b", "a"], "no output for study_id=c"),
        (["x", "a", "b", "c"], "match no record"),
    ],
)
def test_outputs_that_do_not_line_up_fail_clearly(aws, context, order, problem):
    GENERATED.setdefault("x", "stray")
    with pytest.raises(OutputMismatch, match=problem):
        run(aws, context, order)


def test_output_without_study_id_is_refused(aws, context):
    aws.put(RECORDS, jsonl(RECORD_ROWS))
    aws.put(OUTPUT, json.dumps({"SageMakerOutput": {"generated_texts": ["x"]}}) + "\n")
    event = {
        "bucket": BUCKET,
        "run_id": "r",
        "dataset": "d",
        "records_key": RECORDS,
        "output_key": OUTPUT,
        "model": MODEL,
    }
    with pytest.raises(OutputMismatch, match="no study_id") as err:
        score.handler(event, context)
    assert "Lungs" not in str(err.value)
