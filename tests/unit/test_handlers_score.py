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
GENERATED = {
    "a": "No acute cardiopulmonary disease.",
    "b": "Left effusion and cardiomegaly.",
    "c": "Normal heart.",
}
# Clinical agreement by hand (positive observations, radimpress.clinical.agreement's definition):
# a: both normal, {No Finding} vs {No Finding}; b: {Pleural Effusion} vs {Pleural Effusion,
# Cardiomegaly}: precision 1/2, recall 1, F1 2/3, Cardiomegaly invented.
CLINICAL = {
    "a": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "missed": [], "invented": []},
    "b": {
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
        "missed": [],
        "invented": ["Cardiomegaly"],
    },
}


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
        "job_usage": None,  # no transform usage handed in: none handed back
        "rejected": 0,  # only a Bedrock model rejects records (no answer for them)
        "rejected_key": "",
        # the promotion gate's figures: mean ROUGE-L F1 and clinical F1 of the scored rows
        "rouge_l_mean": result["rouge_l_mean"],
        "clinical_f1_mean": result["clinical_f1_mean"],
    }
    rows = aws.lines(result["score_key"])
    assert [r["study_id"] for r in rows] == ["a", "b", "c"]  # record order
    for row in rows:
        record = next(r for r in RECORD_ROWS if r["study_id"] == row["study_id"])
        assert row["generated"] == GENERATED[row["study_id"]]
        assert row["model"] == "fine-tuned" and row["dataset"] == "openi" and row["run_id"] == "r"
        assert row["findings"] == record["findings"]
        # A ModelRef without the identity fields (inputs from before them) still names the model.
        assert row["model_role"] == "fine-tuned" and row["model_name"] == "radimpress-ft-x"
        assert row["sagemaker_model"] == "radimpress-ft-x"
        if "impression" not in record:
            assert row["reference"] is None and row["clinical"] is None
            assert all(row[m] is None for m in ("rouge1", "rouge2", "rougeL", "rougeLsum"))
            continue
        assert row["clinical"] == CLINICAL[row["study_id"]]
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


def test_rows_name_the_model_and_a_missed_finding_lowers_clinical_f1(aws, context):
    """The identity from ResolveModels lands in every row; a generation that calls an abnormal
    study normal loses clinical F1, a paraphrase of a normal impression does not."""
    records = [
        {"study_id": "m", "findings": "x", "impression": "Right upper lobe opacity."},
        {"study_id": "n", "findings": "y", "impression": "Normal chest exam."},
    ]
    generated = {"m": "No acute disease.", "n": "No acute cardiopulmonary findings."}
    aws.put(RECORDS, jsonl(records))
    aws.put(
        OUTPUT,
        jsonl(
            [
                {"study_id": s, "SageMakerOutput": {"generated_texts": [generated[s]]}}
                for s in ("m", "n")
            ]
        ),
    )
    model = {
        **MODEL,
        "role": "fine-tuned",
        "name": "restate",
        "version": "1.0.0",
        "training_job": "radimpress-train-1",
        "training_run_id": "run-train",
        "package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/r-fine-tuned/2",
        "package_version": 2,
    }
    event = {
        "bucket": BUCKET,
        "run_id": "r",
        "dataset": "openi",
        "records_key": RECORDS,
        "output_key": OUTPUT,
        "model": model,
    }
    rows = {r["study_id"]: r for r in aws.lines(score.handler(event, context)["score_key"])}
    assert (
        rows["m"]["model_name"] == "restate" and rows["m"]["training_job"] == "radimpress-train-1"
    )
    assert rows["m"]["training_run_id"] == "run-train" and rows["m"]["model_version"] == "1.0.0"
    assert rows["m"]["generator"] == "sagemaker"  # a SageMaker job wrote it (issue 18 item 1)
    assert rows["m"]["model_package_version"] == 2  # the registry version it stands for
    assert rows["m"]["model_package_arn"].endswith(":model-package/r-fine-tuned/2")
    assert rows["m"]["clinical"]["f1"] == 0.0 and rows["m"]["clinical"]["missed"] == [
        "Lung Opacity"
    ]
    assert rows["n"]["clinical"]["f1"] == 1.0 and rows["n"]["clinical"]["missed"] == []
