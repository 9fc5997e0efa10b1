"""knobs.lab.watch: live views of any model while your own loop trains it; every_step=True (chapter 2) keeps
every step's gradient norm, not only those near a redraw."""
import pytest
import torch

from knobs import models
from knobs.lab.watch import watch


def train(model, watcher, steps=7):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(0)
    X, y = torch.randint(0, 29, (16, 2), generator=g), torch.randint(0, 29, (16,), generator=g)
    norms = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        norms.append(model.hidden.weight.grad.norm().item())
        opt.step()
    watcher.close()
    return norms


def test_every_step_records_each_steps_gradient_norm_and_draws_them_all():
    model = models.make_tiny_lm(29)
    watcher = watch(model, every_seconds=3600, display=False, every_step=True)  # redraws: only first and last
    expected = train(model, watcher)
    steps, norms = watcher.grad_log["hidden.weight"]
    assert steps == list(range(1, 8)) and norms == pytest.approx(expected)
    line = watcher.renderer.views[-1].lines["hidden.weight"]
    assert len(line.get_xdata()) == 7  # the panel shows all seven steps
    assert not model._forward_pre_hooks


def test_default_still_samples_only_near_redraws():
    model = models.make_tiny_lm(29)
    watcher = watch(model, every_seconds=3600, display=False)
    train(model, watcher)
    assert watcher.grad_log == {} and len(watcher.renderer.views[-1].lines["hidden.weight"].get_xdata()) <= 2


def test_watch_draws_parameters_and_gradient_norms_and_removes_its_hooks():
    model = models.make_tiny_lm(29)
    watcher = watch(model, every_seconds=0.0, display=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    X, y = torch.randint(0, 29, (16, 2)), torch.randint(0, 29, (16,))
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    watcher.close()
    assert watcher.step == 5 and watcher.draws >= 2
    assert set(watcher.grad_norms) == {n for n, _ in model.named_parameters()}
    expected = torch.linalg.vector_norm(model.out.weight.grad).item()
    assert watcher.grad_norms["out.weight"] == pytest.approx(expected)
    assert "Gradient norms" in watcher.describe()
    assert not model._forward_pre_hooks


def test_watch_refuses_non_modules():
    with pytest.raises(ValueError, match="nn.Module"):
        watch("model")
