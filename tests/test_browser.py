"""The built book in a real browser (Debian's chromium via Playwright), offline.

Every chapter page found in _build/html/notebooks (chapters added later are picked up by the
glob) must load with no console error and no request leaving the page; every static twin must
answer its sliders by mouse and by keyboard and play; axe-core finds no serious or critical
accessibility violation; the search page finds each chapter. Screenshots for a person to look
at go to _build/screenshots/.
"""
import functools
import hashlib
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import HTML, ROOT, chapter_pages

pytestmark = [pytest.mark.html, pytest.mark.browser]

PAGES = [p.name for p in chapter_pages(HTML)] or ["(book not built)"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 15_000


class OfflinePage:
    """A browser tab that aborts every request that is not a local file and records what went wrong."""

    def __init__(self, browser, allow: str = "file:", **context_options):
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, **context_options)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.blocked, self.errors = [], []
        self.context.route(re.compile(rf"^(?!{re.escape(allow)}|data:|blob:|about:)"), self._block)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _block(self, route):
        self.blocked.append(route.request.url)
        route.abort()

    def open(self, path, query: str = ""):
        self.page.goto((path.as_uri() if isinstance(path, Path) else path) + query, wait_until="load")
        # MathJax typesets after load: wait for it, so its errors (and its fonts' requests) are seen too
        self.page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def tab(chromium, built_html):
    tab = OfflinePage(chromium)
    yield tab
    tab.close()


def page_path(built_html, name):
    path = built_html / "notebooks" / name
    assert path.exists(), f"{name}: not built"
    return path


@pytest.mark.parametrize("name", PAGES)
def test_chapter_page_loads_without_errors_or_network(tab, built_html, screenshots, name):
    page = tab.open(page_path(built_html, name))
    page.wait_for_timeout(300)  # late console errors (async scripts)
    assert tab.blocked == [], f"the page asked the network for {tab.blocked}: the book must be self-contained"
    assert tab.errors == []
    # formulas were typeset by the bundled MathJax, not left as raw TeX
    if page.locator(".math").count():
        assert page.locator("mjx-container").count() >= page.locator(".math").count()
    page.screenshot(path=str(screenshots / f"{Path(name).stem}.png"), full_page=True)


def twin_state(twin) -> tuple[str, str]:
    """(a short digest of the frame's image, its alt text): what the reader sees and hears."""
    src, alt = twin.evaluate("t => { const img = t.querySelector('.knobs-twin-frame'); return [img.src, img.alt]; }")
    return hashlib.sha1(src.encode()).hexdigest()[:12], alt


def move_by_mouse(page, slider, to_end: bool):
    """Click the slider's track at one end, as a person would drag it there."""
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    x = box["x"] + (box["width"] - 3 if to_end else 3)
    page.mouse.click(x, box["y"] + box["height"] / 2)


def slider_value(slider) -> int:
    return int(slider.input_value())


