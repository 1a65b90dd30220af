"""Hostile requests against `mnist-exp-serve`, on loopback only: for each attack, the status,
the seconds it took, the server's peak RSS above idle, and the slowest `/api/health` answer
while it ran. Every loop is bounded in count and size, and the server is stopped at the end.

    python -m benchmarks.serve_attacks RUN_DIR [--scale 0.25] [--only WORD] [--output F.json]

`--scale` shrinks the large bodies (1.0: the sizes of the original report, which take
minutes against an unprotected server). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from benchmarks.hostile_files import (
    gif_frame_bomb,
    icns_bomb,
    ico_bomb,
    small_png,
    truncated_avif,
    truncated_qoi,
    ztxt_png,
)

MiB = 2**20
BOUNDARY = "attackboundary7d3f"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Watch:
    """While an attack runs: the server's RSS every 10 ms, and /api/health every 50 ms (each
    in its own thread, so a stalled server cannot hide its memory behind a slow answer)."""

    url: str
    pid: int
    peak_rss: int = 0
    slowest_health: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))
            self._stop.wait(0.01)

    def _probe(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                with contextlib.suppress(httpx.TransportError):
                    client.get(f"{self.url}/api/health")
                self.slowest_health = max(self.slowest_health, time.monotonic() - started)
                self._stop.wait(0.05)

    def __enter__(self) -> Watch:
        self._threads = [threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._probe, daemon=True)]  # fmt: skip
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def chunks(total: int, piece: bytes = b"0" * MiB) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        part = piece[: total - sent]
        sent += len(part)
        yield part


def multipart_stream(total: int) -> Iterator[bytes]:
    yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
           'filename="big.png"\r\nContent-Type: image/png\r\n\r\n').encode()  # fmt: skip
    yield from chunks(total)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def json_stream(total: int) -> Iterator[bytes]:
    yield b'{"instances": ['
    row = b"[" + b",".join([b"0"] * 28) + b"],"
    yield from chunks(total, row * (MiB // len(row)))
    yield b"[]]}"


def gradio_call(client: httpx.Client, url: str, api: str, data: list) -> tuple[int, str]:
    """Gradio's two-step API: POST the call, then read its event stream."""
    started = client.post(f"{url}/gradio_api/call/{api}", json={"data": data})
    if started.status_code != 200:
        return started.status_code, started.text
    event = started.json()["event_id"]
    answer = client.get(f"{url}/gradio_api/call/{api}/{event}", timeout=120)
    return answer.status_code, answer.text


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def attack_read_file(client: httpx.Client, url: str, secret: Path) -> tuple[int, str]:
    """Ask the page to read a server file as a sketch, then try to download Gradio's copy."""
    status, text = gradio_call(
        client, url, "classify_sketch",
        [{"background": None, "layers": [], "composite": file_data(str(secret))}],
    )  # fmt: skip
    leaked = secret.read_bytes()
    for token in text.replace('"', " ").replace("'", " ").split():
        if "/gradio" in token and token.startswith("/"):
            copy = client.get(f"{url}/gradio_api/file={token.rstrip('.,;')}")
            if copy.status_code == 200 and copy.content == leaked:
                return copy.status_code, "LEAKED: the file's bytes were served"
    uploads = gradio_call(client, url, "classify_uploads", [[file_data(str(secret))]])
    if secret.name in uploads[1] and "predicted" in uploads[1]:
        return uploads[0], "LEAKED: classify_uploads read the server path"
    return status, "refused: " + text[-160:].replace("\n", " ")


