"""`mnist-exp-serve MODEL [--host 127.0.0.1] [--port 7860] [--max-batch N]`
(`python -m mnist_exp.cli.serve`, the 'serve' extra): a web page to try a trained model and an
HTTP prediction API, in one process.

MODEL: a run directory, a .keras file, a SavedModel directory, a .tflite or .onnx file.
Page: http://HOST:PORT/ . API: POST /api/predict (multipart `files`), POST
/v1/models/NAME:predict (TF Serving's REST body), GET /v1/models/NAME (status) and
/v1/models/NAME/metadata (signature), GET /api/health, /livez, /readyz, /metrics
(Prometheus), GET /api/model; docs at /docs. Binds 127.0.0.1 unless told otherwise: the API
has no authentication.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys

from mnist_exp.commands import shown
from mnist_exp.errors import MnistExpError
from mnist_exp.exits import DONE, REFUSED
from mnist_exp.extras import require_for_command
from mnist_exp.machine import all_cores_but_one
from mnist_exp.quiet_start import quiet_tensorflow_start
from mnist_exp.scratch import make_scratch_folder
from mnist_exp.serving.predictors import MODEL_SOURCES, load_predictor
from mnist_exp.serving.server import GRACE_SECONDS, ServeError, StoppableServer, bind, build_app
from mnist_exp.serving.service import Limits, PredictionService

LOCALHOST = ("127.0.0.1", "localhost", "::1")
UPLOAD_FOLDER_PREFIX = "mnist-exp-serve-"


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
    parser.add_argument(
        "--no-metrics", action="store_true", help="no Prometheus /metrics (default: served)"
    )
    parser.add_argument(
        "--model-threads",
        type=int,
        default=all_cores_but_one(),
        help="threads of the model's runtime (default: cores - 1, one core left to decoding "
        "and HTTP, which run on the event loop)",
    )
    return parser


def _check_arguments(arguments) -> Limits:
    limits = Limits(max_images=arguments.max_images)
    problems = limits.problems()
    if arguments.model_threads < 1:
        problems.append(f"--model-threads must be >= 1 (got {arguments.model_threads})")
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
    quiet_tensorflow_start()
    name = shown("serve")
    require_for_command("serve", name)
    arguments = build_parser().parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home
    try:
        limits = _check_arguments(arguments)
        sock = bind(arguments.host, arguments.port)  # first: a taken port costs no model load
        predictor = load_predictor(arguments.model, arguments.model_threads)
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

    from mnist_exp.serving.connections import guarded_protocol

    service = PredictionService(
        predictor, limits, max_batch=arguments.max_batch, max_wait=arguments.max_wait_ms / 1000
    )
    upload_root = None if arguments.no_page else make_scratch_folder(UPLOAD_FOLDER_PREFIX)
    try:
        if upload_root is not None:
            os.environ["GRADIO_TEMP_DIR"] = str(upload_root)  # private (0700), removed below
        app = build_app(service, arguments.model_name, upload_root, not arguments.no_metrics)
        config = uvicorn.Config(
            app,
            log_level="warning",
            timeout_graceful_shutdown=GRACE_SECONDS,
            http=guarded_protocol(),
            ws="none",  # the page talks over HTTP (server-sent events); no socket upgrades
        )
        port = sock.getsockname()[1]
        print(f"{name}: http://{arguments.host}:{port}/ (API docs at /docs)", flush=True)
        # Everything loaded so far (TensorFlow, the model, the page) lives as long as the
        # server: kept out of the garbage collector's full passes, which otherwise walk it
        # all every few thousand requests and stall every request for a few hundred ms.
        gc.collect()
        gc.freeze()
        StoppableServer(config, on_stop=service.drain).run(sock)
    finally:
        if upload_root is not None:
            shutil.rmtree(upload_root, ignore_errors=True)
    print(f"{name}: stopped.", flush=True)
    return DONE


if __name__ == "__main__":
    sys.exit(main())
