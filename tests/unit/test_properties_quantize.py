"""Property tests of knobs.quantize against PyTorch's quantizers, over odd shapes, dtypes and magnitudes.

Oracles: torch.fake_quantize_per_channel_affine (any bits, any code range: the grid),
torch.quantize_per_tensor / quantize_per_channel (8 bits: the codes, except at exact halves,
where PyTorch's two quantizers round apart and ours follows fake_quantize's x * (1/scale)),
torch.ao.quantization's MinMax observers (the scale and zero-point),
torch.fake_quantize_per_tensor_affine (the straight-through gradient),
torch's own float conversion and bit views (number formats).

Conventions that differ from a torch default, on purpose, and are checked here:
- symmetric codes use the restricted range [-(2^(b-1)-1), 2^(b-1)-1], so the grid is
  symmetric and clipping treats +w and -w alike; torch's qint8 would allow -128. The
  oracles are given the same range (their quant_min / quant_max arguments);
- codes are computed in float32 whatever w's dtype (as torch's quantized kernels,
  which take float32); fake_quantize rounds the result once more, to w's dtype;
- non-finite weights are refused by the quantizers and propagate as NaN through QAT.
"""
import math
import warnings

import pytest
import torch
from hypothesis import given, strategies as st
from torch.ao.quantization.observer import PerChannelMinMaxObserver
from torch.testing import assert_close

from knobs import numformats
from knobs import quantize as Q
from properties import dtypes, examples, shapes, weights

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

bits_ = st.integers(2, 16)
schemes = st.sampled_from(Q.SCHEMES)
clips = st.one_of(st.just(1.0), st.floats(0.05, 1.0))


@st.composite
def quantizer_cases(draw, specials=False):
    """(w, bits, scheme, granularity, group_size, clip): a weight and options that fit it."""
    w = draw(weights(specials=specials))
    inputs = w.reshape(w.shape[0], -1).shape[1] if w.dim() > 1 else max(w.numel(), 1)
    granularity = draw(st.sampled_from(Q.GRANULARITIES))
    group_size = draw(st.sampled_from([d for d in range(1, inputs + 1) if inputs % d == 0]))
    return w, draw(bits_), draw(schemes), granularity, group_size, draw(clips)


