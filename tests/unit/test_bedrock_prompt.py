"""Few-shot prompts for a hosted LLM: BM25 examples and the placeholder convention
(radimpress.bedrock.prompt)."""

from __future__ import annotations

from radimpress.bedrock.prompt import (
    CACHED_CANDIDATES,
    EXACT_TOP,
    Example,
    ExampleIndex,
    build_prompt,
    examples_from_records,
    words,
)

TRAINING = [
    Example("Heart size normal. Lungs are clear. No effusion.", "No acute disease.", "n1"),
    Example("Heart size normal. Lungs are clear.", "Normal chest.", "n2"),
    Example(
        "Right lower lobe consolidation. Small right pleural effusion.",
        "Right lower lobe pneumonia with small effusion.",
        "p1",
    ),
    Example("Left apical pneumothorax, small.", "Small left pneumothorax.", "x1"),
    Example("Cardiomegaly. Pulmonary vascular congestion.", "Mild heart failure.", "c1"),
]


def test_the_most_similar_report_comes_first():
    index = ExampleIndex(TRAINING)
    best = index.nearest("There is consolidation in the right lower lobe and an effusion.", k=2)
    assert best[0].study_id == "p1"
    assert len(best) == 2


def _exhaustive(index: ExampleIndex, findings: str) -> list[tuple[float, int]]:
    """BM25 of every example, best first (the reference the bounded search must match)."""
    terms = index._terms(findings)
    scored = [(index._score(doc, terms), doc) for doc in range(len(index))]
    return sorted(((s, d) for s, d in scored if s > 0), key=lambda p: (-p[0], p[1]))


def test_the_best_examples_are_exhaustive_bm25s_however_few_candidates_come_first():
    from radimpress_workstation.synthetic import generate_reports

    reports = generate_reports(400, seed=3)
    index = ExampleIndex(examples_from_records(reports), candidates=4)
    for query in generate_reports(40, seed=4, prefix="Q"):
        expected = _exhaustive(index, query["findings"])[:EXACT_TOP]
        found = index.ranked(query["findings"], EXACT_TOP)
        assert [round(s, 9) for s, _ in found] == [round(s, 9) for s, _ in expected]


def test_a_query_of_common_words_finds_the_short_reports_they_weigh_most_in():
    index = ExampleIndex(TRAINING, candidates=1)
    assert [e.study_id for e in index.nearest("Heart size normal.", k=2)] == ["n2", "n1"]


def test_the_reports_own_study_is_never_its_example_and_long_examples_are_passed_over():
    long = Example("Right lower lobe consolidation. " * 100, "Pneumonia.", "long")
    index = ExampleIndex([*TRAINING, long], max_example_chars=500)
    best = index.nearest("Right lower lobe consolidation.", k=3, exclude_study_id="p1")
    ids = [e.study_id for e in best]
    assert "p1" not in ids and "long" not in ids


def test_ties_break_on_training_order_and_identical_queries_are_answered_once():
    twins = [Example("Stable appearance.", f"Stable {i}.", f"t{i}") for i in range(3)]
    index = ExampleIndex(twins)
    first = index.nearest("Stable appearance.", k=3)
    assert [e.study_id for e in first] == ["t0", "t1", "t2"]
    assert index.nearest("stable   APPEARANCE", k=3) == first
    assert len(index._cache) == 1


def test_exclusions_past_the_cached_candidates_fall_back_to_a_full_ranking():
    same = [Example("Stable appearance.", "Stable.", "own") for _ in range(CACHED_CANDIDATES)]
    index = ExampleIndex([*same, Example("Stable appearance again.", "Unchanged.", "other")])
    best = index.nearest("Stable appearance.", k=1, exclude_study_id="own")
    assert [e.study_id for e in best] == ["other"]


def test_placeholders_of_every_convention_are_one_word():
    assert words("XXXX at the [** 2020 **] and ____") == ["___", "at", "the", "___", "and", "___"]


def test_the_prompt_keeps_the_findings_and_renders_examples_in_their_convention():
    examples = [Example("Stable ___ catheter.", "No change in the ___.", "m1")]
    findings = "Stable XXXX catheter.  No pneumothorax."
    prompt = build_prompt(findings, examples)
    assert "written XXXX" in prompt.system and "never guess" in prompt.system
    assert "FINDINGS: Stable XXXX catheter.\nIMPRESSION: No change in the XXXX." in prompt.user
    assert prompt.user.endswith("FINDINGS: Stable XXXX catheter. No pneumothorax.\nIMPRESSION:")
    assert "___" not in prompt.user


def test_a_prompt_without_examples_or_placeholders():
    prompt = build_prompt("Lungs are clear.", [])
    assert prompt.user == "FINDINGS: Lungs are clear.\nIMPRESSION:"
    assert "written ___" in prompt.system


def test_examples_come_only_from_records_with_an_impression():
    records = [
        {"study_id": 7, "findings": "A.", "impression": "B."},
        {"study_id": "8", "findings": "C.", "impression": "  "},
        {"study_id": "9", "findings": "D."},
    ]
    assert examples_from_records(records) == [Example("A.", "B.", "7")]
    assert ExampleIndex([]).nearest("anything", k=3) == []
    assert ExampleIndex(TRAINING).nearest("anything", k=0) == []
