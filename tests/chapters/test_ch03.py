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


# ---- issue 19: the experiments behind the chapter's corrected claims -----------------------------

def test_duplicated_feature_l2_splits_the_weight_and_l1_keeps_one():
    from knobs.chapters import ch03
    w = ch03.duplicate_weights(ch03.duplicated_features(), 0.1)
    assert w["none"][0] > 2 and w["none"][1] < 0  # least squares: large weights that cancel on the copy's noise
    assert abs(w["L2"][0] - w["L2"][1]) < 0.1 * abs(w["L2"][0]) and min(w["L2"]) > 0.5  # shared, nearly evenly
    assert w["L1"][1] == 0.0 and w["L1"][0] > 1.5  # the copy gets exactly nothing
    text = ch03.duplicate_numbers(w, 0.1)
    assert float(text["dup_l2_split"]) == pytest.approx(float(text["dup_l2_one"]) / 2, abs=2e-3)  # sharing halves L2
    assert text["dup_l1_split"] == text["dup_l1_one"]  # and leaves L1 unchanged


def test_the_l1_path_keeps_the_copy_at_exactly_zero_over_the_plotted_strengths():
    import numpy as np
    from knobs.chapters import ch03
    paths = ch03.duplicate_paths(ch03.duplicated_features(), np.logspace(-2, 0.5, 26))
    assert (paths["L1"][:, 1] == 0).all()
    assert np.abs(paths["L2"][8:, 0] - paths["L2"][8:, 1]).max() < 0.1  # L2's weights meet and shrink together


def test_valley_verdict_compares_the_best_penalty_with_early_stopping():
    from knobs.chapters import ch03
    assert ch03.valley_verdict(0.121, 0.115) == "no better than"
    assert ch03.valley_verdict(0.100, 0.115) == "better than"
    assert ch03.valley_verdict(0.116, 0.115) == "about as good as"


def test_valley_numbers_say_the_moral_that_matches_the_verdict():
    from types import SimpleNamespace
    import numpy as np
    from knobs.chapters import ch03
    params = {name: np.ones((2, 2)) for name in ("hidden1.weight", "hidden2.weight", "out.weight")}
    snap = lambda val, lam=1.0: SimpleNamespace(metrics={"val_loss": val}, info={"lam": lam}, params=params)
    worse = ch03.valley_numbers([snap(0.121)], snap(0.115), snap(0.2), snap(0.121))
    assert worse["valley_verdict"] == "no better than" and "early stopping is as good" in worse["valley_moral"]
    better = ch03.valley_numbers([snap(0.100)], snap(0.115), snap(0.2), snap(0.100))
    assert better["valley_verdict"] == "better than" and "beats" in better["valley_moral"]


def test_the_sliver_is_memorized_to_its_entropy_and_counting_matches_the_full_model():
    from knobs import data, overfit
    corpus = data.load_corpus("farm")
    X, y = data.make_dataset(corpus, context=2)
    X_train, y_train, X_val, y_val = data.split_dataset(X, y, val_fraction=0.2, seed=0)
    stats = overfit.count_statistics(X_train, y_train)
    assert (stats["contexts"], stats["pairs"]) == (75, 117)
    counting = overfit.count_table_loss(X_train, y_train, X_val, y_val)
    assert counting["seen"] == 1.0 and 0.6 < counting["loss"] < 0.8
    sliver = overfit.count_statistics(X_train[:100], y_train[:100])
    assert 0.45 < sliver["entropy"] < 0.5  # the sliver's training loss (0.48) sits exactly here
    assert overfit.count_table_loss(X_train[:100], y_train[:100], X_val, y_val)["loss"] == float("inf")


@pytest.mark.parametrize("form", ["int", "float", "np.int64", "np.float64", "0-d tensor", "0-d array"])
def test_gpt2_decay_accepts_every_numeric_form_and_its_hints_survive_them(form):
    import numpy as np
    import torch
    convert = {"int": int, "float": float, "np.int64": np.int64, "np.float64": np.float64, "0-d tensor": torch.tensor,
               "0-d array": np.array}[form]
    kinds = models.count_parameters(models.make_gpt2()).by_kind()
    assert check("ch03.gpt2_decay", convert(kinds["weight"])).ok
    assert "nanoGPT" in check("ch03.gpt2_decay", convert(kinds["weight"] + kinds["embedding"])).message
    assert "NaN" in check("ch03.gpt2_decay", float("nan")).message
