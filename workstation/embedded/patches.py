"""Patching moto's internals and putting them back: one counted set of attribute patches.

Several embedded stacks (and tests) may install the same patches in turn, so installs are counted
and only the last ``uninstall`` restores moto. The originals are taken from the owner's
``__dict__``, so a property or a function stored on a class comes back exactly as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

Patch = tuple[Any, str, Any]  # (owner: module or class, attribute, replacement)


class CountedPatches:
    """Attribute patches applied by the first ``install`` and undone by the last ``uninstall``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.installs = 0
        self._saved: list[Patch] = []  # (owner, attribute, moto's original)

    def install(self, patches: Callable[[], Iterable[Patch]]) -> None:
        """Apply what ``patches()`` lists, unless already installed (then only count)."""
        with self.lock:
            if self.installs == 0:
                for owner, name, replacement in patches():
                    self._saved.append((owner, name, owner.__dict__[name]))
                    setattr(owner, name, replacement)
            self.installs += 1

    def uninstall(self) -> bool:
        """Count one uninstall; True when this one restored the originals."""
        with self.lock:
            if self.installs == 0:
                return False
            self.installs -= 1
            if self.installs:
                return False
            for owner, name, original in reversed(self._saved):
                setattr(owner, name, original)
            self._saved.clear()
            return True
