"""Property tests of knobs.lora.LoRALinear against the explicit weight update, computed by torch.

Oracle: F.linear(x, W + (alpha/r) · B A, b) and its autograd, over every size 1..6,
rank 1..min(in, out), the four float dtypes and both bias settings. The adapter takes
the base layer's dtype and device; merge() returns an nn.Linear of the same dtype that
computes what the layer computes now (with or without the adapter switched on).
"""
import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn
from torch.nn import functional as F

from knobs.lora import LoRALinear, lora_parameter_count
from properties import dtypes, examples, weights


@st.composite
def adapted_layers(draw):
    """(layer, x): a LoRALinear of any size, rank, alpha and dtype, with a nonzero B, and an input batch."""
    dtype = draw(dtypes)
    n_in, n_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    base = nn.Linear(n_in, n_out, bias=draw(st.booleans()), dtype=dtype)
    with torch.no_grad():
        base.weight.copy_(draw(weights(dtype=dtype, shape=(n_out, n_in), styles=("normal", "ties"))))
    layer = LoRALinear(base, rank=draw(st.integers(1, min(n_in, n_out))),
                       alpha=draw(st.one_of(st.none(), st.floats(0.1, 16.0))))
    with torch.no_grad():  # B starts at zero: give it values so the update shows; A too (from the drawn data,
        layer.B.copy_(draw(weights(dtype=dtype, shape=tuple(layer.B.shape), styles=("normal",))))  # not torch's RNG,
        layer.A.copy_(draw(weights(dtype=dtype, shape=tuple(layer.A.shape), styles=("normal",))))  # so it replays)
    x = draw(weights(dtype=dtype, shape=(draw(st.integers(1, 3)), n_in), styles=("normal", "mixed")))
    return layer, x


def within(ours, ref, size):
    """|ours - ref| <= a few ulps of the *terms* summed (size, float64): two summation orders, same numbers."""
    eps = torch.finfo(ours.dtype).eps
    assert ours.dtype == ref.dtype
    assert bool(((ours.double() - ref.double()).abs() <= 32 * eps * size + torch.finfo(ours.dtype).tiny).all()), \
        f"{ours} vs {ref}"


@examples(60)
@given(adapted_layers())
def test_forward_and_gradients_match_the_explicit_weight_update_in_every_dtype(case):
    layer, x = case
    dtype = x.dtype
    assert layer.A.dtype == layer.B.dtype == dtype  # the adapter takes the base's dtype: no crash at the first forward
    out = layer(x)
    A, B = (p.detach().clone().requires_grad_() for p in (layer.A, layer.B))
    ref = F.linear(x, layer.base.weight + layer.scale * B @ A, layer.base.bias)
    assert out.dtype == dtype
    a = {name: t.detach().double().abs() for name, t in
         (("x", x), ("W", layer.base.weight), ("A", layer.A), ("B", layer.B))}
    bias = 0 if layer.base.bias is None else layer.base.bias.detach().double().abs()
    within(out, ref, a["x"] @ a["W"].T + layer.scale * a["x"] @ a["A"].T @ a["B"].T + bias)
    upstream = torch.ones_like(out)
    out.backward(upstream)
    ref.backward(upstream)
    u = upstream.double().abs()
    within(layer.A.grad, A.grad, layer.scale * (u @ a["B"]).T @ a["x"])  # dL/dA = scale · (u B)ᵀ x
    within(layer.B.grad, B.grad, layer.scale * u.T @ (a["x"] @ a["A"].T))  # dL/dB = scale · uᵀ (x Aᵀ)
    assert layer.base.weight.grad is None  # the pretrained weights stay frozen


@examples(50)
@given(adapted_layers(), st.booleans())
def test_merge_keeps_the_dtype_and_computes_what_the_layer_computes_enabled_or_not(case, enabled):
    layer, x = case
    layer.enabled = enabled
    merged = layer.merge()
    assert isinstance(merged, nn.Linear) and merged.weight.dtype == x.dtype
    with torch.no_grad():
        size = x.double().abs() @ (layer.base.weight.double().abs() + layer.scale * layer.B.double().abs()
                                   @ layer.A.double().abs()).T
        within(merged(x), layer(x), size + (0 if merged.bias is None else merged.bias.double().abs()))
        if not enabled:  # switched off: exactly the base layer
            assert torch.equal(merged.weight, layer.base.weight)


@examples(30)
@given(st.integers(1, 64), st.integers(1, 64), st.data())
def test_trainable_count_is_rank_times_in_plus_out(n_in, n_out, data):
    rank = data.draw(st.integers(1, min(n_in, n_out)))
    layer = LoRALinear(nn.Linear(n_in, n_out), rank)
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert trainable == lora_parameter_count(n_in, n_out, rank) == rank * (n_in + n_out)
    with pytest.raises(ValueError, match=f"rank must be a whole number between 1 and {min(n_in, n_out)}"):
        LoRALinear(nn.Linear(n_in, n_out), data.draw(st.sampled_from([0, min(n_in, n_out) + 1, True, 1.0, "2"])))
