"""Exercise checks: say right or wrong, give a hint for common mistakes, never print the answer.

Each chapter registers its exercises in knobs/exercises/chNN.py with
`@exercise("chNN.name")`; a notebook calls `check("chNN.name", answer)`
(`from knobs.exercises import check`).
A checker returns (ok, message). `check` never raises, whatever a learner
passes: an unanswered exercise (`...` or None) is "not answered yet", an answer
of the wrong form gets a message about the form, and a learner's function that
raises while being checked is reported in one line, naming the error and the
case the check tried (not as a traceback from inside the library).

Numbers: `as_number` accepts every form a correct answer may come in (int,
float, NumPy scalars, 0-d and one-element tensors and arrays) and refuses NaN,
inf and booleans with a message; `is_close` and `direction_hint` use it.
"""
from __future__ import annotations

import functools
import html
import importlib
import inspect
import math
import numbers

from knobs.validate import ArgumentTypeError, check_instance, check_number, check_text, fail

REGISTRY: dict[str, callable] = {}
CHOICES: dict[str, tuple[str, ...]] = {}  # the allowed answers of multiple-choice exercises (for the audit)


class NotAnswered(Exception):
    """Raised by a checker when the answer is still the blank template (e.g. a function returning ...)."""


class AnswerForm(ValueError):
    """Raised when an answer is not of the form the question asks for (the message says which form)."""


class AnswerRaised(Exception):
    """A learner's function raised while the check called it; carries the error and the call's arguments."""

    def __init__(self, error: BaseException, args: tuple, kwargs: dict):
        super().__init__(str(error))
        self.error, self.call_args, self.call_kwargs = error, args, kwargs


def exercise(exercise_id: str, choices: tuple[str, ...] | None = None):
    """Register a checker; `choices` lists the allowed answers of a multiple-choice exercise."""
    check_text("exercise_id", exercise_id, empty=False)
    if choices is not None and (not isinstance(choices, (tuple, list)) or not all(isinstance(c, str) for c in choices)):
        fail("choices", "a tuple of the allowed answers (strings), or None", choices, ArgumentTypeError)
    def register(checker):
        REGISTRY[exercise_id] = checker
        if choices:
            CHOICES[exercise_id] = tuple(choices)
        return checker
    return register


def multiple_choice(exercise_id: str, question: str, right: str, feedback: dict[str, str]):
    """Register a multiple-choice exercise: `feedback` maps every allowed answer, in order, to its message."""
    check_text("exercise_id", exercise_id, empty=False)
    check_text("question", question, empty=False)
    if not isinstance(feedback, dict) or len(feedback) < 2 or not all(isinstance(m, str) for m in feedback.values()):
        fail("feedback", "a dict of at least two allowed answers -> message", feedback, ArgumentTypeError)
    if right not in feedback:
        fail("right", f"one of the answers in feedback ({', '.join(map(repr, feedback))})", right)
    choices = tuple(feedback)

    @exercise(exercise_id, choices=choices)
    def checker(answer):
        return one_of(answer, choices) == right, feedback[answer]

    checker.__doc__ = question
    return checker


def one_of(answer, choices: tuple[str, ...]) -> str:
    """The answer if it is one of `choices`, else a ValueError that lists them (a hint, never a traceback)."""
    check_instance("choices", choices, (tuple, list), "a tuple of the allowed answers")
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
    """Check an exercise answer (every chapter): right or wrong and a hint, never the answer, never a traceback."""
    chapter = str(exercise_id).split(".", 1)[0]
    if exercise_id not in REGISTRY:
        try:
            importlib.import_module(f"knobs.exercises.{chapter}")
        except ImportError:
            pass
    if exercise_id not in REGISTRY:
        known = ", ".join(sorted(k for k in REGISTRY if k.startswith(chapter))) or "none"
        return CheckResult(str(exercise_id), False, f"There is no exercise called {exercise_id!r}; the exercises of "
                           f"{chapter} are: {known}. Check the name in check(...).", False)
    if _unanswered(answer):
        return CheckResult(exercise_id, False, "Replace the ... with your answer, then run the cell again.", False)
    try:
        ok, message = REGISTRY[exercise_id](_guard(answer))
    except NotAnswered as blank:
        return CheckResult(exercise_id, False, str(blank), False)
    except AnswerRaised as raised:
        ok, message = False, (f"Your function raised {type(raised.error).__name__}: {raised.error} when the check "
                              f"called it with {describe_call(raised.call_args, raised.call_kwargs)}. Run it yourself "
                              "on those inputs to see why.")
    except Exception as error:  # noqa: BLE001 -- whatever went wrong, the learner gets a sentence, not a traceback
        ok, message = False, (f"This answer could not be checked ({error or type(error).__name__}). "
                              "Look at the expected form in the question.")
    return CheckResult(exercise_id, bool(ok), str(message))


