"""Quick quizzes at the end of each chapter, in Jupyter and in the static HTML book (teacher kit, every chapter).

Questions live in knobs/exercises/quizzes/chNN.json in JupyterQuiz's format (a list of
{"question", "type": "multiple_choice" | "many_choice" | "numeric", "answers": [...]})
and are rendered by JupyterQuiz, whose JavaScript runs in both places with no kernel.

This is a thin wrapper around JupyterQuiz's own building blocks, for two reasons:
- **no network**: when a page defines `window.MathJax` but MathJax has not (yet) loaded —
  the HTML book offline, or before its deferred MathJax script ran — JupyterQuiz injects
  MathJax from a CDN. A shim, visible only to JupyterQuiz's code, forwards to the page's
  own MathJax when it is ready and does nothing otherwise;
- **a reproducible page**: the container gets a fixed id (`knobsquizch01`), not a random one.
"""
from __future__ import annotations

import json
from importlib import resources

from knobs.validate import check_choice

# Forwards to the page's MathJax once it can typeset; otherwise reports a version that makes
# JupyterQuiz neither typeset nor fetch MathJax from the network. Declared inside JupyterQuiz's
# own block (`if (typeof Question === 'undefined') {`), so it shadows window.MathJax for its code only.
MATHJAX_SHIM = """
const MathJax = {
  get version() {
    const page = window.MathJax;
    const ready = page && (typeof page.typeset === "function" || page.Hub) && typeof page.version === "string";
    return ready ? page.version : "none";
  },
  get Hub() { return window.MathJax && window.MathJax.Hub; },
  typeset(nodes) {
    const page = window.MathJax;
    if (page && typeof page.typeset === "function") { try { page.typeset(nodes); } catch (error) { console.log(error); } }
  },
};
"""

# Light text on dark blue question cards. The feedback text sits on the page (white) and the chosen
# answer turns the correct colour with light text on it: the same green and red as knobs.exercises.checker, which
# contrast ≥ 4.5:1 both ways (WCAG AA).
COLORS = {"--jq-multiple-choice-bg": "#24476b", "--jq-many-choice-bg": "#5a3d6e", "--jq-numeric-bg": "#24476b",
          "--jq-correct-color": "#1b7837", "--jq-incorrect-color": "#B00020", "--jq-text-color": "#fafafa",
          "--jq-link-color": "#cfe0ff"}
QUESTION_TYPES = ("multiple_choice", "many_choice", "numeric")


def available() -> list[str]:
    """The chapters that have a quiz, e.g. ["ch01", "ch02"]."""
    return sorted(p.name[:-5] for p in resources.files("knobs.exercises.quizzes").iterdir() if p.name.endswith(".json"))


def load_questions(chapter: str) -> list[dict]:
    """The quiz questions of a chapter, e.g. load_questions("ch01")."""
    check_choice("chapter", chapter, available())
    path = resources.files("knobs.exercises.quizzes").joinpath(f"{chapter}.json")
    return json.loads(path.read_text())


def quiz_html_and_script(chapter: str) -> tuple[str, str]:
    """The quiz as (HTML container with its styles, JavaScript): what show() displays."""
    from jupyterquiz.dynamic.loader import load_questions_script
    from jupyterquiz.dynamic.renderer import build_script, build_styles, render_div

    div_id = f"knobsquiz{chapter}"  # a JS identifier: JupyterQuiz refers to the container by its id
    prefix, static, url = load_questions_script(load_questions(chapter), div_id)
    if not static or url or not prefix.rstrip().endswith("{"):
        raise RuntimeError("unexpected JupyterQuiz script layout: check the MathJax shim against this version")
    container = render_div(div_id, shuffle_questions=False, shuffle_answers=False, preserve_responses=False,
                           num=1_000_000, max_width=640, border_radius=10, question_alignment="left")
    styles = build_styles(div_id, {**_default_colors(), **COLORS})
    script = build_script(prefix + MATHJAX_SHIM, static, url, div_id, load_js=True)
    return container + "</div>" + styles, script


def show(chapter: str) -> None:
    """Display a chapter's quiz (every chapter's "Quick quiz" section)."""
    from IPython.display import HTML, Javascript, display

    markup, script = quiz_html_and_script(chapter)
    display(HTML(markup))
    display(Javascript(script))


def _default_colors() -> dict:
    # JupyterQuiz's own defaults for the variables COLORS leaves alone (button and input colours).
    return {"--jq-mc-button-bg": "#fafafa", "--jq-mc-button-border": "#e0e0e0e0", "--jq-mc-button-inset-shadow": "#555555",
            "--jq-numeric-input-bg": "#c0c0c0", "--jq-numeric-input-label": "#101010",
            "--jq-numeric-input-shadow": "#999999", "--jq-string-bg": "#4c1a57"}
