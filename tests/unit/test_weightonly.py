"""knobs.weightonly (chapter 10): ggml's Q4_0 and Q8_0, byte for byte against llama.cpp's own gguf package.

gguf (a test dependency only, pinned) is the Python reference that llama.cpp's converters use to write GGUF files;
its quantizers are documented as bit-exact with the C reference in ggml-quants.c.
"""
import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType
from gguf import quants as gguf_quants

from knobs import pretrained
from knobs import quantize as Q
from knobs import weightonly as W

QTYPE = {"Q4_0": GGMLQuantizationType.Q4_0, "Q8_0": GGMLQuantizationType.Q8_0}


def weights(shape, seed=0, scale=0.02):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale


def hard_cases() -> torch.Tensor:
    """Blocks where a careless implementation differs: all zero, one value, ties at the code boundaries, signs."""
    rows = [torch.zeros(32), torch.full((32,), -0.5), torch.linspace(-1, 1, 32), torch.linspace(-1, 0.9, 32),
            torch.linspace(-0.9, 1, 32), torch.arange(32.0) - 16, (torch.arange(32.0) - 16) / 16 * 8.5,
            torch.tensor([1e-30] + [0.0] * 31), torch.tensor([65000.0] + [-3.0] * 31),
            torch.tensor([-524000.0] + [1.0] * 31)]  # Q4_0's scale just fits in fp16
    halves = torch.zeros(32)
    halves[:17] = torch.arange(-8, 9) + 0.5  # (k + 0.5) * d: exactly between two codes
    halves[17] = -8.0  # the block's extreme sets d = 1
    rows.append(halves * 0.125)
    return torch.stack(rows)


@pytest.mark.parametrize("fmt", W.FORMATS)
@pytest.mark.parametrize("name, w", [("gaussian", weights((64, 128))), ("heavy tails", weights((8, 96), 1) ** 3 * 1e4),
                                     ("hard cases", hard_cases()), ("3-D", weights((2, 3, 64), 2))])
def test_bytes_equal_llama_cpps_gguf_package(fmt, name, w):
    ours = W.quantize_blocks(w, fmt)
    theirs = gguf_quants.quantize(w.numpy(), QTYPE[fmt])
    assert ours.to_bytes() == theirs.tobytes()
    assert ours.nbytes == theirs.nbytes
    expected = torch.from_numpy(gguf_quants.dequantize(theirs, QTYPE[fmt])).reshape(w.shape)
    torch.testing.assert_close(ours.dequantize(), expected, rtol=0, atol=0)


def test_the_standins_matrices_quantize_as_gguf_does():
    model = pretrained.load_standin().model
    for name, p in model.named_parameters():
        if p.dim() == 2:
            for fmt in W.FORMATS:
                assert W.quantize_blocks(p, fmt).to_bytes() == gguf_quants.quantize(
                    p.detach().numpy(), QTYPE[fmt]).tobytes(), (name, fmt)


def test_q4_0_uses_all_sixteen_codes_and_hits_the_extreme_exactly():
    w = weights((4, 64), 3)
    qt = W.quantize_blocks(w, "Q4_0")
    assert set(qt.codes.unique().tolist()) <= set(range(16)) and qt.codes.min() == 0
    blocks, restored = w.reshape(-1, 32), qt.dequantize().reshape(-1, 32)
    i = blocks.abs().argmax(dim=1)
    extreme = blocks.gather(1, i[:, None])
    torch.testing.assert_close(restored.gather(1, i[:, None]), extreme.half().float(), rtol=2e-3, atol=0)
    assert qt.bits_per_weight() == 4.5 and W.quantize_blocks(w, "Q8_0").bits_per_weight() == 8.5


def test_q4_0_is_a_little_finer_than_symmetric_int4_in_groups_of_32():
    w = pretrained.load_standin().model.transformer.h[0].mlp.c_fc.weight.detach()
    q4_0 = Q.relative_error(w, W.fake_quantize_blocks(w, "Q4_0"))
    int4 = Q.relative_error(w, Q.fake_quantize(w, 4, "symmetric", "group", group_size=32))
    assert q4_0 < int4  # 16 levels instead of 15, for the same 4 bits and one scale per 32 weights


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_dtypes_are_read_as_float32_and_keep_their_dtype(dtype):
    w = weights((2, 64), 4).to(dtype)
    out = W.fake_quantize_blocks(w, "Q4_0")
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), W.fake_quantize_blocks(w.float(), "Q4_0"), rtol=1e-2, atol=1e-4)


def test_quantize_weights_touches_only_the_named_matrices():
    model = pretrained.load_standin().model
    names = ["transformer.h.0.mlp.c_fc.weight"]
    q = W.quantize_weights(model, "Q4_0", names)
    before, after = dict(model.named_parameters()), dict(q.named_parameters())
    assert not torch.equal(before[names[0]], after[names[0]])
    assert all(torch.equal(before[n], after[n]) for n in before if n not in names)
    assert q.lm_head.weight is q.transformer.wte.weight  # the copy keeps the tie


@pytest.mark.parametrize("call, match", [
    (lambda: W.quantize_blocks(torch.zeros(3, 30), "Q4_0"), r"multiple of 32 .*\(3, 30\)"),
    (lambda: W.quantize_blocks(torch.zeros(32), "Q5_0"), "fmt must be one of 'Q4_0', 'Q8_0'"),
    (lambda: W.quantize_blocks(torch.zeros(32, dtype=torch.long), "Q4_0"), "floating-point"),
    (lambda: W.quantize_weights(torch.nn.Linear(32, 2), "Q4_0", ["bias"]), "multiple of 32"),
    (lambda: W.quantize_weights(torch.nn.Linear(32, 2), "Q4_0", ["nope"]), "names must be a list of the model's"),
])
def test_bad_input_gets_a_message_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_finite_weights_and_overflowing_scales_are_refused():
    w = torch.zeros(32)
    w[3] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        W.quantize_blocks(w, "Q8_0")
    w[3] = 65504.0 * 9  # its Q4_0 scale, |m| / 8, is beyond fp16's largest number
    with pytest.raises(ValueError, match="overflow"):
        W.quantize_blocks(w, "Q4_0")
    assert torch.isfinite(W.quantize_blocks(w, "Q8_0").dequantize()).all()  # 127 steps: the scale still fits
