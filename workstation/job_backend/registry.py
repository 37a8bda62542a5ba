"""The SageMaker Model Registry calls the Lambdas make, answered as SageMaker answers them.

Packages live in moto's SageMaker backend (so ``boto3.client("sagemaker")`` against the embedded
stack, e.g. ``radimpress models``, sees them), but moto departs from the service where it matters
to us, and this double puts the service's contract in front of it:

- **Versions under concurrency.** The caller is authorized on the ARN the new version will have
  (``model-package/<group>/<version>``), so the version is worked out before the create: creates
  are serialized here, and a version moto numbers differently is a bug of this double (raised).
- **ClientToken.** CreateModelPackage's ClientToken "guarantees that the call to this API is
  idempotent" (API reference); moto stores it and creates a second version anyway. A repeated
  token returns the first version's ARN here.
- **UpdateModelPackage changes only what it is given** (every field but the ARN is optional in
  the API reference); moto resets ModelApprovalStatus, ApprovalDescription and
  CustomerMetadataProperties to None when they are left out. Here absent fields keep their value
  and CustomerMetadataProperties are merged key by key (removal is
  CustomerMetadataPropertiesToRemove).
- **Input limits botocore does not check client-side**: CustomerMetadataProperties keys 1-128 and
  values 1-256 characters of ``[\\p{L}\\p{Z}\\p{N}_.:/=+-@]``, at most 50 entries;
  ApprovalDescription at most 1,024 (botocore's sagemaker service model, shapes
  CustomerMetadataMap and ApprovalDescription).

Every call is authorized as the calling function's role first (``require_sagemaker_call``).
A status change is reported to ``on_change`` (the embedded stack turns it into EventBridge's
"SageMaker Model Package State Change" event).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from radimpress_workstation.embedded.aws_authorization import require_sagemaker_call
from radimpress_workstation.job_backend.api_checks import arn, check_request, validation_error

# Python's re has no \p{..}; \w covers letters, digits and "_" (Unicode), " " the separators.
_METADATA = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_METADATA_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_METADATA_ENTRIES = 50
_DESCRIPTION_MAX = 1024

PackageChange = Callable[[dict[str, Any]], None]
# Who hears of every status change besides a double's own ``on_change``: the running embedded
# stack, which sends EventBridge's "SageMaker Model Package State Change" event to its rules.
CHANGE_LISTENERS: list[PackageChange] = []


def _check_metadata(operation: str, metadata: Mapping[str, Any] | None) -> None:
    if not metadata:
        return
    if len(metadata) > _METADATA_ENTRIES:
        raise validation_error(
            operation, f"CustomerMetadataProperties: {len(metadata)} entries (at most 50)"
        )
    for key, value in metadata.items():
        if not _METADATA_KEY.match(str(key)) or not _METADATA.match(str(value)):
            raise validation_error(
                operation,
                f"CustomerMetadataProperties {key!r}: must match "
                r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*), keys 1-128 and values 1-256 characters",
            )


class ModelRegistryDouble:
    """CreateModelPackage / DescribeModelPackage / ListModelPackages / UpdateModelPackage."""

    def __init__(self, sagemaker_factory: Callable[[], Any]) -> None:
        self._sagemaker = sagemaker_factory
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self.on_change: PackageChange | None = None

    def create_model_package(self, **request: Any) -> dict[str, Any]:
        operation = "CreateModelPackage"
        check_request(operation, request)
        _check_metadata(operation, request.get("CustomerMetadataProperties"))
        group = str(request.get("ModelPackageGroupName") or "")
        if not group:
            raise validation_error(operation, "ModelPackageGroupName is required locally")
        with self._lock:
            token = request.get("ClientToken")
            if token and token in self._tokens:
                return {"ModelPackageArn": self._tokens[token]}
            version = self._next_version(group)
            package_arn = arn("model-package", f"{group.lower()}/{version}")
            require_sagemaker_call(operation, {**request, "ModelPackageArn": package_arn})
            try:
                created = self._sagemaker().create_model_package(**request)["ModelPackageArn"]
            except ClientError as err:
                raise validation_error(operation, str(err)) from None
            if created != package_arn:
                raise RuntimeError(f"registry double: authorized {package_arn}, created {created}")
            if token:
                self._tokens[token] = created
        self._changed(created)
        return {"ModelPackageArn": created}

    def _next_version(self, group: str) -> int:
        summaries = self._list({"ModelPackageGroupName": group})
        return 1 + max((int(s.get("ModelPackageVersion") or 0) for s in summaries), default=0)

    def _list(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self._sagemaker().list_model_packages(**request)
            found += page.get("ModelPackageSummaryList", [])
            if not page.get("NextToken"):
                return found
            request = {**request, "NextToken": page["NextToken"]}

    def describe_model_package(self, *, ModelPackageName: str) -> dict[str, Any]:
        operation = "DescribeModelPackage"
        require_sagemaker_call(operation, {"ModelPackageArn": ModelPackageName})
        try:
            return dict(self._sagemaker().describe_model_package(ModelPackageName=ModelPackageName))
        except ClientError as err:
            raise validation_error(operation, str(err)) from None

    def list_model_packages(self, **request: Any) -> dict[str, Any]:
        operation = "ListModelPackages"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        return dict(self._sagemaker().list_model_packages(**request))

    def update_model_package(self, **request: Any) -> dict[str, Any]:
        operation = "UpdateModelPackage"
        check_request(operation, request)
        _check_metadata(operation, request.get("CustomerMetadataProperties"))
        if len(str(request.get("ApprovalDescription", ""))) > _DESCRIPTION_MAX:
            raise validation_error(operation, "ApprovalDescription: at most 1024 characters")
        package_arn = request["ModelPackageArn"]
        require_sagemaker_call(operation, request)
        with self._lock:
            try:
                current = self._sagemaker().describe_model_package(ModelPackageName=package_arn)
            except ClientError as err:
                raise validation_error(operation, str(err)) from None
            metadata = dict(current.get("CustomerMetadataProperties") or {})
            metadata.update(request.get("CustomerMetadataProperties") or {})
            for key in request.get("CustomerMetadataPropertiesToRemove") or ():
                metadata.pop(key, None)
            merged = {
                "ModelPackageArn": package_arn,
                "ModelApprovalStatus": request.get("ModelApprovalStatus")
                or current.get("ModelApprovalStatus"),
                "ApprovalDescription": request.get("ApprovalDescription")
                or current.get("ApprovalDescription"),
                "CustomerMetadataProperties": metadata,
            }
            self._sagemaker().update_model_package(**{k: v for k, v in merged.items() if v})
        if request.get("ModelApprovalStatus") not in (None, current.get("ModelApprovalStatus")):
            self._changed(package_arn)
        return {"ModelPackageArn": package_arn}

    def _changed(self, package_arn: str) -> None:
        listeners = [self.on_change, *CHANGE_LISTENERS]
        if not any(listeners):
            return
        package = self._sagemaker().describe_model_package(ModelPackageName=package_arn)
        for listener in listeners:
            if listener is not None:
                listener(package)


REGISTRY_CALLS = frozenset(
    {
        "create_model_package",
        "describe_model_package",
        "list_model_packages",
        "update_model_package",
    }
)


class WithRegistryDouble:
    """A SageMaker client (moto's) whose Model Registry calls go through the double: for tests
    that hand the Lambdas moto's client instead of the local job backend."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.registry = ModelRegistryDouble(lambda: client)

    def __getattr__(self, name: str) -> Any:
        if name in REGISTRY_CALLS:
            return getattr(self.registry, name)
        return getattr(self._client, name)
