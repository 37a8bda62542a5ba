"""How the end-to-end tests start a CLI they will interrupt: as a terminal would.

A shell's background job (``make test &``) hands its children SIGINT ignored, and Python keeps an
ignored SIGINT ignored: a Ctrl-C test run that way sent its signal to a process that could not
see it, and failed for a reason that is not the code's.
"""

from __future__ import annotations

import signal


def sigint_as_a_terminal_gives_it() -> None:
    """``Popen(preexec_fn=...)``: the child starts with SIGINT's default action."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
