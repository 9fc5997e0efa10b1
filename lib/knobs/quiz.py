"""Quick quizzes at the end of each chapter, in Jupyter and in the static HTML book.

Questions live in knobs/quizzes/chNN.json in JupyterQuiz's format (a list of
{"question", "type": "multiple_choice" | "numeric", "answers": [...]}) and are
rendered by JupyterQuiz, whose JavaScript runs in both places with no kernel.
"""
from __future__ import annotations

import json
import random
from importlib import resources


def load_questions(chapter: str) -> list[dict]:
    """The quiz questions of a chapter, e.g. load_questions("ch01")."""
    path = resources.files("knobs.quizzes").joinpath(f"{chapter}.json")
    if not path.is_file():
        raise ValueError(f"no quiz for {chapter!r}; quizzes exist for: "
                         + ", ".join(sorted(p.name[:-5] for p in resources.files("knobs.quizzes").iterdir()
                                            if p.name.endswith(".json"))))
    return json.loads(path.read_text())


def show(chapter: str) -> None:
    """Display a chapter's quiz (every chapter's last section)."""
    from jupyterquiz import display_quiz

    state = random.getstate()
    random.seed(chapter)  # JupyterQuiz names its container at random: keep the page reproducible
    try:
        display_quiz(load_questions(chapter), shuffle_answers=False)
    finally:
        random.setstate(state)
