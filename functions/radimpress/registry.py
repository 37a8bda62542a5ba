r"""The SageMaker Model Registry as the pipeline uses it: one model package group per stack, one
package version per fine-tune, and "the fine-tuned model" = the newest *Approved* version.

A fine-tune is registered ``PendingManualApproval``; the promotion gate (``steps/promote``) or an
operator (``radimpress models approve``, or the console) approves or rejects it. Nothing else
decides which fine-tuned model inference runs use, so a worse model never serves until someone
or something approved it.

"Newest" means the training that *finished* last (our ``trained_at`` metadata, ties broken by the
training job name), not the version number: two RegisterModel Lambdas may create their versions
in either order. The registry is append-only and the order is a pure function of its contents, so
no compare-and-swap is needed: whichever Lambda reads it sees the same answer.

Facts (SageMaker API reference, CreateModelPackage / UpdateModelPackage /
ModelPackageSummary): ModelApprovalStatus is Approved | Rejected | PendingManualApproval;
CustomerMetadataProperties is a string map (keys 1-128, values 1-256 characters, at most 50
entries, both of pattern ``[\p{L}\p{Z}\p{N}_.:/=+-@]*``: no quotes, commas or braces, so no
JSON; botocore's sagemaker service model, shape CustomerMetadataMap); the group name is 1-63
characters ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``; ListModelPackages pages with NextToken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from radimpress.errors import aws_call

if TYPE_CHECKING:
    from radimpress.spec import ModelSpec

APPROVED = "Approved"
REJECTED = "Rejected"
PENDING = "PendingManualApproval"
STATUSES = (APPROVED, REJECTED, PENDING)

METADATA_KEY_MAX = 128
METADATA_VALUE_MAX = 256
METADATA_ENTRIES_MAX = 50
# How many Approved versions ResolveModels reads (newest created first) to find the newest
# finished training: more than any group holds approved at once in practice, and bounded so a
# long-lived registry costs a few describes, not thousands.
APPROVED_SCAN_LIMIT = 50


def trained_with(spec: ModelSpec) -> dict[str, str]:
    """The metadata a version must carry to serve ``spec``: a fine-tune of another spec or model
    is never the fine-tuned model (ResolveModels, the gate's baseline, the endpoint, the CLI)."""
    return {"spec": spec.name, "model_id": spec.model_id}


def group_name(resource_prefix: str) -> str:
    """The stack's model package group (the template creates it under the same name)."""
    return f"{resource_prefix}-fine-tuned"


# The service model's pattern; Python's re has no \p{..}: \w is letters, digits and "_" (Unicode).
METADATA_TEXT = re.compile(r"^[\w .:/=+\-@]*$")


def metadata_text(value: Any) -> str:
    """One metadata value as text the API accepts: a mapping as ``k=v k=v`` (sorted), a bool as
    true/false, numbers as Python writes them."""
    if isinstance(value, Mapping):
        return " ".join(f"{k}={metadata_text(v)}" for k, v in sorted(value.items()))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_metadata(values: Mapping[str, Any]) -> dict[str, str]:
    """CustomerMetadataProperties from plain values; empty values left out (the API refuses
    empty strings). A value too long or with characters the API refuses is an error of ours,
    so it raises rather than being cut or rewritten."""
    encoded: dict[str, str] = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        text = metadata_text(value)
        if len(key) > METADATA_KEY_MAX or len(text) > METADATA_VALUE_MAX:
            raise ValueError(
                f"model package metadata {key!r}: {len(text)} characters "
                f"(at most {METADATA_VALUE_MAX} per value, {METADATA_KEY_MAX} per key)"
            )
        if not (METADATA_TEXT.match(key) and METADATA_TEXT.match(text)):
            raise ValueError(
                f"model package metadata {key!r}: only letters, digits, spaces and _.:/=+-@"
            )
        encoded[key] = text
    if len(encoded) > METADATA_ENTRIES_MAX:
        raise ValueError(f"model package metadata: {len(encoded)} entries (at most 50)")
    return encoded


@dataclass(frozen=True)
class Package:
    """One package version as the pipeline reads it."""

    arn: str
    version: int
    status: str
    metadata: dict[str, str]
    description: str = ""

    @property
    def order(self) -> tuple[str, str]:
        """Newer finished training sorts higher (then the training job name)."""
        return self.metadata.get("trained_at", ""), self.metadata.get("training_job", "")

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> Package:
        return cls(
            arn=str(described["ModelPackageArn"]),
            version=int(described.get("ModelPackageVersion") or 0),
            status=str(described.get("ModelApprovalStatus") or ""),
            metadata=dict(described.get("CustomerMetadataProperties") or {}),
            description=str(described.get("ApprovalDescription") or ""),
        )


def package_summaries(
    sagemaker: Any, group: str, *, status: str | None = None
) -> Iterator[dict[str, Any]]:
    """ModelPackageSummary entries of ``group``, newest created first, every page."""
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    if status:
        request["ModelApprovalStatus"] = status
    while True:
        with aws_call(f"model package group {group}: list"):
            page = sagemaker.list_model_packages(**request)
        yield from page.get("ModelPackageSummaryList", [])
        token = page.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def describe(sagemaker: Any, arn: str) -> Package:
    with aws_call(f"model package {arn}: describe"):
        return Package.from_description(sagemaker.describe_model_package(ModelPackageName=arn))


def latest_approved(
    sagemaker: Any, group: str, *, matching: Mapping[str, str] | None = None
) -> Package | None:
    """The Approved version whose training finished last, among the newest created ones; with
    ``matching``, only versions whose metadata has those values (e.g. the same spec)."""
    summaries = islice(package_summaries(sagemaker, group, status=APPROVED), APPROVED_SCAN_LIMIT)
    return newest_approved(
        (describe(sagemaker, s["ModelPackageArn"]) for s in summaries), matching=matching
    )


def newest_approved(
    packages: Iterable[Package], *, matching: Mapping[str, str] | None = None
) -> Package | None:
    """:func:`latest_approved`'s choice among ``packages`` (newest created first), for a reader
    that described every version already (``radimpress models list``): one rule, two callers."""
    best: Package | None = None
    approved = (p for p in packages if p.status == APPROVED)  # not: changed since listed
    for package in islice(approved, APPROVED_SCAN_LIMIT):
        if matching and any(package.metadata.get(k) != v for k, v in matching.items()):
            continue
        if best is None or package.order > best.order:
            best = package
    return best


def set_status(
    sagemaker: Any,
    arn: str,
    status: str,
    *,
    description: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Approve / reject / leave pending, with why (ApprovalDescription) and the gate's figures."""
    if status not in STATUSES:
        raise ValueError(f"model approval status {status!r}: one of {', '.join(STATUSES)}")
    request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if description:
        request["ApprovalDescription"] = description[:1024]
    if metadata:
        request["CustomerMetadataProperties"] = encode_metadata(metadata)
    with aws_call(f"model package {arn}: set {status}"):
        sagemaker.update_model_package(**request)
