"""What the web page and the API share: the model behind a micro-batcher, the limits on what
users send, and turning uploaded bytes into the model's inputs by its run's recipe (a small
request on the event loop, a larger one in threads under a process-wide pixel budget) and
probabilities into answers."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass, fields

import numpy as np

from mnist_exp.imaging.decode import ImageError, ImageTooLarge, pixel_count
from mnist_exp.imaging.files import prepare_one
from mnist_exp.imaging.preprocess import Preprocessed
from mnist_exp.input_spec import InputSpec
from mnist_exp.serving.batcher import MicroBatcher
from mnist_exp.serving.predictors import Predictor

# The longest a TF Serving body can honestly be per pixel value: up to 24 characters
# ("254.99999999999997, " and the brackets of a [.., 1] or [.., 3] innermost list), plus
# brackets per image row and per image.
JSON_BYTES_PER_VALUE = 24
# A request this small is read and decoded on the event loop (see `classify_files`): at most
# about 10 ms of work, so other requests wait no longer than that.
SMALL_REQUEST_BYTES = 1_000_000
SMALL_REQUEST_PIXELS = 1_000_000


@dataclass(frozen=True)
class Limits:
    """What one request may send, and what all requests together may decode at once."""

    max_request_bytes: int = 20 * 2**20
    max_file_bytes: int = 10 * 2**20
    max_images: int = 64  # per request
    max_pixels: int = 25_000_000  # per image: decompression bombs are refused from the header
    max_request_pixels: int = 100_000_000  # per request, summed from the headers
    max_decoding_pixels: int = 30_000_000  # being decoded at once, over all requests

    def max_json_bytes(self, shape: tuple[int, int, int]) -> int:
        """The largest honest TF Serving body of `max_images` images of `shape`."""
        height, width, channels = shape
        per_image = height * width * channels * JSON_BYTES_PER_VALUE + 4 * height + 64
        return self.max_images * per_image + 1024

    def problems(self) -> list[str]:
        """What makes these limits unusable (empty when they are fine)."""
        return [
            f"{name} must be >= 1 (got {value})"
            for name, value in asdict(self).items()
            if not isinstance(value, int) or value < 1
        ]


class RequestRefused(Exception):
    """A request the service will not run, with the HTTP status that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Answer:
    """One image's answer; a blank image (no ink found) claims no label."""

    filename: str
    label: int | None
    class_name: str | None
    confidence: float | None
    probabilities: list[float] | None
    blank: bool = False
    preprocessed: Preprocessed | None = None
    error: str | None = None  # why this image could not be used (then no label)

    def as_json(self) -> dict:
        # Not `asdict`: it would deep-copy the preprocessed image only to drop it.
        return {item.name: getattr(self, item.name) for item in fields(self)
                if item.name != "preprocessed"}  # fmt: skip


