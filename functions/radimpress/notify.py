"""Operators' notifications: one SNS message per run outcome (ids and counts only).

Who sends it: Publish for a run that succeeded (after its commit), RecordFailure for every run
that failed, a partly failed one included (so two failed models make one "failed" notice, not
two). The run's claim records the outcome once it is sent (``claims``), so a retried state does
not send it again; a Lambda killed between the send and that record may send it twice, never zero
times.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from radimpress.errors import RadimpressError, aws_call, error_code

# Pauses between the attempts of ``send``: an outage of a few seconds does not lose a notice.
BACKOFF_SECONDS: tuple[float, ...] = (1.0, 2.0)


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


def send(
    sns: Any,
    topic_arn: str,
    subject: str,
    message: dict[str, Any],
    *,
    backoff: tuple[float, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, str]:
    """``publish`` tried ``len(backoff) + 1`` times; returns (sent, why not).

    For a notice whose run is already committed: failing the state would make a retry or a
    failure path that must not happen, so the caller records the reason instead of raising.
    """
    pauses = BACKOFF_SECONDS if backoff is None else backoff
    why = ""
    for attempt in range(len(pauses) + 1):
        try:
            return publish(sns, topic_arn, subject, message), ""
        except (RadimpressError, ClientError, BotoCoreError) as err:
            own = isinstance(err, RadimpressError)
            why = str(err) if own else f"sns publish: {error_code(err)}"
        if attempt < len(pauses):
            sleep(pauses[attempt])
    return False, why
