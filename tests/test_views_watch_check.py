import numpy as np
import pytest
import torch

from knobs import check, models
from knobs.render import Renderer
from knobs.train import Snapshot
from knobs.views import HeatmapView, HistogramView, History, show_figure
from knobs.watch import watch


def snap(step, scale):
    return Snapshot(step, {"w": np.linspace(-scale, scale, 12).reshape(3, 4)}, {"train_loss": 1.0 / (step + 1)})


def test_views_update_in_place_and_only_full_redraw_on_new_limits():
    views = [HeatmapView("w"), HistogramView("w")]
    renderer, history = Renderer(views, total_steps=10), History()
    history.add(snap(0, 1.0))
    renderer.draw(snap(0, 1.0), history)
    image, stairs = views[0].image, views[1].stairs
    background = renderer.background
    history.add(snap(1, 1.1))
    renderer.draw(snap(1, 1.1), history)
    assert views[0].image is image and views[1].stairs is stairs  # artists reused, not re-created
    assert renderer.background is background  # no full redraw needed for small changes


def test_show_figure_requires_alt_text():
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="alt"):
        show_figure(fig, alt=" ")
    out = show_figure(fig, alt="an empty plot")._repr_mimebundle_()
    assert 'alt="an empty plot"' in out["text/html"]


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


def test_check_right_wrong_unanswered_and_hints_do_not_reveal():
    right = 29 * 4 + (2 * 4 * 10 + 10) + (10 * 29 + 29)
    assert check.check("ch01.count", right).ok
    no_bias = check.check("ch01.count", right - 39)
    assert not no_bias.ok and "bias" in no_bias.message and str(right) not in str(no_bias)
    assert not check.check("ch01.count", ...).answered
    assert "could not be checked" in check.check("ch01.count", "lots").message
    with pytest.raises(ValueError, match="no exercise"):
        check.check("ch01.nope", 1)


def test_a_blank_function_answer_counts_as_not_answered():
    def blank(a, b):
        return ...

    result = check.check("ch04.cosine", blank)
    assert not result.ok and not result.answered and "Not answered yet" in str(result)
