"""What SageMaker refuses at create time for a JumpStart image: image and artifact regions,
images no JumpStart version publishes, network isolation wherever the metadata turns it on.

Each check raises ``ValidationException`` as the service does; the artifacts a request names in
``jumpstart-cache-prod-<region>`` are seeded into moto's S3 on the way (``seed_cache``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from radimpress_workstation.job_backend.api_checks import validation_error
from radimpress_workstation.job_backend.jumpstart.artifacts import CACHE_URI, seed_cache
from radimpress_workstation.job_backend.jumpstart.metadata import (
    JumpStartVersion,
    catalog,
    section_images,
)


def check_image(image: str, image_region: str, region: str, operation: str) -> None:
    if image_region != region:
        raise validation_error(
            operation,
            f"Image {image} is in region {image_region}; SageMaker pulls images "
            f"only from the job's region ({region}). Use the spec's image for "
            f"{region} (ModelSpec.for_region)",
        )
    section = "training" if operation == "CreateTrainingJob" else "hosting"
    if image not in section_images(catalog(), section, region):
        raise validation_error(
            operation,
            f"Requested image {image} not found: no JumpStart version publishes it as "
            f"a {section} image in {region}",
        )


def _cache_uri_region(uri: str, what: str, operation: str, region: str) -> None:
    match = CACHE_URI.match(uri)
    if match is not None and match["region"] != region:
        raise validation_error(
            operation,
            f"{what} {uri} is in region {match['region']}; the job runs in {region} "
            "(JumpStart artifacts are read from the job's region's jumpstart-cache-prod)",
        )


def check_training_request(
    region: str, request: Mapping[str, Any], s3_factory: Callable[[], Any]
) -> None:
    operation = "CreateTrainingJob"
    versions = training_versions(request)
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
        _cache_uri_region(uri, f"channel {channel.get('ChannelName')!r}", operation, region)
        seed_cache(s3_factory(), uri)


def training_versions(request: Mapping[str, Any]) -> list[JumpStartVersion]:
    """The versions whose training script the request's ``code`` channel is."""
    code = channel_key(request, "code")
    return [v for v in catalog() if code in v.training_scripts] if code else []


def channel_key(request: Mapping[str, Any], name: str) -> str:
    """The jumpstart-cache-prod key (else the S3 URI) of the request's channel ``name``."""
    for channel in request.get("InputDataConfig", []):
        if channel.get("ChannelName") == name:
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
            match = CACHE_URI.match(uri)
            return match["key"] if match else uri
    return ""


def hosting_versions(image: str, region: str, model_data_url: str) -> list[JumpStartVersion]:
    """Versions whose artifact this is; for a fine-tune, those served by this image."""
    match = CACHE_URI.match(model_data_url or "")
    if match is not None:
        return [v for v in catalog() if match["key"] in v.hosting_artifacts]
    return [v for v in catalog() if image in section_images([v], "hosting", region)]


def check_model_request(
    image: str, region: str, request: Mapping[str, Any], s3_factory: Callable[[], Any]
) -> None:
    operation = "CreateModel"
    url = str(request.get("PrimaryContainer", {}).get("ModelDataUrl", ""))
    _cache_uri_region(url, "ModelDataUrl", operation, region)
    versions = hosting_versions(image, region, url)
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


def check_primary_container(
    image: str, primary_container: Mapping[str, Any], operation: str
) -> None:
    """What CreateTransformJob refuses of the model's primary container for this image."""
    if "ModelDataSource" in primary_container:
        return  # CreateTransformJob refuses it, as SageMaker does
    if not primary_container.get("ModelDataUrl") and "HF_MODEL_ID" not in (
        primary_container.get("Environment") or {}
    ):
        raise validation_error(
            operation,
            f"{image} serves a model from ModelDataUrl (or HF_MODEL_ID); neither is set",
        )
