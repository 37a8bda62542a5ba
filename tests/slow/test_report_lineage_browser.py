"""The report's "Lineage" section in headless Chromium at 1,280 and 390 px: it is there (this run
and the training run behind its fine-tuned model), the page does not overflow sideways, and at
390 px no table of the section scrolls sideways even inside its box (the job table becomes one
card per job) and no cell is clipped. Chromium as in test_report_browser (same probe: the report
in an iframe of the width under test, measured from the page ``--dump-dom`` prints)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import escape as attr

import pytest
from test_report import RUN, model_results  # the unit tests' report data
from test_report_browser import REQUIRED_IN_CI, SKIP_WITHOUT_CHROMIUM, chromium, section_probe

from radimpress.lineage import as_local, job_usage, run_lineage
from radimpress.results.report import render_report

START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
CHECK = section_probe(
    "lineage",
    "lineage-check",
    measures="",
    fields="""\
    headings: [...section.querySelectorAll("h2,h3")].map((h) => h.textContent),
    clipped: [...section.querySelectorAll("td,th,dd,dt")].filter(
      (c) => c.getBoundingClientRect().width > 0 && c.scrollWidth > c.clientWidth + 1
    ).length,
    sha_shown: section.textContent.includes(%s),""",
)
SHA = "ab" * 32


def lineage() -> dict:
    """A cloud inference run (two transform jobs) and the training run behind its model."""

    def ingest(route: str) -> dict:
        return {
            "source_key": f"incoming/{route}/dev1/a-rather-long-file-name-for-a-phone.jsonl",
            "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
            "input_sha256": SHA,
            "input_bytes": 123_456_789,
            "records": 91_544,
            "rejected": 12,
        }

    def transform(name: str) -> dict:
        return job_usage(
            "transform",
            {
                "TransformJobName": name,
                "ModelName": "radimpress-ft-0123456789abcdef0123",
                "TransformResources": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1},
                "TransformStartTime": START,
                "TransformEndTime": START + timedelta(minutes=41),
            },
        )

    settings = {
        "model_spec": "jumpstart-flan-t5-xl",
        "training_instance_type": "ml.p3.16xlarge",
        "transform_instance_type": "ml.g5.2xlarge",
        "epochs": 3,
        "generation": {"max_length": 128, "num_beams": 1},
        "region": "us-east-1",
    }
    training = run_lineage(
        run_id="radimpress-train-2026-11-23-0000000000000000000000",
        route="train",
        dataset="mimic",
        ingest=ingest("train"),
        jobs=[
            job_usage(
                "training",
                {
                    "TrainingJobName": "radimpress-ft-0123456789abcdef0123",
                    "ResourceConfig": {"InstanceType": "ml.p3.16xlarge", "InstanceCount": 1},
                    "HyperParameters": {"epochs": '"3"', "learning_rate": '"0.0001"'},
                    "TrainingStartTime": START - timedelta(hours=12),
                    "TrainingEndTime": START - timedelta(hours=1),
                    "BillableTimeInSeconds": 39_600,
                },
            )
        ],
        settings=settings,
        started_at="2026-11-23T20:00:00+00:00",
        ended_at=START,
        version="v1.4-12-g0123abc-dirty",
    )
    run = run_lineage(
        run_id=RUN["run_id"],
        route="infer",
        dataset="dev1",
        ingest=ingest("infer"),
        jobs=[
            transform("radimpress-tf-pre-trained-0123456789ab"),
            transform("radimpress-tf-ft-01"),
        ],
        settings=settings,
        started_at="2026-11-24T08:00:00+00:00",
        ended_at=START + timedelta(hours=1),
        version="v1.4-12-g0123abc-dirty",
    )
    return {**run, "training_runs": [training]}


@REQUIRED_IN_CI
@SKIP_WITHOUT_CHROMIUM
@pytest.mark.parametrize(("width", "record"), [(1280, "cloud"), (390, "cloud"), (390, "local")])
def test_lineage_section_fits_desktop_and_phone(tmp_path, width, record):
    made = lineage() if record == "cloud" else as_local(lineage(), "0123abc-dirty")
    html = render_report({**RUN, "lineage": made}, model_results(n=20))
    probe = tmp_path / "probe.html"
    probe.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="report" style="width:{width}px;height:900px;border:0" '
        f'srcdoc="{attr(html, quote=True)}"></iframe>{CHECK % json.dumps(SHA)}</body></html>',
        encoding="utf-8",
    )
    proc = chromium(f"--window-size={width + 40},1000", "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="lineage-check">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["found"] and check["viewport"] == width
    assert check["headings"] == [
        "Lineage",
        "Training run radimpress-train-2026-11-23-0000000000000000000000",
    ]
    assert check["tables"] == 2 and check["sha_shown"]
    assert check["scroll_width"] <= width, check
    if width == 390:
        assert check["wide"] == [] and check["clipped"] == 0, check
