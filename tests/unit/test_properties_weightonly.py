"""Property tests of knobs.weightonly against llama.cpp's gguf package, over dtypes, magnitudes, ties and zeros.

Oracle: gguf.quants (llama.cpp's Python implementation of its formats, documented bit-exact with ggml-quants.c),
fed the same float32 values: ggml quantizes float32, so any dtype is read as float32 first.
"""
import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType
from gguf import quants as gguf_quants
from hypothesis import given, strategies as st

from knobs import weightonly as W
from properties import examples, weights

QTYPE = {"Q4_0": GGMLQuantizationType.Q4_0, "Q8_0": GGMLQuantizationType.Q8_0}
formats = st.sampled_from(W.FORMATS)


@st.composite
def matrices(draw):
    """A weight of 1 to 3 rows of 32 to 96 inputs (whole blocks), any dtype and magnitude style, never special."""
    rows, blocks = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return draw(weights(shape=(rows, 32 * blocks), styles=("normal", "subnormal", "tiny", "mixed", "all equal",
                                                           "ties", "zeros")))


def inverse_scale_is_finite(x: torch.Tensor, fmt: str) -> bool:
    """False for blocks so tiny (|max| below ~1e-37) that 1/d overflows float32: ggml then casts inf or NaN to an
    integer code, which C leaves undefined (NumPy gives 0, knobs clamps to the nearest code). Both decode to 0."""
    blocks = x.reshape(-1, W.BLOCK)
    d = blocks.abs().amax(dim=1) / (8 if fmt == "Q4_0" else 127)
    return bool(((d == 0) | torch.isfinite(1.0 / d)).all())


@examples(120)
@given(w=matrices(), fmt=formats)
def test_bytes_and_values_equal_gguf(w, fmt):
    x = w.float()
    ours = W.quantize_blocks(w, fmt)
    with np.errstate(all="ignore"):  # the degenerate blocks below: gguf divides by a subnormal
        theirs = gguf_quants.quantize(np.ascontiguousarray(x.numpy()), QTYPE[fmt])
    if inverse_scale_is_finite(x, fmt):
        assert ours.to_bytes() == theirs.tobytes()
    expected = gguf_quants.dequantize(theirs, QTYPE[fmt]).reshape(tuple(w.shape))
    np.testing.assert_array_equal(ours.dequantize().numpy(), expected)


@examples(80)
@given(w=matrices(), fmt=formats)
def test_every_weight_lands_within_half_a_step_of_its_decoded_value_or_one_step_if_clipped(w, fmt):
    x = w.float().reshape(-1, W.BLOCK)
    q = W.quantize_blocks(w, fmt)
    d = q.scales.float().abs()[:, None]
    error = (q.dequantize().reshape(-1, W.BLOCK) - x).abs()
    # half a step, plus what rounding d to fp16 moves the farthest code (8 or 127 steps out), plus float32 slack
    steps = 8 if fmt == "Q4_0" else 127
    slack = (x.abs().amax(dim=1, keepdim=True) / steps - d).abs() * steps + 1e-6 * x.abs().amax(dim=1, keepdim=True)
    step = d / 2
    if fmt == "Q4_0":  # codes reach 8 steps towards the extreme's side, 7 towards the other: there, clipped by <= 1
        m = x.gather(1, x.abs().argmax(dim=1, keepdim=True))
        clipped = x * torch.sign(-m) > 7.5 * (m.abs() / 8)
        step = torch.where(clipped, d, step)
    assert bool((error <= step + slack + torch.finfo(torch.float32).tiny).all())
    if fmt == "Q4_0":  # the block's extreme weight is stored exactly, up to the fp16 rounding of d
        i = x.abs().argmax(dim=1, keepdim=True)
        torch.testing.assert_close(q.dequantize().reshape(-1, W.BLOCK).gather(1, i),
                                   (x.gather(1, i) / -8).half().float() * -8, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_fake_quantize_keeps_the_dtype(dtype):
    w = torch.linspace(-1, 1, 64, dtype=torch.float64).reshape(2, 32).to(dtype)
    for fmt in W.FORMATS:
        assert W.fake_quantize_blocks(w, fmt).dtype == dtype
