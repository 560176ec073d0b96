"""The endpoint page's script draws the built-ins' answers over the test image: boxes (object
detection) and the class mask (semantic segmentation), checked pixel by pixel in Chromium."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
try:
    from playwright.sync_api import Page
except ImportError:  # the `browser` fixture then skips the tests, or fails them under CI (conftest.unavailable)
    Page = None

SCRIPT = Path(__file__).resolve().parents[2] / "emulator" / "console" / "static" / "endpoint.js"
SIZE = 64
# endpoint.js's palette, by class id.
GREEN, YELLOW = (60, 180, 75), (255, 225, 25)


def png(pixels: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()


def drawn(page: Page, prediction: dict) -> list[list[int]]:
    """The canvas's RGBA pixels after the script drew `prediction` over a grey test image."""
    page.set_content(f"""<figure><img id="prediction-image" src="{png(np.full((SIZE, SIZE, 3), 128, np.uint8))}">
        <canvas id="prediction-canvas"></canvas></figure>
        <script type="application/json" id="prediction-data">{json.dumps(prediction)}</script>""")
    page.add_script_tag(path=str(SCRIPT))
    page.wait_for_function("document.getElementById('prediction-canvas').dataset.drawn !== undefined")
    page.wait_for_timeout(200)  # the mask is decoded asynchronously
    return page.evaluate(f"""() => {{
        const ctx = document.getElementById('prediction-canvas').getContext('2d');
        const data = ctx.getImageData(0, 0, {SIZE}, {SIZE}).data;
        return Array.from({{length: {SIZE} * {SIZE}}}, (_, i) => Array.from(data.slice(i * 4, i * 4 + 4)));
    }}""")


def at(pixels, x: int, y: int) -> list[int]:
    return pixels[y * SIZE + x]


def test_boxes_are_drawn_where_the_fractions_put_them_and_weak_ones_are_not(page):
    pixels = drawn(page, {"kind": "boxes", "boxes": [
        {"class": 1, "score": 0.9, "box": [0.25, 0.5, 0.75, 0.9]},
        {"class": 2, "score": 0.1, "box": [0.0, 0.0, 1.0, 1.0]}]})   # below the 0.2 threshold
    left_edge = at(pixels, 16, 50)
    assert left_edge[:3] == list(GREEN) and left_edge[3] == 255
    assert at(pixels, 40, 50)[3] == 0          # inside the box: the image shows through
    assert at(pixels, 2, 2)[3] == 0            # the weak box is not drawn


def test_the_mask_is_overlaid_with_the_background_left_clear(page):
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:, SIZE // 2:] = 2
    pixels = drawn(page, {"kind": "mask", "mask": png(mask)})
    assert at(pixels, 5, 30)[3] == 0
    right = at(pixels, 50, 30)
    # The canvas keeps colours premultiplied by alpha: a unit or two of rounding.
    assert all(abs(got - want) <= 2 for got, want in zip(right[:3], YELLOW)) and 100 <= right[3] <= 140
