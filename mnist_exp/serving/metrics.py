"""Prometheus metrics of the server (`GET /metrics`, prometheus_client's text format): requests
by route and status, their latency, the requests in progress, the images the model answered
and the size of each model call. Routes are labelled by their template (`/api/predict`,
`/v1/models/{name}:predict`), never by the raw path, so a client cannot grow the label set;
a path that matches no route is `unmatched`."""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    """The server's metrics, in a registry of their own (one per server)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("mnist_exp_requests", "HTTP requests answered, by route and status",
                                ["route", "status"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("mnist_exp_request_duration_seconds",
                                 "Time to answer a request, by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)  # fmt: skip
        self.in_flight = 0  # read when scraped: no lock taken per request
        Gauge("mnist_exp_requests_in_flight", "HTTP requests being answered",
              registry=self.registry).set_function(lambda: self.in_flight)  # fmt: skip
        self.images = Counter("mnist_exp_images_predicted", "Images the model answered",
                              registry=self.registry)  # fmt: skip
        self.batch_sizes = Histogram("mnist_exp_batch_size", "Images per model call",
                                     buckets=BATCH_BUCKETS, registry=self.registry)  # fmt: skip
        self._per_route: dict[tuple[str, int], tuple] = {}  # a finite set: templates x statuses

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        children = self._per_route.get((route, status))
        if children is None:
            children = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._per_route[(route, status)] = children
        count, latency = children
        count.inc()
        latency.observe(seconds)

    def observe_batch(self, size: int) -> None:
        self.images.inc(size)
        self.batch_sizes.observe(size)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request into `metrics`."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, noted)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.observe_request(_route_of(scope), status, time.perf_counter() - started)
