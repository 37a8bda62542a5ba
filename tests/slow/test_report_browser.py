"""report.html in headless Chromium (Debian package `chromium`; .ci/run installs it).

At 1,280 and 390 px: no horizontal page overflow (wide tables scroll in their own box), no
overlapping header boxes, and the box plots really painted. Skipped where no Chromium is installed
(a failure under RADIMPRESS_STRICT_SKIPS=1, which .ci/run sets).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from test_report import MODELS, RUN, model_results  # the unit tests' report data

from radimpress.results.report import PALETTE, render_report


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(RUN, model_results())


CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
# .ci/run installs Chromium: under RADIMPRESS_STRICT_SKIPS=1 (tests/conftest.py) a missing one fails.
SKIP_WITHOUT_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None, reason="no headless Chromium installed (apt-get install chromium)"
)
REQUIRED_IN_CI = pytest.mark.required_in_ci("headless Chromium (.ci/run installs it)")


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


@REQUIRED_IN_CI
@SKIP_WITHOUT_CHROMIUM
@pytest.mark.parametrize("width", [1280, 390])
def test_layout_holds_at_desktop_and_phone_width(page, tmp_path, width):
    """No horizontal page overflow (wide tables scroll in their own box), no overlapping headers."""
    html = page
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


@REQUIRED_IN_CI
@SKIP_WITHOUT_CHROMIUM
@pytest.mark.parametrize(("width", "height"), [(1280, 2400), (390, 6000)])
def test_renders_in_headless_chromium(page, tmp_path, width, height):
    html = page
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


@REQUIRED_IN_CI
@SKIP_WITHOUT_CHROMIUM
def test_banners_and_paired_comparison_fit_a_phone(tmp_path):
    """Issue 18: the stand-in and overlap banners and the paired comparison at 390 px."""
    models = model_results()
    for m in models:
        m.identity["generator"] = "double:jumpstart-flan-t5-xl (stand-in: restate)"
        m.identity["train_overlap"] = (
            "2 of 12 studies overlap the training file (same study_id 1, same findings text 1); "
            "scored: their scores may overstate the model"
        )
    html = render_report(RUN, models)
    assert "Stand-in, not the named model:" in html and "<h2>Paired comparison</h2>" in html
    probe = tmp_path / "probe.html"
    probe.write_text(probe_page(html, 390), encoding="utf-8")
    proc = chromium("--window-size=430,1000", "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="layout-check">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["scroll_width"] <= 390 and check["overlaps"] == [], check


SECTION_CHECK = """<script>
// The per-observation section (issue 18) at the width under test: no table wider than the
// section (so no sideways scroll, not even inside a box), and no text smaller than 11 px.
window.addEventListener("load", () => {
  const doc = document.getElementById("report").contentDocument;
  const section = doc.querySelector("section.per-observation");
  const out = document.createElement("pre");
  out.id = "section-check";
  if (!section) {
    out.textContent = JSON.stringify({ found: false });
    document.body.appendChild(out);
    return;
  }
  const right = section.getBoundingClientRect().right;
  const tables = [...section.querySelectorAll("table")];
  const wide = tables
    .filter((t) => t.getBoundingClientRect().right > right + 0.5 || t.scrollWidth > t.clientWidth)
    .map((t) => t.className + ":" + Math.round(t.getBoundingClientRect().width));
  const sizes = [...section.querySelectorAll("h2,h3,p,caption,th,td,abbr,span")]
    .filter((e) => e.getBoundingClientRect().width > 0)
    .map((e) => parseFloat(getComputedStyle(e).fontSize));
  const cells = [...section.querySelectorAll("td,th")].filter(
    (c) => c.scrollWidth > c.clientWidth + 1
  ).length;
  out.textContent = JSON.stringify({
    found: true,
    viewport: doc.defaultView.innerWidth,
    scroll_width: doc.documentElement.scrollWidth,
    tables: tables.length,
    observation_tables: section.querySelectorAll("table.observations").length,
    rows: section.querySelectorAll("table.observations tbody tr").length,
    wide: wide,
    clipped_cells: cells,
    smallest_font: Math.min(...sizes),
  });
  document.body.appendChild(out);
});
</script>"""


@REQUIRED_IN_CI
@SKIP_WITHOUT_CHROMIUM
@pytest.mark.parametrize("width", [1280, 390])
def test_per_observation_section_fits_without_sideways_scroll(page, tmp_path, width):
    """Issue 18: the per-observation tables and the normal/abnormal matrices fit the screen (no
    table wider than its section, no clipped cell) with text of at least 11 px."""
    assert "<h2>Clinical agreement by observation</h2>" in page
    probe = tmp_path / "probe.html"
    probe.write_text(probe_page(page, width).replace(LAYOUT_CHECK, SECTION_CHECK), encoding="utf-8")
    proc = chromium(f"--window-size={width + 40},1000", "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="section-check">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["found"] and check["viewport"] == width, check
    assert check["observation_tables"] == len(MODELS), check
    assert check["tables"] == 2 * len(MODELS), check
    assert check["rows"] == 14 * len(MODELS), check
    assert check["scroll_width"] <= width, check
    assert check["wide"] == [] and check["clipped_cells"] == 0, check
    assert check["smallest_font"] >= 11, check
