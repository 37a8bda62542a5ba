"""The report's "Browse every study" section: every study x model, sortable and filterable.

Why this shape: 2,000 studies x 3 models as HTML rows is a page of tens of thousands of elements
that a phone lays out slowly. Instead the rows travel as JSON in a ``<script
type="application/json">`` block (data, never run) and one small inline script renders
PAGE_SIZE rows at a time, sorting and filtering in the page: no server, no network, no external
asset. The script is a constant; the page's Content-Security-Policy admits it by its SHA-256
(``SCRIPT_HASH``) and nothing else. It builds every cell with ``textContent``, so report text is
never parsed as HTML. bench/report_browse.py measures the page size and load time.

Rows are collected while publish streams the score rows (:meth:`BrowseTable.watch`), for at most
MAX_STUDIES studies, the first ones met in the score files: a million-report run still gives a
page a browser opens, and the section says how many studies only the scores table holds.

Missed and invented findings are the score rows' own ``clinical_missed`` / ``clinical_invented``
(radimpress.clinical.agreement), the lists the report's case cards show. Report text goes into the
page only (the clinician's artifact under the KMS bucket), never into a log or an exception.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

MAX_STUDIES = 10_000
PAGE_SIZE = 50
# Models disagree on a study when their ROUGE-L F1 spread (best minus worst) is above this...
ROUGEL_SPREAD = 0.3
# ...or their clinical verdicts differ (flag bits, as the page's JSON carries them).
CLINICAL_DIFFERS, ROUGEL_DIFFERS = 1, 2
DISAGREEMENT = (
    "Models disagree on a study (highlighted, marked &ne;) when at least two of them scored it "
    "and either their clinical verdicts differ (a different clinical F1, or different missed or "
    "invented findings) or their ROUGE-L F1 spread, best minus worst, is above "
    f"{ROUGEL_SPREAD:.2f}."
)


@dataclass(frozen=True)
class Cell:
    """One model's impression of one study and its scores (None: not scored, no reference)."""

    generated: str
    rougel: float | None
    clinical: float | None
    missed: str
    invented: str

    def verdict(self) -> tuple[float, str, str] | None:
        """What the clinical check concluded; None without clinical scores."""
        if self.clinical is None:
            return None
        return (round(self.clinical, 6), self.missed, self.invented)


def disagreement(cells: Sequence[Cell | None]) -> tuple[int, float | None]:
    """Flag bits (CLINICAL_DIFFERS, ROUGEL_DIFFERS) and the ROUGE-L spread of one study's cells.

    Only models that scored the study count; with fewer than two there is nothing to disagree on.
    """
    rouge = [c.rougel for c in cells if c is not None and c.rougel is not None]
    spread = max(rouge) - min(rouge) if len(rouge) >= 2 else None
    verdicts = {c.verdict() for c in cells if c is not None} - {None}
    flags = CLINICAL_DIFFERS if len(verdicts) > 1 else 0
    if spread is not None and spread > ROUGEL_SPREAD + 1e-9:
        flags |= ROUGEL_DIFFERS
    return flags, spread


