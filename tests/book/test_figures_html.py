"""Every picture in the built book is sharp, says its size, and shows its text at >= 11 CSS px (knobs.figures' rule).

Static figures (show_figure, watch) carry their CSS width and height, their DPI and the size of their smallest
text in points (data-text-pt, measured when the figure was drawn). From these and the widths a reader's
browser gives them (the book's column at 1280x900, and a 390x844 phone), the size their text is shown at is
computed here for every figure of every chapter, so a figure added with small text fails this test. A
figure may be wider than a phone only when it was shown with wide=True (it then scrolls sideways there).
Twin frames: every image of every twin is twice its panel's CSS size. tests/book/test_browser.py measures
the same in Chromium at both sizes; tests/unit/test_legibility.py measures the lab panels' text.
"""
import base64
import io
import json
import re

import pytest
from PIL import Image

from conftest import HTML, chapter_pages
from knobs.figures import CONTENT_WIDTH, DPI, MIN_TEXT_PX, PHONE_WIDTH, PIXEL_RATIO, shown_text_px

pytestmark = pytest.mark.html

PAGES = [p.name for p in chapter_pages(HTML)] or ["(book not built)"]


def image_size(uri: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size


def attribute(tag: str, name: str) -> str | None:
    match = re.search(rf'\b{name}="([^"]*)"', tag)
    return match.group(1) if match else None


@pytest.mark.parametrize("name", PAGES)
def test_static_figures_are_sharp_and_legible_in_the_column_and_on_a_phone(built_html, name):
    page = (built_html / "notebooks" / name).read_text()
    figures = re.findall(r'<div class="knobs-figure-panels"([^>]*)>(.*?)</div>', page, re.S)
    assert figures, f"{name} shows no figure through show_figure"
    for attributes, inner in figures:
        wide = 'data-wide="1"' in attributes
        for tag in re.findall(r"<img\b[^>]*>", inner):
            width, height = int(attribute(tag, "width")), int(attribute(tag, "height"))
            assert image_size(attribute(tag, "src")) == (PIXEL_RATIO * width, PIXEL_RATIO * height), tag[:80]
            assert int(attribute(tag, "data-dpi")) == DPI
            points = float(attribute(tag, "data-text-pt"))
            alt = attribute(tag, "alt")
            in_column = shown_text_px(points, width, CONTENT_WIDTH)
            assert in_column >= MIN_TEXT_PX, f"text at {in_column:.1f} px in the book's column: {alt[:80]}"
            on_phone = shown_text_px(points, width, PHONE_WIDTH)
            if wide:  # never shown narrower than where its text is MIN_TEXT_PX: its box scrolls instead
                min_width = int(re.search(r"min-width:(\d+)px", tag).group(1))
                assert shown_text_px(points, width, min_width) >= MIN_TEXT_PX - 0.05
            else:
                assert on_phone >= MIN_TEXT_PX, f"text at {on_phone:.1f} px on a phone: {alt[:80]}"


@pytest.mark.parametrize("name", PAGES)
def test_twin_images_are_twice_their_panels_css_size(built_html, name):
    page = (built_html / "notebooks" / name).read_text()
    for payload in re.findall(r'class="knobs-twin-data">(.*?)</script>', page, re.S):
        data = json.loads(payload)
        sizes = [(PIXEL_RATIO * p["w"], PIXEL_RATIO * p["h"]) for p in data["panels"]]
        shown = {}  # image index -> the panels it is shown in
        for frames in data["frames"].values():
            for frame in frames:
                for panel, layers in enumerate(frame["img"]):
                    for index in layers:
                        shown.setdefault(index, set()).add(panel)
        assert set(shown) == set(range(len(data["images"]))), "an image no frame uses"
        for index, panels in shown.items():
            size = image_size(data["images"][index])
            assert all(size == sizes[p] for p in panels), f"{data['title']}: image {index} is {size}"
