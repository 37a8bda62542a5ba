"""Operators' notifications: one SNS message per run outcome (ids and counts only)."""

from __future__ import annotations

import json
from typing import Any

from radimpress.errors import aws_call


def publish(sns: Any, topic_arn: str, subject: str, message: dict[str, Any]) -> bool:
    """Send ``message`` (JSON) to the run-outcome topic; False when no topic is configured."""
    if not topic_arn:
        return False
    with aws_call("sns publish"):
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject[:100],
            Message=json.dumps(message, indent=1, sort_keys=True),
        )
    return True
