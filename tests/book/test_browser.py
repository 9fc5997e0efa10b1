"""The built book in a real browser (Debian's chromium via Playwright), offline.

Every chapter page found in _build/html/notebooks (chapters added later are picked up by the
glob) must load with no console error and no request leaving the page; every static twin must
answer its sliders by mouse and by keyboard and play; axe-core finds no serious or critical
accessibility violation; the search page finds each chapter. Screenshots for a person to look
at go to _build/screenshots/.
"""
import functools
import hashlib
import itertools
import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import HTML, ROOT, chapter_pages

pytestmark = [pytest.mark.html, pytest.mark.browser]

PAGES = [p.name for p in chapter_pages(HTML)] or ["(book not built)"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 60_000  # generous: CI machines may be loaded; waits end as soon as the condition holds


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
    page.screenshot(path=str(screenshots / f"{Path(name).stem}.png"), full_page=True, timeout=120_000)  # long pages, slow CI


def digest(src: str) -> str:
    return hashlib.sha1(src.encode()).hexdigest()[:12]


def twin_state(twin) -> tuple[str, str]:
    """(a short digest of the frame's image, its alt text): what the reader sees and hears."""
    src, alt = twin.evaluate("t => { const img = t.querySelector('.knobs-twin-frame'); return [img.src, img.alt]; }")
    return digest(src), alt


def move_by_mouse(page, slider, to_end: bool):
    """Click the slider's track at one end, as a person would drag it there."""
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    x = box["x"] + (box["width"] - 3 if to_end else 3)
    page.mouse.click(x, box["y"] + box["height"] / 2)


def slider_value(slider) -> int:
    return int(slider.input_value())


class Twin:
    """A twin on the page, its precomputed data, and its controls in the order twin.js builds them."""

    def __init__(self, page, locator):
        self.page, self.root = page, locator
        self.data = json.loads(locator.locator(".knobs-twin-data").text_content())
        sliders, selects = locator.locator("input[type=range]"), locator.locator("select")
        self.knobs, n_slider, n_select = [], 0, 0  # (control index, element, kind) of every movable control
        for i, control in enumerate(self.data["controls"]):
            if len(control["values"]) == 1:
                continue  # shown as fixed text, not as a control that does nothing
            if all(re.match(r"\s*[-+]?(\d|\.\d)", v) for v in control["values"]):  # twin.js: parseFloat(v) is a number
                self.knobs.append((i, sliders.nth(n_slider), "range"))
                n_slider += 1
            else:
                self.knobs.append((i, selects.nth(n_select), "select"))
                n_select += 1
        self.stepper = sliders.nth(n_slider)  # the player's Step slider comes after the knobs
        assert sliders.count() == n_slider + 1 and selects.count() == n_select

    def expected(self, state, step) -> tuple[str, str]:
        src, alt = self.data["frames"][",".join(map(str, state))][step]
        return digest(src), alt

    def state(self) -> list[int]:
        state = list(self.data["defaults"])
        for i, element, _ in self.knobs:
            state[i] = int(element.input_value())
        return state

    def shown_matches_data(self):
        assert twin_state(self.root) == self.expected(self.state(), slider_value(self.stepper)), \
            "the frame shown is not the precomputed frame of the controls' values"

    def set_by_keyboard(self, element, kind, index):
        element.focus()
        if kind == "range":
            self.page.keyboard.press("Home")
            for _ in range(index):
                self.page.keyboard.press("ArrowRight")
        else:
            element.select_option(index=index)
        assert int(element.input_value()) == index

    def context_where_knob_matters(self, i):
        """Values of all controls where moving control i one notch changes the last frame (None: it never does)."""
        sizes = [len(c["values"]) for c in self.data["controls"]]
        last = len(self.data["steps"]) - 1
        for state in itertools.product(*map(range, sizes)):
            if state[i] + 1 < sizes[i]:
                moved = list(state)
                moved[i] += 1
                if self.expected(state, last)[0] != self.expected(moved, last)[0]:
                    return list(state)
        return None


@pytest.mark.parametrize("name", PAGES)
def test_twins_answer_mouse_keyboard_and_play(tab, built_html, screenshots, name):
    page = tab.open(page_path(built_html, name))
    twins = page.locator(".knobs-twin")
    assert twins.count() >= 1, "every chapter has at least one lab, so at least one twin"
    for t in range(twins.count()):
        twin = Twin(page, twins.nth(t))
        root, stepper = twin.root, twin.stepper
        for _, element, _ in [*twin.knobs, (None, stepper, None)]:  # every control has a visible label
            label = root.locator(f"label[for='{element.get_attribute('id')}']")
            assert label.count() == 1 and label.inner_text().strip()
        twin.shown_matches_data()

        # Step by keyboard: End jumps to the last frame, Home back to the first
        start = twin_state(root)
        stepper.focus()
        page.keyboard.press("End")
        assert slider_value(stepper) == int(stepper.get_attribute("max"))
        assert twin_state(root)[0] != start[0]
        twin.shown_matches_data()
        page.keyboard.press("Home")
        assert twin_state(root) == start
        # Step by mouse: click the end of the track
        move_by_mouse(page, stepper, to_end=True)
        assert slider_value(stepper) == int(stepper.get_attribute("max"))
        at_end = twin_state(root)
        assert at_end[0] != start[0] and at_end[1] != start[1], "the alt text follows the frame"

        # every knob, where it matters (a knob may act only with another's value, e.g. a LoRA rank only
        # under LoRA): by keyboard one notch, then by mouse to an end of its track
        for i, element, kind in twin.knobs:
            context = twin.context_where_knob_matters(i)
            label = twin.data["controls"][i]["label"]
            assert context is not None, f"{label!r} never changes the frame: a dead control"
            for j, other, other_kind in twin.knobs:
                twin.set_by_keyboard(other, other_kind, context[j])
            twin.shown_matches_data()
            before = twin_state(root)
            element.focus()
            page.keyboard.press("ArrowRight" if kind == "range" else "ArrowDown")
            assert int(element.input_value()) == context[i] + 1, f"the arrow key did not move {label!r}"
            assert twin_state(root)[0] != before[0], f"{label!r} moved by keyboard but the frame did not change"
            twin.shown_matches_data()
            if kind == "range":
                before = twin_state(root)
                to_end = context[i] == 0  # from one notch above the start, the start is a different frame
                move_by_mouse(page, element, to_end=to_end)
                assert slider_value(element) == (int(element.get_attribute("max")) if to_end else 0)
                twin.shown_matches_data()
                if not to_end:
                    assert twin_state(root)[0] != before[0], f"{label!r} moved by mouse but the frame did not change"
        root.screenshot(path=str(screenshots / f"{Path(name).stem}-twin{t + 1}.png"))

        # Reset, then Play advances the frames on its own; Pause stops it
        root.locator("button.knobs-twin-reset").click()
        assert slider_value(stepper) == 0
        first = twin_state(root)
        play = root.locator("button.knobs-twin-play")
        play.click()
        assert play.inner_text() == "Pause"
        status = root.locator(".knobs-twin-status")
        assert status.get_attribute("aria-live") == "off", "frames are not read aloud one by one while playing"
        page.wait_for_function("s => s.value > 0", arg=stepper.element_handle(), timeout=30_000)
        assert twin_state(root)[0] != first[0]
        # Pause (clicked inside the page, atomically: the player may reach its last frame at any moment)
        root.evaluate("t => { const b = t.querySelector('.knobs-twin-play'); if (b.textContent === 'Pause') b.click(); }")
        assert play.inner_text() == "Play" and status.get_attribute("aria-live") == "polite"
        assert status.inner_text() == twin_state(root)[1], "the status says what the frame shows"
        stopped = slider_value(stepper)
        page.wait_for_timeout(900)  # longer than one frame of the player
        assert slider_value(stepper) == stopped, "Pause stops the player"
        twin.shown_matches_data()
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
        # every rule in light mode; in dark mode only what a colour mode changes (contrast), to save time
        options = {"resultTypes": ["violations"]} | (
            {"runOnly": {"type": "rule", "values": ["color-contrast"]}} if mode == "dark" else {})
        results = page.evaluate("options => axe.run(document, options)", options)
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
    # Sphinx shows results one by one (a timer per result): read them once it says it has finished
    page.locator("#search-results .search-summary", has_text="Search finished").wait_for(timeout=60_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any(f"notebooks/{Path(name).stem}.html" in h for h in hrefs), f"searching {word!r} found {hrefs}"
    assert tab.blocked == [] and tab.errors == []
