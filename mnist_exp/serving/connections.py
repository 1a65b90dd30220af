"""Connections bounded at the socket, where uvicorn bounds none: a client that opens sockets
and never finishes its headers (or stops sending a body half way) holds nothing for long,
and such idle sockets cannot crowd out the requests that do arrive.

- A request's headers must arrive within HEADER_SECONDS of its first byte (or of the
  connection); a body must keep arriving (a pause of BODY_IDLE_SECONDS ends it) and be whole
  within BODY_SECONDS of the headers (20 MiB at the limit needs ~350 KB/s), so a client that
  trickles a byte now and then cannot hold a request slot for ever.
- Connections with no request in progress (not yet sent, or kept alive between requests) are
  at most MAX_IDLE_PER_CLIENT per client address and MAX_IDLE overall: past either, the
  oldest such connection is closed, so a new one (a health probe, a user) always gets in.
- Requests in progress are bounded by `ConcurrencyLimit` (503 past the limit), which answers
  the probes whatever the load.
"""

from __future__ import annotations

from collections import OrderedDict

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_SECONDS = 5.0
BODY_IDLE_SECONDS = 15.0
BODY_SECONDS = 60.0
MAX_IDLE_PER_CLIENT = 128  # the serving benchmark keeps 128 connections alive from one client
MAX_IDLE = 256
MAX_IN_FLIGHT = 256  # requests being answered at once; more are answered 503
# Answered whatever the load: they cost microseconds, and load balancers act on them.
PROBE_PATHS = frozenset({"/api/health", "/livez", "/readyz", "/metrics"})


class IdleConnections:
    """The connections that have no request in progress, oldest first, per client too."""

    def __init__(self, max_idle: int = MAX_IDLE, max_per_client: int = MAX_IDLE_PER_CLIENT):
        self.max_idle, self.max_per_client = max_idle, max_per_client
        self.all: OrderedDict = OrderedDict()
        self.by_client: dict[str, OrderedDict] = {}

    def add(self, connection) -> None:
        self.discard(connection)
        client = connection.client_host
        self.all[connection] = None
        self.by_client.setdefault(client, OrderedDict())[connection] = None
        while len(self.by_client[client]) > self.max_per_client:
            self._close(next(iter(self.by_client[client])))
        while len(self.all) > self.max_idle:
            self._close(next(iter(self.all)))

    def discard(self, connection) -> None:
        self.all.pop(connection, None)
        mine = self.by_client.get(connection.client_host)
        if mine is not None:
            mine.pop(connection, None)
            if not mine:
                del self.by_client[connection.client_host]

    def _close(self, connection) -> None:
        self.discard(connection)
        connection.transport.close()


def guarded_protocol(idle: IdleConnections | None = None) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the timeouts and the idle bound of this module, all
    its connections sharing `idle` (pass the class as `uvicorn.Config(http=...)`)."""
    idle = idle or IdleConnections()

    class GuardedHttpProtocol(HttpToolsProtocol):
        _timer = None
        _body_deadline = 0.0

        @property
        def client_host(self) -> str:
            return self.client[0] if self.client else "?"

        def _arm(self, seconds: float | None) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None if seconds is None else self.loop.call_later(seconds, self._expire)

        def _expire(self) -> None:
            idle.discard(self)
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm(HEADER_SECONDS)
            idle.add(self)

        def connection_lost(self, exc) -> None:
            self._arm(None)
            idle.discard(self)
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm(HEADER_SECONDS)

        def _arm_for_body(self) -> None:
            left = self._body_deadline - self.loop.time()
            self._arm(max(0.0, min(BODY_IDLE_SECONDS, left)))

        def on_headers_complete(self) -> None:
            idle.discard(self)
            self._body_deadline = self.loop.time() + BODY_SECONDS
            self._arm_for_body()
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            self._arm_for_body()
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._arm(None)
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                idle.add(self)  # kept alive: uvicorn's keep-alive timeout closes it

    return GuardedHttpProtocol


class ConcurrencyLimit:
    """ASGI middleware: at most `max_in_flight` HTTP requests at once, the probes aside (what
    uvicorn's `limit_concurrency` does, except that it counts idle connections too and
    refuses the probes with the rest)."""

    def __init__(self, app: ASGIApp, max_in_flight: int = MAX_IN_FLIGHT):
        self.app, self.max_in_flight, self.in_flight = app, max_in_flight, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            busy = {"error": f"The server is answering {self.in_flight} requests; retry shortly."}
            await JSONResponse(busy, status_code=503, headers={"Retry-After": "1"})(
                scope, receive, send
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
