"""The HTTP API (FastAPI): predictions for uploaded images, TF Serving's REST predict, health
and model facts. Every refusal is a JSON `{"error": ...}` with the status that says why."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import numpy as np
from fastapi import FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from mnist_exp.serving.service import PredictionService, RequestRefused

SIDE = 28


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _instances(body: object) -> np.ndarray:
    """TF Serving's row (`instances`) or columnar (`inputs`) body as [N, 28, 28] pixels."""
    if not isinstance(body, dict) or not ({"instances", "inputs"} & set(body)):
        raise RequestRefused(422, 'The body must be a JSON object with "instances" (or "inputs").')
    values = body.get("instances", body.get("inputs"))
    if isinstance(values, dict):  # named inputs: the model has one
        values = next(iter(values.values()), None)
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise RequestRefused(422, "instances must be arrays of numbers (pixels 0-255).") from None
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != (SIDE, SIDE) or len(array) == 0:
        raise RequestRefused(
            422,
            f"instances must be 28x28 pixel arrays (or 28x28x1); got shape {list(array.shape)}.",
        )
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise RequestRefused(422, "pixels must be finite numbers in 0..255.")
    return array


def create_api(service: PredictionService, model_name: str = "mnist") -> FastAPI:
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

    @app.exception_handler(RequestRefused)
    async def refused(request: Request, error: RequestRefused):
        return _error(error.status, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5]
        )
        return _error(422, f"Malformed request: {problems}")

    @app.middleware("http")
    async def request_size_limit(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > service.limits.max_request_bytes:
            return _error(
                413, f"The request is {int(length):,} bytes; the limit is "
                f"{service.limits.max_request_bytes:,}."
            )  # fmt: skip
        return await call_next(request)

    @app.get("/api/health")
    async def health():
        body = {"ready": service.ready, **service.batcher.stats.as_dict()}
        return JSONResponse(body, status_code=200 if service.ready else 503)

    @app.get("/api/model")
    async def model():
        return {"name": model_name, **service.facts()}

    @app.post("/api/predict")
    async def predict(files: list[UploadFile] | None = None):
        """Multipart field `files`: one or more images (PNG, JPEG, BMP, GIF, WebP, TIFF)."""
        uploads = [
            (file.filename or f"file {i}", await file.read()) for i, file in enumerate(files or [])
        ]
        answers = await service.classify_files(uploads)
        return {"model": {"name": model_name, **service.facts()},
                "predictions": [answer.as_json() for answer in answers]}  # fmt: skip

    @app.post("/v1/models/{name}:predict")
    async def tf_serving_predict(name: str, request: Request):
        """TF Serving's REST API: `{"instances": [28x28 pixel arrays]}` -> `{"predictions"}`."""
        if name != model_name:
            return _error(404, f"Servable not found for request: Latest({name}); this server "
                          f"serves '{model_name}'.")  # fmt: skip
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _error(422, "The body is not valid JSON.")
        probabilities = await service.classify_pixels(_instances(body))
        return {"predictions": probabilities.round(6).tolist()}

    return app