def _score(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class BrowseTable:
    """Every study's findings, reference and each model's cell, gathered from flat score rows
    (publish.flatten_row's shape), then rendered as the report section."""

    def __init__(self, max_studies: int = MAX_STUDIES) -> None:
        self.max_studies = max_studies
        # study id -> [findings, reference, {model label: Cell}]
        self._studies: dict[str, list[Any]] = {}
        self.left_out: Counter[str] = Counter()  # rows not kept (beyond max_studies), by model

    @property
    def studies(self) -> int:
        return len(self._studies)

    def add(self, row: dict[str, Any]) -> None:
        study = row["study_id"]
        entry = self._studies.get(study)
        if entry is None:
            if len(self._studies) >= self.max_studies:
                self.left_out[row["model"]] += 1
                return
            entry = self._studies[study] = [row["findings"], row.get("reference"), {}]
        if entry[1] is None:
            entry[1] = row.get("reference")
        entry[2].setdefault(
            row["model"],
            Cell(
                generated=row["generated"],
                rougel=_score(row.get("rougel_f1")),
                clinical=_score(row.get("clinical_f1")),
                missed=row.get("clinical_missed") or "",
                invented=row.get("clinical_invented") or "",
            ),
        )

    def watch(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Pass rows through unchanged, keeping what the table needs on the way."""
        for row in rows:
            self.add(row)
            yield row

    def data(self, labels: Sequence[str]) -> dict[str, Any]:
        """The page's JSON: models in report order, settings, and one row per study by id:
        ``[id, findings, reference, flags, spread, [[generated, rougel, clinical, missed,
        invented] or null per model]]``."""
        rows = []
        for study in sorted(self._studies):
            findings, reference, by_model = self._studies[study]
            cells = [by_model.get(label) for label in labels]
            flags, spread = disagreement(cells)
            rows.append(
                [
                    study,
                    findings,
                    reference,
                    flags,
                    _score(spread),
                    [
                        None
                        if c is None
                        else [c.generated, c.rougel, c.clinical, c.missed, c.invented]
                        for c in cells
                    ],
                ]
            )
        return {
            "models": list(labels),
            "page_size": PAGE_SIZE,
            "flags": {"clinical": CLINICAL_DIFFERS, "rougel": ROUGEL_DIFFERS},
            "rows": rows,
        }

    def section(self, labels: Sequence[str], *, page_size: int = PAGE_SIZE) -> list[str]:
        """The section's HTML: heading, notes, controls, the empty table, its data and script."""
        data = self.data(labels)
        data["page_size"] = page_size
        note = f"{self.studies:,} studies x {len(labels)} model(s)"
        if self.left_out:
            note += (
                f"; the first {self.studies:,} met in the score files: up to "
                f"{max(self.left_out.values()):,} more per model are only in the scores table"
            )
        return [
            '<section class="browse" id="browse">',
            "<h2>Browse every study</h2>",
            f'<p class="note">{note}. Sort by a column&rsquo;s button, filter by text, by '
            "disagreement or by one model&rsquo;s score; the page does it all, offline. "
            f"{DISAGREEMENT}</p>",
            _controls(labels),
            '<noscript><p class="note">This table needs JavaScript; the scores table (Athena) '
            "holds the same rows.</p></noscript>",
            _table_head(labels),
            '<div class="b-pager"><button type="button" id="b-prev">Previous</button>'
            '<span id="b-status" aria-live="polite"></span>'
            '<button type="button" id="b-next">Next</button></div>',
            f'<script type="application/json" id="browse-data">{embed_json(data)}</script>',
            f"<script>{SCRIPT}</script>",
            "</section>",
        ]


def embed_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` can end or open a tag."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _controls(labels: Sequence[str]) -> str:
    """Filter and sort controls (the sort select is what phones use: cards have no header)."""
    model_options = "".join(
        f'<option value="{i}">{escape(label)}</option>' for i, label in enumerate(labels)
    )
    sort_options = (
        '<option value="id">Study id</option><option value="spread">ROUGE-L spread</option>'
    )
    for i, label in enumerate(labels):
        sort_options += (
            f'<option value="r{i}">ROUGE-L F1: {escape(label)}</option>'
            f'<option value="c{i}">Clinical F1: {escape(label)}</option>'
        )
    return (
        '<div class="b-controls">'
        '<label>Text <input type="search" id="b-text" placeholder="study id or any text"></label>'
        '<label class="b-check"><input type="checkbox" id="b-disagree"> Only where models '
        "disagree</label>"
        f'<label>Model <select id="b-model">{model_options}</select></label>'
        '<label>Score <select id="b-metric"><option value="r">ROUGE-L F1</option>'
        '<option value="c">Clinical F1</option></select></label>'
        '<label>From <input type="number" id="b-min" min="0" max="1" step="0.05"></label>'
        '<label>to <input type="number" id="b-max" min="0" max="1" step="0.05"></label>'
        '<label>Worst <input type="number" id="b-worst" min="1" step="1" placeholder="N"></label>'
        f'<label>Sort <select id="b-sort">{sort_options}</select></label>'
        '<button type="button" id="b-dir" aria-pressed="false">Ascending</button>'
        "</div>"
    )


def _sort_button(key: str, text: str) -> str:
    return f'<button type="button" class="b-sort" data-sort="{key}">{text}</button>'


def _table_head(labels: Sequence[str]) -> str:
    cols = '<col class="b-id"><col><col>' + "<col>" * len(labels) + '<col class="b-spread">'
    models = "".join(
        f'<th scope="col"><span class="b-model">{escape(label)}</span>'
        f"{_sort_button(f'r{i}', 'ROUGE-L')}{_sort_button(f'c{i}', 'Clinical')}</th>"
        for i, label in enumerate(labels)
    )
    return (
        f'<table class="browse"><colgroup>{cols}</colgroup><thead><tr>'
        f'<th scope="col" aria-sort="ascending">{_sort_button("id", "Study")}</th>'
        '<th scope="col">Findings</th><th scope="col">Reference</th>'
        f'{models}<th scope="col">{_sort_button("spread", "Spread")}</th>'
        '</tr></thead><tbody id="b-rows"></tbody></table>'
    )


# The page's one script. A constant (hashed for the Content-Security-Policy): everything it
# shows comes from the JSON block and is set with textContent / setAttribute, never as HTML.
SCRIPT = """
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const data = JSON.parse($("browse-data").textContent);
  const models = data.models, rows = data.rows, size = data.page_size;
  const state = { sort: "id", desc: false, page: 0, text: "", disagree: false,
    model: 0, metric: "r", min: null, max: null, worst: null };
  const collator = new Intl.Collator(undefined, { numeric: true });
  let hay = null;
  const fmt = (v) => (v === null || v === undefined ? "\\u2013" : v.toFixed(4));
  const num = (el) => (el.value.trim() === "" || isNaN(+el.value) ? null : +el.value);
  function value(r, key) {
    if (key === "id") return r[0];
    if (key === "spread") return r[4];
    const c = r[5][+key.slice(1)];
    return c ? c[key[0] === "r" ? 1 : 2] : null;
  }
  function compare(key, desc) {
    return (a, b) => {
      const x = value(a, key), y = value(b, key);
      if (x === null || y === null) {
        return x === y ? collator.compare(a[0], b[0]) : x === null ? 1 : -1;
      }
      const d = key === "id" ? collator.compare(x, y) : x - y;
      return (desc ? -d : d) || collator.compare(a[0], b[0]);
    };
  }
  function haystack() {
    if (!hay) hay = rows.map((r) => [r[0], r[1], r[2] || "", ...r[5].map((c) => (c ? c[0] : ""))]
      .join("\\n").toLowerCase());
    return hay;
  }
  function selected() {
    let out = rows.map((r, i) => i);
    if (state.disagree) out = out.filter((i) => rows[i][3]);
    if (state.text) { const h = haystack(); out = out.filter((i) => h[i].includes(state.text)); }
    let list = out.map((i) => rows[i]);
    const key = state.metric + state.model;
    if (state.min !== null || state.max !== null || state.worst !== null) {
      list = list.filter((r) => {
        const v = value(r, key);
        return v !== null && (state.min === null || v >= state.min) &&
          (state.max === null || v <= state.max);
      });
    }
    if (state.worst !== null) list = list.sort(compare(key, false)).slice(0, state.worst);
    return list.sort(compare(state.sort, state.desc));
  }
  function el(parent, tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  function td(tr, label, cls) {
    const c = el(tr, "td", cls);
    c.setAttribute("data-label", label);
    return c;
  }
  function textCell(tr, label, text) {
    const c = td(tr, label, "b-text");
    if (text === null) el(c, "span", "none", "(none)"); else c.textContent = text;
  }
  function modelCell(tr, i, c) {
    const cell = td(tr, models[i], "b-cell");
    if (!c) { el(cell, "span", "none", "(no impression)"); return; }
    el(cell, "div", "text", c[0]);
    el(cell, "div", "b-scores", "ROUGE-L " + fmt(c[1]) + " \\u00b7 Clinical F1 " + fmt(c[2]));
    if (c[2] !== null) {
      const obs = "Missed: " + (c[3] || "none") + " \\u00b7 Invented: " + (c[4] || "none");
      el(cell, "div", "b-obs", obs);
    }
  }
  function rowOf(r) {
    const tr = document.createElement("tr");
    tr.setAttribute("data-study", r[0]);
    if (r[3]) tr.className = "disagree";
    td(tr, "Study", "b-id").textContent = r[0];
    textCell(tr, "Findings", r[1]);
    textCell(tr, "Reference", r[2]);
    r[5].forEach((c, i) => modelCell(tr, i, c));
    const last = td(tr, "ROUGE-L spread", "b-spread");
    el(last, "span", "", fmt(r[4]));
    if (r[3]) {
      const why = [];
      if (r[3] & data.flags.clinical) why.push("clinical");
      if (r[3] & data.flags.rougel) why.push("ROUGE-L");
      el(last, "div", "b-flag", "\\u2260 disagree: " + why.join(", "));
    }
    return tr;
  }
  function render() {
    const list = selected();
    const pages = Math.max(1, Math.ceil(list.length / size));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * size;
    const frag = document.createDocumentFragment();
    for (const r of list.slice(start, start + size)) frag.appendChild(rowOf(r));
    $("b-rows").replaceChildren(frag);
    $("b-status").textContent = list.length
      ? "Studies " + (start + 1) + "\\u2013" + Math.min(start + size, list.length) + " of " +
        list.length + (list.length < rows.length ? " (of " + rows.length + ")" : "") +
        ", page " + (state.page + 1) + " of " + pages
      : "No study matches (of " + rows.length + ")";
    $("b-prev").disabled = state.page === 0;
    $("b-next").disabled = state.page >= pages - 1;
    document.querySelectorAll("table.browse thead th")
      .forEach((th) => th.removeAttribute("aria-sort"));
    document.querySelectorAll("button.b-sort").forEach((b) => {
      const on = b.dataset.sort === state.sort;
      b.classList.toggle("on", on);
      const arrow = on ? (state.desc ? " \\u25bc" : " \\u25b2") : "";
      b.textContent = b.textContent.replace(/ [\\u25b2\\u25bc]$/, "") + arrow;
      if (on) b.closest("th").setAttribute("aria-sort", state.desc ? "descending" : "ascending");
    });
    $("b-sort").value = state.sort;
    $("b-dir").setAttribute("aria-pressed", String(state.desc));
    $("b-dir").textContent = state.desc ? "Descending \\u25bc" : "Ascending \\u25b2";
  }
  function refilter() {
    state.text = $("b-text").value.trim().toLowerCase();
    state.disagree = $("b-disagree").checked;
    state.model = +$("b-model").value;
    state.metric = $("b-metric").value;
    state.min = num($("b-min"));
    state.max = num($("b-max"));
    const worst = num($("b-worst"));
    state.worst = worst !== null && worst >= 1 ? Math.floor(worst) : null;
    state.page = 0;
    render();
  }
  function sortBy(key, desc) {
    state.sort = key;
    state.desc = desc;
    state.page = 0;
    render();
  }
  document.querySelectorAll("button.b-sort").forEach((b) => b.addEventListener("click", () => {
    const key = b.dataset.sort;
    sortBy(key, key === state.sort ? !state.desc : false);
  }));
  $("b-sort").addEventListener("change", (e) => sortBy(e.target.value, state.desc));
  $("b-dir").addEventListener("click", () => sortBy(state.sort, !state.desc));
  for (const id of ["b-text", "b-min", "b-max", "b-worst"]) {
    $(id).addEventListener("input", refilter);
  }
  for (const id of ["b-disagree", "b-model", "b-metric"]) {
    $(id).addEventListener("change", refilter);
  }
  $("b-prev").addEventListener("click", () => { state.page -= 1; render(); });
  $("b-next").addEventListener("click", () => { state.page += 1; render(); });
  render();
  if (window.performance && performance.mark) performance.mark("browse-rendered");
  $("browse").setAttribute("data-ready", "1");
})();
"""

SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()

CSS = """
section.browse{margin:0}
.b-controls{display:flex;flex-wrap:wrap;gap:6px 14px;align-items:end;margin:6px 0 8px}
.b-controls label{display:flex;flex-direction:column;font-size:12px;color:#555;min-width:0}
.b-controls label.b-check{flex-direction:row;align-items:center;gap:6px;font-size:14px;color:#222}
.b-controls input,.b-controls select,.b-controls button,.b-pager button{font:inherit;font-size:14px;
max-width:100%}
.b-controls input[type=number]{width:6em}.b-controls input[type=search]{width:16em}
.b-controls select{max-width:16em}
table.browse{width:100%;table-layout:fixed;font-size:13px}
table.browse col.b-id{width:7.5em}table.browse col.b-spread{width:7em}
table.browse th,table.browse td{white-space:normal;text-align:left;overflow-wrap:anywhere}
table.browse th .b-model{display:block;font-weight:600}
button.b-sort{font:inherit;font-size:12px;border:1px solid #bbb;background:#fff;border-radius:3px;
margin:2px 4px 0 0;padding:1px 5px;cursor:pointer}
button.b-sort.on{background:#e8eefa;border-color:#4C72B0}
table.browse .text,table.browse td.b-text{white-space:pre-wrap}
.b-scores,.b-obs{color:#555;font-size:12px;margin-top:3px}
tr.disagree td{background:#fff4e5}tr.disagree td:first-child{box-shadow:inset 4px 0 #e0a040}
.b-flag{color:#8a4b00;font-size:12px;font-weight:600}
.b-pager{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:center;margin:8px 0}
@media (max-width:900px){
table.browse,table.browse tbody,table.browse tr,table.browse td{display:block;width:auto}
table.browse colgroup,table.browse thead{display:none}
table.browse tr{border:1px solid #ddd;border-radius:4px;margin:0 0 10px;padding:6px 8px}
table.browse td{border:0;padding:3px 0}
table.browse td::before{content:attr(data-label);display:block;font-size:12px;color:#555;
font-weight:600}
table.browse td.b-id{font-weight:600}
tr.disagree{border-color:#e0a040;background:#fff4e5}tr.disagree td:first-child{box-shadow:none}
.b-controls input[type=search]{width:100%}.b-controls label:first-child{flex:1 1 100%}
}
"""
