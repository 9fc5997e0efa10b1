"""Chapter 2's static twins in a real browser (Debian's chromium): the knobs change the picture and its alt text."""
import json

import pytest

from conftest import twin_frame

pytestmark = [pytest.mark.html, pytest.mark.browser]


@pytest.fixture(scope="module")
def page(built_html, chromium):
    page = chromium.new_page()  # the suite's one Playwright session (tests/conftest.py)
    page.goto((built_html / "notebooks" / "02_backprop.html").as_uri())
    yield page
    page.close()


def set_knob(twin, label, index):
    """Move the twin's knob called `label` (a range slider or a select) to its `index`-th value."""
    control = twin.locator(f"label:text-is('{label} ') + *")
    if control.evaluate("el => el.tagName") == "SELECT":
        control.select_option(str(index))
    else:
        control.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }", index)


def last_step(twin):
    set_knob(twin, "Step", len(json.loads(twin.locator(".knobs-twin-data").text_content())["steps"]) - 1)
    return twin_frame(twin)[1]


def test_descent_twin_diverges_at_a_large_rate_with_plain_gradient_descent(page):
    twin = page.locator("#twin-ch02-descent")
    assert "momentum (β₁ of Adam) 0.9 (change it in the live lab)" in twin.inner_text()
    first = twin_frame(twin)[0]
    set_knob(twin, "optimizer", 0)  # sgd
    set_knob(twin, "learning rate", 2)  # 0.3
    alt = last_step(twin)
    assert "learning rate 0.3, optimizer sgd" in alt and "Diverged at step" in alt
    assert twin_frame(twin)[0] != first
    set_knob(twin, "optimizer", 1)  # momentum, learning rate 0.03 reaches the global minimum
    set_knob(twin, "learning rate", 1)
    assert "nearest the global minimum" in last_step(twin)


def test_symmetry_twin_counts_one_unit_until_noise_breaks_the_tie(page):
    twin = page.locator("#twin-ch02-symmetry")
    set_knob(twin, "hidden and output layers start", 2)  # all equal (0.3)
    set_knob(twin, "added random noise (std)", 0)
    assert "32 hidden units, 1 distinct" in last_step(twin)
    set_knob(twin, "added random noise (std)", 1)  # 0.001
    assert "32 hidden units, 32 distinct" in last_step(twin)