def torch_fake_quantize(w, qt):
    """PyTorch's fake quantizer on the same blocks, scales, zero-points and code range (float32, as ours)."""
    qmin, qmax = Q.quant_range(qt.bits, qt.scheme)
    w_blocks = Q.blocks(w.detach().float(), qt.granularity, w.numel() // qt.scale.shape[0])
    return torch.fake_quantize_per_channel_affine(w_blocks, qt.scale.ravel(), qt.zero_point.ravel().int(), 0,
                                                  qmin, qmax).reshape(w.shape)


@examples(120)
@given(quantizer_cases())
def test_quantizers_match_torch_fake_quantize_for_every_bits_granularity_and_dtype(case):
    w, bits, scheme, granularity, group_size, clip = case
    qt = Q.quantize_tensor(w, bits, scheme, granularity, group_size, clip)
    qmin, qmax = Q.quant_range(bits, scheme)
    assert qmin <= int(qt.codes.min()) and int(qt.codes.max()) <= qmax  # codes stay in their range
    reference = torch_fake_quantize(w, qt)
    assert_close(qt.dequantize(), reference, rtol=0, atol=0)
    out = Q.fake_quantize(w, bits, scheme, granularity, group_size, clip)
    assert out.dtype == w.dtype and out.shape == w.shape  # dtype-faithful: float32 maths, rounded back to w's dtype
    assert_close(out, reference.to(w.dtype), rtol=0, atol=0)


@examples(60)
@given(quantizer_cases())
def test_scale_and_zero_point_match_torchs_minmax_observer(case):
    w, bits, scheme, granularity, group_size, _ = case
    qt = Q.quantize_tensor(w, bits, scheme, granularity, group_size)
    qmin, qmax = Q.quant_range(bits, scheme)
    observer = PerChannelMinMaxObserver(  # restricted symmetric range: the observer's scale is then amax / qmax
        ch_axis=0, dtype=torch.qint32, quant_min=qmin, quant_max=qmax,
        qscheme=torch.per_channel_symmetric if scheme == "symmetric" else torch.per_channel_affine)
    observer(Q.blocks(w.detach().float(), granularity, group_size))
    scale, zero_point = observer.calculate_qparams()
    assert_close(qt.scale.ravel(), scale, rtol=1e-6, atol=0)  # both clamp the scale to float32's eps
    assert_close(qt.zero_point.ravel(), zero_point.long(), rtol=0, atol=0)


@examples(40)
@given(weights(dtype=torch.float32, min_dims=1, max_dims=2, max_side=9), st.sampled_from(["tensor", "channel"]),
       schemes)
def test_eight_bit_codes_are_torchs_quantized_tensors(w, granularity, scheme):
    qt = Q.quantize_tensor(w, 8, scheme, granularity)
    w2 = w.reshape(1, -1) if (w.dim() == 1 or granularity == "tensor") else w.reshape(w.shape[0], -1)
    dtype = torch.qint8 if scheme == "symmetric" else torch.quint8
    if granularity == "tensor":
        ref = torch.quantize_per_tensor(w2, float(qt.scale), int(qt.zero_point), dtype)
    else:
        ref = torch.quantize_per_channel(w2, qt.scale.ravel().double(), qt.zero_point.ravel(), 0, dtype)
    # torch.quantize_per_* divides by the scale; torch.fake_quantize_* (and ours) multiply by the float32 inverse.
    # At an exact half (w / scale = k + 0.5) the two torch functions can round apart by one code; nowhere else.
    ratio = w2.double() / qt.scale.double().reshape(-1, 1)
    near_half = ((ratio - ratio.floor()) - 0.5).abs() < 1e-4
    diff = (qt.codes.reshape(w2.shape) - ref.int_repr().to(torch.int32)).abs()
    assert int(diff.max()) <= 1 and bool((diff[~near_half] == 0).all())


@examples(80)
@given(quantizer_cases())
def test_every_result_lies_on_the_grid_levels_reports(case):
    w, bits, scheme, granularity, group_size, clip = case
    qt = Q.quantize_tensor(w, bits, scheme, granularity, group_size, clip)
    values = qt.dequantize().reshape(qt.scale.shape[0], -1)
    for block in range(0, qt.scale.shape[0], max(1, qt.scale.shape[0] // 4)):  # a few blocks: the grid is per block
        levels = qt.levels(block)
        assert len(levels) == Q.quant_range(qt.bits, qt.scheme)[1] - Q.quant_range(qt.bits, qt.scheme)[0] + 1
        assert bool(torch.isin(values[block], levels).all())
        if scheme == "symmetric":  # restricted range: as many steps below zero as above
            assert_close(levels, -levels.flip(0), rtol=0, atol=0)


@examples(60)
@given(quantizer_cases())
def test_symmetric_quantization_treats_plus_and_minus_alike_at_any_clip(case):
    w, bits, _, granularity, group_size, clip = case
    plus = Q.fake_quantize(w, bits, "symmetric", granularity, group_size, clip)
    minus = Q.fake_quantize(-w, bits, "symmetric", granularity, group_size, clip)
    assert_close(minus, -plus, rtol=0, atol=0)  # round half to even is odd-symmetric; the code range is too


@examples(60)
@given(quantizer_cases())
def test_zero_stays_zero_and_the_error_is_at_most_half_a_step(case):
    w, bits, scheme, granularity, group_size, clip = case
    w = w.clone()
    w.view(-1)[0] = 0.0  # every tensor holds a zero: it must come back exactly zero
    qt = Q.quantize_tensor(w, bits, scheme, granularity, group_size, clip)
    w_blocks, out = Q.blocks(w.float(), granularity, group_size), qt.dequantize().reshape(qt.scale.shape[0], -1)
    assert out.view(-1)[0] == 0
    # x * (1/scale) in float32 (as torch's fake_quantize) can round onto a half that x / scale is just below:
    # allow a few float32 ulps of |x| beyond the half step
    error, step = (w_blocks - out).abs() - 4 * Q.EPS * w_blocks.abs(), qt.scale * (1 + 1e-5) + 1e-45
    qmin, qmax = Q.quant_range(bits, scheme)
    on_grid = (w_blocks >= (qmin - qt.zero_point) * qt.scale) & (w_blocks <= (qmax - qt.zero_point) * qt.scale)
    assert bool((error <= step / 2)[on_grid].all())  # within the grid's span: the nearest level
    if scheme == "symmetric":
        in_clip = w_blocks.abs() <= w_blocks.abs().amax(dim=1, keepdim=True) * clip
    else:  # affine: the rounded zero-point shifts the grid by up to half a step, so the range's ends may be a step off
        in_clip = (w_blocks >= w_blocks.amin(dim=1, keepdim=True).clamp(max=0) * clip) & \
            (w_blocks <= w_blocks.amax(dim=1, keepdim=True).clamp(min=0) * clip)
    assert bool((error <= (step / 2 if scheme == "symmetric" else step))[in_clip].all())


@examples(40)
@given(weights(styles=("tiny", "subnormal"), min_dims=1), bits_, schemes)
def test_tiny_weights_keep_codes_in_range_and_zero_at_zero(w, bits, scheme):
    qt = Q.quantize_tensor(w, bits, scheme)
    qmin, qmax = Q.quant_range(bits, scheme)
    assert float(qt.scale.min()) >= Q.EPS  # as PyTorch's observers: 1/scale cannot overflow
    assert qmin <= int(qt.codes.min()) and int(qt.codes.max()) <= qmax
    assert bool(torch.isfinite(qt.dequantize()).all())
    assert float(Q.fake_quantize(torch.zeros_like(w), bits, scheme).abs().max()) == 0


@examples(40)
@given(quantizer_cases(specials=True))
def test_non_finite_weights_are_refused_with_the_argument_named(case):
    w, bits, scheme, granularity, group_size, clip = case
    if bool(torch.isfinite(w.float()).all()):
        Q.fake_quantize(w, bits, scheme, granularity, group_size, clip)
        return
    with pytest.raises(ValueError, match=r"w must hold only finite numbers"):
        Q.fake_quantize(w, bits, scheme, granularity, group_size, clip)


@examples(60)
@given(st.data())
def test_straight_through_estimator_matches_torch_fake_quantize_forward_and_backward(data):
    x = data.draw(weights(dtype=torch.float32, min_dims=1, max_dims=1, max_side=12, noncontiguous=False))
    bits, scheme = data.draw(bits_), data.draw(schemes)
    qmin, qmax = Q.quant_range(bits, scheme)
    scale = data.draw(st.floats(1e-3, 2.0))
    zero_point = 0 if scheme == "symmetric" else data.draw(st.integers(qmin, qmax))
    ours_x, ref_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = Q.FakeQuantizeSTE.apply(ours_x, torch.tensor(scale), None if scheme == "symmetric" else
                                   torch.tensor(zero_point), qmin, qmax)
    ref = torch.fake_quantize_per_tensor_affine(ref_x, scale, zero_point, qmin, qmax)
    upstream = torch.linspace(-1, 1, x.numel())
    ours.backward(upstream)
    ref.backward(upstream)
    assert_close(ours, ref, rtol=0, atol=0)
    assert_close(ours_x.grad, ref_x.grad, rtol=0, atol=0)


@examples(40)
@given(quantizer_cases(), st.data())
def test_qat_forward_is_post_training_quantization_in_every_dtype(case, data):
    w, bits, scheme, granularity, group_size, _ = case
    w = w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)  # a weight matrix (out, in)
    quantizer = Q.WeightFakeQuantizer(bits, scheme, granularity, group_size)
    latent = w.detach().clone().requires_grad_()
    out = quantizer(latent)
    assert out.dtype == w.dtype
    assert_close(out, Q.fake_quantize(w, bits, scheme, granularity, group_size), rtol=0, atol=0)
    out.sum().backward()
    assert latent.grad.dtype == w.dtype
    # the straight-through gradient: 1, except where a code was clamped (affine: a rounded zero-point can push
    # max(w) just past the top code), exactly as PyTorch's fake quantizer on the same blocks and qparams
    qt = Q.quantize_tensor(w, bits, scheme, granularity, group_size)
    qmin, qmax = Q.quant_range(bits, scheme)
    ref_w = Q.blocks(w.detach().float(), granularity, group_size).clone().requires_grad_()
    torch.fake_quantize_per_channel_affine(ref_w, qt.scale.ravel(), qt.zero_point.ravel().int(), 0, qmin,
                                           qmax).sum().backward()
    assert_close(latent.grad, ref_w.grad.reshape(w.shape).to(w.dtype), rtol=0, atol=0)
    if scheme == "symmetric":
        assert bool((latent.grad == 1).all())  # max|w| lands on the top code: nothing is clamped at clip = 1


@examples(30)
@given(quantizer_cases(specials=True))
def test_qat_propagates_non_finite_weights_as_nan_blocks(case):
    w, bits, scheme, granularity, group_size, _ = case
    w = w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)
    out = Q.WeightFakeQuantizer(bits, scheme, granularity, group_size)(w)
    w_blocks, out_blocks = Q.blocks(w.float(), granularity, group_size), Q.blocks(out.float(), granularity, group_size)
    broken = ~torch.isfinite(w_blocks).all(dim=1)  # a diverged block is NaN throughout: the loss becomes NaN
    assert bool(torch.isnan(out_blocks[broken]).all())
    assert bool(torch.isfinite(out_blocks[~broken]).all())  # the other blocks are untouched


@examples(30)
@given(st.integers(2, 12), st.sampled_from(Q.SCHEMES), st.lists(st.integers(-60, 60), min_size=1, max_size=8))
def test_exact_halves_round_to_even_as_torch_rounds(bits, scheme, halves):
    """Rounding is half to even (torch.round, torch's quantizers): 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0."""
    qmax = Q.quant_range(bits, scheme)[1]
    w = torch.tensor([h + 0.5 for h in halves] + [float(qmax), -float(qmax)])  # ±qmax: the scale is exactly 1
    if scheme == "affine":
        w = torch.tensor([abs(h) + 0.5 for h in halves] + [0.0, float(qmax)])  # [0, qmax]: scale 1, zero-point 0
    qt = Q.quantize_tensor(w, bits, scheme)
    if float(qt.scale) != 1.0:
        return
    expected = torch.round(w).clamp(*Q.quant_range(bits, scheme))  # torch.round is half to even
    assert torch.equal(qt.codes.reshape(-1).float(), expected)
    assert all(int(c) % 2 == 0 for c, v in zip(qt.codes.reshape(-1), w) if v % 1 == 0.5 and abs(v) < qmax)


# ---- number formats ------------------------------------------------------------------------------------------------
float_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                         st.sampled_from([0.0, -0.0, 65504.0, 65520.0, 70000.0, 1e-8, 6e-8, 3.4e38, 3.5e38, 1e-45]))


