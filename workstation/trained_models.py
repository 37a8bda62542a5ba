"""The trained models a local run keeps in its run folder, and finding them again.

A run that trains copies each fine-tune's ``model.tar.gz`` out of the embedded bucket (which dies
with the process) into ``<run folder>/models/<label>/``, beside ``model.json``: the training job
as SageMaker described it when it ended, the SageMaker model RegisterModel created from it, the
spec it was trained with and the archive's SHA-256. ``radimpress run --model-from RUN_DIR`` puts
such a model back into a new embedded stack (``model_restore``) and ``radimpress serve --from
RUN_DIR`` serves it (``served_model``), so neither trains again.

The archive holds what the model learned from the training reports (a local model keeps
training impressions to choose from): like every other file of the run, it stays in the run
folder. ``model.json`` holds names, URIs, counts and hashes, never report text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

MODELS_DIR = "models"  # in a run folder: one folder per trained model
MANIFEST = "model.json"
ARCHIVE = "model.tar.gz"
SCHEMA_VERSION = 1
SUMMARY = "summary.json"
INCOMPLETE = "INCOMPLETE.json"
_CHUNK = 1 << 20


class ModelFromError(ValueError):
    """A run folder that cannot give the model asked for; ``where`` names the file or folder
    (the CLI prints ``radimpress <command>: error: <what>, <where>`` and exits 2)."""

    def __init__(self, what: str, where: Path | str) -> None:
        super().__init__(f"{what}, {where}")
        self.what, self.where = what, str(where)


@dataclass(frozen=True)
class SpecIdentity:
    """What makes two specs the same model: id, version and the images that train and serve."""

    name: str
    model_id: str
    model_version: str
    training_image: str
    inference_image: str
    is_local: bool

    @classmethod
    def of(cls, spec: Any) -> SpecIdentity:
        return cls(
            name=str(spec.name),
            model_id=str(spec.model_id),
            model_version=str(spec.model_version),
            training_image=str(spec.training.get("image_uri", "")),
            inference_image=str(spec.inference.get("image_uri", "")),
            is_local=bool(spec.is_local),
        )

    @classmethod
    def from_raw(cls, name: str, raw: Mapping[str, Any], is_local: bool) -> SpecIdentity:
        """The identity of a spec's JSON (a local model's spec as it is generated now)."""
        return cls(
            name=name,
            model_id=str(raw["model_id"]),
            model_version=str(raw["model_version"]),
            training_image=str(raw["training"]["image_uri"]),
            inference_image=str(raw["inference"]["image_uri"]),
            is_local=is_local,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SpecIdentity:
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})

    def same_model(self, other: SpecIdentity) -> bool:
        """The same model, whatever the spec is called (a name, or a path to a copy)."""
        return (self.model_id, self.model_version, self.training_image) == (
            other.model_id,
            other.model_version,
            other.training_image,
        )

    def describe(self) -> str:
        return f"{_spec_label(self.name)} ({self.model_id} {self.model_version})"


def _spec_label(name: str) -> str:
    """A spec's name as a person reads it: a path's file stem, else the name."""
    return Path(name).stem if name.endswith(".json") else name


@dataclass(frozen=True)
class KeptModel:
    """One trained model kept in a run folder: ``folder`` holds model.json and model.tar.gz."""

    folder: Path
    record: dict[str, Any]

    @property
    def label(self) -> str:
        return str(self.record["label"])

    @property
    def run_folder(self) -> Path:
        return self.folder.parent.parent

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def training_run_id(self) -> str:
        """The training execution's name: the ``run_id`` RegisterModel registered it under."""
        return str(self.record["training_run_id"])

    @property
    def dataset(self) -> str:
        return str(self.record["dataset"])

    @property
    def local_model(self) -> str | None:
        model = self.record.get("local_model")
        return str(model) if model else None

    @property
    def spec(self) -> SpecIdentity:
        return SpecIdentity.from_record(self.record["spec"])

    @property
    def spec_reference(self) -> str:
        return str(self.record["spec"]["reference"])

    @property
    def training_job(self) -> dict[str, Any]:
        """DescribeTrainingJob of the job that trained it, as it ended (times as ISO text)."""
        return dict(self.record["training_job"])

    @property
    def job_name(self) -> str:
        return str(self.record["training_job"]["TrainingJobName"])

    @property
    def model_request(self) -> dict[str, Any]:
        """DescribeModel of the SageMaker model RegisterModel created (its PrimaryContainer)."""
        return dict(self.record["model"])

    @property
    def archive(self) -> Path:
        return self.folder / str(self.record["archive"]["file"])

    def describe(self) -> str:
        """``fine-tuned (select) of run <id> (training job <job>)``: what is being reused."""
        return f"fine-tuned ({self.label}) of run {self.run_id} (training job {self.job_name})"

    def check_archive(self) -> None:
        """The archive is there and is the one kept (its SHA-256), or ModelFromError."""
        if not self.archive.is_file():
            raise ModelFromError("the trained model's archive is missing", self.archive)
        expected = str(self.record["archive"]["sha256"])
        if _sha256(self.archive) != expected:
            raise ModelFromError(
                "the trained model's archive changed since the run kept it (SHA-256 differs "
                f"from {MANIFEST})",
                self.archive,
            )

    @contextmanager
    def extracted(self, root: Path) -> Iterator[Path]:
        """The archive extracted under ``root`` (as SageMaker extracts it into /opt/ml/model),
        removed when the block ends."""
        import shutil
        import tempfile

        root.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix=f"radimpress-serve-{self.label}-", dir=root))
        try:
            try:
                with tarfile.open(self.archive, "r:gz") as tar:
                    tar.extractall(target, filter="data")
            except (tarfile.TarError, OSError):
                raise ModelFromError("not a readable model.tar.gz", self.archive) from None
            yield target
        finally:
            shutil.rmtree(target, ignore_errors=True)
            with contextlib.suppress(OSError):  # another server's folder is there, or it is gone
                root.rmdir()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def json_safe(value: Any) -> Any:
    """A boto3 response as JSON: datetimes as ISO-8601 text, the rest as it is."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def model_label(model: str, spec_reference: str | None) -> str:
    """The folder a run's model is kept in: the local model's name, or the spec's stem."""
    return _spec_label(spec_reference) if spec_reference else model


