"""Regression tests for issue 18: each defect as it was seen, with the answer it must give now.

The first part follows the issue's list; the second, the defects the property tests found.
"""
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from knobs import descent, embeddings, initialization, lora, models, prune, regularize
from knobs import numformats
from knobs import quantize as Q
from knobs.autograd import Value


# ---- the issue's list -----------------------------------------------------------------------------------------------
def test_symmetric_clipping_cuts_both_sides_alike_and_stays_on_the_grid():
    out = Q.fake_quantize(torch.tensor([-1.0, 1.0]), bits=2, clip=0.5)
    assert out.tolist() == [-0.5, 0.5]  # was [-1.0, 0.5]: the negative side kept one more step
    qt = Q.quantize_tensor(torch.tensor([-1.0, 1.0]), bits=2, clip=0.5)
    assert set(out.tolist()) <= set(qt.levels().tolist()) and qt.levels().tolist() == [-0.5, 0.0, 0.5]
    assert Q.quant_range(2, "symmetric") == (-1, 1) and Q.quant_range(8, "symmetric") == (-127, 127)
    assert Q.quant_range(qt.bits, qt.scheme) == (-1, 1)


def test_symmetric_range_is_shared_by_the_straight_through_estimator_and_qat():
    w = torch.tensor([[-1.0, -0.3, 0.2, 1.0]])
    quantizer = Q.WeightFakeQuantizer(bits=2, granularity="tensor")
    assert quantizer(w).tolist() == Q.fake_quantize(w, 2).tolist() == [[-1.0, 0.0, 0.0, 1.0]]
    codes = torch.round(torch.tensor([-3.0, 3.0]))  # beyond the range: the STE clamps to -1 and 1, not -2
    assert Q.FakeQuantizeSTE.apply(codes, torch.tensor(1.0), None, *Q.quant_range(2, "symmetric")).tolist() == [-1, 1]


def test_tiny_weights_keep_codes_in_range_and_zero_at_zero():
    qt = Q.quantize_tensor(torch.tensor([1e-37, 0.0, -1e-37]), bits=8)
    assert qt.codes.tolist() == [[0, 0, 0]]  # was [127, -2147483648, -128]: 1/scale overflowed
    assert float(qt.scale) == Q.EPS == torch.finfo(torch.float32).eps  # PyTorch's observers clamp the same way
    assert Q.fake_quantize(torch.tensor([1e-37, 0.0]), 8).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused_by_the_quantizers(bad):
    w = torch.tensor([1.0, bad, 0.5])
    model = nn.Linear(3, 1)
    with torch.no_grad():
        model.weight.copy_(w.reshape(1, 3))  # a diverged run
    for call in (lambda: Q.quantize_tensor(w), lambda: Q.fake_quantize(w, 4, "affine", "channel"),
                 lambda: Q.quantize_model(model, 4)):
        with pytest.raises(ValueError, match=r"w must hold only finite numbers .* got 1 NaN or inf of 3"):
            call()


def test_float64_weights_beyond_float32_are_refused_not_turned_into_garbage():
    with pytest.raises(ValueError, match="within float32's range"):
        Q.fake_quantize(torch.tensor([1e300, 1.0], dtype=torch.float64), 8)


@pytest.mark.parametrize("value, name, expected", [(70000.0, "fp16", math.inf), (-70000.0, "fp16", -math.inf),
                                                   (math.inf, "bf16", math.inf), (1e39, "fp32", math.inf)])
def test_bit_fields_of_inf_decode_as_inf(value, name, expected):
    assert numformats.value_from_fields(numformats.bit_fields(value, name), name) == expected  # 70000 in fp16 decoded to 65536


@pytest.mark.parametrize("name", ["fp32", "fp16", "bf16"])
def test_bit_fields_of_nan_decode_as_nan(name):
    assert math.isnan(numformats.value_from_fields(numformats.bit_fields(math.nan, name), name))  # fp32 decoded to 5.1e38


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_lora_wraps_any_float_layer_and_merges_in_its_dtype(dtype):
    base = nn.Linear(4, 3, dtype=dtype)
    layer = lora.LoRALinear(base, rank=2)
    x = torch.randn(2, 4, dtype=dtype)
    assert layer(x).dtype == dtype  # crashed at the first forward: float32 adapters
    merged = layer.merge()
    assert merged.weight.dtype == dtype  # merge() returned float32 whatever the base
    layer.enabled = False
    with torch.no_grad():
        layer.B.fill_(1.0)
        assert torch.equal(layer.merge().weight, base.weight)  # merge() ignored enabled=False