@pytest.mark.parametrize("name", PAGES)
def test_twins_answer_mouse_keyboard_and_play(tab, built_html, screenshots, name):
    page = tab.open(page_path(built_html, name))
    twins = page.locator(".knobs-twin")
    assert twins.count() >= 1, "every chapter has at least one lab, so at least one twin"
    for t in range(twins.count()):
        twin = twins.nth(t)
        sliders = twin.locator("input[type=range]")
        assert sliders.count() >= 1, "a twin without a control is a picture, not a lab"
        stepper = sliders.nth(sliders.count() - 1)  # the player's Step slider comes after the knobs
        for i in range(sliders.count()):  # every control has a visible label a screen reader announces
            label = twin.locator(f"label[for='{sliders.nth(i).get_attribute('id')}']")
            assert label.count() == 1 and label.inner_text().strip()

        # Step by keyboard: End jumps to the last frame, Home back to the first
        start = twin_state(twin)
        stepper.focus()
        page.keyboard.press("End")
        assert slider_value(stepper) == int(stepper.get_attribute("max"))
        assert twin_state(twin)[0] != start[0]
        page.keyboard.press("Home")
        assert twin_state(twin) == start
        # Step by mouse: click the end of the track
        move_by_mouse(page, stepper, to_end=True)
        assert slider_value(stepper) == int(stepper.get_attribute("max"))
        at_end = twin_state(twin)
        assert at_end[0] != start[0] and at_end[1] != start[1], "the alt text follows the frame"

        # every knob, at the last step (where settings differ most): keyboard, then mouse
        for i in range(sliders.count() - 1):
            knob = sliders.nth(i)
            before, value = twin_state(twin), slider_value(knob)
            knob.focus()
            page.keyboard.press("ArrowLeft" if value == int(knob.get_attribute("max")) else "ArrowRight")
            assert slider_value(knob) != value, "the arrow keys move the knob"
            assert twin_state(twin)[0] != before[0], f"knob {i} moved by keyboard but the frame did not change"
            before = twin_state(twin)
            to_end = slider_value(knob) < int(knob.get_attribute("max"))
            move_by_mouse(page, knob, to_end=to_end)
            assert slider_value(knob) == (int(knob.get_attribute("max")) if to_end else 0)
            assert twin_state(twin)[0] != before[0], f"knob {i} moved by mouse but the frame did not change"
        for i in range(twin.locator("select").count()):
            select = twin.locator("select").nth(i)
            before = twin_state(twin)
            options = select.locator("option")
            select.select_option(index=(int(select.input_value()) + 1) % options.count())
            assert twin_state(twin)[0] != before[0]
        twin.screenshot(path=str(screenshots / f"{Path(name).stem}-twin{t + 1}.png"))

        # Reset, then Play advances the frames on its own; Pause stops it
        twin.locator("button.knobs-twin-reset").click()
        assert slider_value(stepper) == 0
        first = twin_state(twin)
        play = twin.locator("button.knobs-twin-play")
        play.click()
        assert play.inner_text() == "Pause"
        status = twin.locator(".knobs-twin-status")
        assert status.get_attribute("aria-live") == "off", "frames are not read aloud one by one while playing"
        page.wait_for_function("s => s.value > 0", arg=stepper.element_handle(), timeout=5_000)
        assert twin_state(twin)[0] != first[0]
        # Pause (clicked inside the page, atomically: the player may reach its last frame at any moment)
        twin.evaluate("t => { const b = t.querySelector('.knobs-twin-play'); if (b.textContent === 'Pause') b.click(); }")
        assert play.inner_text() == "Play" and status.get_attribute("aria-live") == "polite"
        assert status.inner_text() == twin_state(twin)[1], "the status says what the frame shows"
        stopped = slider_value(stepper)
        page.wait_for_timeout(900)  # longer than one frame of the player
        assert slider_value(stepper) == stopped, "Pause stops the player"
    assert tab.blocked == [] and tab.errors == []


OTHER_PAGES = sorted(str(p.relative_to(HTML)) for p in [*HTML.glob("book/*.html"), HTML / "search.html"] if p.exists())


@pytest.mark.parametrize("path, mode", [(f"notebooks/{n}", mode) for n in PAGES for mode in ("light", "dark")]
                         + [(p, "light") for p in OTHER_PAGES])
def test_no_serious_accessibility_violations(chromium, built_html, path, mode):
    """axe-core on the page as a reader sees it (after the twins' controls are built), in both colour modes."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): run `npm ci` (make test does it for you)")
    tab = OfflinePage(chromium, color_scheme=mode)
    tab.context.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');")
    try:
        page = tab.open(built_html / path)
        assert page.evaluate("document.documentElement.dataset.theme") == mode
        page.add_script_tag(path=str(AXE))
        results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    finally:
        tab.close()
    serious = [f"{v['id']} ({v['impact']}): {v['help']}: " + "; ".join(
               f"{n['target']} {n['failureSummary'][:160]}" for n in v["nodes"][:3])
               for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], "\n".join(serious)


def search_word(page) -> str:
    """A word from the chapter's own title (its longest one): what a reader would search for."""
    title = page.locator("main h1").first.inner_text()
    words = sorted(re.findall(r"[A-Za-z]{4,}", title), key=len, reverse=True)
    assert words, f"no searchable word in the title {title!r}"
    return words[0].lower()


@pytest.fixture(scope="module")
def book_server(built_html):
    """The book served over HTTP on 127.0.0.1, as readers get it (from file:// the search page may not
    fetch the pages it shows excerpts of: Chromium blocks that)."""
    handler = functools.partial(QuietHandler, directory=str(built_html))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}/"
        server.shutdown()
        thread.join(10)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize("name", PAGES)
def test_search_finds_the_chapter(chromium, built_html, book_server, name):
    tab = OfflinePage(chromium, allow=book_server)
    try:
        _search_finds_the_chapter(tab, book_server, name)
    finally:
        tab.close()


def _search_finds_the_chapter(tab, server, name):
    word = search_word(tab.open(f"{server}notebooks/{name}"))
    page = tab.open(f"{server}search.html", f"?q={word}")
    results = page.locator("#search-results a")
    results.first.wait_for()
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any(f"notebooks/{Path(name).stem}.html" in h for h in hrefs), f"searching {word!r} found {hrefs}"
    assert tab.blocked == [] and tab.errors == []
