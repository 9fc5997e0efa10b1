"""Chapter 6: every quantizer in knobs.quantize checked against PyTorch's own."""
import struct
import warnings

import pytest
import torch
from torch.testing import assert_close

from knobs import train
from knobs import numformats
from knobs import quantize as Q


@pytest.fixture(autouse=True)
def quiet_deprecations():
    # torch.quantize_per_* and torch.ao.quantization warn that they are deprecated in 2.13: they are our reference.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def weights(rows=6, cols=16, seed=0):
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed)) * 0.4


# ---- number formats -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, bits, exponent, mantissa", [("fp32", 32, 8, 23), ("fp16", 16, 5, 10), ("bf16", 16, 8, 7)])
def test_float_layouts_come_from_finfo(name, bits, exponent, mantissa):
    fmt = numformats.number_format(name)
    info = torch.finfo(numformats.TORCH_DTYPES[name])
    assert (fmt.bits, fmt.exponent_bits, fmt.mantissa_bits) == (bits, exponent, mantissa)
    assert fmt.largest == info.max and fmt.eps == info.eps and fmt.smallest_normal == info.smallest_normal


def test_int_ranges_from_iinfo_and_int4_from_its_bits():
    assert (numformats.number_format("int8").smallest, numformats.number_format("int8").largest) == (-128, 127)
    assert (numformats.number_format("int4").smallest, numformats.number_format("int4").largest) == (-8, 7)
    assert numformats.int_range(4, signed=False) == (0, 15)
    with pytest.raises(ValueError, match="name must be one of"):
        numformats.number_format("fp8")
    with pytest.raises(ValueError, match="between 1 and 32"):
        numformats.int_range(0)


