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

from conftest import HTML, ROOT, chapter_pages, twin_frame
from knobs.lab.twin import describe

pytestmark = [pytest.mark.html, pytest.mark.browser]

PAGES = [p.name for p in chapter_pages(HTML)] or ["(book not built)"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 60_000  # generous: CI machines may be loaded; waits end as soon as the condition holds


class OfflinePage:
    """A browser tab that aborts every request that is not a local file and records what went wrong."""

    def __init__(self, browser, allow: str = "file:", **context_options):
        self.context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
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
    """(a short digest of every panel's images, the frame's description): what the reader sees and hears."""
    sources, description = twin_frame(twin)
    return digest(sources), description


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
        knobs = locator.locator(".knobs-twin-controls")
        sliders, selects = knobs.locator("input[type=range]"), knobs.locator("select")
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
        assert sliders.count() == n_slider and selects.count() == n_select
        self.stepper = locator.locator(".knobs-twin-player input[type=range]")
        self.play, self.reset = locator.locator("button.knobs-twin-play"), locator.locator("button.knobs-twin-reset")
        self.speed = locator.locator("select.knobs-twin-speed-select")

    def controls(self):
        """Every element a reader operates, in order: the knobs, the Step slider, Play, Reset, the speed."""
        return [element for _, element, _ in self.knobs] + [self.stepper, self.play, self.reset, self.speed]

    def expected(self, state, step) -> tuple[str, str]:
        frame = self.data["frames"][",".join(map(str, state))][step]
        images = self.data["images"]
        sources = " | ".join(f"{images[bg]} {images[fg]}" for bg, fg in frame["img"])
        return digest(sources), describe(self.data, frame)

    def state(self) -> list[int]:
        state = list(self.data["defaults"])
        for i, element, _ in self.knobs:
            state[i] = int(element.input_value())
        return state

    def shown_matches_data(self):
        assert twin_state(self.root) == self.expected(self.state(), slider_value(self.stepper)), \
            "the frame shown is not the precomputed frame of the controls' values"
        summary = self.data["frames"][",".join(map(str, self.state()))][slider_value(self.stepper)]["text"]
        assert self.root.locator(".knobs-twin-status").inner_text() == summary, "the status says where the twin is"

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
def test_twins_answer_mouse_keyboard_and_play(tab, built_html, name):
    page = tab.open(page_path(built_html, name))
    twins = page.locator(".knobs-twin")
    assert twins.count() >= 1, "every chapter has at least one lab, so at least one twin"
    for t in range(twins.count()):
        twin = Twin(page, twins.nth(t))
        root, stepper = twin.root, twin.stepper
        for element in [element for _, element, _ in twin.knobs] + [stepper, twin.speed]:  # every control is labelled
            label = root.locator(f"label[for='{element.get_attribute('id')}']")
            assert label.count() == 1 and label.inner_text().strip()
        twin.shown_matches_data()
        assert root.locator("details.knobs-twin-describe").get_attribute("open") is None, "the description is folded"
        for img, alt in zip(root.locator("img.knobs-twin-frame").all(), twin.data["frames"][
                ",".join(map(str, twin.state()))][0]["alt"]):
            assert img.get_attribute("alt") == alt, "each panel's alt text says what the panel shows"

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
        assert at_end[0] != start[0] and at_end[1] != start[1], "the description follows the frame"

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

        # Reset, then Play advances the frames on its own, over about play_seconds; Pause stops it
        twin.reset.click()
        assert slider_value(stepper) == 0
        first = twin_state(root)
        twin.play.click()
        assert twin.play.inner_text() == "Pause"
        status = root.locator(".knobs-twin-status")
        assert status.get_attribute("aria-live") == "off", "frames are not read aloud one by one while playing"
        started = page.evaluate("performance.now()")
        page.wait_for_function("s => s.value > 0", arg=stepper.element_handle(), timeout=30_000)
        assert twin_state(root)[0] != first[0]
        # paced: the first step comes after about play_seconds / frames, not at once
        waited = page.evaluate("performance.now()") - started
        assert waited >= 0.5 * 1000 * twin.data["play_seconds"] / (len(twin.data["steps"]) - 1)
        # Pause (clicked inside the page, atomically: the player may reach its last frame at any moment)
        root.evaluate("t => { const b = t.querySelector('.knobs-twin-play'); if (b.textContent === 'Pause') b.click(); }")
        assert twin.play.inner_text() == "Play" and status.get_attribute("aria-live") == "polite"
        stopped = slider_value(stepper)
        page.wait_for_timeout(900)  # longer than one frame of the player
        assert slider_value(stepper) == stopped, "Pause stops the player"
        twin.shown_matches_data()
        # the speed: fast plays the next frames at twice the pace
        twin.speed.select_option(label="fast")
        twin.reset.click()
        twin.play.click()
        page.wait_for_function("s => s.value > 0", arg=stepper.element_handle(), timeout=30_000)
        root.evaluate("t => { const b = t.querySelector('.knobs-twin-play'); if (b.textContent === 'Pause') b.click(); }")
        twin.speed.select_option(label="normal")
    assert tab.blocked == [] and tab.errors == []


# ---- the reader's screens: a retina laptop and a phone ------------------------------------------------------------
OVERLAYS = ".bd-header, .bd-header-article, .skip-link, #pst-back-to-top { visibility: hidden !important; }"


def screenshot(page, element, path):
    """The element alone: the theme's sticky header, skip link and back-to-top button hidden (they would cover it)."""
    element.screenshot(path=str(path), timeout=120_000, style=OVERLAYS)


VIEWPORTS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}

