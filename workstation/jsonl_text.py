"""JSON Lines text as the pipeline writes it: records split on "\\n" only.

``str.splitlines`` also splits on U+2028, U+2029, U+0085, \\x1c-\\x1e, \\v and \\f, which
``json.dumps(..., ensure_ascii=False)`` (the Lambdas' S3LineWriter) leaves raw inside strings: a
rejected record's id or source key holding one of them would be cut in two and fail to parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def jsonl_lines(path: str | Path) -> list[str]:
    """The non-blank lines of a JSON Lines file, split on "\\n" alone."""
    text = Path(path).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line.strip()]


def iter_jsonl_rows(path: str | Path) -> Iterator[Any]:
    """Each record of a JSON Lines file the pipeline wrote, read one line at a time."""
    with open(path, encoding="utf-8", newline="\n") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
