"""A light closed-loop HTTP/1.1 load generator for the serving benchmark.

On a 2-core machine the client shares the CPU with the server it measures, so it must cost
little: request bytes are built once, each of `concurrency` connections sends its next
request when the last answer is in (keep-alive where the server allows it, a new connection
where it closes them), and answers are read by Content-Length. Every answer is still parsed
and checked by the caller.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field


def multipart_request(host: str, path: str, files: list[tuple[str, bytes]]) -> bytes:
    """A complete POST of `files` in the multipart field "files"."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"'
            f"\r\nContent-Type: image/png\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Answer:
    status: int
    body: bytes


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    answers: list[tuple[int, Answer | None]] = field(default_factory=list)  # (request, answer)

    def json_answers(self):
        for index, answer in self.answers:
            yield index, (json.loads(answer.body) if answer and answer.status == 200 else None)


async def _read_answer(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    """One response, and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body = await reader.read()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    return Answer(int(status), body), keep and "content-length" in headers


async def run(host: str, port: int, requests: list[bytes], concurrency: int) -> LoadResult:
    """Sends every request once, `concurrency` at a time; a failed request's answer is None."""
    result = LoadResult(seconds=0.0)
    next_index = 0

    async def connection() -> None:
        nonlocal next_index
        reader = writer = None
        while next_index < len(requests):
            index = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(requests[index])
                answer, keep = await _read_answer(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.answers.append((index, None))
                writer = _close(writer)
                continue
            result.latencies.append(time.perf_counter() - started)
            result.answers.append((index, answer))
            if not keep:
                writer = _close(writer)
        _close(writer)

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


def _close(writer):
    if writer is not None:
        writer.close()
    return None
