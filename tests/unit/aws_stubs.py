"""A boto3 session whose clients botocore's ``Stubber`` answers, for the commands that talk to a
real account (``radimpress preflight``, ``radimpress smoke``).

Each answer is queued per service in the order the command makes its calls, with the request it
must see (``expected``, matched whole: an extra or missing parameter fails the test). botocore
validates every request and every queued response against the service model, and the stub
answers before anything is signed or sent, so no credentials or network are involved.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

REGION = "us-east-1"
ACCOUNT = "123456789012"
_CLIENTS: dict[str, Any] = {}  # making a boto3 client is slow: one per service for the session


def patched_session(monkeypatch: Any, module: Any) -> StubbedAws:
    """``module.make_session`` made to return a new StubbedAws, which is returned."""
    fake = StubbedAws()
    monkeypatch.setattr(module, "make_session", lambda region: fake)
    return fake


class StubbedAws:
    """Stands in for ``boto3.Session``: ``client(service)`` returns the stubbed client."""

    region_name = REGION

    def __init__(self) -> None:
        self.stubbers: dict[str, Stubber] = {}

    def stubber(self, service: str) -> Stubber:
        if service not in self.stubbers:
            if service not in _CLIENTS:
                _CLIENTS[service] = boto3.client(
                    service,
                    region_name=REGION,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
            self.stubbers[service] = Stubber(_CLIENTS[service])
            self.stubbers[service].activate()
        return self.stubbers[service]

    def client(self, service: str, region_name: str | None = None) -> Any:
        return self.stubber(service).client

    def add(
        self, service: str, operation: str, response: dict[str, Any], expected: dict | None
    ) -> None:
        self.stubber(service).add_response(operation, response, expected)

    def error(
        self, service: str, operation: str, code: str, message: str, expected: dict | None
    ) -> None:
        self.stubber(service).add_client_error(
            operation, service_error_code=code, service_message=message, expected_params=expected
        )

    def close(self) -> None:
        """Every queued answer was asked for; the clients are free for the next test."""
        try:
            for stubber in self.stubbers.values():
                stubber.assert_no_pending_responses()
        finally:
            for stubber in self.stubbers.values():
                stubber.deactivate()