@examples(150)
@given(float_values, st.sampled_from(["fp32", "fp16", "bf16"]))
def test_bit_fields_round_trip_to_the_number_torch_stores_including_inf_and_nan(value, name):
    fields = numformats.bit_fields(value, name)
    fmt = numformats.number_format(name)
    assert (len(fields["sign"]), len(fields["exponent"]), len(fields["mantissa"])) == \
        (1, fmt.exponent_bits, fmt.mantissa_bits)
    stored = torch.tensor(value, dtype=numformats.TORCH_DTYPES[name])
    as_int = stored.view(torch.int32 if fmt.bits == 32 else torch.int16).item() & (2 ** fmt.bits - 1)
    assert fields["sign"] + fields["exponent"] + fields["mantissa"] == format(as_int, f"0{fmt.bits}b")
    decoded, expected = numformats.value_from_fields(fields, name), stored.item()
    if math.isnan(expected):
        assert math.isnan(decoded)
    else:
        assert decoded == expected and math.copysign(1, decoded) == math.copysign(1, expected)  # -0.0 too


@examples(40)
@given(st.sampled_from(["int8", "int4"]), st.data())
def test_int_bit_fields_round_trip_every_value(name, data):
    fmt = numformats.number_format(name)
    value = data.draw(st.integers(int(fmt.smallest), int(fmt.largest)))
    assert numformats.value_from_fields(numformats.bit_fields(value, name), name) == value
    with pytest.raises(ValueError, match="value must be a whole number"):
        numformats.bit_fields(data.draw(st.sampled_from([fmt.largest + 1, fmt.smallest - 1, 0.5, math.nan, math.inf])), name)


