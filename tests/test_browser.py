"""The page in a real browser: headless Chromium (Debian's, driven by playwright; never
`playwright install`) uploads two images, sees the gallery with the predicted labels, draws
a stroke on the sketchpad and sees its prediction; a screenshot is saved."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from drawn_shapes import drawn
from test_serving import free_port, wait_until_healthy

CHROMIUM = Path("/usr/bin/chromium")

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
        [sys.executable, "-m", "mnist_exp.serve", str(run_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.goto(url, wait_until="networkidle")
            assert "Test accuracy" in page.content()
            page.locator("input[type=file]").first.set_input_files(images)
            page.get_by_role("button", name="Predict").click()
            page.wait_for_selector(
                "#upload-message:has-text('2 image(s) predicted')", timeout=60_000
            )
            captions = page.locator("#predictions").inner_text()
            assert "0 (" in captions and "2 (" in captions, captions
            assert page.locator("#seen img").count() == 2

            page.get_by_role("tab", name="Draw").click()
            page.locator("#sketch button[aria-label='Brush']").click()
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
            page.screenshot(path=str(tmp_path / "serve_page.png"), full_page=True)
            browser.close()
        assert (tmp_path / "serve_page.png").stat().st_size > 10_000
    finally:
        server.terminate()
        server.wait(timeout=30)
