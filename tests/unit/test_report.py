"""The run report: tables, one box per model and metric, escaping, self-containment, and a render.

The render tests use headless Chromium (Debian package `chromium`; .ci/run installs it) at 1,280
and 390 px: no horizontal page overflow, no overlapping headers, the boxes painted.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from results_data import NASTY, score_rows

from radimpress.results.publish import ModelResults, flatten_row
from radimpress.results.report import PALETTE, box_plot_svg, render_report
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


def model_results(n=80, unscored=4):
    out = []
    for label, skill, seed in MODELS:
        m = ModelResults(label=label, key=f"k/{seed}")
        for i, raw in enumerate(
            score_rows("run-42", "dev1", label, n, seed, skill=skill, unscored=unscored)
        ):
            m.add(flatten_row(raw, source="s", line=i + 1, run_id="run-42", dataset="dev1"))
        out.append(m)
    return out


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
    assert models[1][5] == "job-fine-tuned"  # the training job of the fine-tuned model


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
    by_label = {m.label: m for m in model_results()}
    for row in means[1:]:
        m = by_label[row[0]]
        assert row[1:3] == ["80", "76"]
        assert row[3] == f"{statistics.fmean(m.f1['rouge1']):.4f}"
        assert row[7] == f"{statistics.fmean(m.values('clinical')):.4f}"
        assert row[8] == str(m.missed_reports)


def test_means_carry_bootstrap_intervals_when_given():
    models = model_results()
    intervals = {m.label: m.intervals() for m in models}
    parsed = Collector()
    parsed.feed(render_report(RUN, models, intervals=intervals))
    row = parsed.tables[1][1]
    low, high = intervals["fine-tuned"]["rouge1_f1"]
    assert row[3] == f"{statistics.fmean(models[0].f1['rouge1']):.4f}[{low:.4f}, {high:.4f}]"


def test_distribution_tables_follow_describe(page):
    _, parsed = page
    dist = parsed.tables[2 : 2 + len(MODELS)]
    m = model_results()[0]
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
    assert dist[0][7][3] == f"{np.percentile(m.f1['rougel'], 75):.4f}"  # 75% row, ROUGE-L


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


CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)


LAYOUT_CHECK = """<script>
// Headless Chromium will not make a window narrower than 500 px, so the report is laid out in an
// iframe of the width under test (srcdoc: same origin, so its layout can be measured here).
window.addEventListener("load", () => {
  const frame = document.getElementById("report");
  const doc = frame.contentDocument;
  const page = doc.documentElement;
  const boxes = [...doc.querySelectorAll("h1,h2,h3,h4,h5,th,dt")]
    .map((e) => [e.tagName + ":" + e.textContent.slice(0, 30), e.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && r.height > 0);
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 1 && h > 1) overlaps.push([a, b]);
    }
  }
  const out = document.createElement("pre");
  out.id = "layout-check";
  out.textContent = JSON.stringify({
    viewport: frame.contentWindow.innerWidth,
    scroll_width: page.scrollWidth,
    height: page.scrollHeight,
    headers: boxes.length,
    overlaps: overlaps.slice(0, 10),
  });
  document.body.appendChild(out);
});
</script>"""


def probe_page(html: str, width: int) -> str:
    from html import escape as attr

    return (
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="report" style="width:{width}px;height:900px;border:0" '
        f'srcdoc="{attr(html, quote=True)}"></iframe>{LAYOUT_CHECK}</body></html>'
    )


def chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.mark.skipif(
    CHROMIUM is None, reason="no headless Chromium installed (apt-get install chromium)"
)
@pytest.mark.parametrize("width", [1280, 390])
def test_layout_holds_at_desktop_and_phone_width(page, tmp_path, width):
    """No horizontal page overflow (wide tables scroll in their own box), no overlapping headers."""
    import json

    html, _ = page
    probe = tmp_path / "probe.html"
    probe.write_text(probe_page(html, width), encoding="utf-8")
    proc = chromium(f"--window-size={width + 40},1000", "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="layout-check">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["viewport"] == width
    assert check["scroll_width"] <= width, check
    assert check["headers"] > 50 and check["overlaps"] == [], check


@pytest.mark.skipif(
    CHROMIUM is None, reason="no headless Chromium installed (apt-get install chromium)"
)
@pytest.mark.parametrize(("width", "height"), [(1280, 2400), (390, 6000)])
def test_renders_in_headless_chromium(page, tmp_path, width, height):
    html, _ = page
    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")
    folder = os.environ.get("RADIMPRESS_REPORT_SCREENSHOT_DIR")
    shot = Path(folder) / f"report-{width}.png" if folder else tmp_path / "report.png"
    proc = chromium(f"--window-size={width},{height}", f"--screenshot={shot}", report.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    size = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert size == (width, height)
    # The boxes were painted, not just laid out: each model's fill colour covers real area.
    counts = colour_counts(data)
    for color in PALETTE[: len(MODELS)]:
        rgb = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
        near = sum(
            n
            for px, n in counts.items()
            if max(abs(a - b) for a, b in zip(px, rgb, strict=True)) <= 40
        )
        assert near > 1_000, (color, near)


def colour_counts(png: bytes) -> dict[tuple[int, int, int], int]:
    """Pixel colours of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes), no Pillow."""
    import struct
    import zlib
    from collections import Counter

    pos, idat, header = 8, b"", None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = header
    assert depth == 8 and ctype in (2, 6) and interlace == 0
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, counts = bytearray(stride), Counter()
    for y in range(height):
        f, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        counts.update(zip(line[0::bpp], line[1::bpp], line[2::bpp], strict=True))
        prev = line
    return counts


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
