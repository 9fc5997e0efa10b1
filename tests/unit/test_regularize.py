"""Chapter 3's from-scratch regularizers, each checked against PyTorch's own."""
import copy

import pytest
import torch
from torch.nn import functional as F
from torch.testing import assert_close

from knobs import models
from knobs.overfit import adam_vs_adamw
from knobs.regularize import (AdamState, EarlyStopping, adam_step, dropout, l1_gradient, l1_penalty, l2_gradient,
                              l2_penalty, param_groups, shrink_, sgd_step, soft_threshold, split_decay)


def tiny():
    return models.make_tiny_lm(29, seed=0, embed_dim=4, hidden=8)


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 29, (16, 2), generator=g), torch.randint(0, 29, (16,), generator=g)


def test_penalty_gradients_match_autograd():
    w = torch.tensor([-2.0, -0.5, 0.0, 0.3, 4.0], requires_grad=True)
    l2_penalty([w], 0.7).backward()
    assert_close(w.grad, l2_gradient(w.detach(), 0.7))
    w.grad = None
    l1_penalty(w, 0.7).backward()
    assert_close(w.grad, l1_gradient(w.detach(), 0.7))  # autograd's subgradient of |w| at 0 is 0, like sign(0)
    assert_close(l2_penalty(w, 2.0), (w ** 2).sum())
    assert_close(l1_penalty(w, 1.0), torch.tensor(6.8))


def test_l2_in_the_loss_is_sgd_weight_decay():
    X, y = batch()
    a, b = tiny(), tiny()
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1, weight_decay=0.05)  # PyTorch's weight decay
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1)  # ours: the penalty added to the loss
    for _ in range(3):
        opt_a.zero_grad(), opt_b.zero_grad()
        F.cross_entropy(a(X), y).backward()
        (F.cross_entropy(b(X), y) + l2_penalty(b.parameters(), 0.05)).backward()
        opt_a.step(), opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert_close(pa, pb)


def test_sgd_step_matches_torch():
    w, g = torch.randn(5, 3, generator=torch.Generator().manual_seed(1)), torch.ones(5, 3)
    p = torch.nn.Parameter(w.clone())
    p.grad = g.clone()
    torch.optim.SGD([p], lr=0.2, weight_decay=0.3).step()
    assert_close(sgd_step(w, g, lr=0.2, weight_decay=0.3), p.detach())


@pytest.mark.parametrize("decoupled, torch_optimizer", [(False, torch.optim.Adam), (True, torch.optim.AdamW)])
def test_adam_step_matches_torch_adam_and_adamw(decoupled, torch_optimizer):
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(4, 6, generator=gen)
    p = torch.nn.Parameter(w.clone())
    opt = torch_optimizer([p], lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.3)
    state = AdamState()
    for _ in range(25):
        g = torch.randn(4, 6, generator=gen) * 3
        p.grad = g.clone()
        opt.step()
        w = adam_step(w, g, state, lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.3, decoupled=decoupled)
    assert_close(w, p.detach())


def test_adam_l2_and_adamw_differ_and_adamw_decays_all_weights_alike():
    """With L2 in Adam's gradient, a weight with large gradients is decayed far less (Loshchilov & Hutter)."""
    paths = adam_vs_adamw(steps=400, lr=0.01, weight_decay=0.5, big_gradient=10.0)
    coupled, decoupled = paths["Adam + L2 in the loss"][-1], paths["AdamW (decoupled)"][-1]
    expected = (1 - 0.01 * 0.5) ** 400  # AdamW: every weight shrinks by (1 - lr λ) per step
    assert_close(torch.tensor(decoupled), torch.full((2,), expected, dtype=torch.float64), atol=0.02, rtol=0)
    assert coupled[0] > 0.7 > 5 * decoupled[0]  # big gradients: the L2 term is divided by a big sqrt(v), so hardly any decay
    assert abs(coupled[1]) < 0.02  # no data gradient: Adam rescales the L2 term to steps of ~lr, down to 0 in ~100 steps