@pytest.mark.parametrize("module", [nn.BatchNorm1d(3), nn.BatchNorm2d(3), nn.GroupNorm(1, 3), nn.RMSNorm(3),
                                    nn.InstanceNorm1d(3, affine=True)], ids=lambda m: type(m).__name__)
def test_norm_gains_are_norms_and_never_decayed(module):
    assert {models.parameter_kind(module, n) for n, _ in module.named_parameters()} == {"norm"}
    assert not regularize.split_decay(nn.Sequential(module)).decay


@pytest.mark.parametrize("module", [nn.MultiheadAttention(4, 2), nn.GRU(3, 4), nn.LSTM(3, 4)],
                         ids=lambda m: type(m).__name__)
def test_attention_and_recurrent_biases_are_biases_and_never_decayed(module):
    split = regularize.split_decay(nn.Sequential(module))
    assert not any("bias" in name for name in split.decay)
    assert any("bias" in name for name in split.no_decay)


def test_zero_to_the_power_zero_has_gradient_zero_like_torch():
    x = Value(0.0)
    (x ** 0).backward()  # raised ZeroDivisionError
    t = torch.tensor(0.0, requires_grad=True)
    (t ** 0).backward()
    assert x.grad == t.grad.item() == 0.0


def test_exp_that_overflows_names_the_operation():
    with pytest.raises(ValueError, match=r"exp of 1000 gives inf, beyond the largest float"):  # a bare OverflowError
        Value(1000.0).exp()
    with pytest.raises(ValueError, match=r"\*\*2 of 1e\+200"):
        Value(1e200) ** 2


@pytest.mark.parametrize("call, message", [
    (lambda: regularize.adam_step(torch.ones(2), torch.ones(2), regularize.AdamState(), betas=(1.0, 0.999)),
     r"betas\[0\] must be a number in \[0, 1\), got 1.0"),
    (lambda: regularize.adam_step(torch.ones(2), torch.ones(2), regularize.AdamState(), lr=math.nan),
     r"lr must be a number in \[0, inf\), got nan"),
    (lambda: regularize.sgd_step(torch.ones(2), torch.ones(2), lr=-0.1), r"lr must be a number in \[0, inf\), got -0.1"),
    (lambda: lora.LoRALinear(nn.Linear(4, 4), rank=True), "rank must be a whole number between 1 and 4, got True"),
    (lambda: prune.structured_mask(torch.randn(4, 4), 0.5, p=-1), "p must be a positive number or math.inf"),
    (lambda: initialization.init_normal_(torch.empty(4), "he"), r"weight must be .* at least 2 dimensions .* \(4,\)"),
    (lambda: regularize.l2_penalty(nn.Linear(2, 2).named_parameters(), 0.1),
     r"params must be tensors, got a tuple \(pass model.parameters\(\), not model.named_parameters\(\)\)"),
    (lambda: prune.global_magnitude_masks({"a": torch.randn(4), "b": torch.randn(3)}, 0.5, {"a": torch.ones(4)}),
     r"masks must have one mask per weight, for exactly \['a', 'b'\]; got \['a'\]"),
    (lambda: descent.make_optimizer("sgd", 0.1, momentum="0.5"), r"momentum must be in \[0, 1\), got '0.5'"),
])
def test_validation_gaps_named_in_the_issue_give_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- found by the property tests ------------------------------------------------------------------------------------
def test_qat_of_small_fp16_weights_no_longer_collapses():
    """fp16's 1/scale overflowed for weights below ~1e-3: every weight came out as ±max|w|."""
    w = (torch.linspace(-1, 1, 8) * 1e-3).half().reshape(2, 4)
    assert torch.equal(Q.WeightFakeQuantizer(8, granularity="tensor")(w), Q.fake_quantize(w, 8))
    assert len(torch.unique(Q.WeightFakeQuantizer(8, granularity="tensor")(w))) == 8


