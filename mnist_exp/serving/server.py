"""The server behind `mnist-exp-serve`: the API with the page mounted, a socket bound before
the model loads, and uvicorn stopped gracefully by Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import errno
import socket
from pathlib import Path

from mnist_exp.errors import MnistExpError
from mnist_exp.serving.service import PredictionService
from mnist_exp.signals import stop_signals_handled_by

GRACE_SECONDS = 5  # for requests in flight after Ctrl-C or SIGTERM


class ServeError(MnistExpError):
    """The server cannot start as asked."""


def build_app(
    service: PredictionService,
    model_name: str,
    upload_root: Path | None = None,
    metrics: bool = True,
):
    """The ASGI app: the API, with the page mounted at / when `upload_root` (Gradio's private
    upload folder, GRADIO_TEMP_DIR) is given, inside the guards every route shares (outermost
    first): requests cut off by the shutdown answered, every request counted for /metrics
    (unless `metrics` is off), errors in one shape, requests in progress bounded (the probes
    aside), and the page's uploads bounded in total."""
    from mnist_exp.serving.api import create_api
    from mnist_exp.serving.body_limit import EndOnShutdown
    from mnist_exp.serving.connections import ConcurrencyLimit
    from mnist_exp.serving.error_shape import ErrorShape
    from mnist_exp.serving.upload_quota import UploadQuota

    server_metrics = None
    if metrics:
        from mnist_exp.serving.metrics import ServerMetrics

        server_metrics = ServerMetrics()
        service.batcher.on_batch = server_metrics.observe_batch
    app = create_api(service, model_name, server_metrics)
    if upload_root is not None:
        import gradio as gr

        from mnist_exp.serving.ui import build_ui

        page = build_ui(service, upload_root)
        app = gr.mount_gradio_app(app, page, path="/", max_file_size=service.limits.max_file_bytes)
        # A mounted page never counts as launched, and Gradio skips its file allow-list for
        # pages that have not: any server path sent as a file would be read and served back.
        page.has_launched = True
        app = UploadQuota(app, upload_root)
    app = ErrorShape(ConcurrencyLimit(app))
    if server_metrics is not None:
        from mnist_exp.serving.metrics import RequestMetrics

        app = RequestMetrics(app, server_metrics)
    return EndOnShutdown(app)


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


class StoppableServer:
    """uvicorn's server, stopped gracefully by Ctrl-C or SIGTERM (requests in flight get
    GRACE_SECONDS), then exiting with status 0 (uvicorn itself re-raises the signal after its
    shutdown, so the process would die of it). A second signal stops at once."""

    def __init__(self, config, on_stop=None):
        import uvicorn

        self.server = uvicorn.Server(config)
        self.server.capture_signals = self._capture_signals
        self.on_stop = on_stop  # called at the first signal (readiness drops at once)

    def run(self, sock: socket.socket) -> None:
        self.server.run(sockets=[sock])

    @contextlib.contextmanager
    def _capture_signals(self):
        def stop(signum, frame):
            if self.server.should_exit:  # a second signal: stop waiting for connections
                self.server.force_exit = True
            elif self.on_stop is not None:
                self.on_stop()
            self.server.should_exit = True

        with stop_signals_handled_by(stop):
            yield
