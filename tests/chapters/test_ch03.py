"""Chapter 3's exercise checks tell right from wrong, hint at common mistakes, and never print the answer."""
import json
from importlib import resources

import pytest

from knobs import models
from knobs.exercises import check


def test_sgd_step_right_and_common_mistakes():
    right = 2.0 - 0.1 * (1.0 + 0.5 * 2.0)
    assert check("ch03.sgd_step", right).ok
    for wrong, hint in ((1.9, "without weight decay"), (2.0 - 0.1 * (1.0 + 0.5), "λ · w"), (2.2, "subtract"),
                        (0.3, "too low")):
        result = check("ch03.sgd_step", wrong)
        assert not result.ok and hint in result.message and f"{right:g}" not in str(result)
    assert not check("ch03.sgd_step", ...).answered


def test_soft_threshold_right_and_common_mistakes():
    assert check("ch03.soft_threshold", [0.2, 0.0, 0.0, -0.7, 0.0]).ok
    assert check("ch03.soft_threshold", [0.2, 0, -0.0, -0.7, 0]).ok
    hard = check("ch03.soft_threshold", [0.5, 0.0, 0.0, -1.0, 0.0])
    assert not hard.ok and "hard threshold" in hard.message
    shifted = check("ch03.soft_threshold", [0.2, -0.5, -0.2, -1.3, 0.0])
    assert not shifted.ok and "toward 0" in shifted.message
    assert "one number per weight" in check("ch03.soft_threshold", [0.2, 0.0]).message
    assert "could not be checked" in check("ch03.soft_threshold", "zeros").message


def test_gpt2_decay_right_and_common_mistakes():
    kinds = models.count_parameters(models.make_gpt2()).by_kind()
    assert check("ch03.gpt2_decay", kinds["weight"]).ok
    nano = check("ch03.gpt2_decay", kinds["weight"] + kinds["embedding"])
    assert not nano.ok and "nanoGPT" in nano.message and f"{kinds['weight']}" not in str(nano)
    assert "not decayed" in check("ch03.gpt2_decay", kinds["weight"] + kinds["bias"]).message
    assert "too low" in check("ch03.gpt2_decay", 1000).message


def test_quiz_has_questions_with_exactly_one_right_answer_each():
    questions = json.loads(resources.files("knobs.exercises.quizzes").joinpath("ch03.json").read_text())
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert q["type"] == "multiple_choice" and sum(a["correct"] for a in q["answers"]) == 1
        assert all(a.get("feedback") for a in q["answers"])


@pytest.mark.parametrize("name", ["ch03.sgd_step", "ch03.soft_threshold", "ch03.gpt2_decay"])
def test_every_exercise_is_registered(name):
    assert check(name, None).answered is False