@pytest.mark.parametrize("scheme", ["symmetric", "affine"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_qat_turns_a_non_finite_block_into_nan_instead_of_numbers(scheme, bad):
    """A NaN made the scale fall back to 1.0 and its neighbours looked fine; -inf (affine) gave inf."""
    w = torch.tensor([[1.0, bad], [1.0, 2.0]])
    out = Q.WeightFakeQuantizer(4, scheme, "channel")(w)
    assert bool(torch.isnan(out[0]).all()) and bool(torch.isfinite(out[1]).all())


def test_bad_quantizer_options_are_named():
    with pytest.raises(ValueError, match="clip must be a number in"):
        Q.fake_quantize(torch.randn(4), 4, clip=True)  # True was taken as clip = 1
    with pytest.raises(ValueError, match="granularity must be one of"):
        Q.blocks(torch.randn(2, 4), "row")  # was treated as "group"
    with pytest.raises(ValueError, match="block must be a whole number between -1 and 0, got 99"):
        Q.quantize_tensor(torch.randn(2, 4), 4).levels(99)  # IndexError
    with pytest.raises(ValueError, match="value must be a whole number between -128 and 127 for int8, got nan"):
        numformats.bit_fields(math.nan, "int8")  # "cannot convert float NaN to integer"
    with pytest.raises(ValueError, match="fields must be a dict of bit strings"):
        numformats.value_from_fields({"sign": "0", "exponent": "1"}, "fp16")  # KeyError


def test_power_and_division_backward_rules_follow_torch_where_python_raised():
    v = Value(1e-200)
    (v ** -1).backward()  # raised OverflowError in the backward pass
    assert v.grad == -math.inf
    a, b = Value(1e-300), Value(1e-300)
    (a / b).backward()  # raised ZeroDivisionError: b**2 underflowed
    assert b.grad == pytest.approx(-1e300)
    x = Value(0.0)
    (x ** 0.5).backward()  # was refused ("needs a positive base"); torch: value 0, gradient inf
    assert x.grad == math.inf


def test_relu_masks_an_infinite_upstream_gradient_as_torch_does():
    x = Value(0.0)
    (x.relu() ** 0.5).backward()  # 0 * inf was NaN; torch's relu passes nothing where the input is not positive
    assert x.grad == 0.0


def test_value_accepts_numpy_numbers():
    assert Value(np.float32(1.5)).data == 1.5  # was "data must be a finite number"


def test_adam_in_fp16_keeps_steps_that_an_intermediate_would_lose():
    """lr * m_hat underflowed and g**2 overflowed (|g| > 256) in fp16: the weight did not move."""
    ours = regularize.adam_step(torch.zeros(1).half(), torch.tensor([1000.0]).half(), regularize.AdamState(), lr=0.1)
    p = nn.Parameter(torch.zeros(1).half())
    p.grad = torch.tensor([1000.0]).half()
    torch.optim.Adam([p], lr=0.1).step()
    assert ours.item() == pytest.approx(-0.1, rel=1e-3) and ours.item() == pytest.approx(p.item(), rel=1e-3)


def test_steps_refuse_a_gradient_of_another_shape_instead_of_broadcasting():
    with pytest.raises(ValueError, match=r"grad must have w's shape \(3, 1\), got \(3,\)"):
        regularize.sgd_step(torch.ones(3, 1), torch.ones(3), lr=0.1)  # silently returned a (3, 3) tensor
    with pytest.raises(ValueError, match="grad must have w's shape"):
        regularize.adam_step(torch.ones(3, 1), torch.ones(3), regularize.AdamState())


def test_dropout_and_soft_threshold_keep_the_inputs_dtype():
    x = torch.ones(4, dtype=torch.float16)
    assert regularize.dropout(x, 0.5, mask=torch.ones(4)).dtype == torch.float16  # was float32
    assert regularize.soft_threshold(x, torch.tensor(0.1, dtype=torch.float64)).dtype == torch.float16


def test_masks_refuse_nan_weights_and_non_binary_masks():
    with pytest.raises(ValueError, match="weight holds NaN"):
        prune.magnitude_mask(torch.tensor([1.0, math.nan, 0.5, 2.0]), 0.5)  # NaN ranked largest and was kept
    with pytest.raises(ValueError, match="mask must hold only 0s"):
        prune.magnitude_mask(torch.randn(4), 0.5, mask=torch.tensor([0.5, 1.0, 1.0, 1.0]))


def test_apply_masks_refuses_unknown_names_and_shapes_that_would_broadcast():
    layer = nn.Linear(2, 3)
    with pytest.raises(ValueError, match=r"masks\['weight'\] must have the parameter's shape \(3, 2\), got \(3, 1\)"):
        prune.apply_masks(layer, {"weight": torch.tensor([[1.0], [0.0], [1.0]])})  # pruned a whole row, silently
    with pytest.raises(ValueError, match="'nope' is not a parameter"):
        prune.apply_masks(layer, {"nope": torch.ones(2)})  # KeyError


def test_hold_masks_works_for_a_half_precision_model():
    model = nn.Linear(3, 2).half()
    with prune.hold_masks(model, {"weight": torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])}):
        model(torch.randn(4, 3).half()).sum().backward()  # the float32 mask changed the gradient's dtype: crash
    assert model.weight.grad.dtype == torch.float16 and model.weight.grad[0, 1] == 0


