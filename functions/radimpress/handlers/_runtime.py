"""What every Lambda handler shares: powertools logging, tracing and metrics, and event parsing.

``@lambda_handler(EventModel)`` turns ``def handler(request: EventModel) -> dict`` into the Lambda
entry point ``handler(event, context)``: the Lambda context is injected into the logs (with state
cleared between invocations), the invocation is traced, metrics are flushed as EMF with the cold
start metric, and the event is parsed into ``EventModel`` (a ValidationError fails the invocation).
The service name and metrics namespace come from the environment (POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE in template.yaml's Globals). One Logger, Tracer and Metrics serve all
handlers: powertools shares their state per service anyway, and a Lambda runs one handler.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Event = TypeVar("Event", bound=BaseModel)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def lambda_handler(model: type[Event]) -> Callable[[Callable[[Event], dict[str, Any]]], Handler]:
    """Decorate ``handler(request)`` into a Lambda entry point parsing its event as ``model``."""

    def decorate(body: Callable[[Event], dict[str, Any]]) -> Handler:
        @logger.inject_lambda_context(clear_state=True)
        @tracer.capture_lambda_handler
        @metrics.log_metrics(capture_cold_start_metric=True)
        @functools.wraps(body)
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            return body(parse(event=event, model=model))

        return handler

    return decorate
