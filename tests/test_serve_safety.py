"""Hostile requests against a real `mnist-exp-serve` (loopback only, bounded loops): the
page never reads or serves a file the request did not send, every body is bounded while it
streams, huge images neither freeze the event loop nor hold gigabytes, every refusal has the
documented `{"error": ...}` shape, and a stalled client cannot keep the server from stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from PIL import Image
from test_serving import png_bytes, shape_png, wait_until_healthy

pytestmark = pytest.mark.slow  # each test talks to a server process

MiB = 2**20
BOUNDARY = "testboundary42"


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def start_server(run_dir: Path, temporary: Path, *arguments: str):
    """The server as users start it, its temporary files under `temporary`."""
    port = free_port()
    temporary.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.serve", str(run_dir), "--port", str(port),
         *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TMPDIR": str(temporary)},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, process)
    return url, process, port


def stop(process) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    return code, process.stdout.read()


@pytest.fixture(scope="module")
def page_server(shapes_run, tmp_path_factory):
    run_dir, _ = shapes_run
    temporary = tmp_path_factory.mktemp("server-tmp")
    url, process, _ = start_server(run_dir, temporary, "--max-images", "8")
    try:
        yield url, process, temporary
    finally:
        stop(process)


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def sketch_of(path: str) -> dict:
    return {"background": None, "layers": [], "composite": file_data(path)}


def gradio_call(url: str, api: str, data: list) -> str:
    """Gradio's two-step API: start the call, then read its event stream to the end."""
    started = httpx.post(f"{url}/gradio_api/call/{api}", json={"data": data}, timeout=30)
    assert started.status_code == 200, started.text
    event = started.json()["event_id"]
    return httpx.get(f"{url}/gradio_api/call/{api}/{event}", timeout=120).text


def test_the_page_reads_and_serves_no_file_the_request_did_not_send(page_server, tmp_path):
    url, _, _ = page_server
    secret = tmp_path / "secret.png"  # an image in the system's temp folder: readable as one
    secret.write_bytes(shape_png(1, 3))
    sketch = gradio_call(url, "classify_sketch", [sketch_of(str(secret))])
    uploads = gradio_call(url, "classify_uploads", [[file_data(str(secret))]])
    assert "event: error" in sketch and "event: error" in uploads
    assert "predicted" not in uploads
    words = (sketch + uploads).replace('"', " ").split()
    for candidate in [str(secret), *(w for w in words if w.startswith("/") and "/" in w[1:])]:
        served = httpx.get(f"{url}/gradio_api/file={candidate.rstrip('.,;')}", timeout=30)
        assert served.content != secret.read_bytes(), f"{candidate} was served"


def test_page_uploads_are_bounded_private_and_removed_at_shutdown(shapes_run, tmp_path):
    run_dir, _ = shapes_run
    url, process, _ = start_server(run_dir, tmp_path / "tmp")
    try:
        (upload_root,) = (tmp_path / "tmp").glob("mnist-exp-serve-*")
        assert upload_root.stat().st_mode & 0o777 == 0o700
        small = httpx.post(f"{url}/gradio_api/upload",
                           files=[("files", ("a.png", shape_png(2, 1), "image/png"))])  # fmt: skip
        assert small.status_code == 200 and small.json()[0].startswith(str(upload_root))
        too_large = [("files", ("b.png", b"0" * (11 * MiB), "image/png"))]
        large = httpx.post(f"{url}/gradio_api/upload", files=too_large)
        assert large.status_code == 413
    finally:
        code, output = stop(process)
    assert code == 0, output
    assert not upload_root.exists()


