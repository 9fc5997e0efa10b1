"""The teacher kit in the built book (make test-html): guide page, glossary links, references, quizzes.

The quiz test drives Debian's chromium with every network request blocked: a quiz must work from
the files alone.
"""
import html
import json
import re

import pytest

from conftest import ROOT, chapter_pages
from bookext import teacher
from knobs.exercises import quiz

pytestmark = pytest.mark.html


def _plain(page: str) -> str:
    """The page's text: tags dropped, entities decoded, Sphinx's smart quotes straightened."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return " ".join(text.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\"")).split())


def test_guide_page_shows_every_chapter_map_runtimes_and_sequences(built_html):
    page = (built_html / "book" / "teachers-guide.html").read_text()
    text = _plain(page)
    for info in teacher.chapters(ROOT):
        assert f"{info.number}. {info.title}" in text
        for objective in info.objectives:  # pulled from the chapter, not retyped
            plain = re.sub(r"\{term\}`([^`<]*?)(?:\s*<[^`]*>)?`", r"\1", objective)
            plain = re.sub(r"\*+([^*]+)\*+|`([^`]+)`", lambda m: m.group(1) or m.group(2), plain)  # rendered markup
            opening = " ".join(plain.split()[:4])  # the rest may hold maths or markup, rendered differently
            assert opening in _plain(re.sub(r"<[^>]+>", "", page)), objective
        assert f'href="../{info.docname}.html"' in page  # linked
    image = re.search(r'<img[^>]*alt="(Dependency map[^"]*)"[^>]*src="data:image/png;base64,|'
                      r'<img[^>]*src="data:image/png;base64,[^"]*"[^>]*alt="(Dependency map[^"]*)"', page)
    assert image, "the dependency map is an inline PNG with alt text"
    assert 'class="knobs-runtimes' in page
    assert text.count("session chapters") >= 2 and "does not follow the dependency map" not in text


def test_runtimes_come_from_the_benchmark_when_it_exists(built_html):
    bench = ROOT / "_build" / "bench.json"
    page = _plain((built_html / "book" / "teachers-guide.html").read_text())
    if not bench.exists():
        assert "has not been run for this build" in page
        return
    assert "Measured by make bench" in page
    for stem, result in json.loads(bench.read_text())["notebooks"].items():
        if (ROOT / "notebooks" / f"{stem}.ipynb").exists():
            assert f"{result['seconds']:.1f} s" in page, stem


@pytest.mark.parametrize("page", chapter_pages(ROOT / "_build" / "html"), ids=lambda p: p.stem)
def test_chapter_links_glossary_terms(page):
    terms = set(re.findall(r'href="\.\./book/glossary\.html#term-([^"]+)"', page.read_text()))
    assert len(terms) >= 3, f"{page.name} links {sorted(terms)}: link key terms with {{term}}`...`"


def test_references_page_lists_every_bibtex_entry(built_html):
    from pybtex.database import parse_file
    from pybtex.richtext import Text

    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    page = (built_html / "book" / "references.html").read_text()
    assert page.count('class="citation"') == len(entries)
    text = _plain(page).lower()
    for key, entry in entries.items():
        title = _plain(Text.from_latex(entry.fields["title"]).render_as("text"))
        assert title.lower() in text, key


def _chapter_quiz_pages(html_root):
    return [(p, re.search(r'id="knobsquiz(ch\d\d)"', p.read_text()).group(1)) for p in chapter_pages(html_root)
            if 'id="knobsquiz' in p.read_text()]


@pytest.mark.browser
def test_quizzes_answer_right_and_wrong_offline(built_html, chromium):
    pages = _chapter_quiz_pages(built_html)
    assert len(pages) == len(teacher.chapter_paths(ROOT)), "every chapter page shows its quiz"
    # one Playwright session per test run (a second sync session fails inside the first)
    for path, key in pages:
        page = chromium.new_page()
        external, errors = [], []
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                   else (external.append(route.request.url), route.abort()))
        page.on("pageerror", lambda error: errors.append(f"{error.message}\n{error.stack}"))
        page.goto(path.as_uri())
        box = page.locator(f"#knobsquiz{key}")
        questions = quiz.load_questions(key)
        box.locator(".Quiz").nth(len(questions) - 1).wait_for(timeout=30_000)
        assert box.locator(".Quiz").count() == len(questions)
        _answer_a_choice_question(box, questions)
        _answer_a_numeric_question(box, questions)
        page.wait_for_timeout(700)  # JupyterQuiz typesets 500 ms after rendering: it must not fetch MathJax
        assert not [u for u in external if "mathjax@3/es5/tex-svg" in u], external
        # errors thrown by the page's inline scripts, where the quiz lives (e.g. JupyterQuiz reading
        # MathJax.version[0] before MathJax has loaded); other scripts' errors are not the quiz's
        assert not [e for e in errors if path.name in e], errors
        page.close()


def _answer_a_choice_question(box, questions):
    index, question = next((i, q) for i, q in enumerate(questions) if q["type"] == "multiple_choice")
    card = box.locator(".Quiz").nth(index)
    wrong = next(a for a in question["answers"] if not a["correct"])
    right = next(a for a in question["answers"] if a["correct"])
    card.locator("label.MCButton", has_text=wrong["answer"]).click()
    feedback = card.locator(".Feedback")
    assert "incorrect" in feedback.get_attribute("class") and feedback.inner_text().strip() == wrong["feedback"]
    card.locator("label.MCButton", has_text=right["answer"]).click()
    assert "correct" in feedback.get_attribute("class").split() and feedback.inner_text().strip() == right["feedback"]


def _answer_a_numeric_question(box, questions):
    numeric = [(i, q) for i, q in enumerate(questions) if q["type"] == "numeric"]
    if not numeric:
        return
    index, question = numeric[0]
    card = box.locator(".Quiz").nth(index)
    field = card.locator("input.Input-text")
    right = next(a for a in question["answers"] if a.get("correct") and a["type"] == "value")
    field.fill(str(right["value"] + 12345))  # matches no listed answer: the default hint
    field.press("Enter")
    default = next(a["feedback"] for a in question["answers"] if a["type"] == "default")
    assert card.locator(".Feedback").inner_text().strip() == default
    field.fill(str(right["value"]))
    field.press("Enter")
    assert card.locator(".Feedback").inner_text().strip() == right["feedback"]
    assert "correct" in card.locator(".Feedback").get_attribute("class").split()
