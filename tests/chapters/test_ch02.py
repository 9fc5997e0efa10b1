"""Chapter 2: its labs run and diverge with a message (not a traceback); its exercise checks tell right from wrong,
hint at the usual slips and never print the answer; its quiz."""
import itertools
import math

import pytest
import torch

from knobs import backprop, initialization
from knobs.exercises import quiz
from knobs.exercises import check
from knobs.chapters import ch02
from knobs.exercises import ch02 as ex


def test_chain_rule_right_and_wrong():
    right = {"a": -24, "b": 16, "c": 8}
    assert check("ch02.chain", right).ok
    local_only = check("ch02.chain", {"a": -3, "b": 2, "c": 1})
    assert not local_only.ok and "2u" in local_only.message
    outer_only = check("ch02.chain", {"a": 8, "b": 16, "c": 8})
    assert not outer_only.ok and "other" in outer_only.message
    assert not check("ch02.chain", {"a": ..., "b": 1, "c": 1}).answered
    for result in (local_only, outer_only, check("ch02.chain", {"a": 1, "b": 2, "c": 3})):
        assert "-24" not in result.message and "16" not in result.message


@pytest.fixture(scope="module")
def hidden_grads():
    model, X, y = ex.backprop_setting()
    return backprop.tiny_lm_backward(model, X, y)


def test_hidden_layer_gradients_are_checked_against_autograd(hidden_grads):
    right = {"hidden.weight": hidden_grads["hidden.weight"], "hidden.bias": hidden_grads["hidden.bias"]}
    assert check("ch02.hidden", right).ok


@pytest.mark.parametrize("slip, hint", [
    (lambda g: {"hidden.weight": g["hidden.weight"].T, "hidden.bias": g["hidden.bias"]}, "Transposed"),
    (lambda g: {"hidden.weight": g["hidden.weight"] * 8, "hidden.bias": g["hidden.bias"]}, "mean over the batch"),
    (lambda g: {"hidden.weight": g["hidden.weight"], "hidden.bias": g["hidden.bias"] * 2}, "bias gradient sums"),
    (lambda g: {"hidden.weight": torch.zeros(32, 16), "hidden.bias": torch.zeros(32)}, "one line at a time"),
])
def test_hidden_layer_slips_get_hints(hidden_grads, slip, hint):
    result = check("ch02.hidden", slip(hidden_grads))
    assert not result.ok and hint in result.message


def test_hidden_layer_without_the_tanh_slope_is_recognised():
    model, X, y = ex.backprop_setting()
    with torch.no_grad():
        x = model.embed.weight[X].flatten(1)
        h = torch.tanh(x @ model.hidden.weight.T + model.hidden.bias)
        z = h @ model.out.weight.T + model.out.bias
        dh = (torch.softmax(z, 1) - torch.nn.functional.one_hot(y, 29)) / len(y) @ model.out.weight
    result = check("ch02.hidden", {"hidden.weight": dh.T @ x, "hidden.bias": dh.sum(0)})
    assert not result.ok and "skipped tanh" in result.message


def test_max_learning_rate_is_computed_and_checked():
    assert ex.stable_limit() == pytest.approx(1 / 3)
    assert check("ch02.max_lr", 1 / 3).ok and check("ch02.max_lr", 0.333).ok
    for wrong, hint in [(1 / 6, "best step"), (2.0, "flat direction"), (2 / 3, "second derivative"), (0.05, "too low")]:
        result = check("ch02.max_lr", wrong)
        assert not result.ok and hint in result.message and "0.33" not in result.message


def test_quiz_is_valid_and_its_number_is_computed():
    questions = quiz.load_questions("ch02")
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert q["type"] in ("multiple_choice", "numeric") and q["answers"]
        assert any(a.get("correct") for a in q["answers"])
    numeric = next(q for q in questions if q["type"] == "numeric")
    correct = next(a for a in numeric["answers"] if a.get("correct"))
    expected = initialization.init_std("xavier", 16, 32)
    assert float(f"{correct['value']:.{numeric['precision']}g}") == float(f"{expected:.{numeric['precision']}g}")
    variance = next(a for a in numeric["answers"] if a.get("type") == "value" and not a["correct"])
    assert variance["value"] == pytest.approx(expected ** 2, rel=1e-3)
    assert math.isclose(numeric["answers"][2]["value"], initialization.init_std("he", 16, 32), rel_tol=1e-3)


# ---- the labs ----------------------------------------------------------------------------------------


def run_to_end(lab, values=None):
    lab.reset(values)
    while lab.advance(draw=False):
        pass
    lab.redraw()
    return lab


def test_descent_lab_reaches_a_minimum_at_a_sensible_rate():
    lab = run_to_end(ch02.descent_lab(), {"lr": 0.03, "optimizer": "momentum"})
    assert lab.status == "" and lab.snapshot.step == 150
    assert lab.snapshot.metrics["train_loss"] < 1e-3  # momentum carries it into the global minimum
    assert "nearest the global minimum" in lab.describe()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_descent_lab_says_diverged_at_a_huge_rate(optimizer):
    lab = run_to_end(ch02.descent_lab(), {"lr": 1.0, "optimizer": optimizer})
    assert lab.status.startswith("Diverged at step") and "Lower the learning rate" in lab.status
    assert lab.snapshot.step < 20 and "blew up" in lab.describe()
    assert lab.frame("jpeg")[:2] == b"\xff\xd8"  # the frame still draws


def test_descent_lab_refuses_out_of_range_knobs():
    with pytest.raises(ValueError, match="between"):
        ch02.descent_lab().reset({"x0": 5.0})


def test_descent_live_face_restarts_on_a_knob():
    live = ch02.descent_lab().live()
    live.step_button.click()
    assert live.lab.snapshot.step == 2
    live.controls["optimizer"].value = "adam"
    assert live.lab.snapshot.step == 0 and live.lab.values["optimizer"] == "adam"


@pytest.mark.parametrize("init, noise, distinct", [("all equal (0.3)", 0.0, 1), ("all equal (0.3)", 0.001, 32),
                                                   ("all zero", 0.0, 1), ("random (PyTorch default)", 0.0, 32)])
def test_symmetry_lab_counts_distinct_units(init, noise, distinct):
    lab = ch02.symmetry_lab()
    lab.steps = 30
    run_to_end(lab, {"init": init, "noise": noise})
    assert lab.snapshot.metrics["distinct_units"] == distinct
    assert f"{distinct} of 32 hidden units" in lab.describe()


@pytest.mark.parametrize("make", ch02.LABS)
def test_twins_stay_within_the_frame_budget(make):
    lab = make()
    settings = len(list(itertools.product(*(c.twin for c in lab.controls))))
    # ~7 KB a frame (a panel's background is sent once): both twins together ~1.1 MB, the page under 2 MB
    assert settings * lab.twin_frames <= 100
