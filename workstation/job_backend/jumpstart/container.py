"""The JumpStart container the local backend registers: found by its image URI, bound to the
request that runs it, then the service's checks, training and serving of that image."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from radimpress_workstation.job_backend.api_checks import REGION
from radimpress_workstation.job_backend.containers import Container
from radimpress_workstation.job_backend.jumpstart import requests, serving, training
from radimpress_workstation.job_backend.jumpstart.metadata import DLC_ACCOUNT

_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9._/-]+):(?P<tag>[\w.-]+)$"
)


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
        requests.check_image(bound.image, bound.image_region, bound.region, operation)
        if operation == "CreateTrainingJob":
            requests.check_training_request(bound.region, request, s3_factory)
        elif operation == "CreateModel":
            requests.check_model_request(bound.image, bound.region, request, s3_factory)
        return bound

    def check_model(self, primary_container: Mapping[str, Any], operation: str) -> None:
        requests.check_primary_container(self.image, primary_container, operation)

    def train(self, env: Mapping[str, str]) -> None:
        request = self.requests.get("CreateTrainingJob", {})
        training.train(self.image, self.region, request, env)

    def serve(self, model_dir: Path | None) -> Any:
        return serving.serve(self.image, self.repository, self.region, self.requests, model_dir)
