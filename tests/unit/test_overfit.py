"""Chapter 3's experiments and lab: overfitting shows, each penalty does what the chapter says."""
import numpy as np
import pytest
import torch

from knobs import overfit, train
from knobs.chapters import all_labs, ch03
from knobs.regularize import EarlyStopping


@pytest.fixture(scope="module")
def curve():
    return overfit.make_curve_data()


def final(curve, kind, lam, steps=300):
    *_, last = overfit.train_curve(overfit.make_curve_mlp(), curve, kind, lam, steps=steps, every=steps)
    return last


def test_curve_data_is_reproducible_and_spread_out(curve):
    again = overfit.make_curve_data()
    torch.testing.assert_close(curve.X, again.X)
    slices = torch.floor((curve.X.squeeze(1) + 1) / 2 * len(curve.X)).long()
    assert sorted(slices.tolist()) == list(range(len(curve.X)))  # one training point per slice of [-1, 1]
    with pytest.raises(ValueError, match="n_train"):
        overfit.make_curve_data(n_train=1)


def test_without_a_penalty_the_network_memorizes_the_noise(curve):
    last = final(curve, "none", 0.0, steps=800)
    assert last.metrics["train_loss"] < 0.2 * curve.noise ** 2  # far below the noise: it fits the noise
    assert last.metrics["val_loss"] > 1.5 * curve.noise ** 2  # and pays for it on fresh points


def test_l2_shrinks_every_weight_and_l1_makes_exact_zeros(curve):
    none, l2, l1 = final(curve, "none", 0.0), final(curve, "L2", 3.0), final(curve, "L1", 0.3)
    size = {name: np.mean([np.abs(s.params[p]).mean() for p in overfit.CURVE_WEIGHTS]) for name, s in
            (("none", none), ("L2", l2), ("L1", l1))}
    assert size["L2"] < 0.6 * size["none"]
    assert l2.metrics["zero_fraction"] == 0.0  # L2 shrinks, it does not zero
    assert l1.metrics["zero_fraction"] > 0.8  # L1 zeros most weights exactly
    assert none.metrics["zero_fraction"] == 0.0


def test_too_much_penalty_underfits(curve):
    flat = final(curve, "L2", 30.0)
    assert flat.metrics["train_loss"] > 3 * curve.noise ** 2  # a nearly flat line: it fits nothing
    assert np.ptp(flat.info["fit"]) < 0.2


def test_train_curve_refuses_bad_settings(curve):
    model = overfit.make_curve_mlp()
    with pytest.raises(ValueError, match="kind must be one of"):
        next(overfit.train_curve(model, curve, "L3", 0.1))
    with pytest.raises(ValueError, match="lam"):
        next(overfit.train_curve(model, curve, "L2", -1.0))
    with pytest.raises(ValueError, match="lam"):
        next(overfit.train_curve(model, curve, "L2", 200.0))  # lr × λ ≥ 1 would flip the weights' sign


@pytest.mark.parametrize("kind", ["L2", "L1"])
def test_batched_sweep_trains_exactly_like_one_network_at_a_time(curve, kind):
    lams = [0.1, 1.0, 30.0]
    finals = overfit.sweep_lambda(curve, kind, lams, steps=60, progress=False)
    assert [s.info["lam"] for s in finals] == lams
    for lam, batched in zip(lams, finals):
        *_, single = overfit.train_curve(overfit.make_curve_mlp(), curve, kind, lam, steps=60, every=60)
        for name in single.params:
            torch.testing.assert_close(batched.params[name], single.params[name], rtol=1e-4, atol=1e-5)
    assert finals[2].metrics["train_loss"] > finals[0].metrics["train_loss"]  # stronger penalty, worse train fit
    with pytest.raises(ValueError, match="lam"):
        overfit.sweep_lambda(curve, kind, [0.1, -1.0], progress=False)


def test_fit_lm_early_stopping_restores_the_best_weights(farm):
    vocab, X, y, X_val, y_val = farm
    model, stopper = overfit.make_lm(len(vocab)), EarlyStopping(patience=3)
    history = overfit.fit_lm(model, X[:100], y[:100], X_val, y_val, steps=300, every=10, early_stopping=stopper)
    assert history[-1].step < 300  # it stopped
    val = train.evaluate(model, X_val, y_val)
    assert val == pytest.approx(stopper.best_loss, abs=1e-5) and stopper.best_loss == min(
        s.metrics["val_loss"] for s in history)


def test_dropout_model_is_random_in_training_and_fixed_in_evaluation(farm):
    vocab, X, *_ = farm
    model = overfit.make_lm(len(vocab), dropout=0.5)
    model.train()
    assert not torch.equal(model(X[:8]), model(X[:8]))
    model.eval()
    torch.testing.assert_close(model(X[:8]), model(X[:8]))
    with pytest.raises(ValueError, match="p"):
        overfit.make_lm(len(vocab), dropout=1.0)


def test_adam_vs_adamw_paths_have_the_right_shape():
    paths = overfit.adam_vs_adamw(steps=10)
    assert set(paths) == {"Adam + L2 in the loss", "AdamW (decoupled)"}
    assert all(p.shape == (11, 2) for p in paths.values())


def test_penalty_lab_draws_and_keeps_its_twin_small():
    assert "ch03-penalties" in all_labs()
    lab = ch03.penalty_lab()
    settings = np.prod([len(c.twin) for c in lab.controls])
    assert settings * lab.twin_frames <= 64  # ≈ 60 frames keep the page small
    lab.reset({"kind": "L1 (soft-threshold)", "lam": 1.0})
    for _ in range(5):
        lab.advance()
    assert "exactly zero" in lab.describe() and lab.frame("jpeg")[:2] == b"\xff\xd8"
    with pytest.raises(ValueError, match="between 0.01 and 30"):
        lab.reset({"lam": 100.0})


def test_penalty_lab_live_face_switches_the_penalty_like_a_user_would():
    live = ch03.penalty_lab().live()
    live.controls["kind"].value = "weight decay (AdamW)"
    live.step_button.click()
    assert live.lab.snapshot.step == live.lab.every and live.lab.values["kind"] == "weight decay (AdamW)"


def test_penalty_lab_names_each_penalty_by_the_step_it_runs():
    # both act after Adam's step (decoupled): the menu must not call AdamW's decay "L2" (issue 19)
    lab = ch03.penalty_lab()
    kind = next(c for c in lab.controls if c.name == "kind")
    assert "L2" not in " ".join(kind.options) and "weight decay (AdamW)" in kind.options
    assert set(ch03.PENALTY_KINDS.values()) == {"none", "L1", "L2"}


def test_a_paused_run_leaves_gradients_switched_on(curve):
    run = overfit.train_curve(overfit.make_curve_mlp(), curve, "L1", 0.3, steps=20, every=10)
    next(run)  # a lab pauses here, between snapshots
    assert torch.is_grad_enabled()
    next(run)
    assert torch.is_grad_enabled()

