"""A local HTTP endpoint speaking the SageMaker real-time container contract, for a served model.

SageMaker talks to a hosting container over HTTP on port 8080: ``GET /ping`` answers 200 when the
model is loaded, ``POST /invocations`` takes the request body and answers the response body
(SageMaker Developer Guide, "Custom Inference Code with Hosting Services",
docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html). This server does
the same on a port of this machine, so a radiologist's tool can be built and tested offline
against a locally trained model (``radimpress serve``).

Every check of a request body is the model server's (``serving.check_request`` before the body
is read, ``serving.answer`` after), the code the local Batch Transform jobs run: a body a
transform refuses is refused here with the same status. Errors are JSON in Multi Model Server's
shape, ``{"code", "type", "message"}`` (awslabs/multi-model-server, ErrorResponse.java).

Patient text never leaves the request: error bodies name what is wrong (a field, a parameter
name, a size), never a value, and the log has one line per request with its id, route, status,
sizes and latency, never the request line, headers' values or body. Predictions run one at a
time (a lock), as one model-server worker serves them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from radimpress_workstation.served_model import ServedModel

PING = "/ping"
INVOCATIONS = "/invocations"
REQUEST_ID_HEADER = "X-Request-Id"
# A body over the limit is read and dropped up to this many times the limit (so the client,
# still sending, gets the 413 instead of a reset connection); beyond it the connection is closed.
DRAIN_FACTOR = 4
_CHUNK = 1 << 16


class EndpointServer(ThreadingHTTPServer):
    """One served model on ``(host, port)``; port 0 picks a free one (``server_port``)."""

    daemon_threads = True  # a request still running does not hold up the stop
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], served: ServedModel, log: TextIO) -> None:
        super().__init__(address, _Handler)
        self.served = served
        self.log = log
        self.predicting = threading.Lock()
        self._log_lock = threading.Lock()

    def url(self) -> str:
        host = str(self.server_address[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.server_port}"

    def log_request_line(self, fields: dict[str, Any]) -> None:
        """One line per request: ids, sizes, status and latency only."""
        line = " ".join(f"{k}={v}" for k, v in fields.items())
        with self._log_lock:
            print(line, file=self.log, flush=True)


class _Handler(BaseHTTPRequestHandler):
    server: EndpointServer
    protocol_version = "HTTP/1.1"  # keep-alive, as Multi Model Server
    # A response's headers and body leave in one write, without Nagle's delay: written apart,
    # a keep-alive client's delayed ACK held each response back about 40 ms.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server_version = "radimpress-serve"
    sys_version = ""

    # ----- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._started = time.perf_counter()
        self._request_id = uuid.uuid4().hex
        if self.path == PING:
            self._reply(HTTPStatus.OK, {"status": "Healthy"}, route=PING)
        else:
            self._error(HTTPStatus.NOT_FOUND, "NotFound", "GET serves /ping only", route="other")

    def do_POST(self) -> None:
        self._started = time.perf_counter()
        self._request_id = uuid.uuid4().hex
        if self.path != INVOCATIONS:
            self._discard_body()
            self._error(
                HTTPStatus.NOT_FOUND, "NotFound", "POST serves /invocations only", route="other"
            )
            return
        self._invoke()

    def _invoke(self) -> None:
        from radimpress_workstation.job_backend.jumpstart.serving import (
            BadRequest,
            answer,
            check_request,
        )

        served = self.server.served
        size = self._content_length()
        if size is None:
            return
        try:
            check_request(
                self.headers.get("Content-Type"),
                self.headers.get("Accept"),
                size,
                served.server.limit,
            )
        except BadRequest as err:
            self._discard_body(size, limit=served.server.limit * DRAIN_FACTOR)
            self._error(err.status, "PredictionException", err.reason, size=size)
            return
        body = self.rfile.read(size)
        try:
            with self.server.predicting:
                result = answer(served.server, body)
        except BadRequest as err:
            self._error(err.status, "PredictionException", err.reason, size=size)
            return
        self._reply(HTTPStatus.OK, result, route=INVOCATIONS, size=size)

    def _content_length(self) -> int | None:
        """The body's size from Content-Length, or None after answering a request without one."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._error(
                HTTPStatus.LENGTH_REQUIRED, "LengthRequired", "send the body with a Content-Length"
            )
            return None
        raw = self.headers.get("Content-Length", "0")
        try:
            size = int(raw)
        except ValueError:
            size = -1
        if size < 0:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, "BadRequest", "Content-Length is not a size")
            return None
        return size

    def _discard_body(self, size: int | None = None, limit: int = 0) -> None:
        """Read and drop a body not used (so the connection stays usable), up to ``limit``."""
        if size is None:
            try:
                size = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                size = 0
        if limit and size > limit:
            self.close_connection = True
            return
        while size > 0:
            chunk = self.rfile.read(min(size, _CHUNK))
            if not chunk:
                break
            size -= len(chunk)

    # ----- answers -----------------------------------------------------------------------------

    def _reply(self, status: int, body: Any, *, route: str = INVOCATIONS, size: int = 0) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header(REQUEST_ID_HEADER, self._request_id)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.server.log_request_line(
            {
                "request_id": self._request_id,
                "method": self.command,
                "route": route,
                "status": int(status),
                "bytes_in": size,
                "bytes_out": len(data),
                "ms": f"{(time.perf_counter() - self._started) * 1000:.2f}",
            }
        )
        self.wfile.write(data)

    def _error(
        self, status: int, kind: str, message: str, *, route: str = INVOCATIONS, size: int = 0
    ) -> None:
        self._reply(status, {"code": int(status), "type": kind, "message": message},
                    route=route, size=size)  # fmt: skip

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (a malformed request line, an unknown method): JSON with the
        status's phrase only; the default page would quote the request line."""
        self._started = getattr(self, "_started", time.perf_counter())
        self._request_id = getattr(self, "_request_id", uuid.uuid4().hex)
        self.close_connection = True
        status = HTTPStatus(code)
        if not hasattr(self, "command") or self.command is None:
            self.command = "?"
        self._error(status, status.phrase.replace(" ", ""), status.phrase, route="other")

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: http.server's lines hold the request line (see ``log_request_line``)."""
