"""Longest common subsequence with bit-parallel rows in Python integers.

rouge-score fills the full (m+1) x (n+1) LCS table in pure Python. Here one row of that table is a
single integer: with the Allison-Dix / Hyyrö recurrence ``V' = (V + (V & M[a])) | (V & ~M[a])``
(``M[a]`` has bit j set where ``b[j] == a``), the table entry is
``t[i][j] = j - popcount(V_i & (2**j - 1))``. A row then costs a few big-int operations instead of n
Python steps. For rougeLsum the rows are kept so the traceback can read any table entry and take
exactly the path rouge-score's ``_backtrack_norec`` takes (ties go up, i.e. ``i -= 1``, unless the
entry to the left is strictly larger), which decides which tokens union-LCS counts.
"""

from __future__ import annotations

from collections.abc import Sequence

Masks = dict[str, int]


_BITS = [1 << position for position in range(256)]


def match_masks(tokens: Sequence[str]) -> Masks:
    """For each distinct token, the bit set of the positions where it occurs."""
    if len(tokens) <= len(_BITS):
        masks = dict(zip(tokens, _BITS, strict=False))  # in C; right unless a token repeats
        if len(masks) == len(tokens):
            return masks
    masks = {}
    get = masks.get
    for position, token in enumerate(tokens):
        masks[token] = get(token, 0) | (1 << position)
    return masks


def lcs_length(a: Sequence[str], b_masks: Masks, b_length: int) -> int:
    """Length of the LCS of ``a`` and the sequence ``b`` described by its masks and length."""
    full = (1 << b_length) - 1
    row = full
    get = b_masks.get
    for token in a:
        match = get(token)
        if match:
            matched = row & match
            row = ((row + matched) | (row - matched)) & full
    return b_length - row.bit_count()


def lcs_positions(a: Sequence[str], b: Sequence[str], b_masks: Masks) -> int:
    """Positions in ``a`` of the LCS rouge-score's ``lcs_ind(a, b)`` returns, as a bit set.

    rouge-score's ``_backtrack_norec`` walks from (m, n): on equal tokens it goes diagonally,
    else left when ``t[i][j-1] > t[i-1][j]``, otherwise up. With ``cur = t[i][j]`` and
    ``up = t[i-1][j]`` (they differ by 0 or 1), and ``t[i][j] - t[i][j-1] = 1 - bit j-1 of V_i``:
    if ``cur == up`` a left move is impossible; if ``cur == up + 1`` the walk moves left exactly
    while there is no match and bit j-1 of V_i is set, and ``cur`` and ``up`` stay the same. So
    each row is crossed with a few big-int operations: find the highest column below j with a
    match or a 0 bit in V_i, then go diagonally (a match) or up (a 0 bit).
    """
    i = len(a)
    j = len(b)
    if not i or not j:
        return 0
    get = b_masks.get
    full = (1 << j) - 1
    row = full
    rows = [row]  # V_0..V_m: every row, for the traceback
    for token in a:
        match = get(token)
        if match:
            matched = row & match
            row = ((row + matched) | (row - matched)) & full
        rows.append(row)
    current = j - row.bit_count()  # t[i][j]; rows hold exactly len(b) bits
    up = j - rows[i - 1].bit_count()  # t[i-1][j]
    chosen = 0
    while True:
        match = get(a[i - 1], 0)
        if current != up:  # cur == up + 1: skip the left moves in one step
            stop = (match | ~rows[i]) & ((1 << j) - 1)
            if not stop:
                return chosen  # left all the way to column 0
            j = stop.bit_length()  # the stop column p = j - 1 is the highest such bit
        if (match >> (j - 1)) & 1:  # a[i-1] == b[j-1]: diagonal
            i -= 1
            j -= 1
            chosen |= 1 << i
            if not (i and j):
                return chosen
            current -= 1  # t[i][j] = t[i-1][j-1] + 1 at a match
        else:  # no left move is possible from here: up
            i -= 1
            if not i:
                return chosen
            current = up
        up = j - (rows[i - 1] & ((1 << j) - 1)).bit_count()
