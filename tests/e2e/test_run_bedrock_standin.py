"""End to end: `radimpress run --model bedrock-stand-in` compares the Bedrock model beside the
local ones, through the same pipeline path (ResolveModels' bedrock model, the Bedrock double),
and every row, table and the report say a stand-in wrote its impressions (issue 21, "Locally")."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from radimpress_workstation.console import Console
from radimpress_workstation.model_specs import BEDROCK_STANDIN, BEDROCK_STANDIN_MODEL_ID
from radimpress_workstation.runtime import LocalRun
from radimpress_workstation.synthetic import write_demo_files

LABEL = f"double:bedrock-{BEDROCK_STANDIN_MODEL_ID} (stand-in: lead)"


@pytest.fixture(scope="module")
def run_with_bedrock(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e-bedrock")
    data = write_demo_files(root / "synthetic", train=60, infer=20, seed=7, with_bad=False)
    run = LocalRun(
        data.train,
        data.infer,
        ["restate", BEDROCK_STANDIN],
        root / "out",
        Console(io.StringIO()),
        dataset="synthetic",
    )
    return run.run()


def test_three_models_one_run_the_bedrock_rows_labelled_stand_in(run_with_bedrock):
    results = run_with_bedrock.out_dir / "results"
    (scores,) = results.glob("scores/run_date=*/*.parquet")
    rows = pq.read_table(scores).to_pylist()
    roles = {r["model_role"] for r in rows}
    assert roles == {"pre-trained", "fine-tuned", "bedrock"}
    bedrock = [r for r in rows if r["model_role"] == "bedrock"]
    assert len(bedrock) == 20  # every findings study, once
    assert {r["generator"] for r in bedrock} == {LABEL}
    assert {r["model"] for r in bedrock} == {
        f"bedrock ({BEDROCK_STANDIN_MODEL_ID}, stand-in: lead)"
    }
    assert all(r["rougel_f1"] is not None for r in bedrock)  # scored against the references
    html = next(results.rglob("report.html")).read_text(encoding="utf-8")
    assert "Stand-in, not the named model" in html and LABEL in html