def keep_trained_model(
    s3: Any,
    *,
    out_dir: Path,
    label: str,
    spec: Any,
    spec_reference: str,
    training_job: Mapping[str, Any],
    model: Mapping[str, Any],
    run_id: str,
    training_run_id: str,
    dataset: str,
) -> KeptModel:
    """Copy a fine-tune's archive (``training_job``'s ModelArtifacts, read with ``s3``) into
    ``<out_dir>/models/<label>/`` and write its model.json beside it; written whole (a
    ``.partial`` renamed into place) or not at all."""
    from radimpress_workstation.job_backend.api_checks import split_s3_uri

    artifact = str(training_job.get("ModelArtifacts", {}).get("S3ModelArtifacts", ""))
    bucket, key = split_s3_uri(artifact, "ModelArtifacts.S3ModelArtifacts", "keep")
    folder = out_dir / MODELS_DIR / label
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / ARCHIVE
    partial = folder / f".{ARCHIVE}.partial"
    digest, size = hashlib.sha256(), 0
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with partial.open("wb") as handle:
            for chunk in iter(lambda: body.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    identity = SpecIdentity.of(spec)
    record = {
        "schema_version": SCHEMA_VERSION,
        "kept_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "label": label,
        "run_id": run_id,
        "training_run_id": training_run_id,
        "dataset": dataset,
        "local_model": _local_model(identity),
        "spec": {"reference": spec_reference, **identity.__dict__},
        "training_job": json_safe(training_job),
        "model": json_safe(model),
        "archive": {
            "file": ARCHIVE,
            "sha256": digest.hexdigest(),
            "bytes": size,
            "source": artifact,
        },
    }
    manifest = folder / MANIFEST
    manifest_partial = folder / f".{MANIFEST}.partial"
    manifest_partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    manifest_partial.replace(manifest)
    return KeptModel(folder, record)


def _local_model(identity: SpecIdentity) -> str | None:
    """The local model a local spec trains (``radimpress-local/<model>``), else None."""
    from radimpress.spec import LOCAL_IMAGE_PREFIX

    image = identity.training_image
    return image[len(LOCAL_IMAGE_PREFIX) :] if image.startswith(LOCAL_IMAGE_PREFIX) else None


# ----- finding them again ----------------------------------------------------------------------


def kept_models(run_dir: Path) -> list[KeptModel]:
    """Every model kept in the run folder ``run_dir``, or ModelFromError saying why there is
    none (not a run folder, a run that trained nothing, a run that reused another's model)."""
    if not run_dir.is_dir():
        what = "not a folder" if run_dir.exists() else "no such folder"
        raise ModelFromError(f"{what} (a run folder, out/<run id>, is expected)", run_dir)
    summary = _summary(run_dir)
    if summary is None and not (run_dir / INCOMPLETE).is_file():
        raise ModelFromError(
            f"not a run folder (no {SUMMARY} or {INCOMPLETE}; a run folder is out/<run id>)",
            run_dir,
        )
    manifests = sorted((run_dir / MODELS_DIR).glob(f"*/{MANIFEST}"))
    if not manifests:
        raise ModelFromError(_why_no_model(summary), run_dir)
    return [_load(path) for path in manifests]


def _summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / SUMMARY
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelFromError(f"{SUMMARY} is not readable JSON", path) from None
    return summary if isinstance(summary, dict) else None


def _why_no_model(summary: Mapping[str, Any] | None) -> str:
    reused = (summary or {}).get("model_from")
    if isinstance(reused, Mapping) and reused.get("run_dir"):
        return (
            "has no trained model of its own: it reused the model of run "
            f"{reused.get('run_id')} ({reused.get('run_dir')}); use that folder"
        )
    if summary is not None and summary.get("training") is None:
        return "has no trained model: the run had no --train file"
    return (
        f"has no trained model ({MODELS_DIR}/*/{MANIFEST}: the run trained nothing that "
        "finished, or it ran before runs kept their models); run again with --train"
    )


_REQUIRED = ("label", "run_id", "training_run_id", "dataset", "spec", "training_job", "model",
             "archive")  # fmt: skip
_SECTIONS = {
    "spec": ("reference", *SpecIdentity.__dataclass_fields__),
    "training_job": ("TrainingJobName", "ModelArtifacts"),
    "model": ("PrimaryContainer",),
    "archive": ("file", "sha256"),
}


def _load(path: Path) -> KeptModel:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelFromError("not readable JSON", path) from None
    if not isinstance(record, dict):
        raise ModelFromError("not a JSON object", path)
    if record.get("schema_version") != SCHEMA_VERSION:
        raise ModelFromError(
            f"field 'schema_version' is {record.get('schema_version')!r}, not {SCHEMA_VERSION}",
            path,
        )
    for name in _REQUIRED:
        if name not in record:
            raise ModelFromError(f"field {name!r} is missing", path)
    for section, fields in _SECTIONS.items():
        value = record[section]
        if not isinstance(value, dict):
            raise ModelFromError(f"field {section!r} is not an object", path)
        for name in fields:
            if name not in value:
                raise ModelFromError(f"field '{section}.{name}' is missing", path)
    return KeptModel(path.parent, record)


def choose(
    kept: Sequence[KeptModel], *, models: Sequence[str] | None, spec: Any | None
) -> list[KeptModel]:
    """The kept models a run asked for: those trained with ``spec`` (a loaded ModelSpec), or
    the local ``models``, or all of them; ModelFromError when one asked for is not there."""
    where = kept[0].run_folder
    if spec is not None:
        asked = SpecIdentity.of(spec)
        matching = [k for k in kept if k.spec.same_model(asked)]
        if not matching:
            trained = ", ".join(sorted({k.spec.describe() for k in kept}))
            raise ModelFromError(
                f"its model was trained with {trained}, not with --spec {asked.describe()}",
                where,
            )
        return matching
    if not models:
        return list(kept)
    chosen = []
    for model in dict.fromkeys(models):
        found = [k for k in kept if k.local_model == model]
        if not found:
            trained = ", ".join(k.spec.describe() for k in kept)
            raise ModelFromError(
                f"it holds no trained {model!r} model (its model(s): {trained}); leave out "
                "--model to reuse them, or name one of them",
                where,
            )
        chosen.extend(found)
    return chosen
