"""`mnist-exp-serve` against a real uvicorn server on a free loopback port: predictions from
files and TF Serving bodies, every refusal with its status, micro-batching under concurrent
load, health before and after warm-up, and a clean shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
from conftest import free_port
from drawn_shapes import drawn
from PIL import Image

from mnist_exp.imaging.preprocess import mnist_style

pytestmark = pytest.mark.slow  # each test trains or starts a process

MAX_IMAGES = 8


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def shape_png(label: int, seed: int) -> bytes:
    return png_bytes(drawn(label, np.random.default_rng(seed)))


def wait_until_healthy(url: str, process, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited while starting"
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError("the server never became healthy")


@pytest.fixture(scope="module")
def server(shapes_run):
    run_dir, _ = shapes_run
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.serve", str(run_dir), "--port", str(port),
         "--max-images", str(MAX_IMAGES)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_one_and_several_uploaded_images_are_predicted(server):
    url, _ = server
    files = [("files", (f"shape{label}.png", shape_png(label, 10 + label), "image/png"))
             for label in (0, 1, 3, 9)]  # fmt: skip
    response = httpx.post(f"{url}/api/predict", files=files, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["label"] for p in body["predictions"]] == [0, 1, 3, 9]
    assert [p["filename"] for p in body["predictions"]] == [f"shape{i}.png" for i in (0, 1, 3, 9)]
    assert body["model"]["class_names"] == [str(d) for d in range(10)]
    single = httpx.post(f"{url}/api/predict", files=[files[1]], timeout=30).json()
    assert single["predictions"][0]["class_name"] == "1"


def test_tf_serving_rest_bodies_get_tf_serving_answers(server):
    url, _ = server
    pixels = [mnist_style(np.asarray(drawn(label, np.random.default_rng(label))) / 255).pixels
              for label in (2, 6)]  # fmt: skip
    rows = httpx.post(f"{url}/v1/models/mnist:predict",
                      json={"instances": [p.tolist() for p in pixels]}, timeout=30)  # fmt: skip
    assert rows.status_code == 200, rows.text
    assert [int(np.argmax(p)) for p in rows.json()["predictions"]] == [2, 6]
    columnar = {"inputs": [p[..., None].tolist() for p in pixels]}
    columns = httpx.post(f"{url}/v1/models/mnist:predict", json=columnar, timeout=30)
    assert columns.json() == rows.json()
    missing = httpx.post(f"{url}/v1/models/cifar:predict", json={"instances": []}, timeout=30)
    assert missing.status_code == 404 and "serves 'mnist'" in missing.json()["error"]


def upload(*files: tuple[str, bytes]) -> dict:
    return {"files": [("files", (name, data, "image/png")) for name, data in files]}


BAD_UPLOADS = {
    "not-an-image": (upload(("notes.txt", b"hello")), 415, "notes.txt: not an image"),
    "too-many": (
        upload(*((f"{i}.png", b"x") for i in range(MAX_IMAGES + 1))),
        413,
        "More than 8 images in one request; the limit is 8",
    ),
    "too-many-pixels": (
        upload(("bomb.png", png_bytes(Image.new("L", (6000, 5000))))),
        413,
        "6000x5000 pixels is over the limit",
    ),
    "truncated": (upload(("cut.png", shape_png(1, 0)[:80])), 415, "cut.png: cannot be decoded"),
    "no-files": ({}, 422, "No images"),
    "too-large": ({"content": b"x" * (21 * 2**20)}, 413, "the limit is 20,971,520"),
}


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"), BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys()
)
def test_bad_uploads_get_a_clear_json_error_and_the_server_carries_on(
    server, request_kwargs, status, message
):
    url, _ = server
    response = httpx.post(f"{url}/api/predict", timeout=60, **request_kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    good = httpx.post(f"{url}/api/predict", timeout=30, **upload(("1.png", shape_png(1, 5))))
    assert good.status_code == 200 and good.json()["predictions"][0]["label"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"instances": [[[1, 2], [3, 4]]]}).encode(), "got shape [1, 2, 2]"),
        (json.dumps({"instances": [[["a"] * 28] * 28]}).encode(), "arrays of numbers"),
        (json.dumps({"instances": [[[999] * 28] * 28]}).encode(), "in 0..255"),
        (json.dumps({"rows": []}).encode(), '"instances"'),
    ],
    ids=["not-json", "wrong-shape", "strings", "out-of-range", "no-instances"],
)
def test_malformed_tf_serving_bodies_are_422(server, content, message):
    url, _ = server
    response = httpx.post(f"{url}/v1/models/mnist:predict", content=content, timeout=30)
    assert response.status_code == 422 and message in response.json()["error"]


def test_concurrent_clients_are_batched_and_all_answered_right(server):
    url, _ = server
    before = httpx.get(f"{url}/api/health").json()
    labels = [i % 10 for i in range(160)]
    images = {label: shape_png(label, 100 + label) for label in range(10)}

    async def load() -> list[tuple[int, int]]:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            semaphore = asyncio.Semaphore(16)

            async def one(label: int) -> tuple[int, int]:
                async with semaphore:
                    files = [("files", (f"{label}.png", images[label], "image/png"))]
                    response = await client.post("/api/predict", files=files)
                    return response.status_code, response.json()["predictions"][0]["label"]

            return await asyncio.gather(*(one(label) for label in labels))

    started = time.monotonic()
    answers = asyncio.run(asyncio.wait_for(load(), timeout=120))
    assert time.monotonic() - started < 120
    assert [status for status, _ in answers] == [200] * len(labels)
    assert [label for _, label in answers] == labels
    after = httpx.get(f"{url}/api/health").json()
    batches = after["batches"] - before["batches"]
    assert after["images"] - before["images"] == len(labels)
    assert batches < len(labels), "concurrent requests must share model calls"


def test_model_facts_and_docs(server):
    url, _ = server
    facts = httpx.get(f"{url}/api/model").json()
    assert facts["model"] == "mlp" and facts["format"] == "keras" and facts["test_accuracy"] >= 0.95
    assert httpx.get(f"{url}/docs").status_code == 200
    assert "/api/predict" in httpx.get(f"{url}/openapi.json").json()["paths"]
    assert httpx.get(f"{url}/").status_code == 200  # the page


def test_tf_serving_status_and_metadata_and_the_probes_answer_as_tools_expect(server):
    url, _ = server
    status = httpx.get(f"{url}/v1/models/mnist").json()["model_version_status"]
    assert status == [{"version": "1", "state": "AVAILABLE",
                       "status": {"error_code": "OK", "error_message": ""}}]  # fmt: skip
    metadata = httpx.get(f"{url}/v1/models/mnist/metadata").json()
    assert metadata["model_spec"] == {"name": "mnist", "signature_name": "", "version": "1"}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    tensors = {**signature["inputs"], **signature["outputs"]}
    sizes = {name: [int(d["size"]) for d in tensor["tensor_shape"]["dim"]]
             for name, tensor in tensors.items()}  # fmt: skip
    assert sizes == {"images": [-1, 28, 28, 1], "probabilities": [-1, 10]}
    assert signature["inputs"]["images"]["dtype"] == "DT_FLOAT"
    assert httpx.get(f"{url}/v1/models/cifar").status_code == 404
    assert httpx.get(f"{url}/v1/models/cifar/metadata").status_code == 404
    assert httpx.get(f"{url}/livez").json() == {"live": True}
    assert httpx.get(f"{url}/readyz").json() == {"ready": True}


def metric(text: str, name: str, **labels) -> float:
    """A sample's value in Prometheus' text format, parsed by its client (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_prometheus_metrics_count_requests_images_and_batches(server):
    url, _ = server
    before = httpx.get(f"{url}/metrics").text
    files = upload(*((f"{i}.png", shape_png(i % 10, 300 + i)) for i in range(3)))
    assert httpx.post(f"{url}/api/predict", timeout=30, **files).status_code == 200
    assert httpx.post(f"{url}/api/predict", content=b"x", timeout=30).status_code == 422
    httpx.get(f"{url}/no/such/route/{'x' * 40}")
    response = httpx.get(f"{url}/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    ok = {"route": "/api/predict", "status": "200"}
    assert metric(after, "mnist_exp_requests_total", **ok) == metric(
        before, "mnist_exp_requests_total", **ok) + 1  # fmt: skip
    assert metric(after, "mnist_exp_requests_total", route="/api/predict", status="422") >= 1
    assert metric(after, "mnist_exp_images_predicted_total") - metric(
        before, "mnist_exp_images_predicted_total") == 3  # fmt: skip
    assert metric(after, "mnist_exp_batch_size_count") > metric(
        before, "mnist_exp_batch_size_count"
    )
    assert metric(after, "mnist_exp_request_duration_seconds_count", route="/api/predict") >= 2
    assert "mnist_exp_requests_in_flight" in after
    assert "x" * 40 not in after and 'route="unmatched"' in after  # raw paths never labels


def test_sigterm_shuts_down_cleanly_leaving_no_process(shapes_run):
    run_dir, _ = shapes_run
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.serve", str(run_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until_healthy(f"http://127.0.0.1:{port}", process)
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True)
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    for child in children.stdout.split():
        assert not os.path.exists(f"/proc/{child}"), "a child outlived the server"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_health_says_not_ready_until_the_model_is_warmed_up(shapes_run):
    from fastapi.testclient import TestClient

    from mnist_exp.serving.api import create_api
    from mnist_exp.serving.predictors import load_predictor
    from mnist_exp.serving.service import Limits, PredictionService

    run_dir, _ = shapes_run
    predictor = load_predictor(run_dir)
    released = threading.Event()
    real_predict = predictor.predict

    def slow_first_calls(images):
        released.wait(timeout=60)
        return real_predict(images)

    predictor.predict = slow_first_calls
    service = PredictionService(predictor, Limits(), max_batch=4, max_wait=0.001)
    with TestClient(create_api(service)) as client:
        assert client.get("/api/health").status_code == 503
        assert client.get("/readyz").status_code == 503 and client.get("/livez").status_code == 200
        loading = client.get("/v1/models/mnist").json()["model_version_status"][0]
        assert loading["state"] == "LOADING"
        files = [("files", ("1.png", shape_png(1, 1), "image/png"))]
        refused = client.post("/api/predict", files=files)
        assert refused.status_code == 503 and "warming up" in refused.json()["error"]
        released.set()
        deadline = time.monotonic() + 30
        while client.get("/api/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post("/api/predict", files=files).json()["predictions"][0]["label"] == 1
        assert client.get("/readyz").status_code == 200
        service.drain()  # what the first stop signal does
        assert client.get("/readyz").status_code == 503
