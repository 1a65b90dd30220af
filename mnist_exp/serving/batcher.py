"""Dynamic micro-batching: requests that arrive together are answered by one model call.

Callers `await batcher.predict(images)`; a collector task takes the first waiting request,
then whatever else arrives within `max_wait` seconds, up to `max_batch` images, and runs the
model once on all of them in a single inference thread (so the event loop never blocks, and
runtimes that are not thread-safe, such as the TFLite interpreter, see one caller). While a
batch runs, the next one gathers, so throughput grows with concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


@dataclass
class BatchStats:
    batches: int = 0
    images: int = 0
    largest: int = 0

    def as_dict(self) -> dict:
        mean = self.images / self.batches if self.batches else 0.0
        return {"batches": self.batches, "images": self.images, "largest_batch": self.largest,
                "mean_batch": round(mean, 2)}  # fmt: skip


class MicroBatcher:
    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        max_batch: int = 64,
        max_wait: float = 0.004,
    ):
        self._predict = predict
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.stats = BatchStats()
        self.on_batch: Callable[[int], None] | None = None  # told each model call's size
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")

    def start(self) -> None:
        """Starts collecting, on the running event loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def run_alone(self, images: np.ndarray) -> np.ndarray:
        """One model call outside the batches (warm-up), still in the inference thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._predict, images
        )

    async def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities for `images` ([k, 28, 28] pixels), answered with other requests."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((images, future))
        return await future

    async def _gather(self) -> list[tuple[np.ndarray, asyncio.Future]]:
        first = await self._queue.get()
        batch, count = [first], len(first[0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while count < self.max_batch:
            if not self._queue.empty():  # what is waiting already: no timer needed
                item = self._queue.get_nowait()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            batch.append(item)
            count += len(item[0])
        return batch

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            images = np.concatenate([item[0] for item in batch])
            try:
                probabilities = await loop.run_in_executor(self._executor, self._predict, images)
            except Exception as error:  # every waiting request learns why
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            self.stats.batches += 1
            self.stats.images += len(images)
            self.stats.largest = max(self.stats.largest, len(images))
            if self.on_batch is not None:
                self.on_batch(len(images))
            start = 0
            for request_images, future in batch:
                end = start + len(request_images)
                if not future.done():  # the client may have gone
                    future.set_result(probabilities[start:end])
                start = end
