"""The run report: tables, one box per model and metric, escaping, self-containment.

How it renders in a browser (1,280 and 390 px) is checked in tests/slow/test_report_browser.py.
"""

from __future__ import annotations

import re
import statistics
from datetime import UTC, datetime
from html.parser import HTMLParser

import numpy as np
import pytest
from results_data import NASTY, score_rows

from radimpress.results.publish import ModelResults, flatten_row, run_intervals
from radimpress.results.report import box_plot_svg, render_report
from radimpress.results.stats import describe
from radimpress.scoring.aggregate import percentile

MODELS = (("fine-tuned", 0.6, 1), ("pretrained", 0.25, 2), ("lead-3 <baseline>", 0.35, 3))
# The report's (and the queries') A/B order: fine-tuned, candidate, pre-trained.
ORDER = ("fine-tuned", "lead-3 <baseline>", "pretrained")
RUN = {
    "run_id": "run-42",
    "dataset": "dev1",
    "source_key": "incoming/infer/dev1/reports.jsonl",
    "records": 80,
    "rejected": 1,
    "started_at": datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
    "published_at": datetime(2026, 11, 24, 8, 5, tzinfo=UTC),
    "rejected_reasons": {"field 'findings': expected a string": 1},
    "worst_order": "lowest clinical F1 first, then lowest ROUGE-L F1, then study id",
}


def raw_rows(label, seed, skill, n=80, unscored=4):
    """The contract score rows the report is made from (the test's input, not the code's state)."""
    return score_rows("run-42", "dev1", label, n, seed, skill=skill, unscored=unscored)


def model_results(n=80, unscored=4):
    out = []
    for label, skill, seed in MODELS:
        m = ModelResults(label=label, key=f"k/{seed}")
        for i, raw in enumerate(raw_rows(label, seed, skill, n, unscored)):
            m.add(flatten_row(raw, source="s", line=i + 1, run_id="run-42", dataset="dev1"))
        out.append(m)
    return out


def scored_f1(label, metric):
    """F1 of one metric over the scored input rows of a model (``clinical`` for clinical F1)."""
    label, skill, seed = next(m for m in MODELS if m[0] == label)
    rows = [r for r in raw_rows(label, seed, skill) if r["rougeL"] is not None]
    if metric == "clinical":
        return [r["clinical"]["f1"] for r in rows]
    return [r[metric]["fmeasure"] for r in rows]


def missed_a_finding(label):
    label, skill, seed = next(m for m in MODELS if m[0] == label)
    return sum(
        bool(r["clinical"] and r["clinical"]["missed"]) for r in raw_rows(label, seed, skill)
    )


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.tables = []
        self._cell = None
        self._row = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
            self.tables[-1].append(self._row)
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._row.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def cases(html: str) -> list[str]:
    """The study ids of the report cards, in page order."""
    return re.findall(r'<article class="case"><h4>(?:\d+\. )?Study ([^<]+)</h4>', html)


@pytest.fixture(scope="module")
def page():
    html = render_report(RUN, model_results())
    parsed = Collector()
    parsed.feed(html)
    return html, parsed


def test_percentile_and_describe_match_numpy():
    values = [0.1, 0.9, 0.35, 0.35, 0.2, 0.75, 0.6]
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        assert percentile(sorted(values), p) == pytest.approx(
            np.percentile(values, p * 100), abs=1e-15
        )
    d = describe(values)
    assert d["count"] == 7 and d["std"] == pytest.approx(statistics.stdev(values))
    assert describe([])["mean"] is None and describe([0.5])["std"] is None


def test_models_table_names_every_model(page):
    _, parsed = page
    models = parsed.tables[0]
    assert models[0][:3] == ["Model", "Role", "Name"]
    assert [r[:2] for r in models[1:]] == [
        ["fine-tuned", "fine-tuned"],
        ["lead-3 <baseline>", "candidate"],
        ["pretrained", "pre-trained"],
    ]
    assert models[1][6] == "job-fine-tuned"  # the training job of the fine-tuned model
    # The Model Registry version each model stands for (issue 20); none for the pre-trained.
    assert [r[4] for r in models] == ["Package", "v3", "v4", "\u2013"]


def test_models_table_names_the_package_arn_on_hover():
    from radimpress.results.report import _package_cell

    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/s-fine-tuned/3"
    cell = _package_cell({"model_package_version": 3, "model_package_arn": arn})
    assert cell == f'<span title="{arn}">v3</span>'
    assert "v" not in _package_cell({"model_package_version": None, "model_package_arn": ""})


def test_mean_table_has_one_row_per_model_with_python_means(page):
    _, parsed = page
    means = parsed.tables[1]
    assert means[0] == [
        "Model",
        "Reports",
        "Scored",
        "ROUGE-1",
        "ROUGE-2",
        "ROUGE-L",
        "ROUGE-Lsum",
        "Clinical F1",
        "Missed a finding",
    ]
    assert [r[0] for r in means[1:]] == list(ORDER)
    for row in means[1:]:
        label = row[0]
        assert row[1:3] == ["80", "76"]  # 80 reports, the first 4 without a reference
        for column, metric in zip(
            (3, 4, 5, 6, 7), ("rouge1", "rouge2", "rougeL", "rougeLsum", "clinical"), strict=True
        ):
            assert row[column] == f"{statistics.fmean(scored_f1(label, metric)):.4f}", metric
        assert row[8] == str(missed_a_finding(label))
        assert 0 < missed_a_finding(label) < 76  # neither none nor all: the count is informative