@pytest.mark.parametrize("name", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("value", [0.1, -2.5, 3.14159, 1e-3, 65504.0])
def test_bit_fields_decode_to_the_number_torch_stores(name, value):
    fields = numformats.bit_fields(value, name)
    fmt = numformats.number_format(name)
    assert len(fields["exponent"]) == fmt.exponent_bits and len(fields["mantissa"]) == fmt.mantissa_bits
    stored = torch.tensor(value, dtype=numformats.TORCH_DTYPES[name]).item()
    assert numformats.value_from_fields(fields, name) == stored


def float_to_bits32(value: float) -> str:
    """fp32 bit pattern from Python's struct module: an encoder independent of torch (the test's oracle)."""
    return format(struct.unpack(">I", struct.pack(">f", value))[0], "032b")


def test_fp32_bits_match_an_independent_encoder():
    for value in (0.1, -7.75, 1e-20):
        fields = numformats.bit_fields(value, "fp32")
        assert fields["sign"] + fields["exponent"] + fields["mantissa"] == float_to_bits32(value)


def test_int_bit_fields_are_twos_complement():
    assert numformats.bit_fields(-1, "int8") == {"twos_complement": "11111111"}  # -128 + 127, not "minus 127"
    assert numformats.bit_fields(-3, "int8") == {"twos_complement": "11111101"}  # -128 + 125: no magnitude field
    assert numformats.bit_fields(-128, "int8") == {"twos_complement": "10000000"}
    int8 = numformats.number_format("int8")
    assert (int8.sign_bits, int8.exponent_bits, int8.mantissa_bits) == (0, 0, 0)
    assert numformats.value_from_fields(numformats.bit_fields(-8, "int4"), "int4") == -8
    with pytest.raises(ValueError, match="between -8 and 7"):
        numformats.bit_fields(9, "int4")


# ---- quantizers against PyTorch -------------------------------------------------------------------------------------
def test_symmetric_per_tensor_int8_matches_quantize_per_tensor():
    w = weights()
    qt = Q.quantize_tensor(w, bits=8, scheme="symmetric", granularity="tensor")
    scale = float(qt.scale)
    ref = torch.quantize_per_tensor(w, scale, 0, torch.qint8)
    assert_close(qt.codes.reshape(w.shape), ref.int_repr().to(torch.int32), rtol=0, atol=0)
    assert_close(qt.dequantize(), ref.dequantize())
    assert int(qt.codes.abs().max()) == 127  # max|w| lands on the top code


def test_affine_per_tensor_uint8_matches_quantize_per_tensor():
    w = weights().abs() + 0.1  # all positive: the zero-point case that matters
    qt = Q.quantize_tensor(w, bits=8, scheme="affine", granularity="tensor")
    ref = torch.quantize_per_tensor(w, float(qt.scale), int(qt.zero_point), torch.quint8)
    assert_close(qt.codes.reshape(w.shape), ref.int_repr().to(torch.int32), rtol=0, atol=0)
    assert_close(qt.dequantize(), ref.dequantize())


def test_affine_range_contains_zero_exactly():
    w = weights() + 3.0  # a range far from zero still represents 0.0 exactly
    qt = Q.quantize_tensor(w, bits=4, scheme="affine")
    assert_close(Q.dequantize_codes(qt.zero_point, qt.scale, qt.zero_point), torch.zeros(1, 1))


@pytest.mark.parametrize("scheme, dtype", [("symmetric", torch.qint8), ("affine", torch.quint8)])
def test_per_channel_matches_quantize_per_channel(scheme, dtype):
    w = weights() * torch.linspace(0.1, 3.0, 6)[:, None]  # rows of very different sizes
    qt = Q.quantize_tensor(w, bits=8, scheme=scheme, granularity="channel")
    ref = torch.quantize_per_channel(w, qt.scale.ravel().double(), qt.zero_point.ravel(), 0, dtype)
    assert_close(qt.codes.reshape(w.shape), ref.int_repr().to(torch.int32), rtol=0, atol=0)
    assert_close(qt.dequantize(), ref.dequantize())


def test_group_wise_is_per_channel_over_groups():
    w = weights(4, 16)
    qt = Q.quantize_tensor(w, bits=8, granularity="group", group_size=4)
    assert qt.scale.shape == (16, 1)  # 4 rows x 4 groups
    grouped = w.reshape(-1, 4)
    ref = torch.quantize_per_channel(grouped, qt.scale.ravel().double(), qt.zero_point.ravel(), 0, torch.qint8)
    assert_close(qt.dequantize(), ref.dequantize().reshape(w.shape))
    with pytest.raises(ValueError, match="group_size must divide"):
        Q.quantize_tensor(w, bits=4, granularity="group", group_size=5)


@pytest.mark.parametrize("bits", [2, 3, 4, 6])
@pytest.mark.parametrize("scheme", ["symmetric", "affine"])
def test_low_bit_fake_quantize_matches_torch_fake_quantize(bits, scheme):
    w = weights()
    qt = Q.quantize_tensor(w, bits=bits, scheme=scheme, granularity="channel")
    qmin, qmax = Q.quant_range(bits, scheme)
    ref = torch.fake_quantize_per_channel_affine(w, qt.scale.ravel(), qt.zero_point.ravel().int(), 0, qmin, qmax)
    assert_close(Q.fake_quantize(w, bits, scheme, "channel"), ref)
    assert len(torch.unique(qt.codes)) <= 2 ** bits


def test_finer_scales_never_lose_to_coarser_ones_and_error_falls_with_bits():
    w = weights() * torch.linspace(0.1, 3.0, 6)[:, None]
    for bits in (3, 4, 8):
        errors = [Q.relative_error(w, Q.fake_quantize(w, bits, granularity=g, group_size=4)) for g in Q.GRANULARITIES]
        assert errors[0] >= errors[1] >= errors[2]
    e4, e8 = (Q.relative_error(w, Q.fake_quantize(w, b)) for b in (4, 8))
    assert e8 < e4 / 8  # each extra bit roughly halves the error


def test_an_outlier_ruins_a_per_tensor_scale_but_not_per_channel():
    w = weights()
    w_out = w.clone()
    w_out[0, 0] = 20 * w.abs().max()
    ordinary = torch.ones_like(w, dtype=torch.bool)
    ordinary[0] = False  # the other rows
    per_tensor = Q.fake_quantize(w_out, 4, granularity="tensor")
    per_channel = Q.fake_quantize(w_out, 4, granularity="channel")
    assert (per_tensor[ordinary] == 0).all()  # the step is bigger than every ordinary weight
    assert_close(per_channel[ordinary], Q.fake_quantize(w, 4, granularity="channel")[ordinary])


def test_keeping_the_outlier_aside_restores_the_ordinary_weights():
    w = weights()
    w_out = w.clone()
    w_out[2, 5] = -20 * w.abs().max()
    kept = Q.fake_quantize_keep_outliers(w_out, 4, n_outliers=1)
    assert kept[2, 5] == w_out[2, 5]
    without = w.clone()
    without[2, 5] = 0.0
    expected = Q.fake_quantize(without, 4)
    expected[2, 5] = w_out[2, 5]
    assert_close(kept, expected)
    with pytest.raises(ValueError, match="n_outliers"):
        Q.fake_quantize_keep_outliers(w, 4, n_outliers=-1)


def test_storage_counts_scales():
    qt = Q.quantize_tensor(torch.randn(4, 256), bits=4, granularity="group", group_size=128)
    assert qt.bits_per_weight() == 4 + 16 / 128
    assert Q.quantize_tensor(torch.randn(4, 256), bits=4, scheme="affine", granularity="group",
                             group_size=128).bits_per_weight() == 4 + (16 + 4) / 128


@pytest.mark.parametrize("kwargs, message", [
    (dict(bits=1), "bits must be a whole number between 2 and 16"), (dict(bits=4.0), "bits must"),
    (dict(scheme="log"), "scheme must be one of"), (dict(granularity="row"), "granularity must be one of"),
    (dict(group_size=0), "group_size"), (dict(clip=0), "clip must be")])
def test_bad_options_name_the_argument_and_its_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Q.quantize_tensor(weights(), **kwargs)


def test_zero_tensor_and_bad_tensor():
    assert_close(Q.fake_quantize(torch.zeros(3, 4), 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="floating-point"):
        Q.quantize_tensor(torch.ones(3, dtype=torch.long))


# ---- straight-through estimator, whole models -----------------------------------------------------------------------
def test_straight_through_gradient_matches_torch_fake_quantize():
    x = (torch.randn(50, generator=torch.Generator().manual_seed(1)) * 2).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    scale, zero_point, qmin, qmax = 0.1, 3, -8, 7  # some values fall outside the range: their gradient is 0
    out = Q.FakeQuantizeSTE.apply(x, torch.tensor(scale), torch.tensor(zero_point), qmin, qmax)
    ref = torch.fake_quantize_per_tensor_affine(x_ref, scale, zero_point, qmin, qmax)
    upstream = torch.linspace(-1, 1, 50)
    out.backward(upstream)
    ref.backward(upstream)
    assert_close(out, ref)
    assert_close(x.grad, x_ref.grad)
    assert (x.grad == 0).any() and (x.grad != 0).any()


def test_ptq_leaves_the_original_alone_and_quantizes_matrices_only(trained_model, farm):
    vocab, X, y, X_val, y_val = farm
    before = {k: v.clone() for k, v in trained_model.state_dict().items()}
    q = Q.quantize_model(trained_model, bits=2, granularity="tensor")
    for name, value in trained_model.state_dict().items():
        assert torch.equal(value, before[name])
    assert len(torch.unique(q.hidden.weight)) <= 3 and torch.equal(q.hidden.bias, trained_model.hidden.bias)
    fp32 = train.evaluate(trained_model, X_val, y_val)
    assert abs(train.evaluate(Q.quantize_model(trained_model, 8), X_val, y_val) - fp32) < 0.01
    assert train.evaluate(q, X_val, y_val) > fp32 + 0.3  # 2 bits per tensor: visibly worse
    with pytest.raises(ValueError, match="names"):
        Q.quantize_model(trained_model, 8, names=["nope.weight"])


def test_qat_trains_float_weights_through_quantized_ones(trained_model, farm):
    vocab, X, y, X_val, y_val = farm
    qat = Q.prepare_qat(trained_model, bits=2, granularity="channel")
    start = train.evaluate(qat, X_val, y_val)
    assert abs(start - train.evaluate(Q.quantize_model(trained_model, 2, granularity="channel"), X_val, y_val)) < 1e-5
    list(train.train_lm(qat, X, y, steps=100, lr=0.003, every=100, seed=1))
    assert train.evaluate(qat, X_val, y_val) < start - 0.1
    baked = Q.finish_qat(qat)
    assert all(len(torch.unique(row)) <= 3 for row in baked.hidden.weight)  # still 2-bit weights, per row
    assert not any("parametrizations" in n for n, _ in baked.named_parameters())


def test_dynamic_int8_runs_is_smaller_and_close(trained_model, farm):
    vocab, X, y, X_val, y_val = farm
    q, messages = Q.quantize_dynamic_int8(trained_model)
    assert "DynamicQuantizedLinear" in repr(q)
    assert Q.saved_bytes(q) < Q.saved_bytes(trained_model)
    assert abs(train.evaluate(q, X_val, y_val) - train.evaluate(trained_model, X_val, y_val)) < 0.02
    assert all(isinstance(m, str) for m in messages)

