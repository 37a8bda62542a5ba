"""radimpress.seen_ids.SeenIds: the duplicate check's memory of ids, a dict in half the size.

Issue 19 item 8: at a million records Ingest's dict of ids (id string, entry, position) was its
largest holding, about 150 MB of the Lambda's 1,024.
"""

from __future__ import annotations

import random
import tracemalloc

import pytest

from radimpress.records import Purpose, Rejection, validate_record
from radimpress.seen_ids import SeenIds


def _ids(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcXYZ019-_ é漢\u0301"
    ids = [f"s{i}" for i in range(count // 2)]
    ids += ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(count // 2)]
    rng.shuffle(ids)
    return ids


def test_answers_as_a_dict_does_through_many_growths() -> None:
    seen, expected = SeenIds(capacity=4), {}
    for position, study_id in enumerate(_ids(20_000), start=1):
        assert (study_id in seen) == (study_id in expected)
        if study_id in expected:
            assert seen[study_id] == expected[study_id]
        else:
            seen[study_id] = expected[study_id] = position
    assert len(seen) == len(expected) > 10_000
    assert all(seen[study_id] == position for study_id, position in expected.items())
    assert "never-given" not in seen and 42 not in seen


def test_an_unknown_id_is_a_key_error_that_does_not_repeat_it() -> None:
    seen = SeenIds()
    seen["known"] = 1
    with pytest.raises(KeyError) as err:
        seen["Patient Name 123"]
    assert "Patient" not in str(err.value)


def test_duplicates_are_still_rejected_with_the_first_position() -> None:
    seen = SeenIds()
    first = validate_record(3, {"study_id": " A\u200bB ", "findings": "x"}, Purpose.INFER, seen)
    again = validate_record(9, {"study_id": "AB", "findings": "y"}, Purpose.INFER, seen)
    assert not isinstance(first, Rejection)
    assert isinstance(again, Rejection)
    assert again.reason == "duplicate study_id (first seen at record 3)"


def _traced_peak(store: object, count: int) -> int:
    """Bytes held at the peak while ``count`` ids, each made as a record's would be, go in."""
    tracemalloc.start()
    try:
        for position in range(count):
            study_id = f"study-{position:09d}"  # a new string, as each parsed record gives
            store[study_id] = position  # type: ignore[index]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_about_half_the_memory_of_a_dict() -> None:
    count = 150_000  # measured: 9.4 MB against 18.2 MB (at a million: 42-63 MB against ~140)
    compact, plain = _traced_peak(SeenIds(), count), _traced_peak({}, count)
    assert compact < 0.6 * plain, (compact, plain)