def test_mean_table_on_hand_written_rows():
    """Three reports, one without a reference: the numbers on the page, worked out by hand."""
    m = ModelResults(label="tiny", key="k")
    f1s = [(0.5, 1.0), (0.25, 0.0)]  # (ROUGE F1 of every metric, clinical F1) of the scored two
    for i, (rouge, clinical) in enumerate([*f1s, (None, None)]):
        raw = {
            "run_id": "run-42",
            "dataset": "dev1",
            "model": "tiny",
            "study_id": f"s{i}",
            "findings": "f",
            "reference": None if rouge is None else "r",
            "generated": "g",
            "clinical": None
            if rouge is None
            else {
                "precision": clinical,
                "recall": clinical,
                "f1": clinical,
                "missed": [] if clinical else ["Cardiomegaly"],
                "invented": [],
            },
        }
        for metric in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
            raw[metric] = (
                None if rouge is None else {"precision": rouge, "recall": rouge, "fmeasure": rouge}
            )
        m.add(flatten_row(raw, source="s", line=i + 1, run_id="run-42", dataset="dev1"))
    parsed = Collector()
    parsed.feed(render_report(RUN, [m]))
    # 3 reports, 2 scored; ROUGE means (0.5 + 0.25) / 2; clinical (1 + 0) / 2; one missed a finding.
    assert parsed.tables[1][1] == [
        "tiny", "3", "2", "0.3750", "0.3750", "0.3750", "0.3750", "0.5000", "1"
    ]  # fmt: skip


def test_means_carry_bootstrap_intervals_when_given():
    models = model_results()
    intervals = run_intervals(models)
    parsed = Collector()
    parsed.feed(render_report(RUN, models, intervals=intervals))
    row = parsed.tables[1][1]
    low, high = intervals["fine-tuned"]["rouge1_f1"]
    mean = statistics.fmean(scored_f1("fine-tuned", "rouge1"))
    assert row[3] == f"{mean:.4f}[{low:.4f}, {high:.4f}]"


def test_distribution_tables_follow_describe(page):
    _, parsed = page
    dist = parsed.tables[2 : 2 + len(MODELS)]
    assert [r[0] for r in dist[0][1:]] == [
        "count",
        "mean",
        "std",
        "min",
        "25%",
        "50%",
        "75%",
        "max",
    ]
    # The fine-tuned model's table (the first, in A/B order); columns ROUGE-1/2/L/Lsum.
    values = scored_f1("fine-tuned", "rougeL")
    column = dist[0][1:]
    assert column[0][3] == "76"
    assert column[1][3] == f"{np.mean(values):.4f}"
    assert column[2][3] == f"{np.std(values, ddof=1):.4f}"  # sample std, as pandas describe()
    assert column[3][3] == f"{min(values):.4f}" and column[7][3] == f"{max(values):.4f}"
    for row, q in zip(column[4:7], (25, 50, 75), strict=True):
        assert row[3] == f"{np.percentile(values, q):.4f}", row[0]


def test_one_box_per_model_and_metric(page):
    html, parsed = page
    svgs = [a for t, a in parsed.tags if t == "svg"]
    assert len(svgs) == 5  # ROUGE-1/2/L/Lsum and clinical F1
    boxes = [a for t, a in parsed.tags if t == "g" and a.get("class") == "model-box"]
    assert len(boxes) == 5 * len(MODELS)
    assert [b["data-model"] for b in boxes[: len(MODELS)]] == list(ORDER)
    assert html.count('class="iqr"') == 5 * len(MODELS)


