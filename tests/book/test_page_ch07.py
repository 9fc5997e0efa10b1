"""Chapter 7's built page (make book): executed, its twin complete and playable, small enough."""
import json
import re

import pytest

from conftest import twin_frame
from knobs.lab.twin import describe

pytestmark = pytest.mark.html

PAGE = "notebooks/07_scale.html"


@pytest.fixture(scope="module")
def page_html(built_html):
    path = built_html / PAGE
    if not path.exists():
        pytest.fail(f"{PAGE} is not built: is chapter 7 in _toc.yml?")
    return path.read_text()


def test_page_is_executed_with_figures_and_no_errors(page_html):
    text = re.sub(r"<[^>]+>", " ", page_html)
    assert "Traceback" not in text and "ran top to bottom in" in text
    assert "173× the parameters" in text  # a deterministic, computed number reached the page
    assert len(re.findall(r'class="knobs-figure"', page_html)) >= 3
    for tag in re.findall(r"<img\b[^>]*knobs-(?:figure|twin-frame)[^>]*>", page_html):
        assert re.search(r'\balt="[^"]{40,}"', tag), tag[:120]  # every figure and frame says what it shows


def test_twin_has_every_setting_with_alt_text_and_about_60_frames(page_html):
    payloads = re.findall(r'class="knobs-twin-data">(.*?)</script>', page_html, re.S)
    assert len(payloads) == 1
    data = json.loads(payloads[0])
    names = [c["name"] for c in data["controls"]]
    assert names == ["hidden", "data"]
    assert data["controls"][1]["values"] == ["1/16 farm", "1/4 farm", "1 farm", "8 farms"]
    frames = sum(len(f) for f in data["frames"].values())
    assert len(data["frames"]) == 5 * 4 and 50 <= frames <= 70
    assert all(uri.startswith("data:image/webp;base64,") for uri in data["images"])
    for key, settings in data["frames"].items():
        assert all("validation loss" in describe(data, frame) for frame in settings)


def test_glued_numbers_and_citations_reached_the_prose(page_html):
    text = re.sub(r"<[^>]+>", " ", page_html)
    for cited in ("Kaplan", "Hoffmann", "Rajbhandari", "Muennighoff", "Touvron"):
        assert cited in text, cited
    assert "Common misconceptions" in text and "Exercise 3" in text
    assert not re.search(r"\{glue", page_html)


def test_page_stays_small(built_html):
    assert (built_html / PAGE).stat().st_size <= 2 * 1024 ** 2


@pytest.mark.browser
def test_twin_answers_its_sliders_in_a_browser(chromium, built_html):
    page = chromium.new_page()
    try:
        page.goto((built_html / PAGE).as_uri())
        twin = page.locator(".knobs-twin")
        first = twin_frame(twin)[0]
        sliders = twin.locator('input[type="range"]')
        assert sliders.count() >= 2
        sliders.nth(1).focus()
        page.keyboard.press("ArrowLeft")  # 1 farm -> 1/4 farm
        shown, description = twin_frame(twin)
        assert shown != first and "1/4 farm" in description
    finally:
        page.close()
