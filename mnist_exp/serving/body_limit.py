"""The server's outer guards, for every route (the API and the mounted page): request bodies
bounded while they stream, and requests cut off by the shutdown ended without a traceback.

A declared `Content-Length` over the limit is refused before anything is read; a chunked
body (no length) is counted as it arrives and refused the moment it passes the limit, so
no body larger than the limit is ever held in memory or written to disk.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mnist_exp.serving")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, received: str):
        super().__init__(413, f"The request is {received} bytes; the limit is {limit:,}.")


class BodyLimit:
    """ASGI middleware: at most `max_bytes` of body per HTTP request."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            refusal = BodyTooLarge(self.max_bytes, f"{int(declared):,}")
            await JSONResponse({"error": refusal.detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes, f"over {self.max_bytes:,}")
            return message

        await self.app(scope, counted, send)


async def read_bounded(request: Request, max_bytes: int, what: str = "The body") -> bytes:
    """The whole body of `request`, refused with 413 as soon as it passes `max_bytes`."""
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > max_bytes:
            raise HTTPException(413, f"{what} is over the limit of {max_bytes:,} bytes.")
        parts.append(part)
    return b"".join(parts)


class EndOnShutdown:
    """ASGI middleware: a request still running when the shutdown's grace period ends is
    cancelled by uvicorn; it is answered 503 and noted in one line instead of a traceback."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def noted(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, noted)
        except asyncio.CancelledError:
            log.warning("%s %s: cut off by the shutdown", scope["method"], scope["path"])
            if not started:
                refusal = JSONResponse({"error": "The server is shutting down."}, status_code=503)
                await refusal(scope, receive, send)
