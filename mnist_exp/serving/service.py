"""What the web page and the API share: the model behind a micro-batcher, the limits on what
users send, and turning uploaded bytes into MNIST-style inputs (in a thread, off the event
loop) and probabilities into answers."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass

import numpy as np

from mnist_exp.imaging.decode import ImageError, ImageTooLarge, read_gray
from mnist_exp.imaging.preprocess import Preprocessed, mnist_style
from mnist_exp.serving.batcher import MicroBatcher
from mnist_exp.serving.predictors import Predictor


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 20 * 2**20
    max_file_bytes: int = 10 * 2**20
    max_images: int = 64  # per request
    max_pixels: int = 25_000_000  # per image: decompression bombs are refused from the header


class RequestRefused(Exception):
    """A request the service will not run, with the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    filename: str
    label: int
    class_name: str
    confidence: float
    probabilities: list[float]
    preprocessed: Preprocessed | None = None

    def as_json(self) -> dict:
        payload = asdict(self)
        payload.pop("preprocessed")
        return payload


class PredictionService:
    def __init__(self, predictor: Predictor, limits: Limits, max_batch: int, max_wait: float):
        self.predictor = predictor
        self.limits = limits
        self.batcher = MicroBatcher(predictor.predict, max_batch=max_batch, max_wait=max_wait)
        self.ready = False
        self._warm_up: asyncio.Task | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.predictor.facts.class_names

    def facts(self) -> dict:
        return {
            key: value for key, value in asdict(self.predictor.facts).items() if value is not None
        }

    async def start(self) -> None:
        """Starts the batcher, then warms the model up (first calls trace and allocate) in
        the background: the server answers at once, and is ready only after that."""
        self.batcher.start()
        self._warm_up = asyncio.create_task(self._warm())

    async def _warm(self) -> None:
        for size in (1, self.batcher.max_batch):
            await self.batcher.run_alone(np.zeros((size, 28, 28), np.float32))
        self.ready = True

    def check_ready(self) -> None:
        if not self.ready:
            raise RequestRefused(503, "The model is still warming up; retry in a moment.")

    async def stop(self) -> None:
        self.ready = False
        if self._warm_up is not None:
            self._warm_up.cancel()
        await self.batcher.stop()

    def _prepare(self, name: str, data: bytes) -> Preprocessed:
        if len(data) > self.limits.max_file_bytes:
            raise RequestRefused(
                413, f"{name}: {len(data):,} bytes is over the limit of "
                f"{self.limits.max_file_bytes:,} per image."
            )  # fmt: skip
        try:
            return mnist_style(read_gray(data, name=name, max_pixels=self.limits.max_pixels))
        except ImageError as error:
            status = 413 if isinstance(error, ImageTooLarge) else 415
            raise RequestRefused(status, str(error)) from None

    async def classify_files(self, files: list[tuple[str, bytes]]) -> list[Answer]:
        """Answers for uploaded image files, in order.

        Raises:
            RequestRefused: no files, too many, too large, or not an image (naming which).
        """
        self.check_ready()
        if not files:
            raise RequestRefused(422, "No images: send one or more files in the field 'files'.")
        if len(files) > self.limits.max_images:
            raise RequestRefused(
                413, f"{len(files)} images in one request; the limit is {self.limits.max_images}."
            )
        prepared = await asyncio.gather(
            *(asyncio.to_thread(self._prepare, name, data) for name, data in files)
        )
        pixels = np.stack([image.pixels for image in prepared])
        probabilities = await self.batcher.predict(pixels)
        return [
            self._answer(name, row, image)
            for (name, _), row, image in zip(files, probabilities, prepared, strict=True)
        ]

    async def classify_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities for raw [N, 28, 28] pixels (the TF Serving body)."""
        self.check_ready()
        if len(pixels) > self.limits.max_images:
            raise RequestRefused(
                413,
                f"{len(pixels)} instances in one request; the limit is {self.limits.max_images}.",
            )
        return await self.batcher.predict(pixels)

    def _answer(self, name: str, probabilities: np.ndarray, image: Preprocessed | None) -> Answer:
        label = int(np.argmax(probabilities))
        return Answer(
            filename=name,
            label=label,
            class_name=self.class_names[label],
            confidence=round(float(probabilities[label]), 6),
            probabilities=[round(float(p), 6) for p in probabilities],
            preprocessed=image,
        )
