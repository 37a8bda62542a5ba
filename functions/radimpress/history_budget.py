"""How long the Map's jobs may be waited for, so an execution stays under Step Functions'
25,000 history events whatever the number of models.

Each model polls its job in its own loop (TransformStatus, TransformDone, NextTransformWait,
WaitForTransform: at most 20 events a check, every Retry of the Task exhausted), and the n-th
wait is n x poll_seconds (the linear back-off), so a job that runs for ``max_wait`` seconds costs
about sqrt(2 x max_wait / poll) checks. Two models fit at the template's extremes (1 s poll, 48 h
wait); a third (a Bedrock model beside the pre-trained and fine-tuned ones) does not, so
ResolveModels lowers the run's wait bound to the longest the models' loops fit in.
tests/unit/test_history_budget_bedrock.py checks these figures against the state machine itself.
"""

from __future__ import annotations

HISTORY_LIMIT = 25_000
EVENTS_PER_CHECK = 20  # Task 5 + 3 retries x 3, Choice 2, Pass 2, Wait 2
RESERVED_EVENTS = 600  # the rest of an inference execution, each Map iteration's other states


def checks(poll_seconds: int, max_wait_seconds: int) -> int:
    """Status checks of a job that never ends: at t=0, then after waits of poll, 2 x poll, ...
    until one sees more than ``max_wait_seconds`` elapsed (that one stops the job)."""
    n = 0
    while poll_seconds * n * (n + 1) // 2 <= max_wait_seconds:
        n += 1
    return n + 1


def map_wait_bound(models: int, poll_seconds: int, max_wait_seconds: int) -> int:
    """The longest wait (at most ``max_wait_seconds``) whose poll loops, one per model, fit in
    the history left after ``RESERVED_EVENTS``."""
    if models < 1 or poll_seconds < 1:
        return max_wait_seconds
    budget = (HISTORY_LIMIT - RESERVED_EVENTS) // (models * EVENTS_PER_CHECK)
    if checks(poll_seconds, max_wait_seconds) <= budget:
        return max_wait_seconds
    # checks(w) <= budget  <=>  poll * (budget - 2) * (budget - 1) / 2 > w
    return max(1, min(max_wait_seconds, poll_seconds * (budget - 2) * (budget - 1) // 2 - 1))
