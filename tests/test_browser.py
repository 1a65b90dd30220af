"""The page in a real browser: headless Chromium (Debian's, driven by playwright; never
`playwright install`) uploads two images, sees the gallery with the predicted labels, draws
a stroke on the sketchpad right after opening its tab and sees its prediction; screenshots
at a desktop and a phone width are saved."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port
from drawn_shapes import drawn
from test_serving import wait_until_healthy

CHROMIUM = Path("/usr/bin/chromium")
# MNIST_EXP_SCREENSHOTS=DIR keeps the page's screenshots there, to look at.
SCREENSHOTS = (
    Path(os.environ["MNIST_EXP_SCREENSHOTS"]) if "MNIST_EXP_SCREENSHOTS" in os.environ else None
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file() or shutil.which("chromium") is None,
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
)


@pytest.mark.slow
def test_upload_gallery_and_sketchpad_in_chromium(shapes_run, tmp_path):
    from playwright.sync_api import sync_playwright

    run_dir, _ = shapes_run
    images = []
    for label in (0, 2):  # a ring and a horizontal bar, drawn dark on light
        path = tmp_path / f"shape_{label}.png"
        drawn(label, np.random.default_rng(40 + label), canvas=(300, 240)).save(path)
        images.append(str(path))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mnist_exp.cli.serve", str(run_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="networkidle")
            assert "Test accuracy" in page.content()
            assert str(run_dir.parent) not in page.inner_text("body")  # the run by name only
            page.locator("input[type=file]").first.set_input_files(images)
            page.get_by_role("button", name="Predict").click()
            page.wait_for_selector(
                "#upload-message:has-text('2 image(s) predicted')", timeout=60_000
            )
            cells = page.locator("#predictions").inner_text().split()
            answers = {
                name: cells[cells.index(name) + 1] for name in ("shape_0.png", "shape_2.png")
            }
            assert answers == {"shape_0.png": "0", "shape_2.png": "2"}, cells  # name beside answer
            assert page.locator("#seen img").count() == 1  # what the model saw, captioned
            page.screenshot(path=str(tmp_path / "serve_page.png"), full_page=True)

            page.get_by_role("tab", name="Draw").click()  # no tool to pick: ready to draw
            page.wait_for_timeout(1200)
            box = page.locator("#sketch canvas").first.bounding_box()
            x, top = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
            page.mouse.move(x, top)
            page.mouse.down()
            for step in range(1, 21):  # a vertical stroke: the shapes model's "1"
                page.mouse.move(x, top + step * box["height"] * 0.03, steps=2)
            page.mouse.up()
            label = page.locator("#sketch-label")
            deadline = time.monotonic() + 60
            # The prediction follows the drawing; wait for the one of the finished stroke.
            while (shown := label.inner_text().split())[1:2] != [
                "1"
            ] and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert shown[:2] == ["Prediction", "1"], shown  # the label's title, then its class
            page.screenshot(path=str(tmp_path / "serve_draw.png"), full_page=True)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(url, wait_until="networkidle")
            phone.screenshot(path=str(tmp_path / "serve_phone.png"), full_page=True)
            browser.close()
        assert (tmp_path / "serve_page.png").stat().st_size > 10_000
        for name in ("serve_page.png", "serve_draw.png", "serve_phone.png"):
            shutil.copy(tmp_path / name, SCREENSHOTS / name) if SCREENSHOTS else None
    finally:
        server.terminate()
        server.wait(timeout=30)
