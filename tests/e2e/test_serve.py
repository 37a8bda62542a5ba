"""End to end: ``radimpress serve --from RUN_DIR`` answers real HTTP requests with the run's
fine-tuned model, refuses bad requests with the container's status, never lets report text
into its log or error bodies, and stops cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from terminal_signals import sigint_as_a_terminal_gives_it

from radimpress_workstation.cli import main
from radimpress_workstation.job_backend.jumpstart.serving import ENDPOINT_MAX_PAYLOAD
from radimpress_workstation.served_model import SCRATCH

# The installed command's entry point, so the process ends (and exits) as a user's would.
CLI = [sys.executable, "-c", "from radimpress_workstation.cli import console_main; console_main()"]
SENTINEL = "SENTINEL-5d1e small right apical pneumothorax"
OVERSIZE = {"text_inputs": SENTINEL * (ENDPOINT_MAX_PAYLOAD // len(SENTINEL) + 1)}
URL = re.compile(r"listening on http://([^:/\s]+):(\d+)")


class Served:
    def __init__(self, process: subprocess.Popen[str], host: str, port: int, intro: str) -> None:
        self.process, self.host, self.port, self.intro = process, host, port, intro

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return response.status, json.loads(data), dict(response.getheaders())
        finally:
            connection.close()

    def invoke(self, body: Any, content_type: str = "application/json") -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, answer, _ = self.request(
            "POST", "/invocations", data, {"Content-Type": content_type}
        )
        return status, answer

    def stop(self, signum: int) -> tuple[int, str, str]:
        self.process.send_signal(signum)
        stdout, stderr = self.process.communicate(timeout=60)
        return self.process.returncode, self.intro + stdout, stderr


def start(run_dir: Path) -> Served:
    process = subprocess.Popen(
        [*CLI, "serve", "--from", str(run_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_a_terminal_gives_it,
    )
    intro = ""
    deadline = time.monotonic() + 120
    while (found := URL.search(intro)) is None:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            raise AssertionError(f"serve ended before listening: {process.communicate()}")
        intro += line
        assert time.monotonic() < deadline
    return Served(process, found[1], int(found[2]), intro)


@pytest.fixture(scope="module")
def served(trained_run) -> Iterator[Served]:
    server = start(trained_run.folder)
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def infer_records(trained_run) -> list[dict[str, Any]]:
    return [json.loads(line) for line in trained_run.data.infer.read_text().splitlines()]


def run_impressions(trained_run) -> dict[str, str]:
    rows = (trained_run.folder / "impressions.jsonl").read_text().splitlines()
    return {
        r["study_id"]: r["generated"]
        for r in map(json.loads, rows)
        if r["model"] == "fine-tuned (select)"
    }


def test_serve_says_what_it_serves_and_where(served, trained_run):
    assert served.host == "127.0.0.1"
    assert f"fine-tuned (select) of run {trained_run.folder.name}" in served.intro
    assert "[radimpress-local/select]" in served.intro


def test_ping_is_healthy(served):
    status, body, headers = served.request("GET", "/ping")
    assert (status, body) == (200, {"status": "Healthy"})
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])


def test_a_string_and_a_list_get_the_impressions_the_run_wrote(served, trained_run):
    records, expected = infer_records(trained_run), run_impressions(trained_run)
    first = records[0]
    status, body = served.invoke({"text_inputs": first["findings"], "max_length": 512})
    assert status == 200
    assert body == {"generated_texts": [expected[first["study_id"]]]}
    several = records[1:6]
    status, body = served.invoke({"text_inputs": [r["findings"] for r in several],
                                  "max_length": 512})  # fmt: skip
    assert status == 200
    assert body["generated_texts"] == [expected[r["study_id"]] for r in several]
    status, body = served.invoke({"text_inputs": first["findings"], "max_length": 2})
    assert status == 200 and len(body["generated_texts"][0].split()) <= 2


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"{" + SENTINEL.encode(), "application/json", 400, "not valid JSON"),
        ({"inputs": SENTINEL}, "application/json", 400, "'text_inputs' is required"),
        ({"text_inputs": [SENTINEL, 3]}, "application/json", 400, "a list of strings"),
        ({"text_inputs": SENTINEL, SENTINEL: 1}, "application/json", 400, "not parameter names"),
        ({"text_inputs": SENTINEL, "max_length": SENTINEL}, "application/json", 400, "max_length"),
        (SENTINEL.encode(), "text/plain", 400, "ContentType text/plain is not accepted"),
        (OVERSIZE, "application/json", 413, "over the limit of 6291456 bytes"),
    ],
)
def test_bad_requests_get_the_containers_status_and_no_report_text(
    served, body, content_type, status, reason
):
    got, answer = served.invoke(body, content_type)
    assert got == status
    assert answer["code"] == status and reason in answer["message"]
    assert "SENTINEL" not in json.dumps(answer)
    assert served.invoke({"text_inputs": "Lungs are clear."})[0] == 200  # still serving


def test_other_routes_and_methods_do_not_quote_the_request(served):
    status, answer, _ = served.request("GET", f"/ping?{SENTINEL.replace(' ', '+')}")
    assert status == 404 and "SENTINEL" not in json.dumps(answer)
    status, answer, _ = served.request("PUT", "/invocations", b"{}")
    assert status == 501 and "SENTINEL" not in json.dumps(answer)


def test_ctrl_c_stops_it_with_130_and_its_log_holds_no_report_text(served, trained_run):
    served.invoke({"text_inputs": SENTINEL})  # one good request holding the sentinel, too
    code, stdout, stderr = served.stop(signal.SIGINT)
    assert code == 130, stderr[-2000:]
    assert "radimpress serve: interrupted" in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("request_id=")]
    assert len(lines) >= 10
    assert {re.search(r"status=(\d+)", line)[1] for line in lines} >= {"200", "400", "413"}
    assert "SENTINEL" not in stdout + stderr and "pneumothorax" not in stderr
    assert not (trained_run.folder / SCRATCH).exists()  # the extracted model is gone


def test_sigterm_stops_it_with_143(trained_run):
    server = start(trained_run.folder)
    assert server.request("GET", "/ping")[0] == 200
    code, _, stderr = server.stop(signal.SIGTERM)
    assert code == 143 and "terminated (SIGTERM)" in stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "{missing}", "--port", "0"], "--from: no such folder"),
        (["--from", "{infer_folder}", "--port", "0"], "--from: not a run folder"),
        (["--from", "{run}", "--port", "70000"], "--port 70000 is not a port"),
    ],
)
def test_a_run_dir_it_cannot_serve_is_a_usage_error(trained_run, tmp_path, capsys, argv, message):
    names = {"missing": tmp_path / "missing", "infer_folder": trained_run.data.infer.parent,
             "run": trained_run.folder}  # fmt: skip
    argv = [a.format(**{k: str(v) for k, v in names.items()}) for a in argv]
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("radimpress serve: error: ") and message in err
