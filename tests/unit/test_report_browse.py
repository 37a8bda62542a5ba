"""The report's "Browse every study" table: its embedded data, the disagreement flag, and a page
that runs no script but its own (Content-Security-Policy by hash, nothing loaded from outside).

How the table behaves in a browser (sorting, filtering, 390 px cards, 2,000 x 3 load time) is
checked in tests/slow/test_report_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from handler_support import BUCKET
from results_data import NASTY, put_rows, run_info, score_rows
from test_report import MODELS, ORDER, RUN, model_results, raw_rows

from radimpress.results import publish_run
from radimpress.results.publish import flatten_row
from radimpress.results.report import render_report
from radimpress.results.report_browse import (
    CLINICAL_DIFFERS,
    ROUGEL_DIFFERS,
    ROUGEL_SPREAD,
    SCRIPT,
    BrowseTable,
    Cell,
    disagreement,
    embed_json,
)


def flat_rows(n=80):
    for label, skill, seed in MODELS:
        for i, raw in enumerate(raw_rows(label, seed, skill, n)):
            yield flatten_row(raw, source="s", line=i + 1, run_id="run-42", dataset="dev1")


def browse_of(rows, **kwargs) -> BrowseTable:
    table = BrowseTable(**kwargs)
    for row in rows:
        table.add(row)
    return table


def embedded(html: str) -> dict:
    """The JSON block exactly as the page's script reads it (JSON.parse of its text)."""
    found = re.search(
        r'<script type="application/json" id="browse-data">(.*?)</script>', html, re.S
    )
    assert found, "no browse data block"
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(RUN, model_results(), browse=browse_of(flat_rows()))


def test_every_study_and_model_is_in_the_embedded_data(page):
    data = embedded(page)
    assert data["models"] == list(ORDER)  # the report's A/B order
    assert [r[0] for r in data["rows"]] == [f"dev1-{i:04d}" for i in range(80)]
    by_study = {r[0]: r for r in data["rows"]}
    for label, skill, seed in MODELS:
        column = data["models"].index(label)
        for raw in raw_rows(label, seed, skill):
            _, findings, reference, _, _, cells = by_study[raw["study_id"]]
            assert (findings, reference) == (raw["findings"], raw["reference"])
            generated, rougel, clinical, missed, invented = cells[column]
            assert generated == raw["generated"]
            if raw["rougeL"] is None:
                assert (rougel, clinical) == (None, None)
                continue
            assert rougel == round(raw["rougeL"]["fmeasure"], 4)
            assert clinical == round(raw["clinical"]["f1"], 4)
            # The case cards' own missed / invented lists (the score row's clinical fields).
            assert missed == "; ".join(raw["clinical"]["missed"])
            assert invented == "; ".join(raw["clinical"]["invented"])
    assert any(NASTY in r[1] for r in data["rows"])  # text round-trips exactly, CRLF and all
    assert "80 studies x 3 model(s)" in page


def test_flags_in_the_page_follow_the_definition(page):
    data = embedded(page)
    flagged = 0
    for _, _, _, flags, spread, cells in data["rows"]:
        scored = [c for c in cells if c and c[1] is not None]
        if len(scored) < 2:
            assert (flags, spread) == (0, None)
            continue
        rouge = [c[1] for c in scored]
        assert spread == pytest.approx(max(rouge) - min(rouge), abs=1e-4)
        verdicts = {(c[2], c[3], c[4]) for c in scored}
        assert bool(flags & CLINICAL_DIFFERS) == (len(verdicts) > 1)
        assert bool(flags & ROUGEL_DIFFERS) == (max(rouge) - min(rouge) > ROUGEL_SPREAD + 1e-4)
        flagged += bool(flags)
    assert flagged > 0  # (these random models disagree on nearly every study)


def cell(rougel, clinical=1.0, missed="", invented=""):
    return Cell("g", rougel, clinical, missed, invented)


def test_disagreement_on_hand_made_studies():
    # Same verdict, ROUGE-L spread exactly at the threshold: not "above", no flag.
    assert disagreement([cell(0.5), cell(0.8), cell(0.6)]) == (0, pytest.approx(0.3))
    # Spread above the threshold.
    flags, spread = disagreement([cell(0.4), cell(0.75)])
    assert flags == ROUGEL_DIFFERS and spread == pytest.approx(0.35)
    # Same F1, different missed findings: different clinical verdicts.
    same_f1 = [cell(0.5, 0.5, missed="Edema"), cell(0.5, 0.5, missed="Cardiomegaly")]
    assert disagreement(same_f1) == (CLINICAL_DIFFERS, 0.0)
    # A blank generation on a normal study (F1 0, nothing missed or invented) vs a right one.
    assert disagreement([cell(0.1, 0.0), cell(0.2, 1.0)])[0] == CLINICAL_DIFFERS
    # Both at once.
    both = [cell(0.9, 1.0), cell(0.1, 0.0, invented="Edema")]
    assert disagreement(both)[0] == CLINICAL_DIFFERS | ROUGEL_DIFFERS
    # One scored model (the others unscored or absent) has nobody to disagree with.
    assert disagreement([cell(0.9), None, cell(None, None)]) == (0, None)
    # Rows without clinical fields (schema 1) compare on ROUGE-L alone.
    assert disagreement([cell(0.2, None), cell(0.9, None)])[0] == ROUGEL_DIFFERS


