"""knobs.backprop: the tiny LM's gradients by hand against torch.autograd."""
import pytest
import torch

from knobs import backprop, models


@pytest.mark.parametrize("config, batch, seed", [({}, 8, 0), ({"context": 3, "embed_dim": 4, "hidden": 5}, 17, 1),
                                                 ({"context": 1, "hidden": 64}, 1, 2)])
def test_hand_backprop_matches_autograd(config, batch, seed):
    g = torch.Generator().manual_seed(seed)
    model = models.make_tiny_lm(29, seed=seed, **config)
    X = torch.randint(0, 29, (batch, model.config.context), generator=g)
    X[0, :] = 3  # one word repeated in a context: its embedding row collects two gradients
    y = torch.randint(0, 29, (batch,), generator=g)
    ours, theirs = backprop.tiny_lm_backward(model, X, y), backprop.autograd_gradients(model, X, y)
    assert ours.keys() == theirs.keys() == dict(model.named_parameters()).keys()
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], msg=lambda m, name=name: f"{name}: {m}")


def test_hand_backprop_changes_no_parameter():
    model = models.make_tiny_lm(29)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    backprop.tiny_lm_backward(model, torch.tensor([[1, 2]]), torch.tensor([3]))
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())


def test_wrong_shapes_raise():
    model = models.make_tiny_lm(29)
    with pytest.raises(ValueError, match="X must be"):
        backprop.tiny_lm_backward(model, torch.tensor([1, 2]), torch.tensor([3]))
