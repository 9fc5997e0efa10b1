"""Chapter 3's built page: its twin is complete and small, and its knobs work in a real browser."""
import json
import re

import pytest

from conftest import twin_frame
from knobs.lab.twin import describe

PAGE = "notebooks/03_regularization.html"


@pytest.fixture(scope="module")
def page_html(built_html):
    path = built_html / PAGE
    if not path.exists():
        pytest.fail(f"{PAGE} is missing from the built book")
    return path.read_text()


@pytest.mark.html
def test_page_has_the_twin_with_every_setting_and_alt_text(page_html):
    twins = re.findall(r'class="knobs-twin-data">(.*?)</script>', page_html, re.S)
    assert len(twins) == 1
    data = json.loads(twins[0])
    assert [c["label"] for c in data["controls"]] == ["penalty", "strength λ"]
    n_settings = len(data["controls"][0]["values"]) * len(data["controls"][1]["values"])
    assert len(data["frames"]) == n_settings
    frames = [frame for run in data["frames"].values() for frame in run]
    assert len(frames) <= 64 and all(describe(data, frame).startswith("L1 or weight decay") for frame in frames)
    l1_last = describe(data, data["frames"]["1,0"][-1])  # L1, λ = 0.3, last step
    assert "exactly zero" in l1_last and not re.search(r"\b0 \(0%\) exactly zero", l1_last)


@pytest.mark.html
def test_page_is_within_budget_and_shows_no_errors(page_html, built_html):
    assert (built_html / PAGE).stat().st_size <= 2 * 1024 ** 2
    text = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", page_html, flags=re.S)  # what a reader sees, not code
    text = re.sub(r"<[^>]+>", "", text)
    for bad in ("Traceback", "Error:", "could not be checked", "This run stopped"):
        assert bad not in text
    assert "Common misconceptions" in page_html and "broader range of parameters" in page_html


@pytest.mark.html
@pytest.mark.browser
def test_twin_knobs_change_the_picture_in_chromium(built_html, chromium):
    page = chromium.new_page()  # the suite's one Playwright session (tests/conftest.py)
    try:
        page.goto((built_html / PAGE).as_uri())
        twin = page.locator("#twin-ch03-penalties")
        first = twin_frame(twin)[0]
        twin.locator("select").first.select_option(label="L1 (soft-threshold)")
        step_slider = twin.locator("input[type=range]").nth(1)  # after the λ slider comes Step
        step_slider.evaluate("el => { el.value = el.max; el.dispatchEvent(new Event('input')); }")  # last frame
        shown, alt = twin_frame(twin)
        assert shown != first
        assert "penalty L1" in alt and "exactly zero" in alt
    finally:
        page.close()
