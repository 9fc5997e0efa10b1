"""knobs.initialization: Xavier/He against torch.nn.init; symmetry kept and broken; signals through depth."""
import math

import numpy as np
import pytest
import torch

from knobs import initialization as init
from knobs import models, train


@pytest.mark.parametrize("fan_out, fan_in", [(32, 16), (64, 64), (7, 300)])
def test_xavier_and_he_match_torch_nn_init(fan_out, fan_in):
    ours, theirs = torch.empty(fan_out, fan_in), torch.empty(fan_out, fan_in)
    init.init_normal_(ours, "xavier", torch.Generator().manual_seed(1))
    torch.nn.init.xavier_normal_(theirs, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours, theirs)
    init.init_normal_(ours, "he", torch.Generator().manual_seed(2))
    torch.nn.init.kaiming_normal_(theirs, nonlinearity="relu", generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(ours, theirs)
    assert init.init_std("he", fan_in, fan_out) == pytest.approx(torch.nn.init.calculate_gain("relu") / math.sqrt(fan_in))


def test_bad_scheme_and_sizes_raise():
    with pytest.raises(ValueError, match="scheme must be"):
        init.init_std("lecun", 3, 3)
    with pytest.raises(ValueError, match="fan_in"):
        init.init_std("he", 0, 3)
    with pytest.raises(ValueError, match="activation must be"):
        init.signal_through_depth("he", "gelu")


def test_scale_vanishes_explodes_or_holds_through_depth():
    def ratio(scheme, activation, key):
        values = init.signal_through_depth(scheme, activation, depth=20)[key]
        return values[-1] / values[0]

    assert ratio("small", "tanh", "activation_std") < 1e-10  # shrinks layer after layer
    assert ratio("large", "relu", "activation_std") > 1e10  # grows layer after layer
    assert 0.3 < ratio("he", "relu", "activation_std") < 3  # He holds ReLU activations steady
    assert 0.2 < ratio("xavier", "tanh", "activation_std") < 1  # Xavier: a slow decline for tanh, not a collapse
    grads = init.signal_through_depth("small", "tanh", depth=20)["gradient_std"]
    assert grads[0] < 1e-10 * grads[-1]  # the gradient vanishes on its way back to layer 1


@pytest.fixture(scope="module")
def farm():
    from knobs.data import farm_split

    return farm_split()


@pytest.mark.parametrize("how, noise, distinct", [("zero", 0.0, 1), ("equal", 0.0, 1), ("equal", 1e-3, 32),
                                                  ("random", 0.0, 32)])
def test_symmetric_starts_stay_symmetric_and_noise_breaks_them(farm, how, noise, distinct):
    vocab, X, y, *_ = farm
    model = models.make_tiny_lm(len(vocab), seed=0)
    init.set_symmetric_init(model, how, noise=noise)
    *_, last = train.train_lm(model, X, y, steps=60, lr=0.03, every=60, seed=0)
    assert init.count_distinct_units(last.params["hidden.weight"], last.params["hidden.bias"]) == distinct
    if how == "zero":  # nothing reaches the hidden layer: W2 = 0 blocks its gradient, h = 0 blocks W2's
        assert np.all(last.params["hidden.weight"] == 0) and np.all(last.params["out.weight"] == 0)


def test_set_symmetric_init_refuses_unknown_starts():
    model = models.make_tiny_lm(29)
    with pytest.raises(ValueError, match="how must be"):
        init.set_symmetric_init(model, "ones")
    with pytest.raises(ValueError, match="noise"):
        init.set_symmetric_init(model, "zero", noise=-1)


def test_count_distinct_units():
    W = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.5]])
    assert init.count_distinct_units(W) == 2
    assert init.count_distinct_units(W, bias=np.array([0.0, 1.0, 0.0])) == 3
