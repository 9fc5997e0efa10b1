"""Property tests of knobs.regularize against torch.autograd, torch.optim and torch.nn.functional.

Oracles: autograd of the penalties; torch.optim.SGD / Adam / AdamW for the steps;
F.softshrink for the soft threshold; F.dropout's own mask for dropout; AdamW with a
zero gradient for the decoupled L2 shrink.

Conventions, as PyTorch's, checked here:
- L2 penalty = lam/2 · Σw², so its gradient is lam·w and SGD(weight_decay=lam) on the
  loss is plain SGD on loss + l2_penalty(lam) (the λ/2 is what makes them equal);
- AdamW decays by (1 - lr·weight_decay) before the Adam step; Adam adds weight_decay·w
  to the gradient;
- every result has the input's dtype; for bf16/fp16 the two sides round at different
  points, so they are compared within a few ulps of the dtype.
"""
import math

import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn
from torch.nn import functional as F
from torch.testing import assert_close

from knobs import regularize as R
from properties import examples, tolerance, weights

lams = st.one_of(st.just(0.0), st.floats(1e-4, 10.0))
lrs = st.one_of(st.floats(1e-4, 1.0), st.just(0.0))


def loose(dtype):
    """Steps do 3-6 roundings in the dtype on each side: allow several ulps, relative to the values' size."""
    eps = torch.finfo(dtype).eps
    return {"rtol": 32 * eps, "atol": 32 * eps}


@examples(60)
@given(weights(styles=("normal", "mixed", "all equal", "ties", "zeros", "subnormal"), specials=True), lams)
def test_penalties_and_their_gradients_match_autograd(w, lam):
    for penalty, gradient in ((R.l2_penalty, R.l2_gradient), (R.l1_penalty, R.l1_gradient)):
        leaf = w.detach().clone().requires_grad_()
        value = penalty([leaf], lam)
        value.backward()
        assert value.dtype == w.dtype and gradient(w, lam).dtype == w.dtype
        reference = lam / 2 * (w.double() ** 2).sum() if penalty is R.l2_penalty else lam * w.double().abs().sum()
        terms = w.double() ** 2 if penalty is R.l2_penalty else w.double().abs()
        if max(terms.sum(), reference) > torch.finfo(w.dtype).max / 1.01:  # beyond the dtype (fp16: w² of 256+)
            assert not bool(torch.isfinite(value)) or math.isclose(value.item(), reference, rel_tol=0.01)
        else:
            assert_close(value.double(), reference, equal_nan=True, **loose(w.dtype), check_dtype=False)
        assert_close(gradient(w, lam), leaf.grad, equal_nan=True, **tolerance(w.dtype))


@examples(40)
@given(weights(min_dims=1, styles=("normal", "mixed", "ties")), st.data())
def test_the_half_in_the_l2_penalty_makes_it_torchs_weight_decay(w, data):
    """SGD(weight_decay=lam) on a loss == plain SGD on loss + l2_penalty(lam): the lam/2 convention."""
    lam, lr = data.draw(lams), data.draw(lrs)
    target = torch.linspace(-1, 1, w.numel(), dtype=w.dtype).reshape(w.shape)
    decayed, penalized = (nn.Parameter(w.detach().clone()) for _ in range(2))
    torch.optim.SGD([decayed], lr=lr, weight_decay=lam).zero_grad()
    ((decayed - target) ** 2).sum().backward()
    torch.optim.SGD([decayed], lr=lr, weight_decay=lam).step()
    (((penalized - target) ** 2).sum() + R.l2_penalty([penalized], lam)).backward()
    torch.optim.SGD([penalized], lr=lr).step()
    assert_close(penalized, decayed, **loose(w.dtype))


