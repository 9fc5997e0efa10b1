"""Property tests of the remaining from-scratch pieces: the tiny LM's hand-written backward pass,
initialization scales, the 2-D optimizers, and the parameter kinds that weight-decay groups use.

Oracles: torch.autograd (backprop, the descent gradient), torch.nn.init (xavier_normal_ /
kaiming_normal_ draw the same numbers from the same generator), torch.optim.SGD / Adam.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn
from torch.testing import assert_close

from knobs import backprop, descent, initialization, models
from properties import dtypes, examples


@examples(40)
@given(st.integers(2, 12), st.integers(1, 3), st.integers(1, 5), st.integers(1, 8), st.integers(1, 9),
       dtypes, st.integers(0, 2 ** 16))
def test_hand_written_backward_matches_autograd_for_every_size_and_dtype(vocab, context, embed, hidden, batch,
                                                                         dtype, seed):
    model = models.make_tiny_lm(vocab, seed=seed, context=context, embed_dim=embed, hidden=hidden).to(dtype)
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randint(0, vocab, (batch, context), generator=g), torch.randint(0, vocab, (batch,), generator=g)
    ours, theirs = backprop.tiny_lm_backward(model, X, y), backprop.autograd_gradients(model, X, y)
    eps = torch.finfo(dtype).eps
    for name, grad in theirs.items():
        assert ours[name].dtype == dtype and ours[name].shape == grad.shape
        assert_close(ours[name], grad, rtol=64 * eps, atol=64 * eps, msg=lambda m, name=name: f"{name}: {m}")


@examples(40)
@given(st.sampled_from(["xavier", "he"]), st.lists(st.integers(1, 9), min_size=2, max_size=4), dtypes,
       st.integers(0, 2 ** 31 - 1))
def test_xavier_and_he_draw_what_torch_nn_init_draws_for_matrices_and_convs(scheme, shape, dtype, seed):
    ours = initialization.init_normal_(torch.empty(shape, dtype=dtype), scheme, torch.Generator().manual_seed(seed))
    theirs = torch.empty(shape, dtype=dtype)
    if scheme == "xavier":
        nn.init.xavier_normal_(theirs, generator=torch.Generator().manual_seed(seed))
    else:
        nn.init.kaiming_normal_(theirs, nonlinearity="relu", generator=torch.Generator().manual_seed(seed))
    assert ours.dtype == dtype
    assert_close(ours, theirs, rtol=4 * torch.finfo(dtype).eps, atol=0)  # the same fans, the same std, same draws


@examples(30)
@given(st.sampled_from(descent.OPTIMIZERS), st.floats(1e-3, 0.2), st.floats(0.0, 0.95),
       st.tuples(st.floats(-2, 2), st.floats(-2, 2)), st.integers(1, 25))
def test_the_2d_optimizers_follow_torch_optim_from_any_start(name, lr, momentum, start, steps):
    ours = [theta for _, theta, _ in descent.descend(start, descent.make_optimizer(name, lr, momentum), steps)]
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = {"sgd": lambda: torch.optim.SGD([p], lr=lr), "momentum": lambda: torch.optim.SGD([p], lr=lr, momentum=momentum),
           "adam": lambda: torch.optim.Adam([p], lr=lr, betas=(momentum, 0.999))}[name]()
    theirs = [p.detach().clone()]
    for _ in range(len(ours) - 1):
        opt.zero_grad()
        t1, t2 = p[0], p[1]
        (descent.A * (t1 ** 2 - 1) ** 2 + descent.TILT * t1 + descent.B * (t2 - descent.K * t1) ** 2).backward()
        opt.step()
        theirs.append(p.detach().clone())
    if all(np.isfinite(t).all() for t in ours):
        assert_close(torch.from_numpy(np.array(ours)), torch.stack(theirs))


NORMS = [nn.LayerNorm(3), nn.RMSNorm(3), nn.GroupNorm(1, 3), nn.BatchNorm1d(3), nn.BatchNorm2d(3), nn.BatchNorm3d(3),
         nn.InstanceNorm1d(3, affine=True), nn.InstanceNorm2d(3, affine=True), nn.SyncBatchNorm(3), nn.LazyBatchNorm1d()]


class LlamaRMSNorm(nn.Module):  # a learner's own norm layer, named as Hugging Face names it
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))


@pytest.mark.parametrize("module", NORMS + [LlamaRMSNorm()], ids=lambda m: type(m).__name__)
def test_every_norm_layers_parameters_are_norm(module):
    for name, _ in module.named_parameters():
        assert models.parameter_kind(module, name) == "norm"


@pytest.mark.parametrize("module", [nn.MultiheadAttention(4, 2, add_bias_kv=True), nn.GRU(2, 3), nn.LSTM(2, 3, 2),
                                    nn.RNN(2, 2), nn.Linear(2, 2), nn.Conv2d(1, 2, 3), nn.Bilinear(2, 2, 2)],
                         ids=lambda m: type(m).__name__)
def test_every_bias_is_a_bias_and_every_matrix_a_weight(module):
    for full_name, p in module.named_parameters():
        owner, name = (module.get_submodule(full_name.rsplit(".", 1)[0]), full_name.rsplit(".", 1)[1]) \
            if "." in full_name else (module, full_name)
        assert models.parameter_kind(owner, name) == ("bias" if "bias" in name else "weight")
    total = models.count_parameters(module).total
    assert total == sum(p.numel() for p in module.parameters())
