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
import os
import sys

from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError
from mnist_exp.serving.predictors import MODEL_SOURCES, load_predictor
from mnist_exp.serving.service import Limits, PredictionService
from mnist_exp.signals import stop_signals_handled_by

LOCALHOST = ("127.0.0.1", "localhost", "::1")


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


def build_app(service: PredictionService, model_name: str, with_page: bool = True):
    from mnist_exp.serving.api import create_api

    app = create_api(service, model_name)
    if with_page:
        import gradio as gr

        from mnist_exp.serving.ui import build_ui

        app = gr.mount_gradio_app(app, build_ui(service), path="/")
    return app


def main(argv=None) -> int:
    arguments = build_parser().parse_args(argv)
    name = shown("serve")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    try:
        predictor = load_predictor(arguments.model)
    except MnistExpError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    if arguments.host not in LOCALHOST:
        print(
            f"{name}: WARNING: listening on {arguments.host}: anyone who can reach this address "
            "can use the API and the page; they have no authentication.",
            file=sys.stderr,
            flush=True,
        )
    import uvicorn

    limits = Limits(max_images=arguments.max_images)
    service = PredictionService(
        predictor, limits, max_batch=arguments.max_batch, max_wait=arguments.max_wait_ms / 1000
    )
    app = build_app(service, arguments.model_name, with_page=not arguments.no_page)
    print(f"{name}: http://{arguments.host}:{arguments.port}/ (API docs at /docs)", flush=True)
    config = uvicorn.Config(app, host=arguments.host, port=arguments.port, log_level="warning")
    StoppableServer(config).run()
    print(f"{name}: stopped.", flush=True)
    return 0


class StoppableServer:
    """uvicorn's server, stopped gracefully by Ctrl-C or SIGTERM, then exiting with status 0
    (uvicorn itself re-raises the signal after its shutdown, so the process would die of it)."""

    def __init__(self, config):
        import uvicorn

        self.server = uvicorn.Server(config)
        self.server.capture_signals = self._capture_signals

    def run(self) -> None:
        self.server.run()

    @contextlib.contextmanager
    def _capture_signals(self):
        def stop(signum, frame):
            if self.server.should_exit:  # a second signal: stop waiting for connections
                self.server.force_exit = True
            self.server.should_exit = True

        with stop_signals_handled_by(stop):
            yield
