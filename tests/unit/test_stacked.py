"""knobs.stacked: K models trained at once equal K separate runs of PyTorch's own layers and Adam."""
import pytest
import torch
from torch.nn import functional as F

from knobs import scale, stacked, sweep

SHAPES = [dict(embed_dim=8, hidden=16, layers=1), dict(embed_dim=4, hidden=8, layers=3),
          dict(embed_dim=0, hidden=8, layers=1), dict(embed_dim=0, hidden=6, layers=2)]


@pytest.fixture(scope="module")
def small_data():
    return sweep.make_scale_data(context=4, farms=(1 / 16, 1 / 4, 1))


def reference_train(model, X, y, batches, lr, steps, decay=True):
    """The plain PyTorch way: one nn.Module, torch.optim.Adam, a LambdaLR schedule, F.cross_entropy."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda done: 1 - done / steps if decay else 1.0)
    for b in batches:
        loss = F.cross_entropy(model(X[b]), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return model


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: sweep.shape_label(s))
def test_stacked_training_equals_separate_pytorch_runs(small_data, shape):
    d, steps = small_data, 25
    sizes = list(d.sizes.values())
    stack = stacked.StackedLM([scale.make_lm(29, seed=k, context=4, **shape) for k in range(len(sizes))])
    *_, (_, _, val) = stacked.train_stacked(stack, d.X, d.y, sizes, d.X_val, d.y_val, steps=steps, lr=0.02,
                                          batch_size=64, every=5)
    idx = stacked.batch_indices(sizes, steps, 64)
    for k in range(len(sizes)):
        model = reference_train(scale.make_lm(29, seed=k, context=4, **shape), d.X, d.y, idx[k], 0.02, steps)
        got = stack.member_params(k)
        assert list(got) == [n for n, _ in model.named_parameters()]
        for name, p in model.named_parameters():
            torch.testing.assert_close(torch.from_numpy(got[name]), p.detach(), rtol=1e-4, atol=1e-5)
        with torch.no_grad():
            torch.testing.assert_close(torch.tensor(val[k]), F.cross_entropy(model(d.X_val), d.y_val),
                                       rtol=1e-5, atol=1e-5)


def test_zero_padded_models_train_exactly_like_the_small_ones(small_data):
    d, steps, shapes = small_data, 20, [(2, 4), (4, 8), (8, 16)]
    members = [scale.make_lm(29, seed=k, context=4, embed_dim=e, hidden=h) for k, (e, h) in enumerate(shapes)]
    stack = stacked.StackedLM(members, pad_to=(8, 16))
    sizes = [len(d.y)] * 3
    list(stacked.train_stacked(stack, d.X, d.y, sizes, d.X_val, d.y_val, steps=steps, lr=0.02, every=steps))
    idx = stacked.batch_indices(sizes, steps, 64)
    for k, (e, h) in enumerate(shapes):
        model = reference_train(scale.make_lm(29, seed=k, context=4, embed_dim=e, hidden=h), d.X, d.y, idx[k],
                                0.02, steps)
        for name, p in model.named_parameters():
            torch.testing.assert_close(torch.from_numpy(stack.member_params(k)[name]), p.detach(),
                                       rtol=1e-4, atol=1e-5)
    # the padding itself never moved: zero gradient, zero Adam update
    assert (stack.embed[0, :, 2:] == 0).all() and (stack.weights[1][0, 4:] == 0).all()


def test_batch_indices_stay_in_each_prefix_and_cover_it():
    idx = stacked.batch_indices([100, 1000], steps=30, batch_size=20, seed=1)
    assert idx.shape == (2, 30, 20)
    assert idx[0].max() < 100 and idx[1].max() < 1000
    assert set(idx[0, :5].flatten().tolist()) == set(range(100))  # first epoch: every example once


@pytest.mark.parametrize("call, message", [
    (lambda: stacked.batch_indices([10, 100], 5, 64), "batch_size must be between 1 and the smallest"),
    (lambda: stacked.StackedLM([]), "at least one"),
    (lambda: stacked.StackedLM([scale.make_lm(29, hidden=4), scale.make_lm(29, hidden=5)]), "same shape"),
    (lambda: stacked.StackedLM([scale.make_lm(29, hidden=8)], pad_to=(8, 4)), "pad_to must be at least"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()
