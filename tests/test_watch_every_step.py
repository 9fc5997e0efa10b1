"""knobs.watch(..., every_step=True) (chapter 2): every step's gradient norm is kept and drawn, not only near redraws."""
import pytest
import torch

from knobs import models
from knobs.watch import watch


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
