"""The JumpStart containers as a local double: the real images' contracts, a tiny stand-in model.

Without it the local backend runs only ``radimpress-local/<model>`` images, so a JumpStart request
that the real service or container would refuse passes every local test. This double answers for
the AWS Deep Learning Container images JumpStart names (``763104351884.dkr.ecr.<region>...``) and
checks what they check, from the real JumpStart metadata (the SDK's ``specs_v*.json``, by default
``tests/fixtures/jumpstart``; ``AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE`` points elsewhere),
never from the spec under test, so a wrong spec cannot vouch for itself:

- the service: an image that no JumpStart version publishes in the job's region is not found;
  S3 artifacts and images come from the job's region; network isolation on wherever the
  metadata turns it on;
- training (``huggingface-pytorch-training`` running the prepacked ``transfer_learning.py``): the
  image, code channel and model channel belong to one version, the image is that version's for
  the instance family, channels are ``training``/``validation``/``model``/``code``, every
  hyperparameter is one the script declares, of its type and within its range; the output is laid
  out as the prepacked script writes it (weights, ``config.json``, ``code/inference.py``);
- serving with the Hugging Face inference toolkit (``huggingface-pytorch-inference``, 1.x): as
  its ``handler_service`` does, code is imported only from ``<model dir>/code``
  (``SAGEMAKER_PROGRAM``), ``SAGEMAKER_SUBMIT_DIRECTORY`` is never downloaded; JumpStart's
  ``inference.py`` takes ``{"text_inputs", "max_length", ...}`` and answers
  ``{"generated_texts": [...]}``; without it the default handler takes ``{"inputs", "parameters"}``
  and answers ``[{"generated_text"}]``; a body it cannot use is a 400 that fails the line;
- serving with TGI (``huggingface-pytorch-tgi-inference``, 2.x): ``{"inputs", "parameters"}``
  only, 422 otherwise.

The public ``jumpstart-cache-prod-<region>`` bucket does not exist in moto: when a request names
one of its artifacts the double writes a stand-in there (``seed_cache``), laid out as the real
artifact is. Generation is deterministic and needs no weights: the pre-trained stand-in answers
with the first sentence of the findings, the fine-tuned one with the local ``restate`` model
trained on the training channel.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import botocore.exceptions

from radimpress_workstation.job_backend.api_checks import REGION, validation_error
from radimpress_workstation.job_backend.containers import Container
from radimpress_workstation.job_backend.job_record import ContainerError

DLC_ACCOUNT = "763104351884"  # the AWS Deep Learning Containers registry JumpStart images live in
METADATA_ENV = "AWS_JUMPSTART_SPECS_LOCAL_ROOT_DIR_OVERRIDE"
DEFAULT_METADATA = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "jumpstart"
STANDIN_FILE = "radimpress-standin.json"
STANDIN_MODEL_DIR = "standin"
FINE_TUNE_MODEL = "restate"  # the local model the fine-tune stand-in trains
CODE_DIR = "code"
MODEL_CODE_DIR = "/opt/ml/model/code"
TRAINING_CHANNELS = ("training", "validation", "model", "code")
MODEL_CHANNEL_CONTENT_TYPE = "application/x-sagemaker-model"
JSON_TYPES = ("application/json",)
ACCEPT_TYPES = ("application/json", "application/json;verbose")
# JumpStart's 1.x text2text inference.py: the generation settings it passes to generate().
TEXT2TEXT_PARAMETERS: dict[str, tuple[type | tuple[type, ...], float | None, float | None]] = {
    "max_length": (int, 1, None),
    "max_time": ((int, float), 0, None),
    "num_return_sequences": (int, 1, None),
    "num_beams": (int, 1, None),
    "top_p": ((int, float), 0, 1),
    "top_k": (int, 0, None),
    "temperature": ((int, float), 0, None),
    "do_sample": (bool, None, None),
    "early_stopping": (bool, None, None),
    "no_repeat_ngram_size": (int, 0, None),
    "seed": (int, None, None),
}
INFERENCE_SCRIPT = (
    "# JumpStart text2text inference.py (radimpress stand-in): the Hugging Face inference\n"
    "# toolkit imports it from <model dir>/code. Request {'text_inputs': str | [str],\n"
    "# 'max_length', 'num_beams', ...}; response {'generated_texts': [str, ...]}.\n"
    "CONTRACT = 'jumpstart-text2text-1.x'\n"
)
TRAINING_SCRIPT = "# JumpStart text2text transfer_learning.py (radimpress stand-in)\n"
_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9._/-]+):(?P<tag>[\w.-]+)$"
)
_CACHE = re.compile(r"^s3://jumpstart-cache-prod-(?P<region>[a-z0-9-]+)/(?P<key>.+)$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_FINDINGS = re.compile(r"findings:\s*(?P<findings>.*?)\s*(?:impression:\s*)?$", re.I | re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class AlgorithmError(ContainerError):
    """The training container's script failed (SageMaker's FailureReason says AlgorithmError)."""


class ClientError(ContainerError):
    """The job's input or model was unusable (SageMaker's FailureReason says ClientError)."""


# ----- the metadata ----------------------------------------------------------------------------


def instance_family(instance_type: str) -> str:
    """``ml.p3dn.24xlarge`` -> ``p3dn`` (the key of JumpStart's instance-type variants)."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "ml" else instance_type


def _variant_images(variants: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """region -> instance family -> image, resolved from ``regional_aliases`` as the SDK does."""
    if not variants:
        return {}
    images: dict[str, dict[str, str]] = {}
    for region, aliases in (variants.get("regional_aliases") or {}).items():
        for family, variant in (variants.get("variants") or {}).items():
            uri = (variant.get("regional_properties") or {}).get("image_uri", "")
            if uri.startswith("$") and uri[1:] in aliases:
                images.setdefault(region, {})[family] = aliases[uri[1:]]
    return images


@dataclass(frozen=True)
class JumpStartVersion:
    """One ``specs_v<version>.json``: what the double needs to know of a JumpStart version."""

    model_id: str
    version: str
    raw: dict[str, Any] = field(repr=False)

    @property
    def training_images(self) -> dict[str, dict[str, str]]:
        return _variant_images(self.raw.get("training_instance_type_variants"))

    @property
    def hosting_images(self) -> dict[str, dict[str, str]]:
        return _variant_images(self.raw.get("hosting_instance_type_variants"))

    @property
    def training_scripts(self) -> set[str]:
        keys = ("training_prepacked_script_key", "training_script_key")
        return {self.raw[k] for k in keys if self.raw.get(k)}

    @property
    def hosting_artifacts(self) -> set[str]:
        keys = ("hosting_prepacked_artifact_key", "hosting_artifact_key")
        return {self.raw[k] for k in keys if self.raw.get(k)}

    @property
    def hyperparameters(self) -> dict[str, dict[str, Any]]:
        return {h["name"]: h for h in self.raw.get("hyperparameters", [])}

    def label(self) -> str:
        return f"{self.model_id} {self.version}"


@lru_cache(maxsize=4)
def _load_catalog(root: str) -> tuple[JumpStartVersion, ...]:
    versions = []
    for path in sorted(Path(root).glob("**/specs_v*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        versions.append(JumpStartVersion(raw["model_id"], raw["version"], raw))
    return tuple(versions)


def catalog() -> tuple[JumpStartVersion, ...]:
    """Every JumpStart version in the metadata directory (the SDK's local-override layout)."""
    return _load_catalog(os.environ.get(METADATA_ENV) or str(DEFAULT_METADATA))


def _images(versions: Iterable[JumpStartVersion], section: str, region: str) -> set[str]:
    return {
        uri for v in versions for uri in getattr(v, f"{section}_images").get(region, {}).values()
    }


# ----- the stand-in artifacts of jumpstart-cache-prod-<region> ---------------------------------


def _tar_gz(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _weights(version: JumpStartVersion, **extra: Any) -> dict[str, str]:
    """The files a Hugging Face model directory holds, weights replaced by the stand-in's state."""
    config = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5"}
    standin = {"model_id": version.model_id, "version": version.version, **extra}
    return {"config.json": json.dumps(config), STANDIN_FILE: json.dumps(standin)}


def cache_object(key: str) -> bytes | None:
    """The stand-in for the JumpStart artifact ``key``, laid out as the real one; None if unknown.

    Prepacked hosting artifacts carry ``code/inference.py``; the plain ones do not (the SDK
    repacks ``hosting_script_key`` into them); script tarballs hold the entry point.
    """
    for version in catalog():
        raw = version.raw
        if key == raw.get("hosting_prepacked_artifact_key") and key.endswith(".tar.gz"):
            return _tar_gz({**_weights(version), f"{CODE_DIR}/inference.py": INFERENCE_SCRIPT})
        if key == raw.get("hosting_artifact_key") and key.endswith(".tar.gz"):
            return _tar_gz(_weights(version))
        if key == raw.get("training_artifact_key"):
            return _tar_gz(_weights(version))
        if key in version.training_scripts:
            return _tar_gz({"transfer_learning.py": TRAINING_SCRIPT})
        if key == raw.get("hosting_script_key"):
            return _tar_gz({"inference.py": INFERENCE_SCRIPT})
    return None


def seed_cache(s3: Any, uri: str) -> None:
    """Write the stand-in of a ``jumpstart-cache-prod-<region>`` artifact into (moto's) S3."""
    match = _CACHE.match(uri)
    body = cache_object(match["key"]) if match else None
    if match is None or body is None:
        return  # not a known JumpStart artifact: the job reads S3 and fails as it would
    bucket = f"jumpstart-cache-prod-{match['region']}"
    try:
        s3.head_object(Bucket=bucket, Key=match["key"])
        return
    except botocore.exceptions.ClientError:  # absent bucket or key: create below
        pass
    try:
        config = {}
        if match["region"] != "us-east-1":
            config = {"CreateBucketConfiguration": {"LocationConstraint": match["region"]}}
        s3.create_bucket(Bucket=bucket, **config)
    except botocore.exceptions.ClientError:  # already there (another job seeded it)
        pass
    s3.put_object(Bucket=bucket, Key=match["key"], Body=body)


# ----- finding the container -------------------------------------------------------------------


def find_jumpstart_container(image: str) -> JumpStartContainer | None:
    """The double behind an AWS Deep Learning Containers image URI, else None."""
    match = _IMAGE.match(image)
    if match is None or match["account"] != DLC_ACCOUNT:
        return None
    return JumpStartContainer(image)


def job_region() -> str:
    """The region the calling code runs in (the embedded stack sets it per run)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION


class JumpStartContainer(Container):
    """One JumpStart image; bound to the request that runs it (``bind``) before it runs."""

    def __init__(self, image: str) -> None:
        self.image = image
        match = _IMAGE.match(image)
        assert match is not None
        self.repository = match["repository"]
        self.image_region = match["region"]
        self.region = job_region()
        self.requests: dict[str, Mapping[str, Any]] = {}

    # ----- the service's part --------------------------------------------------------------

    def bind(
        self,
        operation: str,
        request: Mapping[str, Any],
        s3_factory: Callable[[], Any],
        model: Mapping[str, Any] | None = None,
    ) -> JumpStartContainer:
        bound = copy.copy(self)
        bound.requests = {**self.requests, operation: request}
        if model is not None:
            bound.requests["CreateModel"] = model
        bound.region = job_region()
        bound._check_image(operation)
        if operation == "CreateTrainingJob":
            bound._check_training_request(request, s3_factory)
        elif operation == "CreateModel":
            bound._check_model_request(request, s3_factory)
        return bound

    def _check_image(self, operation: str) -> None:
        if self.image_region != self.region:
            raise validation_error(
                operation,
                f"Image {self.image} is in region {self.image_region}; SageMaker pulls images "
                f"only from the job's region ({self.region}). Use the spec's image for "
                f"{self.region} (ModelSpec.for_region)",
            )
        section = "training" if operation == "CreateTrainingJob" else "hosting"
        if self.image not in _images(catalog(), section, self.region):
            raise validation_error(
                operation,
                f"Requested image {self.image} not found: no JumpStart version publishes it as "
                f"a {section} image in {self.region}",
            )

    def _cache_uri_region(self, uri: str, what: str, operation: str) -> None:
        match = _CACHE.match(uri)
        if match is not None and match["region"] != self.region:
            raise validation_error(
                operation,
                f"{what} {uri} is in region {match['region']}; the job runs in {self.region} "
                "(JumpStart artifacts are read from the job's region's jumpstart-cache-prod)",
            )

    def _check_training_request(
        self, request: Mapping[str, Any], s3_factory: Callable[[], Any]
    ) -> None:
        operation = "CreateTrainingJob"
        versions = self._training_versions(request)
        if any(v.raw.get("training_enable_network_isolation") for v in versions) and not (
            request.get("EnableNetworkIsolation")
        ):
            raise validation_error(
                operation,
                f"{versions[0].label()} trains with network isolation "
                "(training_enable_network_isolation): set EnableNetworkIsolation=true",
            )
        for channel in request.get("InputDataConfig", []):
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
            self._cache_uri_region(uri, f"channel {channel.get('ChannelName')!r}", operation)
            seed_cache(s3_factory(), uri)

    def _training_versions(self, request: Mapping[str, Any]) -> list[JumpStartVersion]:
        code = self._channel_key(request, "code")
        return [v for v in catalog() if code in v.training_scripts] if code else []

    @staticmethod
    def _channel_key(request: Mapping[str, Any], name: str) -> str:
        for channel in request.get("InputDataConfig", []):
            if channel.get("ChannelName") == name:
                uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
                match = _CACHE.match(uri)
                return match["key"] if match else uri
        return ""

    def _hosting_versions(self, model_data_url: str) -> list[JumpStartVersion]:
        """Versions whose artifact this is; for a fine-tune, those served by this image."""
        match = _CACHE.match(model_data_url or "")
        if match is not None:
            return [v for v in catalog() if match["key"] in v.hosting_artifacts]
        return [v for v in catalog() if self.image in _images([v], "hosting", self.region)]

    def _check_model_request(
        self, request: Mapping[str, Any], s3_factory: Callable[[], Any]
    ) -> None:
        operation = "CreateModel"
        url = str(request.get("PrimaryContainer", {}).get("ModelDataUrl", ""))
        self._cache_uri_region(url, "ModelDataUrl", operation)
        versions = self._hosting_versions(url)
        if any(v.raw.get("inference_enable_network_isolation") for v in versions) and not (
            request.get("EnableNetworkIsolation")
        ):
            raise validation_error(
                operation,
                f"{versions[0].label()} is served with network isolation "
                "(inference_enable_network_isolation), and this model reads patient reports: "
                "set EnableNetworkIsolation=true",
            )
        if url:
            seed_cache(s3_factory(), url)

    def check_model(self, primary_container: Mapping[str, Any], operation: str) -> None:
        if "ModelDataSource" in primary_container:
            return  # CreateTransformJob refuses it, as SageMaker does
        if not primary_container.get("ModelDataUrl") and "HF_MODEL_ID" not in (
            primary_container.get("Environment") or {}
        ):
            raise validation_error(
                operation,
                f"{self.image} serves a model from ModelDataUrl (or HF_MODEL_ID); neither is set",
            )

    # ----- training --------------------------------------------------------------------------

    def train(self, env: Mapping[str, str]) -> None:
        request = self.requests.get("CreateTrainingJob", {})
        program = self._check_entry_point(env, request)
        version = self._check_training_pairing(request)
        self._check_channels(env, request)
        hyperparameters = self._check_hyperparameters(env, version, program)
        _fine_tune(env, version, hyperparameters)

    def _check_entry_point(self, env: Mapping[str, str], request: Mapping[str, Any]) -> str:
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

    def _check_training_pairing(self, request: Mapping[str, Any]) -> JumpStartVersion:
        code = self._channel_key(request, "code")
        artifact = self._channel_key(request, "model")
        versions = [
            v
            for v in self._training_versions(request)
            if artifact == v.raw.get("training_artifact_key")
        ]
        if not versions:
            raise AlgorithmError(
                f"the code channel ({code or 'none'}) and the model channel "
                f"({artifact or 'none'}) are not the script and artifact of one JumpStart version"
            )
        instance_type = request.get("ResourceConfig", {}).get("InstanceType", "")
        family = instance_family(instance_type)
        for version in versions:
            images = version.training_images.get(self.region, {})
            if self.image in images.values():
                if images.get(family) != self.image:
                    raise AlgorithmError(
                        f"{version.label()} has no training image for {instance_type} on "
                        f"{self.image} (instance families: {', '.join(sorted(images))})"
                    )
                return version
        wanted = sorted(
            {u for v in versions for u in v.training_images.get(self.region, {}).values()}
        )
        raise AlgorithmError(
            f"the training script of {versions[0].label()} runs on {', '.join(wanted)}, not on "
            f"{self.image} (training image and artifacts from different versions)"
        )

    def _check_channels(self, env: Mapping[str, str], request: Mapping[str, Any]) -> None:
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
                    f"channel {channel['ChannelName']!r}: ContentType {content_type} is not "
                    "JSON Lines"
                )

    def _check_hyperparameters(
        self, env: Mapping[str, str], version: JumpStartVersion, program: str
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

    # ----- serving ---------------------------------------------------------------------------

    def serve(self, model_dir: Path | None) -> Any:
        model = self.requests.get("CreateModel", {})
        environment = dict(model.get("PrimaryContainer", {}).get("Environment") or {})
        transform = self.requests.get("CreateTransformJob", {})
        self._check_transform(transform, model)
        limit = int(transform.get("MaxPayloadInMB", 6)) * 1024 * 1024
        if "tgi" in self.repository:
            return TgiServer(_model_dir_or_fail(model_dir, self.image), limit)
        return _load_toolkit_handler(model_dir, environment, limit)

    def _check_transform(self, transform: Mapping[str, Any], model: Mapping[str, Any]) -> None:
        """Content types and instance family, as the container and its metadata take them."""
        content_type = transform.get("TransformInput", {}).get("ContentType", "application/json")
        accept = transform.get("TransformOutput", {}).get("Accept", "application/json")
        if content_type not in JSON_TYPES:
            raise ClientError(f"ContentType {content_type} is not accepted (application/json)")
        if accept not in ACCEPT_TYPES:
            raise ClientError(f"Accept {accept} is not produced ({', '.join(ACCEPT_TYPES)})")
        instance_type = transform.get("TransformResources", {}).get("InstanceType", "")
        url = str(model.get("PrimaryContainer", {}).get("ModelDataUrl", ""))
        for version in self._hosting_versions(url):
            images = version.hosting_images.get(self.region, {})
            if images.get(instance_family(instance_type)) == self.image:
                return
        if instance_type:
            raise ClientError(
                f"{self.image} is not the image JumpStart serves this model with on "
                f"{instance_type} (instance-type variants of the metadata)"
            )


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


# ----- the stand-in fine-tune ------------------------------------------------------------------


def _template_parts(template: str) -> tuple[str, str] | None:
    """(prefix, suffix) around a prompt template's only placeholder; None otherwise."""
    fields = _PLACEHOLDER.findall(template)
    if len(fields) != 1:
        return None
    prefix, _, suffix = template.partition("{" + fields[0] + "}")
    return prefix, suffix


def unwrap(prompt: str, parts: tuple[str, str] | None) -> str:
    """The findings inside a prompt: the template's wrapper removed, else a 'Findings:' label."""
    if parts is not None:
        prefix, suffix = parts
        if prompt.startswith(prefix) and prompt.endswith(suffix):
            return prompt[len(prefix) : len(prompt) - len(suffix)]
    match = _FINDINGS.search(prompt)
    return match["findings"] if match else prompt


def _fine_tune(
    env: Mapping[str, str], version: JumpStartVersion, hyperparameters: Mapping[str, Any]
) -> None:
    """Train the stand-in on the channel and write the output as the prepacked script does."""
    from radimpress_training.models import TrainingPair, get_model_class

    channel = Path(env["SM_CHANNEL_TRAINING"])
    template = {"prompt": "{prompt}", "completion": "{completion}"}
    if (channel / "template.json").exists():
        try:
            template.update(json.loads((channel / "template.json").read_text(encoding="utf-8")))
        except ValueError:
            raise AlgorithmError("template.json is not valid JSON") from None
    parts = _template_parts(template["prompt"])
    pairs = []
    for path in sorted(channel.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    prompt = template["prompt"].format_map(record)
                    completion = template["completion"].format_map(record)
                except (ValueError, KeyError, IndexError):
                    raise AlgorithmError(
                        f"{path.name} line {number}: not a record template.json can render"
                    ) from None
                pairs.append(TrainingPair(unwrap(prompt, parts), completion))
    if not pairs:
        raise ClientError("the training channel holds no *.jsonl record")
    model_dir = Path(env["SM_MODEL_DIR"])
    model = get_model_class(FINE_TUNE_MODEL)().fit(pairs)
    model.save(model_dir / STANDIN_MODEL_DIR)
    files = _weights(
        version,
        fine_tuned=True,
        template=template["prompt"],
        epochs=hyperparameters.get("epochs"),
    )
    if PACK_INFERENCE_CODE:
        files[f"{CODE_DIR}/inference.py"] = INFERENCE_SCRIPT
    for name, text in files.items():
        target = model_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# The prepacked training script copies its inference code into the output; tests turn this off
# to put back the defect of a fine-tuned model.tar.gz without code/.
PACK_INFERENCE_CODE = True


# ----- the model servers -----------------------------------------------------------------------


def _model_dir_or_fail(model_dir: Path | None, image: str) -> Path:
    if model_dir is None:
        raise ClientError(
            f"{image}: the model has no ModelDataUrl to load (container failed /ping)"
        )
    return model_dir


class _StandIn:
    """The stand-in's generation: first sentence (pre-trained) or the trained local model."""

    def __init__(self, model_dir: Path) -> None:
        try:
            state = json.loads((model_dir / STANDIN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ClientError(
                "the model directory holds no weights the container can load "
                "(container failed /ping)"
            ) from None
        template = state.get("template")
        self.parts = _template_parts(template) if isinstance(template, str) else None
        self.model: Any = None
        if state.get("fine_tuned"):
            from radimpress_training.models import load_model

            self.model = load_model(model_dir / STANDIN_MODEL_DIR)

    def generate(self, prompts: list[str], max_tokens: list[int]) -> list[str]:
        findings = [unwrap(p, self.parts) for p in prompts]
        if self.model is not None:
            texts = list(self.model.predict(findings))
        else:
            texts = [_SENTENCE_END.split(" ".join(f.split()), maxsplit=1)[0] for f in findings]
        return [" ".join(t.split()[:limit]) for t, limit in zip(texts, max_tokens, strict=True)]


def _bad_request(status: int, message: str) -> ClientError:
    return ClientError(f"Bad HTTP status received from algorithm: {status} ({message})")


def _check_size(payload: Any, limit: int) -> None:
    if len(json.dumps(payload).encode()) > limit:
        raise _bad_request(413, "the record exceeds MaxPayloadInMB")


def _load_toolkit_handler(
    model_dir: Path | None, environment: Mapping[str, str], limit: int
) -> Any:
    """What the Hugging Face inference toolkit's handler_service loads at model-server start."""
    submit = str(environment.get("SAGEMAKER_SUBMIT_DIRECTORY", MODEL_CODE_DIR))
    if submit.rstrip("/") != MODEL_CODE_DIR:
        raise ClientError(
            f"SAGEMAKER_SUBMIT_DIRECTORY={submit}: the Hugging Face inference toolkit never "
            f"downloads code; it imports SAGEMAKER_PROGRAM from {MODEL_CODE_DIR} only (the "
            "inference code belongs inside model.tar.gz under code/)"
        )
    directory = _model_dir_or_fail(model_dir, "huggingface-pytorch-inference")
    program = str(environment.get("SAGEMAKER_PROGRAM", "inference.py"))
    script = directory / CODE_DIR / program
    if script.is_file():
        if "jumpstart-text2text-1.x" not in script.read_text(encoding="utf-8", errors="replace"):
            raise ClientError(f"code/{program} is not a script this double can run")
        return Text2TextHandler(_StandIn(directory), limit)
    if "HF_TASK" not in environment and not (directory / "config.json").is_file():
        raise ClientError(
            "You need to define one of the supported tasks as env 'HF_TASK' (no "
            f"code/{program} and no config.json in the model; container failed /ping)"
        )
    return DefaultPipelineHandler(_StandIn(directory), program, limit)


class Text2TextHandler:
    """JumpStart's 1.x text2text ``inference.py``: ``text_inputs`` + generation settings."""

    def __init__(self, standin: _StandIn, limit: int) -> None:
        self.standin = standin
        self.limit = limit

    def decode(self, payload: Any) -> tuple[list[str], int, int]:
        _check_size(payload, self.limit)
        if not isinstance(payload, dict):
            raise _bad_request(400, "the body must be a JSON object with 'text_inputs'")
        if "text_inputs" not in payload:
            hint = (
                "; {'inputs', 'parameters'} is the TGI (2.x) body"
                if "inputs" in payload or "parameters" in payload
                else ""
            )
            raise _bad_request(400, f"'text_inputs' is required{hint}")
        texts = payload["text_inputs"]
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise _bad_request(400, "'text_inputs' must be a string or a list of strings")
        settings = {k: v for k, v in payload.items() if k != "text_inputs"}
        unknown = sorted(set(settings) - set(TEXT2TEXT_PARAMETERS))
        if unknown:
            raise _bad_request(400, f"unsupported parameter(s) {', '.join(unknown)}")
        for name, value in settings.items():
            kinds, low, high = TEXT2TEXT_PARAMETERS[name]
            numeric = isinstance(value, kinds) and not (
                isinstance(value, bool) and kinds is not bool
            )
            if (
                not numeric
                or (low is not None and value < low)
                or (high is not None and value > high)
            ):
                raise _bad_request(400, f"parameter {name} has an invalid value")
        beams = int(settings.get("num_beams", 1))
        sequences = int(settings.get("num_return_sequences", 1))
        if sequences > beams and not settings.get("do_sample"):
            raise _bad_request(400, "num_return_sequences must be <= num_beams without sampling")
        return texts, int(settings.get("max_length", 20)), sequences

    def predict(self, inputs: list[Any]) -> list[Any]:
        answers = []
        for texts, max_length, sequences in inputs:
            generated = self.standin.generate(texts, [max_length] * len(texts))
            answers.append({"generated_texts": [g for g in generated for _ in range(sequences)]})
        return answers


class DefaultPipelineHandler:
    """The toolkit's default handler (no inference script): ``{"inputs", "parameters"}``."""

    def __init__(self, standin: _StandIn, program: str, limit: int) -> None:
        self.standin = standin
        self.program = program
        self.limit = limit

    def decode(self, payload: Any) -> tuple[str, int]:
        _check_size(payload, self.limit)
        inputs = payload.get("inputs") if isinstance(payload, dict) else None
        if not isinstance(inputs, str):
            raise _bad_request(
                400,
                f"no code/{self.program} in the model archive, so the toolkit's default "
                "text2text-generation handler ran, and it takes {'inputs': ..., 'parameters': "
                "...}",
            )
        parameters = payload.get("parameters") or {}
        return inputs, int(parameters.get("max_new_tokens", parameters.get("max_length", 20)))

    def predict(self, inputs: list[Any]) -> list[Any]:
        texts = self.standin.generate([t for t, _ in inputs], [n for _, n in inputs])
        return [[{"generated_text": text}] for text in texts]


class TgiServer:
    """Text Generation Inference (JumpStart 2.x): ``{"inputs": str, "parameters": {...}}``."""

    def __init__(self, model_dir: Path, limit: int) -> None:
        if not (model_dir / "config.json").is_file():
            raise ClientError("TGI found no Hugging Face model (config.json) in /opt/ml/model")
        self.standin = _StandIn(model_dir)
        self.limit = limit

    def decode(self, payload: Any) -> tuple[str, int]:
        _check_size(payload, self.limit)
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), str):
            raise _bad_request(
                422,
                "Failed to deserialize the JSON body into the target type: missing field "
                "`inputs` (TGI takes {'inputs', 'parameters'})",
            )
        parameters = payload.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise _bad_request(422, "`parameters` must be an object")
        return payload["inputs"], int(parameters.get("max_new_tokens", 20))

    def predict(self, inputs: list[Any]) -> list[Any]:
        texts = self.standin.generate([t for t, _ in inputs], [n for _, n in inputs])
        return [[{"generated_text": text}] for text in texts]
