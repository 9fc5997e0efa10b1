"""Weight-only block formats that run LLMs on laptops: ggml's Q4_0 and Q8_0, from scratch (chapter 10).

Scope: the two simplest quantization formats of ggml, the tensor library under
llama.cpp, as its reference C code writes them (`quantize_row_q4_0_ref` and
`quantize_row_q8_0_ref` in ggml-quants.c) and as GGUF files store them. Each row
of a weight matrix is cut into blocks of 32 consecutive weights (along the
inputs of nn.Linear's [out, in] weight); a block stores one fp16 scale d and 32
integer codes.

- Q8_0: d = max|w| / 127, q = round(w / d) in -127..127 (halves away from zero),
  w_hat = d q. 2 + 32 bytes per block: 8.5 bits per weight.
- Q4_0: d = m / -8, where m is the block's weight of largest magnitude *with its
  sign*; q = min(15, floor(w / d + 8.5)) in 0..15, w_hat = d (q - 8). The extreme
  weight lands exactly on code 0 (d (0 - 8) = m), so all 16 codes are used: one
  level more than chapter 6's symmetric int4 (-7..7). Two codes share a byte:
  2 + 16 bytes per block, 4.5 bits per weight.

The codes are computed with the unrounded d and decoded with the fp16 one, as
ggml does. *Weight-only* describes the storage: only the weights are quantized
in the file. How a kernel multiplies depends on the backend: ggml's CPU code
quantizes the activations on the fly to Q8_0 blocks and multiplies integer codes
(ggml_vec_dot_q4_0_q8_0, one float multiply per pair of blocks), other backends
dequantize to floats. This module simulates the stored weights only: decode, then
compute in float. Checked byte for byte against the gguf package (llama.cpp's own
Python implementation of the formats) in tests/unit/test_weightonly.py.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from knobs.validate import check_choice, check_instance, check_strings, check_tensor, fail

BLOCK = 32  # weights per block, in both formats (ggml's QK4_0 and QK8_0)
FORMATS = ("Q4_0", "Q8_0")
BLOCK_BYTES = {"Q4_0": 2 + BLOCK // 2, "Q8_0": 2 + BLOCK}  # an fp16 scale, then the codes
FP16_MAX = float(torch.finfo(torch.float16).max)


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C's roundf (halves away from zero), computed as gguf does so that float32 results agree bit for bit."""
    a = x.abs()
    floored = torch.floor(a)
    return torch.sign(x) * (floored + torch.floor(2 * (a - floored)))


@dataclass
class BlockQuantized:
    """What a GGUF file stores for one tensor: an fp16 scale and 32 codes per block of 32 weights."""

    fmt: str  # "Q4_0" or "Q8_0"
    scales: torch.Tensor  # (n_blocks,) float16: each block's d
    codes: torch.Tensor  # (n_blocks, 32): uint8 0..15 (Q4_0, stored with an offset of 8) or int8 -127..127 (Q8_0)
    shape: tuple

    def dequantize(self) -> torch.Tensor:
        """The float weights a kernel computes with: d (q - 8) for Q4_0, d q for Q8_0."""
        q = self.codes.to(torch.float32) - (8.0 if self.fmt == "Q4_0" else 0.0)
        return (self.scales.to(torch.float32)[:, None] * q).reshape(self.shape)

    def to_bytes(self) -> bytes:
        """The bytes of a GGUF tensor in this format: per block, d (fp16, little-endian), then the codes."""
        d = self.scales.contiguous().view(torch.uint8).reshape(-1, 2)  # (n_blocks, 2)
        if self.fmt == "Q4_0":  # byte j holds code j (low nibble) and code j + 16 (high nibble)
            low, high = self.codes[:, :BLOCK // 2], self.codes[:, BLOCK // 2:]
            packed = low | (high << 4)
        else:
            packed = self.codes.view(torch.uint8)
        return torch.cat([d, packed], dim=1).contiguous().numpy().tobytes()

    @property
    def nbytes(self) -> int:
        return self.codes.shape[0] * BLOCK_BYTES[self.fmt]

    def bits_per_weight(self) -> float:
        return 8 * self.nbytes / self.codes.numel()


def _blocks(w: torch.Tensor, fmt: str) -> torch.Tensor:
    check_choice("fmt", fmt, FORMATS)
    check_tensor("w", w, floating=True, min_dim=1)
    if w.shape[-1] % BLOCK:
        fail("w", f"a tensor whose rows hold a multiple of {BLOCK} weights (blocks of {BLOCK} run along the last "
                  "dimension)", w)
    x = w.detach().to(torch.float32).reshape(-1, BLOCK)  # (n_blocks, 32)
    if not bool(torch.isfinite(x).all()):
        fail("w", "finite numbers (a NaN or infinite weight has no block scale)", w)
    limit = FP16_MAX * (8 if fmt == "Q4_0" else 127)  # beyond it, the block's fp16 scale d overflows to inf
    if float(x.abs().max()) > limit:
        fail("w", f"weights of magnitude at most {limit:g} for {fmt} (beyond, the fp16 block scale overflows: fp16 "
                  f"ends at {FP16_MAX:g})", f"a largest |weight| of {float(x.abs().max()):g}")
    return x


@torch.no_grad()
def quantize_blocks(w: torch.Tensor, fmt: str = "Q4_0") -> BlockQuantized:
    """Quantize a weight tensor to ggml's Q4_0 or Q8_0, block by block (chapter 10)."""
    x = _blocks(w, fmt)
    if fmt == "Q4_0":
        m = x.gather(1, x.abs().argmax(dim=1, keepdim=True))  # (n_blocks, 1): the largest magnitude, signed
        d = m / -8
        inverse = torch.where(d == 0, torch.zeros_like(d), 1.0 / d)
        codes = torch.floor(x * inverse + 8.5).clamp(0, 15).to(torch.uint8)  # x * inverse >= -8: never below 0
    else:
        d = x.abs().amax(dim=1, keepdim=True) / 127
        inverse = torch.where(d == 0, torch.zeros_like(d), 1.0 / d)
        codes = _round_half_away(x * inverse).to(torch.int8)
    return BlockQuantized(fmt, d.reshape(-1).to(torch.float16), codes, tuple(w.shape))


def fake_quantize_blocks(w: torch.Tensor, fmt: str = "Q4_0") -> torch.Tensor:
    """Quantize then dequantize: the float tensor a Q4_0 / Q8_0 model computes with."""
    return quantize_blocks(w, fmt).dequantize().to(w.dtype)


@torch.no_grad()
def quantize_weights(model: nn.Module, fmt: str, names: list[str]) -> nn.Module:
    """A copy of `model` whose parameters `names` are stored in `fmt` (simulated: quantized, then dequantized)."""
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    check_choice("fmt", fmt, FORMATS)
    names = check_strings("names", names)
    missing = [name for name in names if name not in dict(model.named_parameters())]
    if missing:
        fail("names", "a list of the model's parameter names", missing)
    quantized = copy.deepcopy(model)
    params = dict(quantized.named_parameters())
    for name in names:
        params[name].copy_(fake_quantize_blocks(params[name], fmt))
    return quantized
