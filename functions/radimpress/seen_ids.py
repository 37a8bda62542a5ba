"""The study ids a file has already given, and where: what the duplicate check remembers.

Every accepted record's id must be remembered until the file ends, so that a repeat is rejected
with the position of the first ("first seen at record N"). A dict of the ids costs 120-150 bytes
an id (the string, its entry, the position): 150 MB of the Ingest Lambda's 1,024 at a million
records, the largest thing it held. :class:`SeenIds` keeps a 128-bit BLAKE2b digest of each id
and its position in open-addressed ``array`` columns instead: 20 bytes a slot with at most two
thirds of the slots used, 42 MB at a million ids (63 MB while it doubles), about half or less.

Two different ids are taken for one when their digests are equal: for n ids that happens with a
probability of about n^2 / 2^129 (3e-27 at a million), far below a disk's error rate.
"""

from __future__ import annotations

from array import array
from hashlib import blake2b

_LOW_64 = (1 << 64) - 1
# Slots are added by doubling once more than this share of them is used (linear probing stays
# short: about 2 probes for a hit, 5 for a miss, at two thirds).
_MAX_LOAD = 2 / 3


class SeenIds:
    """Study id -> the position it was first read at; ``in``, ``[id]`` and ``[id] = position``
    as a dict (what :func:`radimpress.records.validate_record` uses), in half the memory or
    less."""

    def __init__(self, capacity: int = 1024) -> None:
        size = 1
        while size < capacity:
            size *= 2
        self._allocate(size)
        self._last: tuple[str, int, int] = ("", 0, 0)  # the id last looked up, and its digest

    def _allocate(self, size: int) -> None:
        self._mask = size - 1
        self._high = array("Q", bytes(8 * size))
        self._low = array("Q", bytes(8 * size))
        self._at = array("I", bytes(4 * size))  # position + 1; 0 is an empty slot
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, study_id: object) -> bool:
        return isinstance(study_id, str) and self._at[self._find(study_id)[0]] != 0

    def __getitem__(self, study_id: str) -> int:
        found = self._at[self._find(study_id)[0]]
        if not found:
            raise KeyError("study_id not seen")  # never the id: it may be patient data
        return found - 1

    def __setitem__(self, study_id: str, position: int) -> None:
        if self._count + 1 > _MAX_LOAD * len(self._at):
            self._grow()
        slot, high, low = self._find(study_id)
        if not self._at[slot]:
            self._count += 1
            self._high[slot], self._low[slot] = high, low
        self._at[slot] = position + 1

    def _digest(self, study_id: str) -> tuple[int, int]:
        """(high, low) 64 bits of the id's digest; the last one is kept, as ``id in seen`` and
        ``seen[id] = position`` come in pairs."""
        last_id, high, low = self._last
        if study_id != last_id or not (high or low):
            value = int.from_bytes(blake2b(study_id.encode(), digest_size=16).digest(), "little")
            high, low = value >> 64, value & _LOW_64
            self._last = (study_id, high, low)
        return high, low

    def _find(self, study_id: str) -> tuple[int, int, int]:
        """(slot, high, low): the slot holding the id's digest, or the empty one it would take."""
        high, low = self._digest(study_id)
        mask, highs, lows, at = self._mask, self._high, self._low, self._at
        slot = low & mask
        while at[slot] and (lows[slot] != low or highs[slot] != high):
            slot = (slot + 1) & mask
        return slot, high, low

    def _grow(self) -> None:
        """Twice the slots, every digest moved to its slot in the larger table."""
        highs, lows, at, count = self._high, self._low, self._at, self._count
        self._allocate(2 * len(at))
        mask, new_highs, new_lows, new_at = self._mask, self._high, self._low, self._at
        for slot in range(len(at)):
            if at[slot]:
                low = lows[slot]
                target = low & mask
                while new_at[target]:
                    target = (target + 1) & mask
                new_highs[target], new_lows[target], new_at[target] = highs[slot], low, at[slot]
        self._count = count