def test_soft_threshold_is_softshrink_and_makes_exact_zeros():
    w = torch.linspace(-2, 2, 41)
    assert_close(soft_threshold(w, 0.5), F.softshrink(w, 0.5))
    assert int((soft_threshold(w, 0.5) == 0).sum()) == 11  # every |w| <= 0.5, exactly zero
    with pytest.raises(ValueError, match="threshold"):
        soft_threshold(w, -0.1)


def test_shrink_before_an_adam_step_is_adamw():
    gen = torch.Generator().manual_seed(4)
    w0, g = torch.randn(3, 3, generator=gen), torch.randn(3, 3, generator=gen)
    ours, theirs = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(w0.clone())
    shrink_([ours], "L2", 0.1 * 0.2)  # decoupled decay, lr × λ
    ours.grad, theirs.grad = g.clone(), g.clone()
    torch.optim.Adam([ours], lr=0.1).step()
    torch.optim.AdamW([theirs], lr=0.1, weight_decay=0.2).step()
    assert_close(ours.detach(), theirs.detach())


def test_shrink_l1_and_bad_arguments():
    w = torch.tensor([0.05, -0.3, 1.0])
    shrink_([w], "L1", 0.1)
    assert_close(w, torch.tensor([0.0, -0.2, 0.9]))
    shrink_([w], "none", 0.5)
    assert_close(w, torch.tensor([0.0, -0.2, 0.9]))
    with pytest.raises(ValueError, match="kind must be one of"):
        shrink_([w], "L3", 0.1)
    with pytest.raises(ValueError, match="amount"):
        shrink_([w], "L2", 1.5)
    with pytest.raises(ValueError, match="lam"):
        l2_penalty([w], -1.0)
    with pytest.raises(ValueError, match="lam"):
        l1_penalty([w], float("nan"))


def test_decay_groups_for_the_tiny_model_and_gpt2():
    model = tiny()
    kinds = models.count_parameters(model).by_kind()
    split = split_decay(model)
    assert set(split.decay) == {"hidden.weight", "out.weight"}
    assert split.counts == {"decay": kinds["weight"], "no decay": kinds["bias"] + kinds["embedding"]}
    assert split_decay(model, decay_embeddings=True).counts["decay"] == kinds["weight"] + kinds["embedding"]
    gpt2 = models.make_gpt2()
    table = models.count_parameters(gpt2)
    gpt2_split = split_decay(gpt2)
    assert sum(gpt2_split.counts.values()) == table.total  # the tied lm_head is counted once
    assert gpt2_split.counts["no decay"] == table.by_kind()["bias"] + table.by_kind()["norm"] + table.by_kind()["embedding"]
    assert "blocks.0.ln_1.weight" in gpt2_split.no_decay and "blocks.0.mlp_fc.weight" in gpt2_split.decay
    with pytest.raises(ValueError, match="decay_embeddings"):
        split_decay(model, decay_embeddings="yes")


