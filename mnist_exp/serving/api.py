"""The HTTP API (FastAPI): predictions for uploaded images, TF Serving's REST predict, health
and model facts. Every refusal is a JSON `{"error": ...}` with the status that says why;
bodies are bounded while they stream, and JSON is parsed off the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from mnist_exp.input_spec import InputSpec
from mnist_exp.serving.body_limit import BodyLimit, BodyTooLarge, read_bounded
from mnist_exp.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from mnist_exp.serving.metrics import ServerMetrics
from mnist_exp.serving.service import PredictionService, RequestRefused, round_probabilities

log = logging.getLogger("mnist_exp.serving")

UPLOAD_FIELD = "files"
MULTIPART_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        UPLOAD_FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                    "required": [UPLOAD_FIELD],
                }
            }
        },
    }
}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _instances(body: object, spec: InputSpec) -> np.ndarray:
    """TF Serving's row (`instances`) or columnar (`inputs`) body as pixels of `spec`'s
    shape ([N, H, W] or [N, H, W, 1] for grey, [N, H, W, 3] for RGB)."""
    if not isinstance(body, dict) or not ({"instances", "inputs"} & set(body)):
        raise RequestRefused(422, 'The body must be a JSON object with "instances" (or "inputs").')
    values = body.get("instances", body.get("inputs"))
    if isinstance(values, dict):  # named inputs: the model has one
        values = next(iter(values.values()), None)
    try:
        array = np.asarray(values)
    except (TypeError, ValueError, OverflowError):
        array = np.asarray([None])
    if array.dtype.kind not in "iuf":  # strings, booleans, huge integers, ragged lists
        raise RequestRefused(422, "instances must be arrays of numbers (pixels 0-255).")
    array, sent = array.astype(np.float32), list(array.shape)
    if array.ndim == 3 and spec.channels == 1:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[1:] != spec.shape or len(array) == 0:
        height, width, channels = spec.shape
        expected = f"{height}x{width} pixel arrays (or {height}x{width}x1)"
        if channels == 3:
            expected = f"{height}x{width}x3 pixel arrays (RGB)"
        raise RequestRefused(422, f"instances must be {expected}; got shape {sent}.")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise RequestRefused(422, "pixels must be finite numbers in 0..255.")
    return array


def _parse_instances(body: bytes, spec: InputSpec) -> np.ndarray:
    try:
        parsed = json.loads(body)
    except RecursionError:
        raise RequestRefused(422, "The JSON is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused(422, "The body is not valid JSON.") from None
    return _instances(parsed, spec)


async def _uploads(request: Request, service: PredictionService) -> list[tuple[str, bytes]]:
    """The multipart `files`, counted as the parts arrive (the parser stops at the limit)."""
    limits = service.limits
    try:
        form = await request.form(max_files=limits.max_images, max_fields=8)
    except BodyTooLarge:
        raise
    except HTTPException as error:
        if "Too many files" in str(error.detail):
            raise RequestRefused(
                413, f"More than {limits.max_images} images in one request; the limit is "
                f"{limits.max_images}."
            ) from None  # fmt: skip
        raise RequestRefused(400, f"Malformed multipart body: {error.detail}") from None
    try:
        uploads = []
        for index, file in enumerate(form.getlist(UPLOAD_FIELD)):
            if isinstance(file, str):
                raise RequestRefused(422, f"'{UPLOAD_FIELD}' must hold files, not text.")
            uploads.append((file.filename or f"file {index}", await file.read()))
        return uploads
    finally:
        await form.close()


def _tensor_info(name: str, shape: list[int]) -> dict:
    """A tensor as TF Serving's metadata describes it."""
    dims = [{"size": str(size), "name": ""} for size in shape]
    return {"dtype": "DT_FLOAT", "name": name,
            "tensor_shape": {"dim": dims, "unknown_rank": False}}  # fmt: skip


def model_status(service: PredictionService) -> dict:
    """TF Serving's GetModelStatus answer: version 1, AVAILABLE once warm."""
    state = "AVAILABLE" if service.ready else "LOADING"
    return {"model_version_status": [
        {"version": "1", "state": state, "status": {"error_code": "OK", "error_message": ""}}
    ]}  # fmt: skip


