"""One model, two ways in: a JumpStart fine-tune's Batch Transform (the local job backend on moto's
S3, the JumpStart container double) and the same archive behind ``radimpress serve``'s HTTP
server. Every body gets the same verdict both ways: a body the transform refuses is refused by
the endpoint with the status the transform's FailureReason names, a body the endpoint refuses
fails the transform with that status, and a body one accepts the other answers identically.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from radimpress import jumpstart
from radimpress.spec import ModelSpec, load_spec
from radimpress_workstation.endpoint_server import EndpointServer
from radimpress_workstation.job_backend.backend import LocalJobBackend
from radimpress_workstation.job_backend.jumpstart.serving import ENDPOINT_MAX_PAYLOAD
from radimpress_workstation.served_model import served_model
from radimpress_workstation.trained_models import keep_trained_model

BUCKET = "radimpress-parity"
ROLE = "arn:aws:iam::123456789012:role/radimpress-sagemaker"
PROMPT = "Summarize.\n\nFindings: Heart size is normal. Lungs are clear.\n\nImpression:"
FAILED_STATUS = re.compile(r"Bad HTTP status received from algorithm: (\d{3})")

BODIES: list[tuple[str, Any]] = [
    ("string", {"text_inputs": PROMPT, "max_length": 50}),
    ("list", {"text_inputs": [PROMPT, "Findings: Small effusion."], "max_length": 3}),
    ("sequences", {"text_inputs": PROMPT, "num_beams": 2, "num_return_sequences": 2}),
    ("not an object", [PROMPT]),
    ("no text_inputs", {"max_length": 5}),
    ("the TGI body", {"inputs": PROMPT, "parameters": {"max_new_tokens": 5}}),
    ("text_inputs a number", {"text_inputs": 5}),
    ("a list with a number", {"text_inputs": [PROMPT, 5]}),
    ("unknown parameter", {"text_inputs": PROMPT, "max_new_tokens": 5}),
    ("max_length 0", {"text_inputs": PROMPT, "max_length": 0}),
    ("max_length text", {"text_inputs": PROMPT, "max_length": "5"}),
    ("top_p over 1", {"text_inputs": PROMPT, "top_p": 1.5}),
    ("sequences over beams", {"text_inputs": PROMPT, "num_return_sequences": 3}),
    ("over 6 MB", {"text_inputs": "x" * (ENDPOINT_MAX_PAYLOAD + 10)}),
]


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec("jumpstart-flan-t5-xl", region="us-east-1")


@pytest.fixture(scope="module")
def stage(spec, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """moto's S3, the backend with a trained fine-tune and its model, and that model served
    over HTTP from a run folder as ``radimpress run`` keeps it."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        backend = LocalJobBackend(s3_factory=lambda: s3)
        model_request = _train(backend, s3, spec)
        run_dir = tmp_path_factory.mktemp("parity") / "local-run"
        run_dir.mkdir()
        (run_dir / "summary.json").write_text("{}")
        kept = keep_trained_model(
            s3,
            out_dir=run_dir,
            label="jumpstart-flan-t5-xl",
            spec=spec,
            spec_reference="jumpstart-flan-t5-xl",
            training_job=backend.describe_training_job(TrainingJobName="ft-parity"),
            model=backend.describe_model(ModelName="ft-parity"),
            run_id="local-run",
            training_run_id="local-run-train",
            dataset="parity",
        )
        with (
            (run_dir / "serve.log").open("w") as log,
            served_model(kept, ENDPOINT_MAX_PAYLOAD) as served,
        ):
            server = EndpointServer(("127.0.0.1", 0), served, log=log)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            yield {"s3": s3, "backend": backend, "model": model_request, "server": server}
            server.shutdown()
            server.server_close()
        backend.shutdown()
    mp.undo()


def _train(backend: LocalJobBackend, s3: Any, spec: ModelSpec) -> dict[str, Any]:
    lines = [{"findings": f"Finding {i} is present. Lungs are clear.", "impression": f"Finding {i}."}
             for i in range(12)]  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key="train/train.jsonl",
                  Body="".join(json.dumps(x) + "\n" for x in lines).encode())  # fmt: skip
    template = json.dumps(jumpstart.training_template(spec)).encode()
    s3.put_object(Bucket=BUCKET, Key="train/template.json", Body=template)
    backend.create_training_job(
        **jumpstart.build_training_request(
            spec,
            job_name="ft-parity",
            role_arn=ROLE,
            train_uri=f"s3://{BUCKET}/train/",
            output_uri=f"s3://{BUCKET}/out",
            region="us-east-1",
        )
    )
    backend.wait(60)
    artifact = backend.describe_training_job(TrainingJobName="ft-parity")["ModelArtifacts"]
    request = jumpstart.build_fine_tuned_model_request(
        spec, model_name="ft-parity", model_data_url=artifact["S3ModelArtifacts"], role_arn=ROLE
    )
    backend.create_model(**request)
    return request


def transform(stage: dict[str, Any], spec: ModelSpec, name: str, body: Any,
              content_type: str | None = None) -> tuple[int, Any]:  # fmt: skip
    """(200 and the answer, or the status the FailureReason names) of one line's transform."""
    s3, backend = stage["s3"], stage["backend"]
    line = json.dumps({"study_id": "S1", "inputs": body}) + "\n"
    s3.put_object(Bucket=BUCKET, Key=f"{name}/input.jsonl", Body=line.encode())
    request = jumpstart.build_transform_request(
        job_name=name,
        model_name="ft-parity",
        input_uri=f"s3://{BUCKET}/{name}/input.jsonl",
        output_uri=f"s3://{BUCKET}/{name}/out",
        instance_type=spec.inference["instance_type"],
        spec=spec,
    )
    if content_type is not None:
        request["TransformInput"]["ContentType"] = content_type
    backend.create_transform_job(**request)
    backend.wait(60)
    job = backend.describe_transform_job(TransformJobName=name)
    if job["TransformJobStatus"] == "Completed":
        out = s3.get_object(Bucket=BUCKET, Key=f"{name}/out/input.jsonl.out")["Body"].read()
        return 200, json.loads(out)["SageMakerOutput"]
    found = FAILED_STATUS.search(job.get("FailureReason", ""))
    assert found, job.get("FailureReason")
    return int(found[1]), None


def invoke(
    stage: dict[str, Any], body: Any, content_type: str = "application/json"
) -> tuple[int, Any]:
    host, port = stage["server"].server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    data = json.dumps(body).encode()
    connection.request("POST", "/invocations", body=data, headers={"Content-Type": content_type})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, (answer if response.status == 200 else None)


@pytest.mark.parametrize(("case", "body"), BODIES, ids=[case for case, _ in BODIES])
def test_transform_and_endpoint_give_a_body_the_same_verdict(stage, spec, case, body):
    name = "tf-" + re.sub(r"[^a-z0-9]+", "-", case.lower()).strip("-")
    by_transform = transform(stage, spec, name, body)
    by_endpoint = invoke(stage, body)
    assert by_endpoint == by_transform  # status both ways, and the same answer when accepted
    if by_endpoint[0] == 200:
        assert by_endpoint[1]["generated_texts"]


def test_another_content_type_is_a_400_both_ways(stage, spec):
    body = {"text_inputs": PROMPT}
    assert transform(stage, spec, "tf-csv", body, content_type="text/csv")[0] == 400
    assert invoke(stage, body, content_type="text/csv")[0] == 400
