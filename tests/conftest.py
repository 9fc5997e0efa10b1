"""Shared fixtures: the farm data, the trained tiny model, the built HTML book, the browser.

tests/unit/ checks one library module per file (the fast loop: `pytest tests/unit`),
tests/chapters/ one chapter per file (its labs, experiments, exercises, quiz),
tests/book/ the built book, the browser, JupyterLab, the student edition and publishing.
"""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def pytest_configure(config):
    config.addinivalue_line("markers", "html: needs the built book in _build/html (make book)")
    config.addinivalue_line("markers", "browser: drives Debian's chromium through Playwright")
    config.addinivalue_line("markers", "student: runs the student edition in a kernel (make test-student)")
    config.addinivalue_line("markers", "nbgrader: the nbgrader course through the real nbgrader CLI (make test-nbgrader)")
    config.addinivalue_line("markers", "install: the knobs wheel in a clean virtualenv, every chapter run outside the "
                                       "repository (the Colab path; make test-install)")


@pytest.fixture(scope="session")
def farm():
    from knobs.data import farm_split

    return farm_split()


@pytest.fixture
def trained_model():
    """Chapter 1's trained tiny model, a fresh copy for each test (train it, prune it: no test sees another's)."""
    from knobs.train import trained_tiny_lm

    return trained_tiny_lm()


@pytest.fixture(scope="session")
def built_html():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book` first (make test does it for you)")
    return HTML


def chapter_pages(html_root: Path) -> list[Path]:
    return sorted((html_root / "notebooks").glob("*.html"))


# ---- the browser (tests/book/test_browser.py, tests/book/test_jupyterlab.py) ------------------------------------
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium driven by Playwright (its own browser download does not work here)."""
    import os
    import shutil

    executable = os.environ.get("KNOBS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail("chromium is not installed: run `make browser` (make test does it for you)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


# ---- a static twin as the browser shows it (tests/book/, tests/chapters/) ---------------------------------------
TWIN_FRAME_JS = """t => [
  [...t.querySelectorAll('.knobs-twin-panel')].map(p => p.style.backgroundImage.slice(5, -2) + ' ' +
                                                       p.querySelector('img').getAttribute('src')).join(' | '),
  t.querySelector('.knobs-twin-description').textContent]"""


def twin_frame(twin) -> tuple[str, str]:
    """What a twin (a Playwright locator of .knobs-twin) shows: (every panel's two layers' sources, joined; the
    whole description of the frame, which holds the settings, the step and each panel's alt text)."""
    return tuple(twin.evaluate(TWIN_FRAME_JS))
