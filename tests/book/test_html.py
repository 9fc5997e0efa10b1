"""The built book (make book): every chapter page published, executed, with working twins and no dead widgets."""
import json
import re

import pytest

from conftest import chapter_pages

pytestmark = pytest.mark.html


def test_every_chapter_notebook_is_published(built_html):
    from conftest import ROOT

    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    pages = sorted(p.stem for p in chapter_pages(built_html))
    assert notebooks and pages == notebooks


@pytest.mark.parametrize("page_name", [p.name for p in chapter_pages(__import__("conftest").HTML)] or ["none"])
def test_chapter_page(built_html, page_name):
    page = built_html / "notebooks" / page_name
    html = page.read_text()
    # executed: outputs are there, and no error output slipped through
    assert "cell_output" in html and "Traceback" not in html and 'class="output traceback"' not in html
    # no dead widget control: live widgets never reach the HTML, only their static twins
    assert "application/vnd.jupyter.widget-view+json" not in html and "jupyter-widgets" not in html
    twins = re.findall(r'<div class="knobs-twin"', html)
    assert twins, "every chapter has at least one lab, so at least one static twin"
    for payload in re.findall(r'class="knobs-twin-data">(.*?)</script>', html, re.S):
        data = json.loads(payload)
        assert len(data["steps"]) >= 2 and all(uri.startswith("data:image/") for uri in data["images"])
        for frames in data["frames"].values():
            assert all(frame["text"].strip() and all(alt.strip() for alt in frame["alt"]) for frame in frames)
    # every image says what it shows
    for tag in re.findall(r"<img\b[^>]*>", html):
        assert re.search(r'\balt="[^"]+"', tag), tag[:120]
    # a common-misconceptions box, exercises with collapsed solutions, references, measured runtime
    assert "Common misconceptions" in html
    assert html.count("knobs-check") >= 3
    assert "ran top to bottom in" in html
    assert len(page.read_bytes()) <= 2 * 1024 ** 2, "a chapter page must stay under 2 MB"
