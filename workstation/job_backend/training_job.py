"""What SageMaker does around a training container: channels in, ``SM_*`` variables, model out.

Every ``InputDataConfig`` channel is downloaded into ``<job dir>/input/data/<channel>``, the
container's training entry point runs with SageMaker's environment and writes the model into
``<job dir>/model`` (``SM_MODEL_DIR``), and that folder goes to
``<S3OutputPath>/<job>/output/model.tar.gz`` (or, with ``CompressionType=NONE``, as files under
``.../output/model/``).
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

from radimpress_workstation.job_backend.api_checks import split_s3_uri
from radimpress_workstation.job_backend.containers import Container
from radimpress_workstation.job_backend.job_record import ContainerError, Job
from radimpress_workstation.job_backend.s3_files import (
    download_prefix,
    output_encryption,
    upload_output,
)
from radimpress_workstation.job_backend.work_dirs import job_directory


def run_training_job(
    job: Job, container: Container, s3: Any, work_root: Path | None = None
) -> None:
    """Run one training job to its end; sets ``job.artifact`` to the model's S3 URI.

    The job's directory (the channels' copies of the training reports) is made under
    ``work_root`` (the run folder's ``job-scratch``) and removed however the job ends."""
    request = job.request
    with job_directory(job.name, work_root) as root:
        channels = {}
        for channel in request.get("InputDataConfig", []):
            job.check_stop()
            name = channel["ChannelName"]
            target = root / "input" / "data" / name
            target.mkdir(parents=True)
            download_prefix(
                s3, channel["DataSource"]["S3DataSource"]["S3Uri"], target, f"channel {name!r}"
            )
            channels[name] = target
        model_dir = root / "model"
        output_dir = root / "output" / "data"
        model_dir.mkdir()
        output_dir.mkdir(parents=True)
        env = {
            **request.get("Environment", {}),
            "SM_MODEL_DIR": str(model_dir),
            "SM_INPUT_DIR": str(root / "input"),
            "SM_OUTPUT_DATA_DIR": str(output_dir),
            "SM_CHANNELS": json.dumps(sorted(channels)),
            "SM_HPS": json.dumps(request.get("HyperParameters", {})),
            "SM_CURRENT_HOST": "algo-1",
            "TRAINING_JOB_NAME": job.name,
            **{f"SM_CHANNEL_{n.upper()}": str(p) for n, p in channels.items()},
        }
        job.check_stop()
        container.train(env)
        job.check_stop()
        if not any(model_dir.iterdir()):
            raise ContainerError("the model wrote nothing to SM_MODEL_DIR")
        job.artifact = _upload_model(job, model_dir, root, s3)


def _upload_model(job: Job, model_dir: Path, root: Path, s3: Any) -> str:
    output = job.request["OutputDataConfig"]
    bucket, prefix = split_s3_uri(output["S3OutputPath"], "S3OutputPath", "")
    prefix = prefix.rstrip("/")
    job_prefix = f"{prefix}/{job.name}/output" if prefix else f"{job.name}/output"
    encryption = output_encryption(output)
    if output.get("CompressionType", "GZIP") == "NONE":
        for path in sorted(model_dir.rglob("*")):
            if path.is_file():
                rel = path.relative_to(model_dir).as_posix()
                upload_output(s3, path, bucket, f"{job_prefix}/model/{rel}", encryption)
        return f"s3://{bucket}/{job_prefix}/model/"
    archive = root / "model.tar.gz"
    # gzip's own default level: tarfile's 9 spent 5 s of a 50,000-report run squeezing a few
    # percent more out of select's index arrays; the level is not part of SageMaker's contract.
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    upload_output(s3, archive, bucket, f"{job_prefix}/model.tar.gz", encryption)
    return f"s3://{bucket}/{job_prefix}/model.tar.gz"