LAYOUT_JS = """root => {
  const imgs = [...root.querySelectorAll('img.knobs-twin-frame')];
  const panels = [...root.querySelectorAll('.knobs-twin-panel')];
  return {
    images: imgs.map(i => ({natural: i.naturalWidth, client: i.clientWidth, width: +i.getAttribute('width'),
                             height: +i.getAttribute('height'), shownHeight: i.clientHeight})),
    panels: panels.map(p => { const r = p.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }),
    twin: {scroll: root.scrollWidth, client: root.clientWidth},
    // every label, value and control lies inside the twin, and no text spills out of its box
    spills: [...root.querySelectorAll('.knobs-twin-controls *, .knobs-twin-player *, .knobs-twin-status')]
      .filter(el => el.getBoundingClientRect().right > root.getBoundingClientRect().right + 0.5 ||
                    (el.matches('output, label, p') && el.scrollWidth > el.clientWidth + 1))
      .map(el => el.outerHTML.slice(0, 80)),
    page: {scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth},
  };
}"""

BACKGROUND_JS = """async root => {
  const out = [];
  for (const p of root.querySelectorAll('.knobs-twin-panel')) {
    const img = new Image();
    img.src = p.style.backgroundImage.slice(5, -2);
    await img.decode();
    out.push({natural: img.naturalWidth, client: p.clientWidth});
  }
  return out;
}"""

FIGURES_JS = """() => [...document.querySelectorAll('img.knobs-figure')].map(i => ({
  natural: i.naturalWidth, client: i.clientWidth, width: +i.getAttribute('width'),
  textPt: +i.dataset.textPt, dpi: +i.dataset.dpi}))"""


