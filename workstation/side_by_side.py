"""Two independent calls at once: one in a forked child process, one here.

``score`` starts by reading two files (references and predictions) that do not depend on each
other; on a workstation with a second core idle, reading them side by side takes the time of
the larger. The child's result, or its exception, comes back pickled through a pipe. Results and
errors are exactly those of running the two calls one after the other: the first call's
exception wins, as it would have been raised first, and a child that dies without answering has
its call run here instead. Where fork is missing, one CPU is usable or the CPUs are busy (load
average), both calls simply run here in turn.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from radimpress_training.models.helper_process import usable_cpus

First = TypeVar("First")
Second = TypeVar("Second")


def idle_second_cpu() -> bool:
    """Whether a forked child would get a CPU of its own: two or more usable, load below that."""
    if not hasattr(os, "fork"):
        return False
    cpus = usable_cpus()
    if cpus < 2:
        return False
    try:
        return os.getloadavg()[0] < cpus - 0.5
    except OSError:
        return True


def run_side_by_side(
    first: Callable[[], First], second: Callable[[], Second]
) -> tuple[First, Second]:
    """(first(), second()), with ``second`` run in a forked child while ``first`` runs here."""
    import pickle  # only where a child answers (about 2 ms to import)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, then leave without any clean-up of ours
        os.close(read_end)
        try:
            answer = _answer(second)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(answer)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        first_result = first()
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            answer = pipe.read()
        os.waitpid(pid, 0)
    if not answer:  # the child died before answering: its call, here
        return first_result, second()
    failed, value = pickle.loads(answer)
    if failed:
        raise value
    return first_result, value


def _answer(call: Callable[[], Any]) -> bytes:
    """The pickled (failed, result or exception) of ``call``."""
    import pickle

    try:
        return pickle.dumps((False, call()), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as err:  # handed to the parent, which raises it
        try:
            return pickle.dumps((True, err), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that does not pickle: its kind and words
            return pickle.dumps((True, RuntimeError(f"{type(err).__name__}: {err}")))