def _guard(answer):
    """A learner's plain function, wrapped so that an error inside it is reported as theirs (AnswerRaised)."""
    if not (inspect.isfunction(answer) or inspect.ismethod(answer) or isinstance(answer, functools.partial)):
        return answer

    @functools.wraps(answer)
    def guarded(*args, **kwargs):
        try:
            return answer(*args, **kwargs)
        except Exception as error:  # noqa: BLE001
            raise AnswerRaised(error, args, kwargs) from error
    return guarded


def describe_call(args: tuple, kwargs: dict) -> str:
    """'a 10×8 float32 tensor and 0.0': the inputs of a call, short enough for one line."""
    check_instance("args", args, (tuple, list), "the call's positional arguments (a tuple)")
    check_instance("kwargs", kwargs, dict, "the call's keyword arguments (a dict)")
    def one(value) -> str:
        shape = getattr(value, "shape", None)
        if shape is not None and hasattr(value, "dtype"):
            dims = "×".join(map(str, shape)) or "0-d"
            return f"a {dims} {str(value.dtype).replace('torch.', '')} tensor"
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "no arguments" if not parts else ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def _unanswered(answer) -> bool:
    if answer is ... or answer is None:
        return True
    if isinstance(answer, dict):
        return any(_unanswered(v) for v in answer.values())
    if isinstance(answer, (list, tuple)):
        return any(_unanswered(v) for v in answer)
    return False


def as_number(answer, what: str = "your answer") -> float:
    """A real number in any form a computation gives it (int, float, NumPy scalar, one-element tensor) as a float.

    Refuses text, booleans, collections, NaN and infinity with an AnswerForm message that says why.
    """
    check_text("what", what)
    if hasattr(answer, "numel") or hasattr(answer, "size") and hasattr(answer, "dtype"):  # a tensor or an array
        count = answer.numel() if hasattr(answer, "numel") else answer.size
        if count != 1:
            raise AnswerForm(f"{what} must be one number, not {count} numbers")
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise AnswerForm(f"{what} must be a number, got {type(answer).__name__}")
    value = float(answer)
    if math.isnan(value):
        raise AnswerForm(f"{what} is NaN (not a number): look at the computation that produced it")
    if math.isinf(value):
        raise AnswerForm(f"{what} is infinite: look at the computation that produced it")
    return value


def as_whole_number(answer, what: str = "your answer") -> int:
    """A whole number in any numeric form (3, 3.0, np.int64(3), tensor(3)); AnswerForm otherwise."""
    check_text("what", what)
    value = as_number(answer, what)
    if not value.is_integer():
        raise AnswerForm(f"{what} must be a whole number, got {value:g}")
    return int(value)


def is_close(answer, expected: float, rel: float = 1e-3, abs_tol: float = 0.0) -> bool:
    """True when a numeric answer (any form as_number accepts) matches `expected` within a relative tolerance."""
    check_number("expected", expected)
    check_number("rel", rel, 0)
    check_number("abs_tol", abs_tol, 0)
    return math.isclose(as_number(answer), float(expected), rel_tol=rel, abs_tol=abs_tol)


def direction_hint(answer, expected: float) -> str:
    """'too high' / 'too low' — enough to steer, not enough to give the answer away."""
    check_number("expected", expected)
    return "Your number is too high." if as_number(answer) > expected else "Your number is too low."
