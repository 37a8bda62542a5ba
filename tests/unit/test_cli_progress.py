"""Progress lines name the model of a Map iteration and count checks per job."""

from __future__ import annotations

import io
import json

from radimpress_workstation.console import Console, ProgressPrinter


def _model(role: str, name: str) -> dict:
    return {"model_key": role, "label": role, "role": role, "name": name}


def _entered(state: str, data: dict) -> dict:
    return {
        "type": "TaskStateEntered",
        "stateEnteredEventDetails": {"name": state, "input": json.dumps(data)},
    }


def _exited(state: str, data: dict) -> dict:
    return {
        "type": "TaskStateExited",
        "stateExitedEventDetails": {"name": state, "output": json.dumps(data)},
    }


def test_two_models_checks_counted_per_job_and_named() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(Console(stream))
    lead, restate = _model("pre-trained", "lead"), _model("fine-tuned", "restate")
    job_a = {"model": lead, "job": {"job_name": "tf-a"}}
    job_b = {"model": restate, "job": {"job_name": "tf-b"}}
    for event in (
        _entered("StartTransform", {"model": lead}),
        _entered("StartTransform", {"model": restate}),
        _entered("TransformStatus", job_a),
        _entered("TransformStatus", job_b),
        _entered("TransformStatus", job_b),
        _exited("TransformStatus", {**job_b, "job_status": {"status": "Completed"}}),
    ):
        printer(event)
    lines = [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "-> StartTransform [pre-trained (lead)]",
        "-> StartTransform [fine-tuned (restate)]",
        "-> TransformStatus [pre-trained (lead)]",
        "-> TransformStatus [fine-tuned (restate)]",
        "-> TransformStatus [fine-tuned (restate)] (check 2)",
        "<- TransformStatus [fine-tuned (restate)]  job Completed",
    ]
    assert printer.visited.count("TransformStatus") == 3


def test_training_checks_count_per_job_without_a_model() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(Console(stream))
    for _ in range(3):
        printer(_entered("TrainingStatus", {"job": {"job_name": "ft-1"}, "ingest": {}}))
    assert stream.getvalue().splitlines()[-1].endswith("-> TrainingStatus (check 3)")