@pytest.mark.parametrize("size", list(VIEWPORTS))
@pytest.mark.parametrize("name", PAGES)
def test_every_picture_is_sharp_readable_and_fits_at_two_sizes(chromium, built_html, screenshots, name, size):
    """At 1280x900 and at 390x844 (a phone), both at device scale 2: every frame and figure has >= 2 image pixels per
    CSS px, its text shows at >= 11 CSS px, nothing overflows sideways, a twin's panels sit side by side on the
    laptop and one under another on the phone, and every control is reached by Tab and works by touch."""
    from knobs.figures import MIN_TEXT_PX, PIXEL_RATIO

    tab = OfflinePage(chromium, viewport=VIEWPORTS[size], device_scale_factor=2, has_touch=True,
                      is_mobile=size == "390")
    try:
        page = tab.open(page_path(built_html, name))
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        layout = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert layout[0] <= layout[1], f"the page scrolls sideways at {size} px: {layout}"
        for figure in page.evaluate(FIGURES_JS):
            assert figure["natural"] >= PIXEL_RATIO * figure["client"] and figure["natural"] == PIXEL_RATIO * figure["width"]
            shown = figure["textPt"] * figure["dpi"] / 72 * figure["client"] / figure["natural"]
            assert shown >= MIN_TEXT_PX - 0.05, f"a figure's text shows at {shown:.1f} CSS px at {size} px"
        twins = page.locator(".knobs-twin")
        for t in range(twins.count()):
            root = twins.nth(t)
            root.scroll_into_view_if_needed()
            twin = Twin(page, root)
            shown = root.evaluate(LAYOUT_JS)
            assert shown["twin"]["scroll"] <= shown["twin"]["client"], f"twin {t + 1} overflows at {size} px"
            assert shown["spills"] == [], f"twin {t + 1} at {size} px: text outside its box"
            for image in shown["images"] + root.evaluate(BACKGROUND_JS):
                assert image["natural"] >= PIXEL_RATIO * image["client"] > 0, f"twin {t + 1}: a blurry layer {image}"
            for image, panel in zip(shown["images"], shown["panels"]):  # at its design size: the legibility
                assert image["client"] == image["width"] and image["shownHeight"] == image["height"], image
                assert (panel["w"], panel["h"]) == (image["width"], image["height"]), "a stretched background"
            rows = len({round(p["y"]) for p in shown["panels"]})
            if size == "390":
                assert rows == len(shown["panels"]), "on a phone the panels stand one under another"
            elif len(shown["panels"]) > 1:
                assert rows < len(shown["panels"]), "on a laptop panels stand side by side"
            # buttons stay together on one line
            tops = {round(b.bounding_box()["y"]) for b in (twin.play, twin.reset)}
            assert len(tops) == 1, "Play and Reset are on one line"

            # every control is reached by Tab, in order, from the one before it
            controls = twin.controls()
            handles = [c.element_handle() for c in controls]
            controls[0].focus()
            for handle in handles[1:]:
                page.keyboard.press("Tab")
                assert page.evaluate("el => document.activeElement === el", handle), \
                    f"Tab did not reach {handle.evaluate('el => el.outerHTML.slice(0, 80)')}"
                box = handle.bounding_box()
                assert box["width"] >= 24 and box["height"] >= 24, "a control too small to hit with a finger"

            # touch: a tap on the Step slider's far end moves it there, a tap on Play plays, on Pause pauses
            twin.reset.tap()
            box = twin.stepper.bounding_box()
            twin.stepper.tap(position={"x": box["width"] - 2, "y": box["height"] / 2})
            assert slider_value(twin.stepper) == int(twin.stepper.get_attribute("max"))
            for _, element, kind in twin.knobs:
                if kind == "range":
                    before = slider_value(element)
                    box = element.bounding_box()
                    element.tap(position={"x": 2 if before else box["width"] - 2, "y": box["height"] / 2})
                    assert slider_value(element) != before, "a tap on a knob's track moves it"
            twin.shown_matches_data()
            assert root.evaluate(LAYOUT_JS)["spills"] == [], "text outside its box once the knobs moved"
            twin.reset.tap()
            twin.play.tap()
            assert twin.play.inner_text() == "Pause"
            twin.play.tap()
            assert twin.play.inner_text() == "Play"
            box = twin.stepper.bounding_box()  # the last frame: the one with the most to read
            twin.stepper.tap(position={"x": box["width"] - 2, "y": box["height"] / 2})
            screenshot(page, root, screenshots / f"{Path(name).stem}-twin{t + 1}-{size}.png")
            twin.reset.tap()
        assert tab.blocked == [] and tab.errors == []
    finally:
        tab.close()


DARK_JS = """() => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const luminance = c => { const [r, g, b] = rgb(c); return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255; };
  const box = el => el.closest('.text_html') || el.parentElement;
  const painted = el => { const c = rgb(getComputedStyle(box(el)).backgroundColor); return c.length === 4 ? c[3] > 0 : c.length === 3; };
  return {
    page: luminance(getComputedStyle(document.body).backgroundColor),
    twins: [...document.querySelectorAll('.knobs-twin')].map(t => ({
      boxPainted: painted(t), text: luminance(getComputedStyle(t.querySelector('.knobs-twin-status')).color),
      label: luminance(getComputedStyle(t.querySelector('label')).color)})),
    figures: [...document.querySelectorAll('.knobs-figure-panels')].map(f => ({boxPainted: painted(f)})),
  };
}"""


@pytest.mark.parametrize("name", PAGES)
def test_dark_mode_twins_and_figures_sit_on_the_dark_page(chromium, built_html, screenshots, name):
    """In the theme's dark mode a twin's text is light on the dark page, and neither a twin nor a figure sits in the
    light box the theme paints around HTML outputs; the panels themselves stay light cards (dimmed, on purpose:
    their colours carry meaning, e.g. white = zero). Screenshots of each twin in dark mode for a person to look at."""
    tab = OfflinePage(chromium, color_scheme="dark", device_scale_factor=2)
    tab.context.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
    try:
        page = tab.open(page_path(built_html, name))
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        shown = page.evaluate(DARK_JS)
        assert shown["page"] < 0.3
        for twin in shown["twins"]:
            assert not twin["boxPainted"], "a twin sits in a light box on the dark page"
            assert twin["text"] > 0.5 and twin["label"] > 0.5, f"dark text on the dark page: {twin}"
        assert shown["figures"] and not any(f["boxPainted"] for f in shown["figures"])
        twins = page.locator(".knobs-twin")
        for t in range(twins.count()):
            screenshot(page, twins.nth(t), screenshots / f"{Path(name).stem}-twin{t + 1}-dark.png")
        assert tab.blocked == [] and tab.errors == []
    finally:
        tab.close()


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