@examples(20)
@given(dtypes)
def test_number_formats_read_finfo(dtype):
    name = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}.get(dtype)
    if name is None:
        return  # fp64 is not a storage format the chapter compares
    fmt, info = numformats.number_format(name), torch.finfo(dtype)
    assert (fmt.largest, fmt.smallest, fmt.eps, fmt.smallest_normal) == (info.max, info.min, info.eps, info.smallest_normal)
    assert numformats.value_from_fields({"sign": "0", "exponent": "1" * fmt.exponent_bits, "mantissa": "0" * fmt.mantissa_bits},
                               name) == math.inf


@examples(20)
@given(shapes(min_dims=1), bits_, schemes)
def test_levels_and_quant_range_agree(shape, bits, scheme):
    qt = Q.quantize_tensor(torch.linspace(-1, 1, math.prod(shape)).reshape(shape), bits, scheme)
    qmin, qmax = Q.quant_range(bits, scheme)
    assert Q.quant_range(qt.bits, qt.scheme) == (qmin, qmax)
    assert_close(qt.levels(), Q.grid_levels(qt.scale[0], qt.zero_point[0], bits, scheme), rtol=0, atol=0)
    if scheme == "symmetric":
        assert (qmin, qmax) == (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1)


def test_keep_outliers_is_dtype_faithful():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        w = torch.linspace(-1, 1, 12, dtype=dtype).reshape(3, 4)
        w[1, 1] = 30
        out = Q.fake_quantize_keep_outliers(w, 4, n_outliers=1)
        assert out.dtype == dtype and out[1, 1] == 30


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.quantize_per_* are deprecated in 2.13: still our reference
        yield