def test_ties_are_pruned_in_index_order_on_every_size():
    for n in (8, 100, 3000):  # torch.topk's order among ties changes with the size
        mask = prune.magnitude_mask(torch.ones(n), 0.5)
        assert mask[: n // 2].sum() == 0 and mask[n // 2:].sum() == n // 2


def test_cosine_of_large_and_tiny_vectors_is_right():
    v = torch.tensor([1.0, 2.0, 3.0])
    for c in (1e30, 1e-30):
        assert embeddings.cosine_similarity(v * c, v * c, dim=0, eps=1e-38).item() == pytest.approx(1.0, abs=1e-6)


def test_embedding_functions_name_bad_arguments():
    with pytest.raises(ValueError, match="k must be between 1 and 2"):
        embeddings.principal_axes(torch.randn(2, 3), 3)  # returned 2 axes for k = 3
    with pytest.raises(ValueError, match="E must hold only finite numbers"):
        embeddings.principal_axes(torch.tensor([[1.0, math.nan], [0.0, 1.0], [2.0, 3.0]]))  # LinAlgError
    with pytest.raises(ValueError, match="a and b must be floating-point tensors"):
        embeddings.cosine_similarity(torch.tensor([1, 2]), torch.tensor([3, 4]))  # RuntimeError from vector_norm
    with pytest.raises(ValueError, match="at least 1 dimension"):
        embeddings.cosine_similarity(torch.tensor(1.0), torch.tensor(2.0))  # "between 0 and -1"
    with pytest.raises(ValueError, match="num_words must be a whole number"):
        embeddings.one_hot(torch.tensor([0]), True)
    with pytest.raises(ValueError, match="seed must be a whole number"):
        embeddings.random_rotation(3, seed="a")  # RuntimeError from manual_seed


def test_init_normal_takes_conv_weights_with_torchs_fans():
    w = initialization.init_normal_(torch.empty(8, 3, 3, 3), "he", torch.Generator().manual_seed(0))  # crashed
    ref = nn.init.kaiming_normal_(torch.empty(8, 3, 3, 3), nonlinearity="relu",
                                  generator=torch.Generator().manual_seed(0))
    assert torch.equal(w, ref)


def test_lora_on_the_meta_device_and_bad_alpha():
    assert lora.LoRALinear(nn.Linear(4, 4, device="meta"), 2).A.device.type == "meta"  # A was made on the CPU
    for alpha in (math.nan, "2", 0):
        with pytest.raises(ValueError, match="alpha must be a positive finite number"):
            lora.LoRALinear(nn.Linear(4, 4), 2, alpha=alpha)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---- part 2: what the public-API walk (tests/unit/test_public_api.py) found ------------------------------------------
def test_a_value_beyond_the_largest_float_is_refused_not_an_overflow_error():
    with pytest.raises(ValueError, match=r"data must be a finite number .*got an integer of 309 digits"):
        Value(2 ** 1024)  # was a bare OverflowError from math.isfinite
    with pytest.raises(ValueError, match=r"x must be a finite number or a Value, got an integer of 309 digits"):
        Value(1.0) + 2 ** 1024


def test_the_quantizer_building_blocks_refuse_bad_arguments():
    w, scale = torch.randn(4, 6), torch.full((4, 1), 0.1)
    with pytest.raises(ValueError, match="scheme must be one of 'symmetric', 'affine'; got 'unsigned'"):
        Q.quant_range(8, "unsigned")  # was silently the affine range
    with pytest.raises(ValueError, match="scheme must be one of"):
        Q.compute_qparams(w, 4, "nope")  # was silently affine
    with pytest.raises(ValueError, match=r"clip must be a number in \(0, 1\], got 1.5"):
        Q.compute_qparams(w, 4, clip=1.5)  # was a scale that clips nothing and wastes a third of the grid
    with pytest.raises(ValueError, match=r"w_blocks must be a floating-point tensor with 2 dimensions, got"):
        Q.compute_qparams(torch.ones(3), 4)
    with pytest.raises(ValueError, match="scale must be above 0 everywhere"):
        Q.quantize_codes(w, -scale, 0, -7, 7)  # was codes of the wrong sign
    with pytest.raises(ValueError, match="zero_point must be a whole number, got 0.5"):
        Q.quantize_codes(w, scale, 0.5, -7, 7)
    with pytest.raises(ValueError, match=r"qmax must be above qmin \(7\), got -7"):
        Q.quantize_codes(w, scale, 0, 7, -7)
    with pytest.raises(ValueError, match=r"w_hat must be w's shape \(4, 6\), got a float32 tensor of shape \(6,\)"):
        Q.relative_error(w, w[0])  # was a broadcast: an error of the wrong numbers


def test_a_string_where_a_flag_belongs_is_refused_not_read_as_true():
    w = torch.ones(3)
    with pytest.raises(TypeError, match="decoupled must be True or False, got 'no'"):
        regularize.adam_step(w, w, regularize.AdamState(), decoupled="no")  # was AdamW's decay, silently
    with pytest.raises(TypeError, match="trainable_only must be True or False, got 'no'"):
        models.count_parameters(nn.Linear(2, 2), trainable_only="no")


def test_partial_dicts_are_refused_by_name_instead_of_a_bare_key_error():
    from knobs import checkpoints

    model = models.make_tiny_lm(29)
    with pytest.raises(ValueError, match=r"masks must be a dict with a mask for each of \['hidden.weight', 'out"):
        prune.prune_masks(model, 0.5, "layer-wise", {"hidden.weight": torch.ones(32, 16)})
    with pytest.raises(ValueError, match="names must be a list of the model's parameter names"):
        prune.sparsity_of(model, ["nope"])
    with pytest.raises(ValueError, match="hf must be a GPT-2 config.json with vocab_size"):
        checkpoints.config_from_hf({"model_type": "gpt2"})


def test_lab_declarations_fail_where_they_are_written():
    from knobs.lab import Choice, Lab
    from knobs.lab.render import Renderer
    from knobs.lab.views import CurvesView

    with pytest.raises(ValueError, match=r"views must be a list of at least one View, got a list \[\]"):
        Renderer([], 10)  # was ZeroDivisionError
    with pytest.raises(TypeError, match="metrics must be a list of strings, got 'val_loss'"):
        CurvesView("val_loss")  # was eight one-letter curves: v, a, l, ...
    with pytest.raises(ValueError, match="twin: kind must be one of a, b; got 'c'"):
        Choice("kind", "kind", ("a", "b"), twin=("c",))  # was an error only when the book was built
    with pytest.raises(TypeError, match="steps must be a whole number 1 or more, got '300'"):
        Lab("x", "X", [], lambda values, steps, every: iter(()), [], steps="300")
