"""Chapter 4's exercise checks accept every correct form of an answer (issue 19) and keep their hints."""
import numpy as np
import pytest
import torch

from knobs.embeddings import embedding_share
from knobs.exercises import check
from knobs.exercises.ch04 import rows_batch

FORMS = {"float": float, "np.float32": np.float32, "np.float64": np.float64, "0-d tensor": torch.tensor,
         "0-d float64 tensor": lambda v: torch.tensor(v, dtype=torch.float64), "0-d array": np.array}


@pytest.mark.parametrize("form", FORMS)
def test_share_accepts_the_exact_share_and_the_quiz_rounding_in_every_numeric_form(form):
    convert = FORMS[form]
    exact = embedding_share()["share"]
    for right in (exact, 0.32, round(exact, 3)):  # the quiz's "32" (percent) as the fraction the exercise asks for
        assert check("ch04.share", convert(right)).ok, (form, right)
    assert "percentage" in check("ch04.share", convert(32.0)).message  # the quiz's 32 typed as a percentage: a hint
    assert not check("ch04.share", convert(0.5)).ok


@pytest.mark.parametrize("form", ["int", "float", "np.int64", "np.int32", "0-d tensor", "0-d array"])
def test_rows_accepts_any_integer_form(form):
    convert = {"int": int, "float": float, "np.int64": np.int64, "np.int32": np.int32, "0-d tensor": torch.tensor,
               "0-d array": np.array}[form]
    right = len(set(rows_batch()[0].flatten().tolist()))
    assert check("ch04.rows", convert(right)).ok
    assert not check("ch04.rows", convert(right + 1)).ok


def test_rows_success_and_quiz_name_the_untied_condition():
    import json
    from importlib import resources

    right = len(set(rows_batch()[0].flatten().tolist()))
    assert "not tied" in check("ch04.rows", right).message
    quiz = json.loads(resources.files("knobs.exercises").joinpath("quizzes/ch04.json").read_text())
    rows_question = quiz[1]
    assert "not tied" in rows_question["question"]
    target_feedback = next(a["feedback"] for a in rows_question["answers"] if "target" in a["answer"])
    assert "every row" in target_feedback  # tying reaches every row, not only the targets' (review C-2)


def test_nan_is_told_as_nan_not_as_too_low():
    for exercise in ("ch04.share", "ch04.rows", "ch04.cosine"):
        result = check(exercise, float("nan"))
        assert not result.ok and "NaN" in result.message and "too low" not in result.message
