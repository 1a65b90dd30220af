"""Every route's errors in the API's shape, the page's (Gradio's) routes included: a refusal
is JSON with an `"error"` message (Gradio's `"detail"` kept beside it for its own page), a
server error says only that it happened (the log has the rest, never the client), and the
routes the page does not use are not there."""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mnist_exp.serving")

# Gradio's analytics dashboard (it prints a key to the console and mounts a second app) and
# its audio-recording converter: nothing this page shows.
HIDDEN_PREFIXES = ("/monitoring", "/gradio_api/monitoring", "/gradio_api/process_recording")
MAX_ERROR_BODY = 64 * 1024  # bytes of an error body held to reshape it
SERVER_ERROR = "Internal error; the server log has more."


def _is_hidden(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in HIDDEN_PREFIXES)


def reshaped(status: int, body: bytes) -> dict:
    """The `{"error": ...}` body for an error response's `body`."""
    if status >= 500:
        return {"error": SERVER_ERROR}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return parsed
    if isinstance(parsed, dict) and "detail" in parsed:
        detail = parsed["detail"]
        return {**parsed, "error": detail if isinstance(detail, str) else "Malformed request."}
    text = body.decode("utf-8", "replace").strip().splitlines()
    return {"error": text[0][:300] if text and "Traceback" not in body.decode(errors="replace")
            else f"Request refused ({status})."}  # fmt: skip


def _send_json(status: int, payload: dict, headers: list) -> tuple[Message, Message]:
    body = json.dumps(payload).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
    start = {"type": "http.response.start", "status": status, "headers": [
        *kept, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())
    ]}  # fmt: skip
    return start, {"type": "http.response.body", "body": body, "more_body": False}


class ErrorShape:
    """ASGI middleware: see the module's doc."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _is_hidden(scope["path"]):
            for message in _send_json(404, {"error": "Not found."}, []):
                await send(message)
            return
        held: dict = {}

        async def shaped(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] >= 400:
                    held.update(start=message, body=b"")
                    return
                held["sent"] = True
            if "start" not in held or message["type"] != "http.response.body":
                await send(message)
                return
            held["body"] = (held["body"] + message.get("body", b""))[:MAX_ERROR_BODY]
            if not message.get("more_body", False):
                start = held.pop("start")
                payload = reshaped(start["status"], held["body"])
                for reply in _send_json(start["status"], payload, start["headers"]):
                    await send(reply)

        try:
            await self.app(scope, receive, shaped)
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            if "start" in held or held.get("sent"):
                raise
            for message in _send_json(500, {"error": SERVER_ERROR}, []):
                await send(message)
