"""How an exported model compares with the Keras model: on the whole test set, with the
format's own runtime."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

LATENCY_CALLS = 200
WARM_UP_CALLS = 10


@dataclass(frozen=True)
class Measurement:
    agreement: float  # share of test images given the Keras model's class
    disagreements: int
    accuracy: float
    max_probability_difference: float
    size_bytes: int
    latency_median_ms: float  # one image per call
    latency_p99_ms: float
    images_per_second: float  # the whole test set, in batches

    def as_dict(self) -> dict:
        return asdict(self)


def size_of(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def single_image_latencies(predictor, image: np.ndarray, calls: int = LATENCY_CALLS) -> np.ndarray:
    """Milliseconds per call for `calls` one-image predictions, after a warm-up."""
    one = image[np.newaxis]
    for _ in range(WARM_UP_CALLS):
        predictor.predict(one)
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        predictor.predict(one)
        times.append((time.perf_counter() - started) * 1000)
    return np.asarray(times)


def measure(predictor, path: Path, images, labels, reference: np.ndarray) -> Measurement:
    """Agreement, accuracy, max |Δp| against `reference` (the Keras model's probabilities),
    file size, latency and throughput."""
    predictor.predict(images[:256])  # warm-up: first-call tracing and allocation
    started = time.perf_counter()
    probabilities = predictor.predict(images)
    seconds = time.perf_counter() - started
    predicted = probabilities.argmax(axis=1)
    agree = predicted == reference.argmax(axis=1)
    latencies = single_image_latencies(predictor, images[0])
    return Measurement(
        agreement=float(agree.mean()),
        disagreements=int((~agree).sum()),
        accuracy=float((predicted == labels).mean()),
        max_probability_difference=float(np.abs(probabilities - reference).max()),
        size_bytes=size_of(path),
        latency_median_ms=float(np.median(latencies)),
        latency_p99_ms=float(np.percentile(latencies, 99)),
        images_per_second=float(len(images) / seconds),
    )
