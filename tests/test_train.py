import pytest
import torch

from knobs import models, train


def test_training_lowers_the_loss_well_below_uniform(farm):
    vocab, X, y, X_val, y_val = farm
    model = models.make_tiny_lm(len(vocab), seed=0)
    snaps = list(train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=300, lr=0.03, every=100, seed=0))
    assert [s.step for s in snaps] == [0, 100, 200, 300]
    assert snaps[0].metrics["val_loss"] > 3.0  # ~ln(29): knows nothing
    assert snaps[-1].metrics["val_loss"] < 1.0


def test_runs_are_reproducible(farm):
    vocab, X, y, *_ = farm
    runs = [list(train.train_lm(models.make_tiny_lm(len(vocab)), X, y, steps=20, every=20, seed=1)) for _ in range(2)]
    assert runs[0][-1].metrics == runs[1][-1].metrics


def test_snapshots_copy_parameters(farm):
    vocab, X, y, *_ = farm
    model = models.make_tiny_lm(len(vocab))
    first, last = list(train.train_lm(model, X, y, steps=10, every=10))
    assert not (first.params["out.weight"] == last.params["out.weight"]).all()


def test_divergence_stops_the_run_with_a_flag(farm):
    vocab, X, y, *_ = farm
    model = models.make_tiny_lm(len(vocab))
    exploding = lambda model, logits, y: torch.nn.functional.cross_entropy(logits, y) * float("inf")  # noqa: E731
    snaps = list(train.train_lm(model, X, y, steps=200, every=50, loss_fn=exploding))
    assert snaps[-1].diverged and snaps[-1].step == 1


def test_gradient_norm_matches_torch_utility():
    model = models.make_tiny_lm(29)
    loss = model(torch.tensor([[1, 2]])).logsumexp(-1).sum()
    loss.backward()
    expected = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])
    torch.testing.assert_close(torch.tensor(train.gradient_norm(model)), expected)


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizer="rmsprop"), "optimizer must be one of"),
    (dict(lr=-1.0), "lr must be"),
    (dict(steps=0), "steps must be"),
])
def test_bad_settings(farm, kwargs, message):
    vocab, X, y, *_ = farm
    with pytest.raises(ValueError, match=message):
        next(train.train_lm(models.make_tiny_lm(len(vocab)), X, y, **kwargs))


def test_seed_validates():
    with pytest.raises(ValueError, match="seed"):
        train.seed(-1)