def attack_upload(client: httpx.Client, url: str, size: int) -> tuple[int, str]:
    response = client.post(
        f"{url}/gradio_api/upload",
        content=multipart_stream(size),
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    return response.status_code, response.text[:160]


def attack_sketch_bomb(client: httpx.Client, url: str, side: int) -> tuple[int, str]:
    bomb = png(Image.new("L", (side, side), 255))
    uploaded = client.post(
        f"{url}/gradio_api/upload", files=[("files", ("sketch.png", bomb, "image/png"))]
    )
    if uploaded.status_code != 200:
        return uploaded.status_code, uploaded.text[:160]
    path = uploaded.json()[0]
    return gradio_call(
        client, url, "classify_sketch",
        [{"background": None, "layers": [], "composite": file_data(path)}],
    )  # fmt: skip


def sketchpad_id(client: httpx.Client, url: str) -> int:
    config = client.get(f"{url}/config").json()
    return next(
        c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "sketch"
    )


def attack_blob_index(client: httpx.Client, url: str, index: int) -> tuple[int, str]:
    """Gradio's sketchpad blob endpoint asked for layer `index` (a 400-byte request)."""
    fields = {
        "session_hash": "attacker",
        "component_id": str(sketchpad_id(client, url)),
        "fn_name": "accept_blobs",
        "type": "layer",
        "index": str(index),
        "id": "x",
    }
    response = client.post(f"{url}/gradio_api/component_server", data=fields,
                           files=[("file", ("blob", b"\x89PNG", "image/png"))])  # fmt: skip
    return response.status_code, response.text[:160]


def attack_idle_sockets(url: str, port: int, count: int, hold: float) -> tuple[int, str]:
    """`count` connections that never finish their headers, held `hold` seconds; then the
    time /api/health takes on a new connection while they are (or were) open."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # never finished
            sockets.append(sock)
        time.sleep(hold)
        started = time.monotonic()
        try:
            status = httpx.get(f"{url}/api/health", timeout=30).status_code
        except httpx.HTTPError:
            status = 0
        took = time.monotonic() - started
        open_left = 0
        for sock in sockets:
            sock.setblocking(False)
            try:
                open_left += sock.recv(1) != b""
            except BlockingIOError:
                open_left += 1
            except OSError:
                pass
        return (
            status,
            f"health after {hold:.0f} s: {took * 1000:.0f} ms; {open_left} of {count} still open",
        )
    finally:
        for sock in sockets:
            sock.close()


def attack_upload_total(
    client: httpx.Client, url: str, temporary: Path, count: int
) -> tuple[int, str]:
    """`count` page uploads of 10 MiB each; what the upload cache holds afterwards."""
    statuses = []
    for index in range(count):
        file = [("files", (f"{index}.png", b"\x89PNG" + b"0" * (10 * MiB - 4), "image/png"))]
        statuses.append(client.post(f"{url}/gradio_api/upload", files=file).status_code)
    held = sum(p.stat().st_size for p in temporary.rglob("*") if p.is_file() and not p.is_symlink())
    counts = {code: statuses.count(code) for code in sorted(set(statuses))}
    return statuses[-1], f"statuses {counts}; upload cache holds {held / MiB:.0f} MiB"


def post(client: httpx.Client, url: str, **request) -> tuple[int, str]:
    response = client.post(url, **request)
    return response.status_code, response.text[:160]


def images(count: int, data: bytes) -> dict:
    return {"files": [("files", (f"{i}.png", data, "image/png")) for i in range(count)]}


def run_attacks(
    url: str,
    pid: int,
    run_dir: Path,
    scale: float,
    max_images: int,
    temporary: Path,
    only: list[str] | None = None,
) -> list[dict]:
    blank_25mp = png(Image.new("L", (5000, 5000), 255))
    nine_mb = b"\x89PNG" + b"0" * int(9 * MiB - 4)
    multipart = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    predict, tf_serving = f"{url}/api/predict", f"{url}/v1/models/mnist:predict"
    port = int(url.rsplit(":", 1)[1])
    ico, icns, gif = ico_bomb(), icns_bomb(), gif_frame_bomb()  # made before the clock starts
    huge_numbers = b'{"instances": [[' + b",".join([b"1" + b"0" * 400] * 28) + b"]]}"
    deep = b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    attacks: dict[str, Callable[[httpx.Client], tuple[int, str]]] = {
        "page reads a server file": lambda c: attack_read_file(
            c, url, run_dir / "confusion_matrix.png"
        ),
        f"chunked multipart {int(1000 * scale)} MB": lambda c: post(
            c, predict, content=multipart_stream(int(1000 * scale * MiB)), headers=multipart
        ),
        f"{int(100 * scale)} files x 9 MB": lambda c: post(
            c, predict, **images(int(100 * scale), nine_mb)
        ),
        f"chunked JSON {int(200 * scale)} MB": lambda c: post(
            c, tf_serving, content=json_stream(int(200 * scale * MiB))
        ),
        f"page upload {int(300 * scale)} MB": lambda c: attack_upload(
            c, url, int(300 * scale * MiB)
        ),
        "sketch of 100 MP (PNG)": lambda c: attack_sketch_bomb(c, url, 10_000),
        f"{max_images} blank 25 MP PNGs": lambda c: post(
            c, predict, **images(max_images, blank_25mp)
        ),
        "4 blank 25 MP PNGs (within limits)": lambda c: post(c, predict, **images(4, blank_25mp)),
        "JSON of 20 MB": lambda c: post(c, tf_serving, content=b"".join(json_stream(19 * MiB))),
        "JSON nested 100,000 deep": lambda c: post(c, tf_serving, content=deep),
        "JSON with 10**400": lambda c: post(c, tf_serving, content=huge_numbers),
        "booleans as pixels": lambda c: post(
            c, tf_serving, json={"instances": [[[True] * 28] * 28]}
        ),
        "sketch blob layer index 100,000,000": lambda c: attack_blob_index(c, url, 100_000_000),
        "ICO: 16x16 directory, 12,000 x 12,000 PNG": lambda c: post(c, predict, **images(1, ico)),
        "ICNS holding a 12,000 x 12,000 PNG": lambda c: post(c, predict, **images(1, icns)),
        "GIF: 1x1 screen, 12,000 x 12,000 frame": lambda c: post(c, predict, **images(1, gif)),
        "zTXt PNG beside a good image": lambda c: post(
            c,
            predict,
            files=[
                ("files", ("z.png", ztxt_png(), "image/png")),
                ("files", ("good.png", small_png(), "image/png")),
            ],
        ),
        "truncated QOI and AVIF": lambda c: post(
            c,
            predict,
            files=[
                ("files", ("a.qoi", truncated_qoi(), "image/qoi")),
                ("files", ("b.avif", truncated_avif(), "image/avif")),
            ],
        ),
        "300 idle sockets held 15 s": lambda c: attack_idle_sockets(url, port, 300, 15),
        "40 page uploads of 10 MiB": lambda c: attack_upload_total(c, url, temporary, 40),
        "GET /monitoring": lambda c: (lambda r: (r.status_code, r.text[:120]))(
            c.get(f"{url}/monitoring")
        ),
        "component_server with no fields": lambda c: post(
            c, f"{url}/gradio_api/component_server", data={"x": "1"}, files=[("f", ("b", b"1"))]
        ),
    }
    if only:
        attacks = {name: attack for name, attack in attacks.items()
                   if any(word.lower() in name.lower() for word in only)}  # fmt: skip
    results = []
    with httpx.Client(timeout=300) as client:
        for name, attack in attacks.items():
            idle = rss_bytes(pid)
            started = time.monotonic()
            with Watch(url, pid) as watch:
                try:
                    status, detail = attack(client)
                except httpx.HTTPError as error:
                    status, detail = 0, f"{type(error).__name__}: {error}"
            results.append({
                "attack": name,
                "status": status,
                "seconds": round(time.monotonic() - started, 2),
                "peak_rss_above_idle_mb": round(max(0, watch.peak_rss - idle) / MiB),
                "slowest_health_ms": round(watch.slowest_health * 1000),
                "detail": " ".join(detail.split())[:120],
            })  # fmt: skip
            print(f"{name}: {results[-1]}", file=sys.stderr, flush=True)
            time.sleep(0.5)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run directory to serve")
    parser.add_argument("--scale", type=float, default=0.25, help="body sizes (default 0.25)")
    parser.add_argument("--max-images", type=int, default=64, help="the server's --max-images")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--only", help="comma-separated words: run the attacks whose names contain one"
    )
    arguments = parser.parse_args(argv)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    temporary = Path(tempfile.mkdtemp(prefix="serve-attacks-"))
    server = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.serve", str(arguments.run_dir), "--port", str(port),
         "--max-images", str(arguments.max_images)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "TMPDIR": str(temporary)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        print(f"server idle RSS {rss_bytes(server.pid) / MiB:.0f} MiB", file=sys.stderr)
        results = run_attacks(url, server.pid, arguments.run_dir.resolve(), arguments.scale,
                              arguments.max_images, temporary,
                              arguments.only.split(",") if arguments.only else None)  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(temporary, ignore_errors=True)
    columns = ["attack", "status", "seconds", "peak_rss_above_idle_mb", "slowest_health_ms",
               "detail"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in results:
        print("| " + " | ".join(str(row[c]).replace("|", "/") for c in columns) + " |")
    if arguments.output:
        arguments.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
