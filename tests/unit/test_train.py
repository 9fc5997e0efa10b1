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


def test_trained_tiny_lm_is_chapter_ones_recipe_and_each_copy_is_independent(farm):
    vocab, X, y, X_val, y_val = farm
    model = models.make_tiny_lm(len(vocab), seed=0)
    last = train.run_to_end(train.train_lm(model, X, y, every=300, **train.TINY_LM_RECIPE))
    assert last.step == 300
    a, b = train.trained_tiny_lm(), train.trained_tiny_lm()
    for (name, p), q in zip(model.named_parameters(), a.parameters()):
        assert torch.equal(p, q), name
    with torch.no_grad():
        a.hidden.weight.zero_()  # pruning a copy...
    assert not torch.equal(a.hidden.weight, b.hidden.weight)  # ...leaves every other copy trained
    assert train.evaluate(b, X_val, y_val) < 1.0


def test_run_to_end_returns_the_last_snapshot_and_refuses_an_empty_run(farm):
    vocab, X, y, *_ = farm
    last = train.run_to_end(train.train_lm(models.make_tiny_lm(len(vocab)), X, y, steps=7, every=3))
    assert last.step == 7
    with pytest.raises(ValueError, match="no snapshot"):
        train.run_to_end(iter([]))


def test_evaluate_and_accuracy_switch_dropout_off_and_restore_the_mode(farm):
    vocab, X, y, X_val, y_val = farm
    model = torch.nn.Sequential(torch.nn.Embedding(len(vocab), 8), torch.nn.Flatten(), torch.nn.Dropout(0.9),
                                torch.nn.Linear(16, len(vocab)))
    model.train()
    assert train.evaluate(model, X_val, y_val) == train.evaluate(model, X_val, y_val)  # no dropout noise
    assert model.training
    model.eval()
    assert train.accuracy(model, X_val, y_val) == train.accuracy(model, X_val, y_val) and not model.training
    logits = model(X_val)
    assert train.accuracy(model, X_val, y_val) == pytest.approx(float((logits.argmax(-1) == y_val).float().mean()))
