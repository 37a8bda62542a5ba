"""Size and load time of report.html's "Browse every study" table at 2,000 studies x 3 models.

Renders a synthetic run (seeded score rows of Indiana-like length: findings about 190 characters,
impressions about 50) with the Lambda's own render_report, three ways, and opens each in headless
Chromium (Debian's ``chromium``) from a file, as a reader would:

- ``paged``: the report as published (rows as JSON, the page's script renders 50 at a time);
- ``full_dom``: the same page told to render every row at once (the "one huge DOM" alternative);
- ``without_browse``: the report without the section (the reference the others are compared to).

For each: page bytes, elements in the document, and the median over ``--repeats`` loads of the
time from navigation start to the first table render (the script's ``browse-rendered`` mark), to
DOMContentLoaded and to the load event, and of one sort (click) and one text filter over every
row. Ratios compare with the reference measured in the same run.

    .venv/bin/python bench/report_browse.py [--studies 2000] [--models 3] [--repeats 5]

Prints the figures and writes them to bench/results/report_browse.json.
"""

from __future__ import annotations

import argparse
import html as html_module
import json
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from radimpress.results.publish import ModelResults, flatten_row  # noqa: E402
from radimpress.results.report import render_report  # noqa: E402
from radimpress.results.report_browse import PAGE_SIZE, BrowseTable  # noqa: E402

OUTPUT = ROOT / "bench" / "results" / "report_browse.json"
_VOCABULARY = (
    "heart size normal lungs clear no focal consolidation pleural effusion pneumothorax "
    "mediastinal contours stable degenerative changes spine right lower lobe opacity atelectasis "
    "cardiomegaly mild interstitial edema unchanged compared prior examination XXXX"
)
WORDS = _VOCABULARY.split()
OBSERVATIONS = ("Atelectasis", "Cardiomegaly", "Edema", "Lung Opacity", "Pleural Effusion")
ROLES = ("fine-tuned", "candidate", "pre-trained")
RUN = {
    "run_id": "bench-browse",
    "dataset": "dev2",
    "source_key": "incoming/infer/dev2/synthetic.jsonl",
    "records": 0,
    "rejected": 0,
    "started_at": datetime(2026, 1, 1, tzinfo=UTC),
    "published_at": datetime(2026, 1, 1, 0, 5, tzinfo=UTC),
}