def multipart_stream(size: int) -> Iterator[bytes]:
    yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
           'filename="big.png"\r\nContent-Type: image/png\r\n\r\n').encode()  # fmt: skip
    for _ in range(size // MiB):
        yield b"0" * MiB
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def json_stream(size: int) -> Iterator[bytes]:
    yield b'{"instances": ['
    row = b"[" + b",".join([b"0"] * 28) + b"],"
    for _ in range(size // MiB):
        yield row * (MiB // len(row))
    yield b"[]]}"


def test_chunked_bodies_are_refused_at_the_limit_without_being_read_whole(page_server):
    url, process, _ = page_server
    before = rss_bytes(process.pid)
    multipart = httpx.post(
        f"{url}/api/predict", content=multipart_stream(200 * MiB), timeout=60,
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )  # fmt: skip
    assert multipart.status_code == 413, multipart.text
    assert "the limit is 20,971,520" in multipart.json()["error"]
    body = httpx.post(f"{url}/v1/models/mnist:predict", content=json_stream(50 * MiB), timeout=60)
    assert body.status_code == 413 and "JSON body is over the limit" in body.json()["error"]
    upload = httpx.post(
        f"{url}/gradio_api/upload", content=multipart_stream(100 * MiB), timeout=60,
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )  # fmt: skip
    assert upload.status_code == 413
    assert rss_bytes(process.pid) - before < 100 * MiB


class HealthProbe:
    """Asks /api/health every 50 ms from a thread; keeps the slowest answer's time."""

    def __init__(self, url: str):
        self.url, self.slowest, self._done = url, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._probe, daemon=True)

    def _probe(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._done.is_set():
                started = time.monotonic()
                assert client.get(f"{self.url}/api/health").status_code == 200
                self.slowest = max(self.slowest, time.monotonic() - started)
                self._done.wait(0.05)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()


def test_huge_images_neither_freeze_the_server_nor_hold_gigabytes(page_server):
    url, process, _ = page_server
    bomb = png_bytes(Image.new("L", (10_000, 10_000), 255))  # 100 megapixels in ~100 KB
    blank_25mp = png_bytes(Image.new("L", (5000, 5000), 255))
    before = rss_bytes(process.pid)
    peak = before
    with HealthProbe(url) as probe:
        uploaded = httpx.post(f"{url}/gradio_api/upload",
                              files=[("files", ("sketch.png", bomb, "image/png"))])  # fmt: skip
        path = uploaded.json()[0]
        sketch = gradio_call(url, "classify_sketch", [sketch_of(path)])
        peak = max(peak, rss_bytes(process.pid))
        four = [("files", (f"{i}.png", blank_25mp, "image/png")) for i in range(4)]
        answer = httpx.post(f"{url}/api/predict", files=four, timeout=120)
        peak = max(peak, rss_bytes(process.pid))
    assert "event: complete" in sketch  # answered with no prediction, not decoded
    assert answer.status_code == 200, answer.text
    assert all(p["blank"] for p in answer.json()["predictions"])
    # Before the limits: the sketch took 1.1 GB and stalled /api/health for 6 s.
    assert probe.slowest < 1.0, f"/api/health took {probe.slowest:.2f} s"
    assert peak - before < 400 * MiB


def test_blank_images_are_flagged_and_claim_no_label(page_server):
    url, _, _ = page_server
    transparent = Image.new("RGBA", (60, 60), (0, 0, 0, 0))
    files = [
        ("files", ("white.png", png_bytes(Image.new("L", (80, 80), 255)), "image/png")),
        ("files", ("dot.png", png_bytes(Image.new("L", (1, 1), 0)), "image/png")),
        ("files", ("clear.png", png_bytes(transparent), "image/png")),
        ("files", ("one.png", shape_png(1, 7), "image/png")),
    ]
    response = httpx.post(f"{url}/api/predict", files=files, timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["blank"] for p in predictions] == [True, True, True, False]
    assert [p["label"] for p in predictions] == [None, None, None, 1]
    assert predictions[0]["probabilities"] is None and predictions[0]["confidence"] is None


@pytest.mark.parametrize(
    ("path", "request_kwargs", "status", "message"),
    [
        ("/v1/models/mnist:predict",
         {"content": b'{"instances": ' + b"[" * 60_000 + b"]" * 60_000 + b"}"},
         422, "nested too deeply"),
        ("/v1/models/mnist:predict",
         {"content": b'{"instances": [[' + b",".join([b"1" + b"0" * 400] * 28) + b"]]}"},
         422, "arrays of numbers"),
        ("/v1/models/mnist:predict", {"json": {"instances": [[[True] * 28] * 28]}},
         422, "arrays of numbers"),
        ("/v1/models/mnist:predict", {"json": {"instances": [[["7"] * 28] * 28]}},
         422, "arrays of numbers"),
        ("/api/predict",
         {"content": b"--x\r\ngarbage",
          "headers": {"content-type": "multipart/form-data"}},
         400, "Malformed multipart"),
        ("/api/predict",
         {"files": [("files", (f"{i}.png", b"x", "image/png")) for i in range(1001)]},
         413, "More than 8 images"),
    ],
    ids=["deep-json", "huge-number", "booleans", "strings", "bad-multipart", "1001-files"],
)  # fmt: skip
def test_malformed_requests_are_answered_in_the_documented_shape(
    page_server, path, request_kwargs, status, message
):
    url, _, _ = page_server
    response = httpx.post(f"{url}{path}", timeout=60, **request_kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_answers_and_model_facts_show_no_server_path(page_server, shapes_run):
    url, _, _ = page_server
    run_dir, _ = shapes_run
    facts = httpx.get(f"{url}/api/model").text
    image = [("files", ("a.png", shape_png(3, 2), "image/png"))]
    answer = httpx.post(f"{url}/api/predict", files=image, timeout=30).text
    page_config = httpx.get(f"{url}/config").text
    for text in (facts, answer, page_config):
        assert str(run_dir.parent) not in text
    assert httpx.get(f"{url}/api/model").json()["run"] == run_dir.name


def test_a_stalled_client_cannot_keep_the_server_from_stopping(shapes_run, tmp_path):
    run_dir, _ = shapes_run
    _, process, port = start_server(run_dir, tmp_path / "tmp", "--no-page")
    head = (b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
            b"Content-Type: multipart/form-data; boundary=zz\r\n\r\n--zz\r\n")  # fmt: skip
    with socket.create_connection(("127.0.0.1", port)) as leaving:
        leaving.sendall(head + b'Content-Disposition: form-data; name="files"; filename="a"\r\n')
        time.sleep(0.3)
    time.sleep(0.3)
    stalled = socket.create_connection(("127.0.0.1", port))
    stalled.sendall(head)
    time.sleep(0.3)
    started = time.monotonic()
    code, output = stop(process)
    stalled.close()
    assert code == 0, output
    assert time.monotonic() - started < 15
    assert "Traceback" not in output, output
    assert output.count("disconnected mid-request") == 1, output


def test_bad_limits_and_a_taken_port_get_one_line_each(shapes_run):
    run_dir, _ = shapes_run
    bad = subprocess.run(
        [sys.executable, "-m", "mnist_exp.cli.serve", str(run_dir), "--max-batch", "-1",
         "--max-images", "0"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "--max-batch must be >= 1 (got -1)" in bad.stderr
    assert "--max-images must be >= 1 (got 0)" in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "mnist_exp.cli.serve", str(run_dir), "--port", str(port)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert busy.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use; try --port " in busy.stderr
    assert busy.stdout == ""  # no URL printed for a server that never started
    assert busy.stderr.strip().count("\n") == 0, busy.stderr  # one line, before TensorFlow


class RssSampler:
    """The server's peak RSS, sampled every 10 ms from a thread of its own."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._done = pid, rss_bytes(pid), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._done.wait(0.01)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self._thread.join()


def sketchpad_id(url: str) -> int:
    components = httpx.get(f"{url}/config", timeout=30).json()["components"]
    return next(c["id"] for c in components if c.get("props", {}).get("elem_id") == "sketch")


def test_the_sketchpad_blob_endpoint_allocates_nothing_for_a_callers_layer_index(page_server):
    url, process, _ = page_server
    fields = {"session_hash": "anyone", "component_id": str(sketchpad_id(url)),
              "fn_name": "accept_blobs", "type": "layer", "id": "x"}  # fmt: skip
    blob = [("file", ("blob", png_bytes(Image.new("L", (8, 8))), "image/png"))]
    idle = rss_bytes(process.pid)
    with RssSampler(process.pid) as rss, HealthProbe(url) as probe:
        huge = httpx.post(f"{url}/gradio_api/component_server", timeout=60,
                          data={**fields, "index": "100000000"}, files=blob)  # fmt: skip
        time.sleep(0.3)
    # Before: 200 after 4.8 s, /api/health stalled as long, +0.8-2 GB per request.
    assert huge.status_code == 422, huge.text
    assert "one layer" in huge.json()["error"] and "Traceback" not in huge.text
    assert rss.peak - idle < 200 * MiB and probe.slowest < 0.1
    for kind, index in (("layer", "0"), ("composite", "null"), ("background", "null")):
        form = {**fields, "type": kind, "index": index}
        accepted = httpx.post(
            f"{url}/gradio_api/component_server", data=form, files=blob, timeout=30
        )
        assert accepted.status_code == 200, accepted.text


def test_icon_bombs_are_refused_at_once_and_one_bad_image_costs_only_its_own_answer(page_server):
    from benchmarks.hostile_files import icns_bomb, ico_bomb, small_png, ztxt_png

    url, process, _ = page_server
    bombs = {"icon.ico": ico_bomb(), "icon.icns": icns_bomb()}  # 12,000 x 12,000 RGBA inside
    idle = rss_bytes(process.pid)
    with RssSampler(process.pid) as rss, HealthProbe(url) as probe:
        for name, data in bombs.items():
            started = time.monotonic()
            refused = httpx.post(f"{url}/api/predict", timeout=60,
                                 files=[("files", (name, data, "image/png"))])  # fmt: skip
            took = time.monotonic() - started
            assert refused.status_code == 415, refused.text
            assert f"{name}: not an image file in a format read here" in refused.json()["error"]
            assert took < 0.5, f"{name} took {took:.2f} s"  # before: 1.7-1.9 s
    assert probe.slowest < 0.1, f"/api/health took {probe.slowest * 1000:.0f} ms"
    assert rss.peak - idle < 200 * MiB  # before: +550-626 MiB per request
    mixed = [("files", ("text.png", ztxt_png(), "image/png")),
             ("files", ("one.png", shape_png(1, 4), "image/png")),
             ("files", ("icon.ico", bombs["icon.ico"], "image/x-icon")),
             ("files", ("white.png", small_png(), "image/png"))]  # fmt: skip
    answer = httpx.post(f"{url}/api/predict", files=mixed, timeout=60)
    assert answer.status_code == 200, answer.text  # before: 500 for the whole request
    slots = answer.json()["predictions"]
    assert [slot["error"] is not None for slot in slots] == [True, False, True, False]
    assert slots[0]["error"].startswith("text.png: cannot be read") and slots[0]["label"] is None
    assert slots[1]["label"] == 1 and slots[3]["blank"]


def test_idle_sockets_never_keep_the_health_probe_out(page_server):
    url, _, _ = page_server
    port = int(url.rsplit(":", 1)[1])
    sockets = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            sockets.append(sock)
        for wait in (1, 7, 7):  # all open; after the header timeout; 15 s in
            time.sleep(wait)
            started = time.monotonic()
            health = httpx.get(f"{url}/api/health", timeout=30)
            # Before: 503 (uvicorn's limit counted the idle sockets) for ~70 s.
            assert health.status_code == 200 and time.monotonic() - started < 2
            for probe in ("/livez", "/readyz", "/metrics"):
                assert httpx.get(f"{url}{probe}", timeout=30).status_code == 200, probe
        closed = 0
        for sock in sockets:
            sock.settimeout(0.01)
            with contextlib.suppress(TimeoutError, OSError):
                closed += sock.recv(1) == b""
        assert closed == 300, f"{300 - closed} idle sockets still open after 15 s"
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status"),
    [("GET", "/monitoring", {}, 404),
     ("GET", "/monitoring/summary", {}, 404),
     ("POST", "/gradio_api/component_server", {"data": {"x": "1"}, "files": [("f", ("b", b"1"))]},
      500),
     ("POST", "/gradio_api/component_server", {"content": b"{"}, 400),
     ("POST", "/gradio_api/upload", {"content": b"x", "headers": {"content-type": "text/plain"}},
      400)],
    ids=["monitoring", "monitoring-summary", "component-server-fields", "component-server-json",
         "upload-not-multipart"],
)  # fmt: skip
def test_every_routes_errors_are_in_the_documented_shape(
    page_server, method, path, request_kwargs, status
):
    url, _, _ = page_server
    response = httpx.request(method, f"{url}{path}", timeout=30, **request_kwargs)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["error"], str), response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_upload_folders_are_bounded_in_total_and_a_crashed_servers_is_removed(shapes_run, tmp_path):
    run_dir, _ = shapes_run
    temporary = tmp_path / "tmp"
    orphan = temporary / "mnist-exp-serve-crashed"
    orphan.mkdir(parents=True)
    (orphan / "upload.png").write_bytes(b"0" * 1000)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    (orphan / ".owner-pid").write_text(f"{dead}\n")
    url, process, _ = start_server(run_dir, temporary)
    try:
        assert not orphan.exists()
        (own,) = temporary.glob("mnist-exp-serve-*")
        assert (own / ".owner-pid").read_text().strip() == str(process.pid)
        statuses = []
        for index in range(40):
            file = [("files", (f"{index}.png", b"\x89PNG" + b"0" * (10 * MiB - 4), "image/png"))]
            statuses.append(httpx.post(f"{url}/gradio_api/upload", files=file, timeout=60))
        held = sum(p.stat().st_size for p in own.rglob("*") if p.is_file())
        assert held < 300 * MiB, f"{held / MiB:.0f} MiB in the upload cache"  # before: 400 MiB
        refused = statuses[-1]
        assert refused.status_code == 429 and "retry later" in refused.json()["error"]
    finally:
        stop(process)
    assert not own.exists()