def model_metadata(service: PredictionService, model_name: str) -> dict:
    """TF Serving's GetModelMetadata answer: the serving_default signature, raw 0-255 pixels
    of the model's input shape in, class probabilities out."""
    signature = {
        "inputs": {"images": _tensor_info("serving_default_images:0", [-1, *service.input.shape])},
        "outputs": {"probabilities": _tensor_info(
            "StatefulPartitionedCall:0", [-1, len(service.class_names)])},
        "method_name": "tensorflow/serving/predict",
    }  # fmt: skip
    return {
        "model_spec": {"name": model_name, "signature_name": "", "version": "1"},
        "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
    }


def _answer_errors_as_json(app: FastAPI) -> None:
    """Every refusal as `{"error": ...}` with the status that says why."""

    @app.exception_handler(RequestRefused)
    async def refused(request: Request, error: RequestRefused):
        return _error(error.status, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return _error(error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5]
        )
        return _error(422, f"Malformed request: {problems}")

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request: Request, error: ClientDisconnect):
        log.warning("%s %s: the client disconnected mid-request", request.method, request.url.path)
        return _error(400, "The client disconnected.")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        return _error(500, f"Internal error ({type(error).__name__}); the server log has more.")


def _add_probes(app: FastAPI, service: PredictionService, model_name: str, metrics):
    """/livez, /readyz, TF Serving's status and metadata, and /metrics (when `metrics`);
    returns the check that a model name is the one served."""

    def served(name: str) -> None:
        if name != model_name:
            raise RequestRefused(404, f"Servable not found for request: Latest({name}); this "
                                 f"server serves '{model_name}'.")  # fmt: skip

    @app.get("/livez")
    async def live():
        """The process is up and its event loop answers."""
        return {"live": True}

    @app.get("/readyz")
    async def ready():
        """200 once the model is loaded and warm; 503 before, and from a stop signal on."""
        return JSONResponse({"ready": service.ready}, status_code=200 if service.ready else 503)

    @app.get("/v1/models/{name}")
    async def tf_serving_status(name: str):
        """TF Serving's model status: version 1, `AVAILABLE` once warm."""
        served(name)
        return model_status(service)

    @app.get("/v1/models/{name}/metadata")
    async def tf_serving_metadata(name: str):
        """TF Serving's model metadata: the `serving_default` signature."""
        served(name)
        return model_metadata(service, model_name)

    if metrics is not None:

        @app.get("/metrics")
        async def prometheus():
            """Prometheus metrics, in its text format."""
            return Response(metrics.exposition(), media_type=METRICS_CONTENT_TYPE)

    return served


def create_api(
    service: PredictionService, model_name: str = "mnist", metrics: ServerMetrics | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        yield
        await service.stop()

    app = FastAPI(
        title="mnist_exp",
        description="Predictions from a trained mnist_exp model.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=service.limits.max_request_bytes)

    _answer_errors_as_json(app)
    served = _add_probes(app, service, model_name, metrics)

    @app.get("/api/health")
    async def health():
        body = {"ready": service.ready, **service.batcher.stats.as_dict()}
        return JSONResponse(body, status_code=200 if service.ready else 503)

    @app.get("/api/model")
    async def model():
        return {"name": model_name, **service.facts()}

    @app.post("/api/predict", openapi_extra=MULTIPART_SCHEMA)
    async def predict(request: Request):
        """Multipart field `files`: one or more images (PNG, JPEG, BMP, GIF, WebP, TIFF).
        A blank image (no ink found) is answered with `"blank": true` and no label."""
        answers = await service.classify_files(await _uploads(request, service))
        # A response of plain JSON types: FastAPI's encoder walk would be wasted work.
        return JSONResponse({"model": {"name": model_name, **service.facts()},
                             "predictions": [answer.as_json() for answer in answers]})  # fmt: skip

    @app.post("/v1/models/{name}:predict")
    async def tf_serving_predict(name: str, request: Request):
        """TF Serving's REST API: `{"instances": [pixel arrays of the model's input shape]}`
        -> `{"predictions"}`."""
        served(name)
        limit = service.limits.max_json_bytes(service.input.shape)
        body = await read_bounded(request, limit, "The JSON body")
        pixels = await asyncio.to_thread(_parse_instances, body, service.input)
        probabilities = await service.classify_pixels(pixels)
        return JSONResponse({"predictions": round_probabilities(probabilities)})

    return app