def _text(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def _clinical(rng: random.Random) -> dict[str, Any]:
    missed = sorted(rng.sample(OBSERVATIONS, rng.choice((0, 0, 0, 1, 2))))
    invented = sorted(set(rng.sample(OBSERVATIONS, rng.choice((0, 0, 0, 1)))) - set(missed))
    f1 = 1.0 if not missed and not invented else round(rng.choice((0.0, 0.4, 0.5, 0.67, 0.8)), 2)
    return {"precision": f1, "recall": f1, "f1": f1, "missed": missed, "invented": invented}


def score_rows(studies: int, models: int, seed: int = 0) -> list[dict[str, Any]]:
    """Flat score rows (publish.flatten_row's shape) of ``models`` models over ``studies``."""
    rng = random.Random(seed)
    texts = [
        (_text(rng, rng.randint(80, 320)), _text(rng, rng.randint(20, 90))) for _ in range(studies)
    ]
    out = []
    for m in range(models):
        label = f"{ROLES[m % len(ROLES)]} (model {m})"
        for i, (findings, reference) in enumerate(texts):
            f = round(rng.random(), 4)
            raw = {
                "run_id": RUN["run_id"],
                "dataset": RUN["dataset"],
                "model": label,
                "study_id": f"CXR{i:05d}",
                "findings": findings,
                "reference": reference,
                "generated": _text(rng, rng.randint(20, 90)),
                "model_role": ROLES[m % len(ROLES)],
                "clinical": _clinical(rng),
                **{
                    k: {"precision": f, "recall": f, "fmeasure": f}
                    for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")
                },
            }
            out.append(
                flatten_row(raw, source="bench", line=i + 1, run_id=RUN["run_id"], dataset="dev2")
            )
    return out


def synthetic_reports(studies: int = 2000, models: int = 3) -> dict[str, str]:
    """The three pages (paged, full_dom, without_browse) of one synthetic run."""
    results: dict[str, ModelResults] = {}
    browse = BrowseTable()
    for row in browse.watch(score_rows(studies, models)):
        results.setdefault(row["model"], ModelResults(label=row["model"], key=row["model"]))
        results[row["model"]].add(row)
    run = {**RUN, "records": studies}
    paged = render_report(run, list(results.values()), browse=browse)
    marker = f'"page_size":{PAGE_SIZE},'
    assert paged.count(marker) == 1, "page size not found in the page's data"
    return {
        "paged": paged,
        "full_dom": paged.replace(marker, f'"page_size":{studies},'),
        "without_browse": render_report(run, list(results.values())),
    }


CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

# Loads the report from its file in an iframe (same origin under --allow-file-access-from-files),
# then reads the frame's own navigation timing and the table script's mark, clicks one sort and
# types one filter, and writes what it saw into the probe page, which --dump-dom prints.
PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="report" src="report.html" style="width:1280px;height:900px;border:0"></iframe>
<script>
window.addEventListener("load", () => {
  const win = document.getElementById("report").contentWindow, doc = win.document;
  const nav = win.performance.getEntriesByType("navigation")[0];
  const mark = win.performance.getEntriesByName("browse-rendered")[0];
  const out = { elements: doc.getElementsByTagName("*").length,
    rows_rendered: doc.querySelectorAll("#b-rows tr").length,
    dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
    load_ms: nav ? nav.loadEventEnd || null : null,
    first_render_ms: mark ? mark.startTime : null };
  const sort = doc.querySelector('button.b-sort[data-sort="r0"]');
  if (sort) {
    let t = win.performance.now();
    sort.click();
    out.sort_ms = win.performance.now() - t;
    const text = doc.getElementById("b-text");
    text.value = "effusion";
    t = win.performance.now();
    text.dispatchEvent(new win.Event("input"));
    out.filter_ms = win.performance.now() - t;
    out.filtered_status = doc.getElementById("b-status").textContent;
  }
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body></html>"""


def chromium_path() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def load(html: str, chromium: str) -> dict[str, Any]:
    """One load of ``html`` from a file in headless Chromium: the probe's figures."""
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        probe = Path(folder) / "probe.html"
        probe.write_text(PROBE, encoding="utf-8")
        proc = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--allow-file-access-from-files",
                f"--user-data-dir={folder}/profile",
                "--window-size=1320,1000",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"chromium failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    figures: dict[str, Any] = json.loads(html_module.unescape(found.group(1)))
    figures["bytes"] = len(html.encode("utf-8"))
    return figures


def measure(html: str, chromium: str, repeats: int) -> dict[str, Any]:
    """Medians over ``repeats`` loads (sizes and counts are the same every time)."""
    loads = [load(html, chromium) for _ in range(repeats)]
    out = dict(loads[0])
    for key in ("dom_content_loaded_ms", "load_ms", "first_render_ms", "sort_ms", "filter_ms"):
        values = [x[key] for x in loads if x.get(key) is not None]
        if values:
            out[key] = round(statistics.median(values), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=2000)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    chromium = chromium_path()
    if chromium is None:
        print("bench/report_browse.py: error: no headless Chromium (apt-get install chromium)")
        return 2
    pages = synthetic_reports(args.studies, args.models)
    figures = {name: measure(html, chromium, args.repeats) for name, html in pages.items()}
    reference = figures["without_browse"]
    ratios = {
        name: {
            key: round(figures[name][key] / reference[key], 2)
            for key in ("bytes", "elements", "dom_content_loaded_ms")
            if reference.get(key)
        }
        for name in ("paged", "full_dom")
    }
    result = {
        "what": f"report.html with {args.studies} studies x {args.models} models, "
        "opened from a file in headless Chromium",
        "page_size_rows": PAGE_SIZE,
        "repeats": args.repeats,
        "machine": f"{platform.machine()}, {platform.python_version()}, "
        + subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip(),
        "figures": figures,
        "ratio_to_without_browse": ratios,
        "full_dom_over_paged": {
            key: round(figures["full_dom"][key] / figures["paged"][key], 2)
            for key in ("elements", "dom_content_loaded_ms", "sort_ms", "filter_ms")
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
