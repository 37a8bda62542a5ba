"""What Batch Transform does around an inference container: lines in, DataProcessing, lines out.

Every object under the ``TransformInput`` S3 prefix is read line by line (``SplitType=Line``);
each line is parsed as JSON, ``InputFilter`` picks the request body, the container answers a batch
of bodies at a time, ``JoinSource=Input`` puts the answer beside the input record as
``SageMakerOutput``, ``OutputFilter`` picks what is written, and the lines go to
``<S3OutputPath>/<input file name>.out`` in input order (``AssembleWith=Line``). Memory holds a
few batches. The batches go to the model in the job's own thread, or to model-server worker
processes when the job asks for concurrent requests (``transform_workers``). A line that cannot
be processed fails the job, naming the file, line and field.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ClientError

from radimpress_workstation.job_backend.api_checks import split_s3_uri
from radimpress_workstation.job_backend.containers import Container, ServingModel
from radimpress_workstation.job_backend.job_record import ContainerError, Job
from radimpress_workstation.job_backend.s3_files import (
    download_prefix,
    output_encryption,
    upload_output,
)
from radimpress_workstation.job_backend.transform_workers import (
    Batch,
    WarmWorkers,
    answering,
    concurrency,
)
from radimpress_workstation.job_backend.work_dirs import job_directory

Filter = Callable[[Any], Any]


@dataclass(frozen=True)
class _Processing:
    """DataProcessing and AssembleWith of one transform job."""

    input_filter: Filter
    output_filter: Filter
    join_input: bool
    line_end: str


def run_transform_job(
    job: Job,
    container: Container,
    primary_container: Mapping[str, Any],
    filters: tuple[Filter, Filter],
    s3: Any,
    predict_batch: int,
    work_root: Path | None = None,
    warm: Callable[[], WarmWorkers | None] | None = None,
) -> None:
    """Run one transform job to its end; ``filters`` are the compiled Input/OutputFilter.

    The job's directory (model, input and output lines) is made under ``work_root`` (the run
    folder's ``job-scratch``) and removed however the job ends. ``warm`` gives model-server
    workers started ahead for the job's image, asked only when the job serves with workers."""
    request = job.request
    processing = _Processing(
        input_filter=filters[0],
        output_filter=filters[1],
        join_input=request.get("DataProcessing", {}).get("JoinSource", "None") == "Input",
        line_end="\n" if request["TransformOutput"].get("AssembleWith", "None") == "Line" else "",
    )
    out_bucket, out_prefix = split_s3_uri(
        request["TransformOutput"]["S3OutputPath"], "S3OutputPath", ""
    )
    out_prefix = out_prefix.rstrip("/")
    encryption = output_encryption(request["TransformOutput"])
    with job_directory(job.name, work_root) as root:
        model_dir = _model_dir(primary_container, root, s3)
        model = container.serve(model_dir)
        inputs = download_prefix(
            s3,
            request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
            root / "input",
            "TransformInput",
        )
        workers = concurrency(request, container)
        with answering(container, model, model_dir, workers, inputs, warm) as answerer:
            for index, path in enumerate(inputs):
                job.check_stop()
                relative = path.relative_to(root / "input").as_posix()
                out_path = root / f"output-{index}.out"
                batches = _batches(job, model, path, relative, processing, predict_batch)
                with out_path.open("w", encoding="utf-8") as out:
                    for batch, answers in answerer.answer(batches):
                        _write_batch(job, batch, answers, out, relative, processing)
                key = f"{out_prefix}/{relative}.out" if out_prefix else f"{relative}.out"
                upload_output(s3, out_path, out_bucket, key, encryption)


def _model_dir(primary_container: Mapping[str, Any], root: Path, s3: Any) -> Path | None:
    """``ModelDataUrl`` downloaded and extracted, as SageMaker extracts it into /opt/ml/model."""
    url = primary_container.get("ModelDataUrl")
    if not url:
        return None
    bucket, key = split_s3_uri(url, "ModelDataUrl", "")
    archive = root / "model.tar.gz"
    try:
        s3.download_file(bucket, key, str(archive))
    except ClientError:
        raise ContainerError(f"cannot read the model artifact {url}") from None
    model_dir = root / "model"
    model_dir.mkdir()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(model_dir, filter="data")
    except (tarfile.TarError, OSError):
        raise ContainerError(f"the model artifact {url} is not a readable model.tar.gz") from None
    return model_dir


def _batches(
    job: Job,
    model: ServingModel,
    path: Path,
    relative: str,
    processing: _Processing,
    predict_batch: int,
) -> Iterator[Batch]:
    """One input file's lines parsed, in batches: memory holds a few batches, not the file."""
    with path.open(encoding="utf-8") as handle:
        batch: Batch = []
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            batch.append(_parse_line(model, number, line, relative, processing.input_filter))
            if len(batch) >= predict_batch:
                job.check_stop()
                yield batch
                batch = []
        if batch:
            job.check_stop()
            yield batch


def _parse_line(
    model: ServingModel, number: int, line: str, relative: str, input_filter: Filter
) -> tuple[int, Any, Any]:
    """(line number, the input record, the model's input) of one input line."""
    where = f"{relative} line {number}"
    try:
        record = json.loads(line)
    except ValueError:  # invalid JSON, or an integer too long for Python to read
        raise ContainerError(f"{where}: not valid JSON") from None
    try:
        return number, record, model.decode(input_filter(record))
    except ContainerError as err:
        raise ContainerError(f"{where}: {err}") from None


def _write_batch(
    job: Job,
    batch: Batch,
    answers: list[Any],
    out: IO[str],
    relative: str,
    processing: _Processing,
) -> None:
    job.check_stop()
    if len(answers) != len(batch):
        raise ContainerError(f"{relative}: the model returned {len(answers)} of {len(batch)}")
    for (number, record, _), result in zip(batch, answers, strict=True):
        if processing.join_input:
            if not isinstance(record, dict):
                raise ContainerError(f"{relative} line {number}: JoinSource=Input needs objects")
            result = {**record, "SageMakerOutput": result}
        try:
            result = processing.output_filter(result)
        except ContainerError as err:
            raise ContainerError(f"{relative} line {number}: {err}") from None
        out.write(json.dumps(result, ensure_ascii=False))
        out.write(processing.line_end)
