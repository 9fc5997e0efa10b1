"""Chapter 2's labs: they run, diverge with a message (not a traceback), stay within the twin budget."""
import itertools

import pytest

from knobs.labs import ch02


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
    assert settings * lab.twin_frames <= 40  # ~14 KB a frame: both twins together well under 1.5 MB