@examples(60)
@given(weights(styles=("normal", "mixed", "all equal", "zeros", "huge", "tiny")), st.data())
def test_sgd_step_matches_torch_optim_sgd(w, data):
    grad = data.draw(weights(dtype=w.dtype, shape=tuple(w.shape)))
    lr, wd = data.draw(lrs), data.draw(lams)
    p = nn.Parameter(w.detach().clone())
    p.grad = grad.clone()
    torch.optim.SGD([p], lr=lr, weight_decay=wd).step()
    ours = R.sgd_step(w, grad, lr, wd)
    assert ours.dtype == w.dtype and ours.shape == w.shape
    size = (w.double().abs() + lr * (grad.double().abs() + wd * w.double().abs())).to(w.dtype)
    assert bool(((ours.double() - p.detach().double()).abs() <= 32 * torch.finfo(w.dtype).eps * size.double()
                 + torch.finfo(w.dtype).tiny).all())


@examples(50)
@given(weights(min_dims=1, styles=("normal", "mixed", "ties", "zeros")), st.data())
def test_adam_step_matches_torch_adam_and_adamw_over_several_steps(w, data):
    decoupled = data.draw(st.booleans())
    lr, wd = data.draw(st.floats(1e-4, 0.1)), data.draw(lams)
    betas = (data.draw(st.floats(0.0, 0.99)), data.draw(st.floats(0.5, 0.9999)))
    eps = data.draw(st.sampled_from([1e-8, 1e-6, 1e-3]))
    optimizer = (torch.optim.AdamW if decoupled else torch.optim.Adam)
    p = nn.Parameter(w.detach().clone())
    opt = optimizer([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
    state, ours = R.AdamState(), w.detach().clone()
    for _ in range(data.draw(st.integers(1, 4))):
        grad = data.draw(weights(dtype=w.dtype, shape=tuple(w.shape), styles=("normal", "mixed", "zeros")))
        if w.dtype == torch.float16:  # g**2 below fp16's smallest normal: torch's fused addcmul and the textbook
            grad = grad.masked_fill(grad.abs() < 2 ** -7, 0.0)  # beta2*v + (1-beta2)*g**2 round it differently
        p.grad = grad.clone()
        opt.step()
        ours = R.adam_step(ours, grad, state, lr, betas, eps, wd, decoupled)
        assert ours.dtype == w.dtype and state.m.dtype == w.dtype
    # the update lr * m_hat / (sqrt(v_hat) + eps) is rounded in w's dtype on both sides, differently. In fp16 an
    # eps of 1e-8 rounds to 0, so a zero gradient gives 0/0 = NaN: in torch.optim.Adam too (equal_nan)
    assert_close(ours, p.detach(), rtol=64 * torch.finfo(w.dtype).eps, atol=64 * torch.finfo(w.dtype).eps * (1 + lr),
                 equal_nan=True)


@examples(60)
@given(weights(specials=True), st.floats(0.0, 2.0))
def test_soft_threshold_is_torchs_softshrink(w, threshold):
    ours = R.soft_threshold(w, threshold)
    assert ours.dtype == w.dtype
    exact = {"rtol": 0, "atol": 0} if w.dtype in (torch.float32, torch.float64) else tolerance(w.dtype)
    assert_close(ours, F.softshrink(w, threshold), equal_nan=True, **exact)  # half: torch rounds lambda first


@examples(40)
@given(weights(min_dims=1), st.floats(0.0, 0.99), st.sampled_from(["L1", "L2"]))
def test_shrink_is_adamws_decay_or_softshrink(w, amount, kind):
    ours = [w.detach().clone()]
    R.shrink_(ours, kind, amount)
    if kind == "L1":
        expected = F.softshrink(w, amount)
    else:  # AdamW with a zero gradient does nothing but decay: w * (1 - lr * weight_decay)
        p = nn.Parameter(w.detach().clone())
        p.grad = torch.zeros_like(p)
        torch.optim.AdamW([p], lr=1.0, weight_decay=amount, eps=1e-3).step()  # an eps fp16 can hold: 0 / eps
        expected = p.detach()
    assert ours[0].dtype == w.dtype
    assert_close(ours[0], expected, **tolerance(w.dtype))


@examples(40)
@given(weights(min_dims=1, styles=("normal", "mixed")), st.floats(0.0, 0.95), st.integers(0, 2 ** 31 - 1))
def test_dropout_with_torchs_mask_gives_torchs_output(x, p, seed):
    x = x.masked_fill(x == 0, 1.0)  # a zero hides whether torch kept it
    torch.manual_seed(seed)
    theirs = F.dropout(x, p, training=True)
    kept = (theirs != 0).to(torch.float32)  # torch's own mask; ours takes it in any dtype
    ours = R.dropout(x, p, mask=kept)
    assert ours.dtype == x.dtype
    assert_close(ours, theirs, **loose(x.dtype))


# ---- parameter groups -------------------------------------------------------------------------------------------
LAYERS = {
    "linear": lambda: nn.Linear(4, 3), "conv": lambda: nn.Conv2d(2, 3, 3), "conv1d": lambda: nn.Conv1d(2, 2, 1),
    "bilinear": lambda: nn.Bilinear(3, 2, 2), "batchnorm1d": lambda: nn.BatchNorm1d(3),
    "batchnorm2d": lambda: nn.BatchNorm2d(3), "instancenorm": lambda: nn.InstanceNorm1d(3, affine=True),
    "groupnorm": lambda: nn.GroupNorm(1, 3), "layernorm": lambda: nn.LayerNorm(3), "rmsnorm": lambda: nn.RMSNorm(3),
    "mha": lambda: nn.MultiheadAttention(4, 2), "gru": lambda: nn.GRU(3, 4), "lstm": lambda: nn.LSTM(3, 2, 2),
    "rnn": lambda: nn.RNN(2, 2), "embedding": lambda: nn.Embedding(5, 3), "prelu": lambda: nn.PReLU(),
    "encoder": lambda: nn.TransformerEncoderLayer(4, 1, 8), "lazy bn": lambda: nn.SyncBatchNorm(2),
}


@examples(40)
@given(st.lists(st.sampled_from(sorted(LAYERS)), min_size=1, max_size=6), st.booleans(), lams)
def test_decay_groups_decay_matrices_only_as_a_learner_building_adamw_groups_expects(names, decay_embeddings, wd):
    """Weight matrices (2+ dimensions) are decayed; biases and norm gains/biases never; embeddings by choice.

    PReLU's slope (one number) counts as a weight, as its module calls it, so it is decayed: the one
    1-D tensor this rule and nanoGPT's "2+ dimensions" rule disagree on.
    """
    model = nn.ModuleDict({f"{i}_{n}": LAYERS[n]() for i, n in enumerate(names)})
    split = R.split_decay(model, decay_embeddings)
    params = dict(model.named_parameters())
    assert set(split.decay) | set(split.no_decay) == set(params) and not set(split.decay) & set(split.no_decay)
    for name, p in params.items():
        module = model.get_submodule(name.rsplit(".", 1)[0])
        if isinstance(module, nn.Embedding):
            assert (name in split.decay) == decay_embeddings
        elif isinstance(module, nn.PReLU):
            assert name in split.decay
        else:
            assert (name in split.decay) == (p.dim() >= 2), f"{name} {tuple(p.shape)}"
    groups = R.param_groups(model, wd, decay_embeddings)
    torch.optim.AdamW(groups, lr=1e-3)  # a real optimizer takes them
    assert sum(len(g["params"]) for g in groups) == len(params)


def test_bad_step_arguments_name_the_argument():
    w = torch.ones(3)
    for call, message in [
        (lambda: R.sgd_step(w, w, lr=-1), r"lr must be a number in \[0, inf\), got -1"),
        (lambda: R.sgd_step(w, w, lr=math.nan), "lr must be"),
        (lambda: R.sgd_step(w, torch.ones(3, 1), lr=0.1), "grad must have w's shape"),
        (lambda: R.adam_step(w, w, R.AdamState(), betas=(1.0, 0.999)), r"betas\[0\] must be a number in \[0, 1\)"),
        (lambda: R.adam_step(w, w, R.AdamState(), lr=math.nan), "lr must be"),
        (lambda: R.adam_step(w, w, R.AdamState(), eps=-1.0), "eps must be"),
        (lambda: R.adam_step(w, w, R.AdamState(), betas=0.9), "betas must be a pair"),
        (lambda: R.l2_penalty(nn.Linear(2, 2).named_parameters(), 0.1), "not model.named_parameters"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
