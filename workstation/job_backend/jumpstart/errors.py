"""The two failures a JumpStart container reports, as SageMaker's FailureReason names them."""

from __future__ import annotations

from radimpress_workstation.job_backend.job_record import ContainerError


class AlgorithmError(ContainerError):
    """The training container's script failed (SageMaker's FailureReason says AlgorithmError)."""


class ClientError(ContainerError):
    """The job's input or model was unusable (SageMaker's FailureReason says ClientError)."""
