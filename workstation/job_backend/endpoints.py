"""Real-time endpoints, answered as SageMaker answers them (moto's endpoints need moto's models,
and ours live in the local job backend).

The contract this double enforces, from the SageMaker API reference:
- CreateEndpointConfig: the model must exist ("Could not find model"); a second config of the same
  name is refused ("Cannot create already existing endpoint configuration").
- CreateEndpoint: status Creating, then InService; a second endpoint of the same name is refused.
- UpdateEndpoint: only an InService endpoint ("Cannot update in-progress endpoint"); Updating, then
  InService on the new config.
- DeleteEndpointConfig: not while an endpoint uses it or is being created or updated with it.
- DescribeEndpoint of a missing endpoint: ValidationException "Could not find endpoint".
Status changes complete after ``settle_seconds`` (0: at the next describe), so callers that poll
see the intermediate states. Every call is authorized as the caller's role first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from radimpress_workstation.embedded.aws_authorization import require_sagemaker_call
from radimpress_workstation.job_backend.api_checks import arn, check_request, validation_error


def _no_config(operation: str, name: str) -> Exception:
    return validation_error(
        operation, f'Could not find endpoint configuration "{arn("endpoint-config", name)}".'
    )


class EndpointsDouble:
    def __init__(self, model_exists: Callable[[str], bool], settle_seconds: float = 0.0) -> None:
        self._model_exists = model_exists
        self._settle = settle_seconds
        self._lock = threading.Lock()
        self._configs: dict[str, dict[str, Any]] = {}
        self._endpoints: dict[str, dict[str, Any]] = {}

    # -- configs ---------------------------------------------------------------------------

    def create_endpoint_config(self, **request: Any) -> dict[str, Any]:
        operation = "CreateEndpointConfig"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        name = request["EndpointConfigName"]
        for variant in request["ProductionVariants"]:
            model = variant.get("ModelName", "")
            if not self._model_exists(model):
                raise validation_error(operation, f'Could not find model "{arn("model", model)}".')
        with self._lock:
            if name in self._configs:
                raise validation_error(
                    operation,
                    "Cannot create already existing endpoint configuration "
                    f'"{arn("endpoint-config", name)}".',
                )
            self._configs[name] = {**request, "CreationTime": datetime.now(UTC)}
        return {"EndpointConfigArn": arn("endpoint-config", name)}

    def describe_endpoint_config(self, *, EndpointConfigName: str) -> dict[str, Any]:
        operation = "DescribeEndpointConfig"
        require_sagemaker_call(operation, {"EndpointConfigName": EndpointConfigName})
        with self._lock:
            config = self._configs.get(EndpointConfigName)
        if config is None:
            raise _no_config(operation, EndpointConfigName)
        return {**config, "EndpointConfigArn": arn("endpoint-config", EndpointConfigName)}

    def list_endpoint_configs(self, **request: Any) -> dict[str, Any]:
        operation = "ListEndpointConfigs"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        contains = request.get("NameContains", "")
        with self._lock:
            names = sorted(n for n in self._configs if contains in n)
        return {
            "EndpointConfigs": [
                {
                    "EndpointConfigName": n,
                    "EndpointConfigArn": arn("endpoint-config", n),
                    "CreationTime": self._configs[n]["CreationTime"],
                }
                for n in names
            ]
        }

    def delete_endpoint_config(self, *, EndpointConfigName: str) -> dict[str, Any]:
        operation = "DeleteEndpointConfig"
        require_sagemaker_call(operation, {"EndpointConfigName": EndpointConfigName})
        with self._lock:
            self._settle_all()
            if EndpointConfigName not in self._configs:
                raise _no_config(operation, EndpointConfigName)
            for name, endpoint in self._endpoints.items():
                if EndpointConfigName in (endpoint["EndpointConfigName"], endpoint.get("_next")):
                    raise validation_error(
                        operation, f"endpoint config {EndpointConfigName} is in use by {name}"
                    )
            del self._configs[EndpointConfigName]
        return {}

    # -- endpoints -------------------------------------------------------------------------

    def create_endpoint(self, **request: Any) -> dict[str, Any]:
        operation = "CreateEndpoint"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        name, config = request["EndpointName"], request["EndpointConfigName"]
        with self._lock:
            if config not in self._configs:
                raise _no_config(operation, config)
            if name in self._endpoints:
                raise validation_error(
                    operation, f'Cannot create already existing endpoint "{arn("endpoint", name)}".'
                )
            now = datetime.now(UTC)
            self._endpoints[name] = {
                "EndpointName": name,
                "EndpointConfigName": config,
                "EndpointStatus": "Creating",
                "CreationTime": now,
                "LastModifiedTime": now,
                "_until": time.monotonic() + self._settle,
            }
        return {"EndpointArn": arn("endpoint", name)}

    def update_endpoint(self, **request: Any) -> dict[str, Any]:
        operation = "UpdateEndpoint"
        check_request(operation, request)
        require_sagemaker_call(operation, request)
        name, config = request["EndpointName"], request["EndpointConfigName"]
        with self._lock:
            self._settle_all()
            endpoint = self._endpoints.get(name)
            if endpoint is None:
                raise validation_error(
                    operation, f'Could not find endpoint "{arn("endpoint", name)}".'
                )
            if config not in self._configs:
                raise _no_config(operation, config)
            if endpoint["EndpointStatus"] != "InService":
                raise validation_error(
                    operation,
                    f'Cannot update in-progress endpoint "{arn("endpoint", name)}".',
                )
            endpoint.update(
                EndpointStatus="Updating",
                _next=config,
                _until=time.monotonic() + self._settle,
                LastModifiedTime=datetime.now(UTC),
            )
        return {"EndpointArn": arn("endpoint", name)}

    def describe_endpoint(self, *, EndpointName: str) -> dict[str, Any]:
        operation = "DescribeEndpoint"
        require_sagemaker_call(operation, {"EndpointName": EndpointName})
        with self._lock:
            self._settle_all()
            endpoint = self._endpoints.get(EndpointName)
            if endpoint is None:
                raise validation_error(
                    operation, f'Could not find endpoint "{arn("endpoint", EndpointName)}".'
                )
            answer = {k: v for k, v in endpoint.items() if not k.startswith("_")}
        return {**answer, "EndpointArn": arn("endpoint", EndpointName)}

    def _settle_all(self) -> None:
        """Creating/Updating endpoints whose time has come are InService (on the new config)."""
        now = time.monotonic()
        for endpoint in self._endpoints.values():
            if endpoint["EndpointStatus"] in ("Creating", "Updating") and now >= endpoint["_until"]:
                endpoint["EndpointConfigName"] = endpoint.pop(
                    "_next", endpoint["EndpointConfigName"]
                )
                endpoint["EndpointStatus"] = "InService"
