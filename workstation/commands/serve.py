"""`radimpress serve`: a run's fine-tuned model behind the SageMaker real-time container contract.

``radimpress serve --from RUN_DIR --port PORT`` loads the model a local run trained and kept
(``RUN_DIR/models/<model>/``) and answers on http://127.0.0.1:PORT as a SageMaker hosting container
does: ``GET /ping`` -> 200, ``POST /invocations`` with ``Content-Type: application/json`` and the
FLAN-T5 1.x body ``{"text_inputs": "..." or [...], "max_length": N, ...}`` ->
``{"generated_texts": [...]}``. Bad requests get the container's status: 400 for a body that is not
JSON or not that shape and for another content type, 413 for a body over 6 MB. Ctrl-C or SIGTERM
stops it (exit 130 or 143); exit 2 when RUN_DIR holds no model that can be served.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from radimpress_workstation.console import EXIT_UNUSABLE, error

if TYPE_CHECKING:
    from radimpress_workstation.endpoint_server import EndpointServer
    from radimpress_workstation.served_model import ServedModel

DEFAULT_HOST = "127.0.0.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a run's fine-tuned model over HTTP as a SageMaker endpoint container does",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument(
        "--from",
        dest="run_dir",
        type=Path,
        required=True,
        metavar="RUN_DIR",
        help="a run folder (out/<run id>) of a run that trained",
    )
    parser.add_argument(
        "--port", type=int, required=True, help="port to listen on (0: any free port)"
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)",
    )
    parser.add_argument(
        "--model", help="which trained model, when RUN_DIR holds several (its name)"
    )
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    from radimpress_workstation.endpoint_server import EndpointServer
    from radimpress_workstation.job_backend.jumpstart.serving import ENDPOINT_MAX_PAYLOAD
    from radimpress_workstation.served_model import choose_served, served_model
    from radimpress_workstation.trained_models import ModelFromError, kept_models

    if not 0 <= args.port <= 65535:
        return error("serve", f"--port {args.port} is not a port (0-65535)")
    try:
        kept = choose_served(kept_models(args.run_dir), args.model, args.run_dir)
        with served_model(kept, ENDPOINT_MAX_PAYLOAD) as served:
            try:
                server = EndpointServer((args.host, args.port), served, log=sys.stderr)
            except OSError as err:
                return error("serve", f"cannot listen on {args.host}:{args.port} ({err.strerror})")
            with server:
                _announce(server, served, args.host)
                server.serve_forever(poll_interval=0.2)
    except ModelFromError as err:
        return error("serve", f"--from: {err.what}", err.where)
    return EXIT_UNUSABLE  # serve_forever returns only when shut down from another thread


def _announce(server: EndpointServer, served: ServedModel, host: str) -> None:
    """The URL and the model, first thing on stdout (a script waits for this line)."""
    from radimpress_workstation.job_backend.jumpstart.serving import ENDPOINT_MAX_PAYLOAD

    print(f"serving {served.describe()}", flush=True)
    print(
        f"listening on {server.url()}: GET /ping, POST /invocations (Content-Type "
        'application/json, {"text_inputs": ..., "max_length": N}, at most '
        f"{ENDPOINT_MAX_PAYLOAD} bytes); Ctrl-C stops",
        flush=True,
    )
    if not _loopback(host):
        print(
            f"!! {host} is not this machine only: anyone who reaches it can send reports to "
            "this model and read its impressions",
            file=sys.stderr,
            flush=True,
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
