"""What the JumpStart training container checks before its script trains, then the stand-in
fine-tune.

``huggingface-pytorch-training`` running the prepacked ``transfer_learning.py``: the image, code
channel and model channel belong to one version, the image is that version's for the instance
family, channels are ``training``/``validation``/``model``/``code``, every hyperparameter is one
the script declares, of its type and within its range.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from radimpress_workstation.job_backend.jumpstart import standin
from radimpress_workstation.job_backend.jumpstart.errors import AlgorithmError, ClientError
from radimpress_workstation.job_backend.jumpstart.metadata import (
    JumpStartVersion,
    instance_family,
)
from radimpress_workstation.job_backend.jumpstart.requests import channel_key, training_versions

TRAINING_CHANNELS = ("training", "validation", "model", "code")
MODEL_CHANNEL_CONTENT_TYPE = "application/x-sagemaker-model"


def train(image: str, region: str, request: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """The training entry point of ``image`` in ``region`` for the CreateTrainingJob request."""
    program = _check_entry_point(env, request)
    version = _check_training_pairing(image, region, request)
    _check_channels(env, request)
    hyperparameters = _check_hyperparameters(env, version, program)
    standin.fine_tune(env, version, hyperparameters)


def _check_entry_point(env: Mapping[str, str], request: Mapping[str, Any]) -> str:
    """As the SageMaker training toolkit: sagemaker_program from sagemaker_submit_directory."""
    hps = json.loads(env.get("SM_HPS", "{}"))
    submit = _decode(hps.get("sagemaker_submit_directory", '""'))
    program = _decode(hps.get("sagemaker_program", '""'))
    if not submit or not program:
        raise AlgorithmError(
            "no entry point: hyperparameters sagemaker_program and sagemaker_submit_directory "
            "name the JumpStart training script (the spec's container_hyperparameters)"
        )
    if submit.startswith("s3://") and request.get("EnableNetworkIsolation"):
        raise AlgorithmError(
            f"sagemaker_submit_directory={submit} cannot be downloaded under network "
            "isolation; JumpStart passes the script as the 'code' channel"
        )
    prefix = "/opt/ml/input/data/"
    if not submit.startswith(prefix):
        raise AlgorithmError(f"sagemaker_submit_directory={submit} is not a channel file")
    channel, _, rel = submit[len(prefix) :].partition("/")
    local = Path(env.get(f"SM_CHANNEL_{channel.upper()}", "/nonexistent")) / rel
    if not local.is_file():
        raise AlgorithmError(f"sagemaker_submit_directory {submit} does not exist")
    try:
        with tarfile.open(local, "r:gz") as tar:
            names = tar.getnames()
    except (tarfile.TarError, OSError):
        raise AlgorithmError(f"{submit} is not a readable sourcedir.tar.gz") from None
    if program not in names:
        raise AlgorithmError(f"ExecuteUserScriptError: {program} is not in {submit}")
    return program


def _check_training_pairing(
    image: str, region: str, request: Mapping[str, Any]
) -> JumpStartVersion:
    code = channel_key(request, "code")
    artifact = channel_key(request, "model")
    versions = [
        v for v in training_versions(request) if artifact == v.raw.get("training_artifact_key")
    ]
    if not versions:
        raise AlgorithmError(
            f"the code channel ({code or 'none'}) and the model channel "
            f"({artifact or 'none'}) are not the script and artifact of one JumpStart version"
        )
    instance_type = request.get("ResourceConfig", {}).get("InstanceType", "")
    family = instance_family(instance_type)
    for version in versions:
        images = version.training_images.get(region, {})
        if image in images.values():
            if images.get(family) != image:
                raise AlgorithmError(
                    f"{version.label()} has no training image for {instance_type} on "
                    f"{image} (instance families: {', '.join(sorted(images))})"
                )
            return version
    wanted = sorted({u for v in versions for u in v.training_images.get(region, {}).values()})
    raise AlgorithmError(
        f"the training script of {versions[0].label()} runs on {', '.join(wanted)}, not on "
        f"{image} (training image and artifacts from different versions)"
    )


def _check_channels(env: Mapping[str, str], request: Mapping[str, Any]) -> None:
    names = json.loads(env.get("SM_CHANNELS", "[]"))
    unknown = sorted(set(names) - set(TRAINING_CHANNELS))
    if unknown:
        raise AlgorithmError(
            f"unknown channel(s) {', '.join(unknown)}; the script reads "
            f"{', '.join(TRAINING_CHANNELS)}"
        )
    if "training" not in names:
        raise ClientError("the 'training' channel is missing")
    for channel in request.get("InputDataConfig", []):
        content_type = channel.get("ContentType")
        if channel["ChannelName"] == "model":
            if content_type not in (None, MODEL_CHANNEL_CONTENT_TYPE):
                raise ClientError(
                    f"channel 'model': ContentType {content_type} is not "
                    f"{MODEL_CHANNEL_CONTENT_TYPE}"
                )
        elif channel["ChannelName"] in ("training", "validation") and content_type not in (
            None,
            "application/jsonlines",
            "application/json",
        ):
            raise ClientError(
                f"channel {channel['ChannelName']!r}: ContentType {content_type} is not JSON Lines"
            )


def _check_hyperparameters(
    env: Mapping[str, str], version: JumpStartVersion, program: str
) -> dict[str, Any]:
    """As the script's argument parser: names, types, options and ranges of the metadata."""
    hps = json.loads(env.get("SM_HPS", "{}"))
    known = version.hyperparameters
    values: dict[str, Any] = {}
    for name, encoded in sorted(hps.items()):
        if name.startswith("sagemaker_"):
            continue  # the training toolkit's own settings, never passed to the script
        value = _decode(encoded)
        definition = known.get(name)
        if definition is None:
            raise AlgorithmError(
                f"ExecuteUserScriptError: {program}: error: unrecognized arguments: "
                f"--{name} (not a hyperparameter of {version.label()})"
            )
        if definition.get("scope") == "container":
            continue
        values[name] = _typed(name, value, definition, program)
    return values


def _decode(encoded: Any) -> Any:
    """A hyperparameter as the SDK sends it (JSON-encoded string), decoded."""
    if not isinstance(encoded, str):
        return encoded
    try:
        return json.loads(encoded)
    except ValueError:
        return encoded


def _typed(name: str, value: Any, definition: Mapping[str, Any], program: str) -> Any:
    kind = definition.get("type", "text")
    text = str(value)
    bad = f"ExecuteUserScriptError: {program}: error: argument --{name}: invalid {kind} value"
    try:
        typed: Any = int(text) if kind == "int" else float(text) if kind == "float" else text
    except ValueError:
        raise AlgorithmError(bad) from None
    options = definition.get("options")
    if options and typed not in options:
        raise AlgorithmError(f"{bad} (choose from {', '.join(map(str, options))})")
    low, high = definition.get("min"), definition.get("max")
    if (low is not None and typed < low) or (high is not None and typed > high):
        raise AlgorithmError(
            f"hyperparameter {name}={text} is out of range [{low if low is not None else ''}, "
            f"{high if high is not None else ''}] for this JumpStart model"
        )
    return typed
