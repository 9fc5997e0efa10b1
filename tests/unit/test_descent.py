"""knobs.descent: the hand-written gradient and optimizers against torch.autograd and torch.optim."""
import numpy as np
import pytest
import torch

from knobs import descent


def torch_surface(theta: torch.Tensor) -> torch.Tensor:
    t1, t2 = theta[0], theta[1]
    return descent.A * (t1 ** 2 - 1) ** 2 + descent.TILT * t1 + descent.B * (t2 - descent.K * t1) ** 2


@pytest.mark.parametrize("seed", range(5))
def test_hand_gradient_matches_autograd(seed):
    theta = np.random.default_rng(seed).uniform(-2, 2, size=2)
    t = torch.tensor(theta, requires_grad=True)
    torch_surface(t).backward()
    torch.testing.assert_close(torch.from_numpy(descent.gradient(theta)), t.grad)
    assert descent.surface(*theta) == pytest.approx(torch_surface(t).item())


@pytest.mark.parametrize("name, make_torch", [
    ("sgd", lambda p, lr, mu: torch.optim.SGD([p], lr=lr)),
    ("momentum", lambda p, lr, mu: torch.optim.SGD([p], lr=lr, momentum=mu)),
    ("adam", lambda p, lr, mu: torch.optim.Adam([p], lr=lr, betas=(mu, 0.999))),
])
@pytest.mark.parametrize("lr, mu", [(0.01, 0.9), (0.05, 0.5)])
def test_optimizers_follow_torch_optim_step_by_step(name, make_torch, lr, mu):
    start = np.array([1.9, -1.2])
    ours = [theta for _, theta, _ in descent.descend(start, descent.make_optimizer(name, lr, mu), steps=60)]
    p = torch.tensor(start, requires_grad=True)
    opt = make_torch(p, lr, mu)
    theirs = [p.detach().clone()]
    for _ in range(60):
        opt.zero_grad()
        torch_surface(p).backward()
        opt.step()
        theirs.append(p.detach().clone())
    torch.testing.assert_close(torch.from_numpy(np.array(ours)), torch.stack(theirs))


def test_minima_are_where_the_gradient_vanishes_and_the_global_one_is_lower():
    best, local = descent.minima()
    assert np.abs(descent.gradient(best)).max() < 1e-8 and np.abs(descent.gradient(local)).max() < 1e-8
    assert best[0] < 0 < local[0]
    assert descent.loss(best) == pytest.approx(0.0, abs=1e-12) and descent.loss(local) > 0.1


def test_a_small_step_converges_a_large_one_diverges_to_inf_and_stops():
    slow = list(descent.descend((1.9, -1.2), descent.make_optimizer("sgd", 0.03), steps=150))
    assert len(slow) == 151 and np.isfinite(slow[-1][2])
    wild = list(descent.descend((1.9, -1.2), descent.make_optimizer("sgd", 0.3), steps=150))
    assert wild[-1][2] == float("inf") and len(wild) < 20  # blows up within a few steps, then the run stops


def test_where_you_start_decides_which_minimum_you_reach():
    best, local = descent.minima()
    ends = [list(descent.descend(start, descent.make_optimizer("sgd", 0.03), steps=400))[-1][1]
            for start in [(-1.5, 1.5), (1.5, 1.5)]]
    assert np.linalg.norm(ends[0] - best) < 1e-3 and np.linalg.norm(ends[1] - local) < 1e-3


@pytest.mark.parametrize("args, message", [(("nesterov", 0.1), r"name \(the optimizer\) must be one of"),
                                           (("sgd", 0.0), "lr must be"),
                                           (("sgd", 50.0), "lr must be"), (("momentum", 0.1, 1.0), "momentum must")])
def test_bad_optimizer_settings_raise_clear_errors(args, message):
    with pytest.raises(ValueError, match=message):
        descent.make_optimizer(*args)


def test_bad_start_raises():
    with pytest.raises(ValueError, match="start must be"):
        next(descent.descend((1.0, float("nan")), descent.make_optimizer("sgd", 0.1), 5))
