"""Dtype faithfulness: each from-scratch function returns its input's dtype, or the dtype its docstring names.

One row per function; every row runs in fp16, bf16, fp32 and fp64. The property tests
check the values; this table makes the dtype rule visible in one place.
"""
import warnings

import pytest
import torch
from torch import nn

from knobs import backprop, embeddings, initialization, lora, models, prune, regularize, weightonly
from knobs import quantize as Q

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
SAME = "the input's dtype"
AT_LEAST_FLOAT32 = "float32, or float64 for float64 (documented: CPU SVD / tables)"
FLOAT32 = "float32 (documented: a QuantizedTensor stores float32 scales and dequantizes to float32)"


def w(dtype, shape=(4, 6)):
    return torch.linspace(-1, 1, torch.Size(shape).numel(), dtype=torch.float64).reshape(shape).to(dtype)


def lora_forward(dtype):
    return lora.LoRALinear(nn.Linear(6, 4, dtype=dtype), 2)(w(dtype, (3, 6)))


def hold_masks_grad(dtype):
    model = nn.Linear(6, 4, dtype=dtype)
    with prune.hold_masks(model, {"weight": prune.magnitude_mask(model.weight, 0.5)}):
        model(w(dtype, (3, 6))).sum().backward()
    return model.weight.grad


def backward_grad(dtype):
    model = models.make_tiny_lm(5, context=2, embed_dim=3, hidden=4).to(dtype)
    return backprop.tiny_lm_backward(model, torch.tensor([[0, 1], [2, 3]]), torch.tensor([4, 0]))["hidden.weight"]


CASES = {
    "quantize.fake_quantize": (lambda d: Q.fake_quantize(w(d), 4, "affine", "group", 3), SAME),
    "quantize.fake_quantize_keep_outliers": (lambda d: Q.fake_quantize_keep_outliers(w(d), 4, 1), SAME),
    "quantize.WeightFakeQuantizer": (lambda d: Q.WeightFakeQuantizer(4)(w(d)), SAME),
    "quantize.quantize_model": (lambda d: Q.quantize_model(nn.Linear(6, 4, dtype=d), 4).weight, SAME),
    "quantize.quantize_tensor().dequantize": (lambda d: Q.quantize_tensor(w(d), 4).dequantize(), FLOAT32),
    "regularize.l2_penalty": (lambda d: regularize.l2_penalty([w(d)], 0.1), SAME),
    "regularize.l1_penalty": (lambda d: regularize.l1_penalty([w(d)], 0.1), SAME),
    "regularize.l2_gradient": (lambda d: regularize.l2_gradient(w(d), 0.1), SAME),
    "regularize.l1_gradient": (lambda d: regularize.l1_gradient(w(d), 0.1), SAME),
    "regularize.soft_threshold": (lambda d: regularize.soft_threshold(w(d), torch.tensor(0.1, dtype=torch.float64)),
                                  SAME),
    "regularize.sgd_step": (lambda d: regularize.sgd_step(w(d), w(d), 0.1, 0.01), SAME),
    "regularize.adam_step": (lambda d: regularize.adam_step(w(d), w(d), regularize.AdamState(), weight_decay=0.1,
                                                            decoupled=True), SAME),
    "regularize.dropout": (lambda d: regularize.dropout(w(d), 0.5, mask=torch.ones(4, 6)), SAME),
    "lora.LoRALinear.forward": (lora_forward, SAME),
    "lora.LoRALinear.merge": (lambda d: lora.LoRALinear(nn.Linear(6, 4, dtype=d), 2).merge().weight, SAME),
    "prune.magnitude_mask": (lambda d: prune.magnitude_mask(w(d), 0.5), SAME),
    "prune.global_magnitude_masks": (lambda d: prune.global_magnitude_masks({"a": w(d)}, 0.5)["a"], SAME),
    "prune.structured_mask": (lambda d: prune.structured_mask(w(d), 0.5), SAME),
    "prune.hold_masks (gradient)": (hold_masks_grad, SAME),
    "embeddings.cosine_similarity": (lambda d: embeddings.cosine_similarity(w(d), w(d)), SAME),
    "embeddings.lookup_by_one_hot": (lambda d: embeddings.lookup_by_one_hot(w(d), torch.tensor([0, 3])), SAME),
    "embeddings.similarity_matrix": (lambda d: embeddings.similarity_matrix(w(d)), AT_LEAST_FLOAT32),
    "embeddings.principal_axes": (lambda d: embeddings.principal_axes(w(d), 2)[1], AT_LEAST_FLOAT32),
    "embeddings.project": (lambda d: embeddings.project(w(d), *embeddings.principal_axes(w(d), 2)), AT_LEAST_FLOAT32),
    "initialization.init_normal_": (lambda d: initialization.init_normal_(torch.empty(4, 6, dtype=d), "he"), SAME),
    "backprop.tiny_lm_backward": (backward_grad, SAME),
    "weightonly.fake_quantize_blocks": (lambda d: weightonly.fake_quantize_blocks(w(d, (2, 32)), "Q4_0"), SAME),
    "weightonly.quantize_blocks().dequantize": (lambda d: weightonly.quantize_blocks(w(d, (2, 32)), "Q8_0").dequantize(),
                                                FLOAT32),
}


def expected(rule, dtype):
    if rule == SAME:
        return dtype
    if rule == FLOAT32:
        return torch.float32
    return torch.float64 if dtype == torch.float64 else torch.float32


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_function_returns_the_dtype_it_promises(name, dtype):
    call, rule = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = call(dtype)
    assert out.dtype == expected(rule, dtype), f"{name} on {dtype}: expected {rule}"