def test_param_groups_decay_weights_but_not_biases_in_adamw():
    model = tiny()
    before = copy.deepcopy(model.state_dict())
    opt = torch.optim.AdamW(param_groups(model, weight_decay=0.5), lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no data gradient: only the decay moves anything
    opt.step()
    after = model.state_dict()
    assert_close(after["hidden.weight"], before["hidden.weight"] * (1 - 0.1 * 0.5))
    assert_close(after["hidden.bias"], before["hidden.bias"])
    assert_close(after["embed.weight"], before["embed.weight"])
    assert len(param_groups(torch.nn.Linear(3, 2, bias=False), 0.1)) == 1  # no empty group


def test_dropout_matches_torch_given_the_same_mask():
    x = torch.randn(200, 50, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(0)
    out = F.dropout(x, p=0.3, training=True)
    mask = (out != 0).to(x.dtype)
    assert_close(dropout(x, 0.3, mask=mask), out)
    ours = dropout(torch.ones(200, 50), 0.3, generator=torch.Generator().manual_seed(6))
    assert abs(float((ours == 0).float().mean()) - 0.3) < 0.02  # about p of the units dropped
    assert abs(float(ours.mean()) - 1.0) < 0.05  # the expected value is kept
    with pytest.raises(ValueError, match="p"):
        dropout(x, 1.0)
    with pytest.raises(ValueError, match="mask"):
        dropout(x, 0.5, mask=torch.ones(3))


def test_early_stopping_keeps_the_best_weights():
    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    losses = [3.0, 2.0, 1.0, 1.5, 1.2, 0.9]
    stopped_at = None
    for step, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(step)
        if stopper.update(step, loss, model):
            stopped_at = step
            break
    assert stopped_at == 4 and stopper.best_step == 2 and stopper.best_loss == 1.0
    stopper.restore(model)
    assert float(model.weight.detach()) == 2.0
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="no weights"):
        EarlyStopping().restore(model)


# ---- least squares with a penalty in the loss (chapter 3's duplicated feature) ------------------

def _regression(seed=0, n=60, k=3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, k, generator=g, dtype=torch.float64)
    X[:, 1] = X[:, 0] + 0.05 * torch.randn(n, generator=g, dtype=torch.float64)  # a near-copy: badly conditioned
    y = X @ torch.tensor([2.0, 0.0, -1.0], dtype=torch.float64) + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    return X, y


@pytest.mark.parametrize("lam", [0.01, 0.1, 1.0])
def test_fit_penalized_linear_l2_is_ridge_regression(lam):
    from knobs.regularize import fit_penalized_linear
    X, y = _regression()
    n = len(y)
    ridge = torch.linalg.solve(X.T @ X / n + lam * torch.eye(3, dtype=X.dtype), X.T @ y / n)  # the closed form
    assert_close(fit_penalized_linear(X, y, "L2", lam), ridge, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("lam", [0.01, 0.1, 1.0])
def test_fit_penalized_linear_l1_meets_the_lasso_optimality_conditions(lam):
    from knobs.regularize import fit_penalized_linear
    X, y = _regression()
    w = fit_penalized_linear(X, y, "L1", lam)
    grad = X.T @ (X @ w - y) / len(y)  # the data term's gradient
    nonzero = w != 0
    assert_close(grad[nonzero], -lam * torch.sign(w[nonzero]), atol=1e-7, rtol=0)  # stationary where w != 0
    assert bool((grad[~nonzero].abs() <= lam + 1e-9).all())  # and the pull is within ±λ where w == 0
    # and it is the minimum: autograd's loss is no lower at nearby points
    loss = lambda v: ((X @ v - y) ** 2).mean() / 2 + l1_penalty(v, lam)
    for _ in range(20):
        assert loss(w) <= loss(w + 1e-3 * torch.randn(3, dtype=X.dtype)) + 1e-12


def test_fit_penalized_linear_on_an_orthonormal_design_is_one_soft_threshold():
    from knobs.regularize import fit_penalized_linear
    n = 4
    X = torch.eye(n, dtype=torch.float64) * n ** 0.5  # X^T X / n = I
    y = torch.tensor([3.0, -0.2, 0.5, -2.0], dtype=torch.float64) * n ** 0.5
    ols = X.T @ y / n
    assert_close(fit_penalized_linear(X, y, "L1", 0.4), F.softshrink(ols, 0.4))  # Tibshirani's lasso formula
    assert_close(fit_penalized_linear(X, y, "L2", 0.4), ols / 1.4)
    assert_close(fit_penalized_linear(X, y, "none", 0.4), ols)


def test_fit_penalized_linear_solves_many_strengths_at_once_and_refuses_bad_input():
    from knobs.regularize import fit_penalized_linear
    X, y = _regression()
    lams = torch.tensor([0.01, 0.3, 3.0], dtype=torch.float64)
    together = fit_penalized_linear(X, y, "L1", lams)
    assert together.shape == (3, 3)
    for row, lam in zip(together, lams):
        assert_close(row, fit_penalized_linear(X, y, "L1", float(lam)))
    with pytest.raises(ValueError, match="kind"):
        fit_penalized_linear(X, y, "L3", 0.1)
    with pytest.raises(ValueError, match="same n"):
        fit_penalized_linear(X, y[:-1], "L2", 0.1)
    with pytest.raises(ValueError, match="lam"):
        fit_penalized_linear(X, y, "L2", torch.tensor([-1.0]))