class PixelBudget:
    """Admits decodes while the pixels being decoded stay within `capacity`, first come first
    served; an image larger than the whole budget waits until it decodes alone."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.in_use = 0
        self._turns: asyncio.Condition | None = None

    @contextlib.asynccontextmanager
    async def hold(self, pixels: int):
        pixels = min(pixels, self.capacity)
        if self._turns is None:
            self._turns = asyncio.Condition()
        async with self._turns:
            await self._turns.wait_for(lambda: self.in_use + pixels <= self.capacity)
            self.in_use += pixels
        try:
            yield
        finally:
            async with self._turns:
                self.in_use -= pixels
                self._turns.notify_all()


def _usable(image) -> bool:
    return not isinstance(image, ImageError)


async def _already(value):
    return value


def _refuse_if_none_usable(results: list) -> None:
    """The whole request refused, in the documented shape, when not one image is usable."""
    if results and not any(map(_usable, results)):
        first = results[0]
        reasons = " ".join(str(error) for error in results[:3])
        more = f"; and {len(results) - 3} more" if len(results) > 3 else ""
        raise RequestRefused(413 if isinstance(first, ImageTooLarge) else 415, reasons + more)


def round_probabilities(probabilities: np.ndarray) -> list:
    """Probabilities as JSON numbers rounded to 6 places, alike in every answer."""
    return np.round(np.asarray(probabilities, dtype=np.float64), 6).tolist()


class PredictionService:
    def __init__(self, predictor: Predictor, limits: Limits, max_batch: int, max_wait: float):
        self.predictor = predictor
        self.limits = limits
        self.batcher = MicroBatcher(predictor.predict, max_batch=max_batch, max_wait=max_wait)
        self.decoding = PixelBudget(limits.max_decoding_pixels)
        self.ready = False
        self._warm_up: asyncio.Task | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.predictor.facts.class_names

    @property
    def input(self) -> InputSpec:
        """The images the model takes and the recipe that makes them from files."""
        return self.predictor.facts.input

    def facts(self) -> dict:
        return self.predictor.facts.public()

    async def start(self) -> None:
        """Starts the batcher, then warms the model up (first calls trace and allocate) in
        the background: the server answers at once, and is ready only after that."""
        self.batcher.start()
        self._warm_up = asyncio.create_task(self._warm())

    async def _warm(self) -> None:
        for size in (1, self.batcher.max_batch):
            await self.batcher.run_alone(np.zeros((size, *self.input.shape), np.float32))
        self.ready = True

    def check_ready(self) -> None:
        if not self.ready:
            raise RequestRefused(503, "The model is still warming up; retry in a moment.")

    def drain(self) -> None:
        """Not ready from now on (a stop signal came): /readyz answers 503 while requests in
        flight finish."""
        self.ready = False

    async def stop(self) -> None:
        self.ready = False
        if self._warm_up is not None:
            self._warm_up.cancel()
        await self.batcher.stop()

    def _pixels_of(self, name: str, data: bytes) -> int | ImageError:
        """The image's pixel count from its header, or why it cannot be used."""
        if len(data) > self.limits.max_file_bytes:
            return ImageTooLarge(
                f"{name}: {len(data):,} bytes is over the limit of "
                f"{self.limits.max_file_bytes:,} per image."
            )
        try:
            return pixel_count(data, name=name, max_pixels=self.limits.max_pixels)
        except ImageError as error:
            return error

    def _prepare(self, name: str, data: bytes) -> Preprocessed | ImageError:
        try:
            return prepare_one(data, self.input, name, self.limits.max_pixels)
        except ImageError as error:
            return error

    async def _prepare_within_budget(self, name: str, data: bytes, pixels: int):
        async with self.decoding.hold(pixels):
            return await asyncio.to_thread(self._prepare, name, data)

    def _header_pixels(self, files) -> list[int | ImageError]:
        return [self._pixels_of(name, data) for name, data in files]

    async def classify_files(self, files: list[tuple[str, bytes]]) -> list[Answer]:
        """Answers for uploaded image files, in order; an image that cannot be used (not an
        image, damaged, too large) is answered with its `error` and no label, and the others
        as usual. Every header is read before any image is decoded, so a request over a limit
        costs almost nothing. A small request (the usual drawing or scan) is read and decoded
        right here on the event loop: about a millisecond of work, where handing it to a
        thread costs more in GIL hand-offs than it saves (698 against 546 requests/s at
        concurrency 32). Larger ones are read in a thread, and each image decoded in a thread
        of its own under the pixel budget.

        Raises:
            RequestRefused: no files, too many, too many pixels together, or no image usable
                (with the first image's reason and status: 413 too large, 415 unreadable).
        """
        self.check_ready()
        if not files:
            raise RequestRefused(422, "No images: send one or more files in the field 'files'.")
        if len(files) > self.limits.max_images:
            raise RequestRefused(
                413, f"{len(files)} images in one request; the limit is {self.limits.max_images}."
            )
        small = sum(len(data) for _, data in files) <= SMALL_REQUEST_BYTES
        if small:
            sizes = self._header_pixels(files)
        else:
            sizes = await asyncio.to_thread(self._header_pixels, files)
        _refuse_if_none_usable(sizes)
        total = sum(size for size in sizes if isinstance(size, int))
        if total > self.limits.max_request_pixels:
            raise RequestRefused(
                413, f"The images hold {total:,} pixels together; the limit is "
                f"{self.limits.max_request_pixels:,} per request. Send fewer or smaller images."
            )  # fmt: skip
        if small and total <= SMALL_REQUEST_PIXELS:
            prepared = [
                self._prepare(name, data) if isinstance(size, int) else size
                for (name, data), size in zip(files, sizes, strict=True)
            ]
        else:
            prepared = await asyncio.gather(
                *(
                    self._prepare_within_budget(name, data, size)
                    if isinstance(size, int)
                    else _already(size)
                    for (name, data), size in zip(files, sizes, strict=True)
                )
            )
        _refuse_if_none_usable(prepared)
        inked = [image.pixels for image in prepared if _usable(image) and not image.blank]
        probabilities = iter(await self.batcher.predict(np.stack(inked)) if inked else [])
        return [self._answer_for(name, image, probabilities)
                for (name, _), image in zip(files, prepared, strict=True)]  # fmt: skip

    def _answer_for(self, name: str, image, probabilities) -> Answer:
        if isinstance(image, ImageError):
            return Answer(name, None, None, None, None, error=str(image))
        if image.blank:
            return Answer(name, None, None, None, None, blank=True, preprocessed=image)
        return self._answer(name, next(probabilities), image)

    async def classify_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities for raw pixels of the model's input shape (the TF Serving body)."""
        self.check_ready()
        if len(pixels) > self.limits.max_images:
            raise RequestRefused(
                413,
                f"{len(pixels)} instances in one request; the limit is {self.limits.max_images}.",
            )
        return await self.batcher.predict(pixels)

    def _answer(self, name: str, probabilities: np.ndarray, image: Preprocessed | None) -> Answer:
        label = int(np.argmax(probabilities))
        rounded = round_probabilities(probabilities)
        return Answer(
            filename=name,
            label=label,
            class_name=self.class_names[label],
            confidence=rounded[label],
            probabilities=rounded,
            preprocessed=image,
        )
