"""The page's upload cache bounded as a whole: each upload is bounded by Gradio's
`max_file_size` and the body limit, but nothing bounds their sum, and 40 uploads of 10 MiB
left 400 MiB on disk. An upload is refused (in the API's `{"error": ...}` shape) when the
client has sent more than `per_client_bytes` in the last WINDOW_SECONDS (429), or when the
cache and the uploads still arriving hold more than `total_bytes` (507): at once when the
upload starts over a limit, else the moment its body passes one. Gradio removes cached files
after CACHE_SECONDS."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mnist_exp.safe_files import entries_below

UPLOAD_PATHS = ("/gradio_api/upload", "/gradio_api/upload/")
CACHE_SECONDS = 600  # how long Gradio keeps the page's uploads (ui.build_ui passes it on)
WINDOW_SECONDS = CACHE_SECONDS
TOTAL_BYTES = 256 * 2**20
PER_CLIENT_BYTES = 128 * 2**20


def folder_bytes(folder: Path) -> int:
    """The bytes of the files below `folder` (links not followed)."""
    total = 0
    for entry in entries_below(folder):
        with contextlib.suppress(OSError):  # removed while counted: Gradio's cache cleaner
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


class UploadQuota:
    """ASGI middleware over the page's upload route (see the module's doc)."""

    def __init__(
        self,
        app: ASGIApp,
        upload_root: Path,
        total_bytes: int = TOTAL_BYTES,
        per_client_bytes: int = PER_CLIENT_BYTES,
    ):
        self.app, self.upload_root = app, Path(upload_root)
        self.total_bytes, self.per_client_bytes = total_bytes, per_client_bytes
        self.sent: dict[str, deque[list]] = {}  # per client: [time, bytes] per upload
        self.streaming = 0  # bytes of the uploads still arriving (not yet counted on disk)

    def _client_bytes(self, client: str, now: float) -> int:
        for known in list(self.sent):
            uploads = self.sent[known]
            while uploads and uploads[0][0] < now - WINDOW_SECONDS:
                uploads.popleft()
            if not uploads and known != client:
                del self.sent[known]
        return sum(size for _, size in self.sent.setdefault(client, deque()))

    def _refusal(self, client_bytes: int, stored_bytes: int) -> HTTPException | None:
        if client_bytes > self.per_client_bytes:
            return HTTPException(429, f"This client has uploaded over {self.per_client_bytes:,} "
                                 f"bytes in the last {WINDOW_SECONDS // 60} minutes, the most "
                                 "allowed; retry later.")  # fmt: skip
        if stored_bytes > self.total_bytes:
            return HTTPException(507, f"The page's uploads hold {self.total_bytes:,} bytes, the "
                                 "most allowed; retry in a few minutes, when older ones are "
                                 "removed.")  # fmt: skip
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in UPLOAD_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("?",))[0]
        stored = folder_bytes(self.upload_root)
        refusal = self._refusal(self._client_bytes(client, time.monotonic()), stored)
        if refusal is not None:
            await JSONResponse({"error": refusal.detail}, status_code=refusal.status_code)(
                scope, receive, send
            )
            return
        upload = [time.monotonic(), 0]
        self.sent[client].append(upload)

        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                size = len(message.get("body", b""))
                upload[1] += size
                self.streaming += size
                client_bytes = sum(sent for _, sent in self.sent[client])
                refusal = self._refusal(client_bytes, stored + self.streaming)
                if refusal is not None:
                    raise refusal
            return message

        try:
            await self.app(scope, counting, send)
        finally:
            self.streaming -= upload[1]
