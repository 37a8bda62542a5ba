"""The report's HTML table, one implementation for every section (report.py and its lineage
section, which report.py imports and so cannot import it back)."""

from __future__ import annotations

from collections.abc import Sequence

_PHONE = {"stack": "stack", "inline": "stack inline", "compact": "compact"}


def table(
    head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "", phone: str = "stack"
) -> str:
    """A table inside its own horizontally scrolling box, so a wide table never widens the page.

    Below 600 px (``phone``): "stack" makes each row a card, a line per cell with its column
    name (``data-label``); "inline" a card whose labelled cells flow like words (long tables);
    "compact" keeps the table, in smaller type (narrow tables of numbers)."""
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    body = "".join(
        "<tr>"
        + "".join(f'<td data-label="{h}">{c}</td>' for h, c in zip(head, r, strict=True))
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="scroll"><table class="{_PHONE[phone]} {cls}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )
