"""`mnist-exp-serve MODEL [--host 127.0.0.1] [--port 7860] [--max-batch N]`: a web page to try
a trained model and an HTTP prediction API, in one process.

MODEL: a run directory, a .keras file, a SavedModel directory, a .tflite or .onnx file.
Page: http://HOST:PORT/ . API: POST /api/predict (multipart `files`), POST
/v1/models/NAME:predict (TF Serving's REST body), GET /api/health, GET /api/model; docs at
/docs. Binds 127.0.0.1 unless told otherwise: the API has no authentication.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError
from mnist_exp.exits import DONE, REFUSED
from mnist_exp.serving.body_limit import EndOnShutdown
from mnist_exp.serving.predictors import MODEL_SOURCES, load_predictor
from mnist_exp.serving.service import Limits, PredictionService
from mnist_exp.signals import stop_signals_handled_by

if TYPE_CHECKING:
    from fastapi import FastAPI

LOCALHOST = ("127.0.0.1", "localhost", "::1")
GRACE_SECONDS = 5  # for requests in flight after Ctrl-C or SIGTERM
MAX_CONNECTIONS = 256  # more are answered 503 at once


class ServeError(MnistExpError):
    """The server cannot start as asked."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=shown("serve"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help=MODEL_SOURCES)
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1, this machine only")
    parser.add_argument("--port", type=int, default=7860, help="default: 7860")
    parser.add_argument(
        "--model-name", default="mnist", help="NAME in /v1/models/NAME:predict (default: mnist)"
    )
    parser.add_argument("--max-batch", type=int, default=64, help="images per model call (64)")
    parser.add_argument("--max-wait-ms", type=float, default=4.0, help="batch gathering time (4)")
    parser.add_argument(
        "--max-images",
        type=int,
        default=Limits.max_images,
        help=f"per request (default {Limits.max_images})",
    )
    parser.add_argument(
        "--no-page", action="store_true", help="the API only, no Gradio page (default: both)"
    )
    return parser


def build_app(
    service: PredictionService, model_name: str, upload_root: Path | None = None
) -> FastAPI:
    """The API, with the page mounted at / when `upload_root` (Gradio's private upload
    folder, GRADIO_TEMP_DIR) is given."""
    from mnist_exp.serving.api import create_api

    app = create_api(service, model_name)
    if upload_root is not None:
        import gradio as gr

        from mnist_exp.serving.ui import build_ui

        page = build_ui(service, upload_root)
        app = gr.mount_gradio_app(app, page, path="/", max_file_size=service.limits.max_file_bytes)
        # A mounted page never counts as launched, and Gradio skips its file allow-list for
        # pages that have not: any server path sent as a file would be read and served back.
        page.has_launched = True
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port, bound before the URL is printed.

    Raises:
        ServeError: when the address is taken or cannot be bound, naming a free port.
    """
    family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is already in use; try --port {free_port(host)}."
            ) from None
        raise ServeError(f"cannot listen on {host}:{port} ({error.strerror}).") from None
    sock.set_inheritable(True)
    return sock


def free_port(host: str) -> int:
    with socket.socket(socket.getaddrinfo(host, 0)[0][0]) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _check_arguments(arguments) -> Limits:
    limits = Limits(max_images=arguments.max_images)
    problems = limits.problems()
    if arguments.max_batch < 1:
        problems.append(f"--max-batch must be >= 1 (got {arguments.max_batch})")
    if not arguments.max_wait_ms >= 0:
        problems.append(f"--max-wait-ms must be >= 0 (got {arguments.max_wait_ms})")
    if not 0 <= arguments.port <= 65535:
        problems.append(f"--port must be in 0..65535 (got {arguments.port})")
    if problems:
        raise ServeError("; ".join(problems).replace("max_images", "--max-images") + ".")
    return limits


def main(argv=None) -> int:
    arguments = build_parser().parse_args(argv)
    name = shown("serve")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    try:
        limits = _check_arguments(arguments)
        sock = bind(arguments.host, arguments.port)  # first: a taken port costs no model load
        predictor = load_predictor(arguments.model)
    except MnistExpError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return REFUSED
    if arguments.host not in LOCALHOST:
        print(
            f"{name}: WARNING: listening on {arguments.host}: anyone who can reach this address "
            "can use the API and the page; they have no authentication.",
            file=sys.stderr,
            flush=True,
        )
    import uvicorn

    service = PredictionService(
        predictor, limits, max_batch=arguments.max_batch, max_wait=arguments.max_wait_ms / 1000
    )
    upload_root = None if arguments.no_page else Path(tempfile.mkdtemp(prefix="mnist-exp-serve-"))
    try:
        if upload_root is not None:
            os.environ["GRADIO_TEMP_DIR"] = str(upload_root)  # private (0700), removed below
        app = build_app(service, arguments.model_name, upload_root)
        config = uvicorn.Config(
            EndOnShutdown(app),
            log_level="warning",
            timeout_graceful_shutdown=GRACE_SECONDS,
            limit_concurrency=MAX_CONNECTIONS,
        )
        port = sock.getsockname()[1]
        print(f"{name}: http://{arguments.host}:{port}/ (API docs at /docs)", flush=True)
        StoppableServer(config).run(sock)
    finally:
        if upload_root is not None:
            shutil.rmtree(upload_root, ignore_errors=True)
    print(f"{name}: stopped.", flush=True)
    return DONE


class StoppableServer:
    """uvicorn's server, stopped gracefully by Ctrl-C or SIGTERM (requests in flight get
    GRACE_SECONDS), then exiting with status 0 (uvicorn itself re-raises the signal after its
    shutdown, so the process would die of it). A second signal stops at once."""

    def __init__(self, config):
        import uvicorn

        self.server = uvicorn.Server(config)
        self.server.capture_signals = self._capture_signals

    def run(self, sock: socket.socket) -> None:
        self.server.run(sockets=[sock])

    @contextlib.contextmanager
    def _capture_signals(self):
        def stop(signum, frame):
            if self.server.should_exit:  # a second signal: stop waiting for connections
                self.server.force_exit = True
            self.server.should_exit = True

        with stop_signals_handled_by(stop):
            yield