def test_box_geometry_follows_quartiles():
    values = [i / 100 for i in range(101)]
    svg = box_plot_svg("T", [("m", values)])
    # plot area: top 30, height 214; q3 = 0.75 -> y = 30 + 214 * 0.25 = 83.5
    rect = re.search(r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"', svg)
    assert float(rect.group(1)) == pytest.approx(83.5, abs=0.05)
    assert float(rect.group(2)) == pytest.approx(214 * 0.5, abs=0.1)
    assert "<circle" not in svg  # uniform data has no outliers
    spread = [0.5] * 20 + [0.45, 0.55, 0.0]  # IQR 0, so 0.45, 0.55 and 0.0 lie beyond the whiskers
    assert box_plot_svg("T", [("m", spread)]).count("<circle") == 3


def test_text_is_escaped_and_page_is_self_contained(page):
    html, _ = page
    assert "<script" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "lead-3 &lt;baseline&gt;" in html
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert "@import" not in html and "url(" not in html
    assert len(cases(html)) == 5 * len(MODELS)


def test_worst_reports_are_ordered_by_clinical_f1_then_rouge_l_then_id(page):
    html, _ = page
    assert "Order: lowest clinical F1 first, then lowest ROUGE-L F1, then study id." in html
    m = model_results()[0]
    rows = score_rows("run-42", "dev1", "fine-tuned", 80, 1, skill=0.6, unscored=4)
    scored = [
        (r["clinical"]["f1"], r["rougeL"]["fmeasure"], r["study_id"]) for r in rows if r["rougeL"]
    ]
    want = [s for *_, s in sorted(scored)[:5]]
    assert cases(html)[:5] == want
    assert [r["study_id"] for r in m.worst()] == want
    # Escaped in the HTML, the text reads back exactly (CRLF and all) once unescaped.
    assert NASTY in html_text(html)


def html_text(html: str) -> str:
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def test_rejected_records_are_listed(page):
    _, parsed = page
    rejected = next(t for t in parsed.tables if t and t[0] == ["Reason", "Records"])
    assert rejected[1] == ["field 'findings': expected a string", "1"]


def test_model_without_scores_renders(page):
    m = ModelResults(label="no refs", key="k")
    html = render_report(RUN, [m])
    assert "No scored reports." in html and "no scores" in html


def test_lost_reports_section_names_both_models():
    models = model_results()
    tuned = next(m for m in models if m.label == "fine-tuned")
    row = tuned.worst()[0]
    lost = [
        {"a": "fine-tuned", "b": "pretrained", "count": 7, "compared": 76, "rows": [(row, row)]}
    ]
    html = render_report(RUN, models, lost=lost)
    assert "<h2>Where fine-tuned lost to pretrained</h2>" in html
    assert "7 of 76 reports" in html and "Generated by pretrained" in html


def test_lost_case_cards_show_missed_and_invented():
    """Issue 18 item 4: a card with F1 0 says what was missed and what was invented."""
    models = model_results()
    base = dict(model_results()[0].worst()[0])
    row = {**base, "clinical_f1": 0.0, "clinical_missed": "", "clinical_invented": "Cardiomegaly"}
    lost = [{"a": "fine-tuned", "b": "pretrained", "count": 1, "compared": 1, "rows": [(row, row)]}]
    html = render_report(RUN, models, lost=lost)
    assert '<dt>Missed by fine-tuned</dt><dd><span class="none">none</span></dd>' in html
    assert "<dt>Invented by fine-tuned</dt><dd>Cardiomegaly</dd>" in html


def test_comparison_table_has_every_pair_and_metric(page):
    _, parsed = page
    compare = next(t for t in parsed.tables if t and t[0][:2] == ["Model A", "Model B"])
    assert len(compare) == 1 + 3 * 5  # header + 3 pairs x (4 ROUGE + clinical)
    first = compare[1]
    # A/B as the named query: fine-tuned before candidate before pre-trained.
    assert first[:3] == ["fine-tuned", "lead-3 <baseline>", "ROUGE-1"]
    assert [r[:2] for r in compare[1::5]] == [
        ["fine-tuned", "lead-3 <baseline>"],
        ["fine-tuned", "pretrained"],
        ["lead-3 <baseline>", "pretrained"],
    ]
    assert int(first[4]) + int(first[5]) + int(first[6]) == int(first[3]) == 76
    tuned_vs_pre = compare[6]
    assert float(tuned_vs_pre[7]) > 0  # the better model is A: a positive difference


def test_worst_reports_do_not_depend_on_row_order():
    rows = score_rows("run-42", "dev1", "m", 80, 5, skill=0.4)
    picks = []
    for ordered in (rows, rows[::-1]):
        m = ModelResults(label="m", key="k")
        for i, raw in enumerate(ordered):
            m.add(flatten_row(raw, source="s", line=i + 1, run_id="run-42", dataset="dev1"))
        picks.append([r["study_id"] for r in m.worst()])
    assert picks[0] == picks[1] and len(picks[0]) == 5


def test_stand_in_and_overlap_banners():
    """Issue 18 items 1 and 2: a page whose impressions came from a stand-in, or whose studies
    were trained on, says so above every number; a plain run shows no banner."""
    plain = render_report(RUN, model_results())
    assert 'class="banner"' not in plain
    models = model_results()
    tuned = next(m for m in models if m.label == "fine-tuned")
    tuned.identity["generator"] = "double:jumpstart-flan-t5-xl (stand-in: restate)"
    for m in models:
        m.identity["train_overlap"] = "3 of 80 studies overlap the training file (same study_id 2, "
        m.identity["train_overlap"] += (
            "same findings text 1); scored: their scores may overstate the model"
        )
    html = render_report(RUN, models)
    first_table = html.index("<table")
    stand_in = html.index("Stand-in, not the named model:")
    assert stand_in < first_table
    assert (
        "the impressions of fine-tuned were generated by double:jumpstart-flan-t5-xl "
        "(stand-in: restate)" in html
    )
    assert html.count("Train/test overlap:") == 1  # one banner, not one per model
    assert (
        "3 of 80 studies overlap the training file (same study_id 2, same findings text 1)" in html
    )
    assert ">Generated by</th>" in html