def test_the_only_scripts_are_the_data_block_and_the_hashed_inline_one(page):
    tags = re.findall(r"<script\b[^>]*>", page)
    assert tags == ['<script type="application/json" id="browse-data">', "<script>"]
    assert page.count("</script>") == 2  # report text cannot close the data block early
    assert not re.search(r"<(script|img|link|iframe|object|embed)\b[^>]*\bsrc\s*=", page)
    assert not re.search(r"\son[a-z]+\s*=", page)  # no inline event handler attributes
    assert not re.search(r"https?://", page.replace("http://www.w3.org/2000/svg", ""))
    assert "@import" not in page and "url(" not in page and ' style="' not in page
    # The policy admits the page's own style sheet and script by their SHA-256, and nothing else.
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp and page.index(csp.group(0)) < page.index("<style>")
    policy = dict(d.strip().split(" ", 1) for d in csp.group(1).split(";"))
    assert policy["default-src"] == "'none'"
    (script,) = re.findall(r"<script>(.*?)</script>", page, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert script == SCRIPT
    for text, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert policy[directive] == f"'sha256-{digest}'"
    # The script builds cells from text, never HTML.
    assert "innerHTML" not in SCRIPT and "insertAdjacentHTML" not in SCRIPT
    assert "eval(" not in SCRIPT and "fetch(" not in SCRIPT


def test_text_that_looks_like_markup_stays_data():
    evil = "</script><script>alert(1)</script><!-- & \u2028"
    rows = list(flat_rows(5))
    rows[0] = {**rows[0], "findings": evil, "generated": evil}
    html = render_report(RUN, model_results(5), browse=browse_of(rows))
    assert html.count("</script>") == 2 and "<!--" not in html
    assert embedded(html)["rows"][0][1] == evil
    assert json.loads(embed_json({"a": evil})) == {"a": evil}


def test_a_page_without_browse_data_has_no_script():
    html = render_report(RUN, model_results())
    assert "<script" not in html and "Browse every study" not in html


def test_watch_passes_rows_through_unchanged():
    rows = list(flat_rows(10))
    table = BrowseTable()
    assert list(table.watch(iter(rows))) == rows
    assert table.studies == 10 and not table.left_out


def test_large_runs_keep_the_first_studies_and_say_how_many_are_left_out():
    table = browse_of(flat_rows(80), max_studies=10)
    assert table.studies == 10 and dict(table.left_out) == dict.fromkeys(ORDER, 70)
    html = render_report(RUN, model_results(), browse=table)
    assert [r[0] for r in embedded(html)["rows"]] == [f"dev1-{i:04d}" for i in range(10)]
    assert "up to 70 more per model are only in the scores table" in html


def test_a_study_one_model_did_not_score_shows_null_for_that_model():
    rows = [
        r
        for r in flat_rows(10)
        if not (r["model"] == "pretrained" and r["study_id"] == "dev1-0007")
    ]
    data = embedded(render_report(RUN, model_results(10), browse=browse_of(rows)))
    (row,) = (r for r in data["rows"] if r[0] == "dev1-0007")
    assert row[5][data["models"].index("pretrained")] is None
    assert all(row[5][data["models"].index(m)] for m in ("fine-tuned", "lead-3 <baseline>"))


def test_publish_puts_every_study_in_the_report(s3):
    keys = []
    for model, skill, seed in (("pretrained", 0.3, 1), ("fine-tuned", 0.6, 2)):
        rows = score_rows("run-1", "dev1", model, 30, seed, skill=skill, unscored=3)
        keys.append(put_rows(s3, BUCKET, f"runs/run-1/scores/{model}.jsonl", rows))
    out = publish_run(s3, BUCKET, run_id="run-1", dataset="dev1", score_keys=keys, run=run_info())
    html = s3.get_object(Bucket=BUCKET, Key=out["report_key"])["Body"].read().decode()
    data = embedded(html)
    assert data["models"] == ["fine-tuned", "pretrained"]
    assert [r[0] for r in data["rows"]] == [f"dev1-{i:04d}" for i in range(30)]
    assert all(all(c is not None for c in r[5]) for r in data["rows"])
