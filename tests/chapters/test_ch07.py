"""Chapter 7: the sweep shows overfitting and the best size growing; the lab lands on the sweep; exercises; quiz."""
import numpy as np
import pytest

from knobs.chapters import ch07
from knobs.exercises import check, quiz


def test_sweep_shows_overfitting_and_the_best_size_growing():
    sweep = ch07.scale_sweep(progress=False)
    small, large = sweep.size_index("1/16 farm"), sweep.size_index("8 farms")
    assert sweep.n_params[-1] / sweep.n_params[0] >= 100  # at least two orders of magnitude
    # scarce data: the biggest model trains best and validates worst of the top half
    assert sweep.final_train[-1, small] == sweep.final_train[:, small].min()
    assert sweep.final_val[-1, small] > sweep.final_val[:, small].min() + 0.3
    assert sweep.final_train[-1, small] < ch07.entropy_floor()  # memorized: below the best possible
    best = [sweep.n_params[sweep.best(s)] for s in sweep.sizes]
    assert best == sorted(best) and best[0] < best[-1]  # the best size grows with the data
    assert sweep.final_val[-1, large] < sweep.final_val[-1, small] - 1.0


def test_lab_run_lands_on_the_sweep_curve():
    sweep = ch07.scale_sweep(progress=False)
    lab = ch07.scale_lab()
    lab.reset({"hidden": 16, "data": "1/4 farm"})
    while lab.advance(draw=False):
        pass
    s, k = sweep.shapes.index(ch07.SHAPES[16]), sweep.size_index("1/4 farm")
    np.testing.assert_allclose(lab.history.metrics["val_loss"][-1], sweep.final_val[s, k], rtol=1e-4)
    lab.redraw()
    assert "1/4 farm" in lab.describe() and lab.frame("jpeg")[:2] == b"\xff\xd8"


def test_lab_refuses_values_outside_its_options():
    with pytest.raises(ValueError, match="must be one of"):
        ch07.scale_lab().reset({"hidden": 33})
    with pytest.raises(ValueError, match="must be one of"):
        ch07.scale_lab().reset({"data": "100 farms"})


def test_exercise_checkers_tell_right_from_wrong_without_the_answer():
    N = (1e22 / 120) ** 0.5
    assert check("ch07.budget", {"parameters": N, "tokens": 20 * N}).ok
    one_to_one = check("ch07.budget", {"parameters": (1e22 / 6) ** 0.5, "tokens": (1e22 / 6) ** 0.5})
    assert not one_to_one.ok and "20 N" in one_to_one.message
    forward_only = check("ch07.budget", {"parameters": (1e22 / 40) ** 0.5, "tokens": 20 * (1e22 / 40) ** 0.5})
    assert not forward_only.ok and "forward" in forward_only.message
    assert f"{N:.3g}" not in one_to_one.message
    assert check("ch07.memory", {"training_GB": 112, "inference_GB": 14}).ok
    weights_only = check("ch07.memory", {"training_GB": 28, "inference_GB": 14})
    assert not weights_only.ok and "weights alone" in weights_only.message and "112" not in weights_only.message
    assert "fp32" in check("ch07.memory", {"training_GB": 112, "inference_GB": 28}).message
    assert "could not be checked" in check("ch07.memory", {"training_GB": "lots", "inference_GB": 1}).message
    sweep = ch07.scale_sweep(progress=False)
    right = {s: int(sweep.n_params[sweep.best(s)]) for s in sweep.sizes}
    assert check("ch07.best", right).ok
    by_train = {s: int(sweep.n_params[np.argmin(sweep.final_train[:, k])]) for k, s in enumerate(sweep.sizes)}
    result = check("ch07.best", by_train)
    assert not result.ok and "training" in result.message
    assert not check("ch07.best", {s: 32 for s in sweep.sizes}).ok


def test_quiz_loads():
    questions = quiz.load_questions("ch07")
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert any(a.get("correct") for a in q["answers"])


def test_static_twin_replays_the_sweep_run_the_live_lab_trains(monkeypatch):
    sweep = ch07.scale_sweep(progress=False)
    monkeypatch.setenv("KNOBS_STATIC", "1")
    lab = ch07.scale_lab()
    lab.reset({"hidden": 256, "data": "1/16 farm"})
    while lab.advance(draw=False):
        pass
    assert lab.history.steps == sweep.steps.tolist()
    assert lab.history.metrics["val_loss"][-1] == pytest.approx(float(sweep.final_val[-1, 0]))


def test_shape_numbers_the_prose_quotes_before_training_agree_with_the_trained_comparison():
    """The prose introduces the shape comparison (its base shape, how equal the counts are) before the cell that
    trains it runs, so ch07.shape_numbers computes them from the declaration: the same as from the results."""
    numbers, shapes = ch07.shape_numbers(), ch07.shape_comparison(progress=False)
    assert numbers["base_shape"] == shapes.labels[0] == "d=8, h=32"
    assert numbers["shape_tolerance"] == f"{np.abs(shapes.n_params / shapes.n_params[0] - 1).max():.1%}"
