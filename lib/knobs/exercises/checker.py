"""Exercise checks: say right or wrong, give a hint for common mistakes, never print the answer.

Each chapter registers its exercises in knobs/exercises/chNN.py with
`@exercise("chNN.name")`; a notebook calls `check("chNN.name", answer)`
(`from knobs.exercises import check`).
A checker returns (ok, message). An unanswered exercise (`...` or None) and
an answer of the wrong type get a friendly message, never a traceback.
"""
from __future__ import annotations

import html
import importlib
import math

REGISTRY: dict[str, callable] = {}
CHOICES: dict[str, tuple[str, ...]] = {}  # the allowed answers of multiple-choice exercises (for the audit)


class NotAnswered(Exception):
    """Raised by a checker when the answer is still the blank template (e.g. a function returning ...)."""


def exercise(exercise_id: str, choices: tuple[str, ...] | None = None):
    """Register a checker; `choices` lists the allowed answers of a multiple-choice exercise."""
    def register(checker):
        REGISTRY[exercise_id] = checker
        if choices:
            CHOICES[exercise_id] = tuple(choices)
        return checker
    return register


def multiple_choice(exercise_id: str, question: str, right: str, feedback: dict[str, str]):
    """Register a multiple-choice exercise: `feedback` maps every allowed answer, in order, to its message."""
    choices = tuple(feedback)

    @exercise(exercise_id, choices=choices)
    def checker(answer):
        return one_of(answer, choices) == right, feedback[answer]

    checker.__doc__ = question
    return checker


def one_of(answer, choices: tuple[str, ...]) -> str:
    """The answer if it is one of `choices`, else a ValueError that lists them (a hint, never a traceback)."""
    if answer not in choices:
        raise ValueError(f"answer with one of {choices}")
    return answer


class CheckResult:
    def __init__(self, exercise_id: str, ok: bool, message: str, answered: bool = True):
        self.exercise_id, self.ok, self.message, self.answered = exercise_id, ok, message, answered

    def __str__(self) -> str:
        mark = "✅ Correct!" if self.ok else ("✏️ Not answered yet." if not self.answered else "❌ Not yet.")
        return f"{mark} {self.message}".strip()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        # dark enough (contrast >= 4.5:1) on white and on the light panel the book's dark mode puts behind outputs
        color = "#15602b" if self.ok else ("#555" if not self.answered else "#B00020")
        return f'<p class="knobs-check" style="color:{color};font-weight:600">{html.escape(str(self))}</p>'


def check(exercise_id: str, answer) -> CheckResult:
    """Check an exercise answer (every chapter); prints right/wrong and a hint, never the answer."""
    chapter = exercise_id.split(".", 1)[0]
    if exercise_id not in REGISTRY:
        try:
            importlib.import_module(f"knobs.exercises.{chapter}")
        except ModuleNotFoundError:
            pass
    if exercise_id not in REGISTRY:
        known = ", ".join(sorted(k for k in REGISTRY if k.startswith(chapter))) or "none"
        raise ValueError(f"no exercise called {exercise_id!r}; exercises of {chapter}: {known}")
    if _unanswered(answer):
        return CheckResult(exercise_id, False, "Replace the ... with your answer, then run the cell again.", False)
    try:
        ok, message = REGISTRY[exercise_id](answer)
    except NotAnswered as blank:
        return CheckResult(exercise_id, False, str(blank), False)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
        ok, message = False, f"This answer could not be checked ({error}). Look at the expected form in the question."
    return CheckResult(exercise_id, bool(ok), message)


def _unanswered(answer) -> bool:
    if answer is ... or answer is None:
        return True
    if isinstance(answer, dict):
        return any(_unanswered(v) for v in answer.values())
    if isinstance(answer, (list, tuple)):
        return any(_unanswered(v) for v in answer)
    return False


def is_close(answer, expected: float, rel: float = 1e-3, abs_tol: float = 0.0) -> bool:
    """True when a numeric answer matches `expected` within a relative tolerance."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise TypeError(f"expected a number, got {type(answer).__name__}")
    return math.isclose(float(answer), float(expected), rel_tol=rel, abs_tol=abs_tol)


def direction_hint(answer: float, expected: float) -> str:
    """'too high' / 'too low' — enough to steer, not enough to give the answer away."""
    return "Your number is too high." if answer > expected else "Your number is too low."
