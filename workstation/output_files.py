"""Output files of the CLI: checked before any work, written whole or not at all.

A command first calls :func:`check_output_file` for every output it will write, so a directory
or an unwritable place is an error before minutes of work; then it writes through
:func:`atomic_output`, which writes ``.<name>.partial`` beside the target and renames it into
place only when the block ends normally, and removes it on any exception (Ctrl-C included).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class OutputError(ValueError):
    """An output path that cannot be written; ``what`` and ``where`` as the CLI prints them."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{what}, {where}")
        self.what, self.where = what, where


def check_output_file(path: str | Path, option: str = "--output") -> Path:
    """The output as a Path, or OutputError when it names a directory or lies under a file."""
    target = Path(path)
    if str(path).endswith(("/", os.sep)) or target.is_dir():
        raise OutputError(f"{option} must name a file, not a directory", str(path))
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{option} lies under a file, not a directory", str(parent))
            if not os.access(parent, os.W_OK):
                raise OutputError(f"{option}'s folder is not writable", str(parent))
            break
    return target


def partial_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial")


@contextmanager
def atomic_output(path: str | Path) -> Iterator[TextIO]:
    """A text handle whose content replaces ``path`` only if the block ends without an error."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        with partial.open("w", encoding="utf-8") as handle:
            yield handle
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
