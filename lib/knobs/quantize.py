"""Quantization from scratch (chapter 6): fewer bits per parameter.

Scope: uniform quantization of a weight tensor -- symmetric or affine (scale +
zero-point), per tensor, per output channel or per group of inputs --
post-training quantization of a whole model (simulated: weights are quantized
and dequantized, so any float kernel runs them), a fake-quantize operation with
a straight-through gradient for quantization-aware training, and PyTorch's
own int8 model (bytes on disk; its latency is timed with knobs.timing). How
fp32, fp16, bf16 and integers store a number is knobs.numformats.

Every quantizer here is checked against PyTorch's own in tests/test_quantize.py
(torch.quantize_per_tensor / quantize_per_channel / fake_quantize_*) and, over
odd inputs, in tests/unit/test_properties_quantize.py.

Conventions (stated here, checked by the tests):
- Symmetric codes use the *restricted* range [-(2^(b-1) - 1), 2^(b-1) - 1]: the most
  negative two's-complement code is never used, so the grid is the same on both
  sides of zero and clipping (clip < 1) cuts +w and -w alike. (PyTorch's qint8
  allows -128; its observers and fake_quantize_* take the range as arguments.)
- Rounding is half to even, as torch.round and PyTorch's quantizers do.
- The scale is never below float32's eps, as PyTorch's observers clamp it: 1/scale
  cannot overflow, zero stays zero and codes stay in range even for weights of 1e-38.
- Codes are computed in float32 (PyTorch's quantized kernels take float32); the
  fake-quantized tensor comes back in the input's dtype.
- Non-finite weights: the quantizers (quantize_tensor, fake_quantize,
  quantize_model) refuse them with a ValueError; the QAT forward pass, which runs
  inside training, propagates them -- a block holding NaN or inf becomes all NaN,
  so the training loop sees a NaN loss and reports the run as diverged.
"""
from __future__ import annotations

import copy
import io
import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from knobs.numformats import int_range
from knobs.validate import ArgumentTypeError, check_choice, check_int, check_module, check_number, check_tensor, fail

SCHEMES = ("symmetric", "affine")
GRANULARITIES = ("tensor", "channel", "group")
EPS = torch.finfo(torch.float32).eps  # the smallest scale, as in PyTorch's observers


# ---- uniform quantization of one tensor ---------------------------------------------------------------------------
def _check_options(bits, scheme, granularity, group_size, clip):
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be a whole number between 2 and 16, got {bits!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}; got {scheme!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}; got {granularity!r}")
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a whole number 1 or more, got {group_size!r}")
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip <= 1:
        raise ValueError(f"clip must be a number in (0, 1], got {clip!r}")


def blocks(w: torch.Tensor, granularity: str, group_size: int = 8) -> torch.Tensor:
    """View `w` as (n_blocks, block_size): one row per set of weights that share a scale."""
    check_tensor("w", w)
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}; got {granularity!r}")
    check_int("group_size", group_size, 1)
    rows = w.reshape(w.shape[0], -1) if w.dim() > 1 else w.reshape(1, -1)  # (out_channels, inputs)
    if granularity == "tensor":
        return rows.reshape(1, -1)
    if granularity == "channel":
        return rows
    if rows.shape[1] % group_size:
        raise ValueError(f"group_size must divide the {rows.shape[1]} inputs of each row, got {group_size}")
    return rows.reshape(-1, group_size)  # (out_channels * groups, group_size)


def quant_range(bits: int, scheme: str) -> tuple[int, int]:
    """Integer codes used: symmetric [-(2^(b-1)-1), 2^(b-1)-1] (restricted: same steps both sides), affine [0, 2^b-1]."""
    check_choice("scheme", scheme, SCHEMES)
    if scheme == "symmetric":
        high = int_range(bits, signed=True)[1]
        return -high, high  # -2^(b-1) left unused: otherwise clipping keeps one more step below zero than above
    return int_range(bits, signed=False)


def compute_qparams(w_blocks: torch.Tensor, bits: int, scheme: str = "symmetric", clip: float = 1.0):
    """Scale and zero-point of each block (row of `w_blocks`), both shaped (n_blocks, 1); as PyTorch's MinMax observers.

    The scale is at least EPS (an all-zero or tiny block would otherwise make 1/scale overflow);
    NaN or inf in a block gives it a NaN or inf scale, which the callers refuse or propagate.
    """
    check_tensor("w_blocks", w_blocks, floating=True, dim=2)
    _check_options(bits, scheme, "tensor", 1, clip)
    qmin, qmax = quant_range(bits, scheme)
    if scheme == "symmetric":
        amax = w_blocks.abs().amax(dim=1, keepdim=True) * clip
        scale = (amax / qmax).clamp_min(EPS)  # max|w| lands on the top code (clamp_min keeps NaN a NaN)
        return scale, torch.zeros_like(scale, dtype=torch.long)
    low = (w_blocks.amin(dim=1, keepdim=True) * clip).clamp(max=0)  # the range must contain 0, so that a zero
    high = (w_blocks.amax(dim=1, keepdim=True) * clip).clamp(min=0)  # weight (or padding) is stored exactly
    scale = ((high - low) / (qmax - qmin)).clamp_min(EPS)
    scale = torch.where(scale.isinf(), math.nan, scale)  # inf would meet a garbage zero-point: make the block NaN
    zero_point = (qmin - torch.round(low / scale)).clamp(qmin, qmax).long()  # the code that stands for 0.0
    return scale, zero_point


def quantize_codes(x: torch.Tensor, scale, zero_point, qmin: int, qmax: int) -> torch.Tensor:
    """q = clamp(round(x / scale) + zero_point, qmin, qmax): the integer codes (round half to even, as PyTorch)."""
    check_tensor("x", x, floating=True)
    _check_scale(scale, zero_point)
    check_int("qmin", qmin)
    if check_int("qmax", qmax) <= qmin:
        fail("qmax", f"above qmin ({qmin})", qmax)
    inv_scale = 1.0 / scale  # PyTorch multiplies by the inverse scale: keep its rounding at exact halves
    return (torch.round(x * inv_scale) + zero_point).clamp(qmin, qmax).to(torch.int32)


def dequantize_codes(q: torch.Tensor, scale, zero_point) -> torch.Tensor:
    """x_hat = scale * (q - zero_point): back to real numbers."""
    check_tensor("q", q)
    _check_scale(scale, zero_point)
    return (q.to(torch.float32) - zero_point) * scale


def grid_levels(scale, zero_point, bits: int, scheme: str = "symmetric") -> torch.Tensor:
    """The real values one block can take: scale * (q - zero_point) for every code q it can reach."""
    qmin, qmax = quant_range(bits, scheme)
    return dequantize_codes(torch.arange(qmin, qmax + 1), scale, zero_point).reshape(-1)


def _check_scale(scale, zero_point) -> None:
    """A scale above 0 (a number or a tensor of them) and a whole-number zero-point (an int or an integer tensor)."""
    if isinstance(scale, torch.Tensor):
        if not scale.is_floating_point() or not bool((scale > 0).all()):
            fail("scale", "above 0 everywhere (a positive number, or a float tensor of them)", scale)
    else:
        check_number("scale", scale, 0, low_open=True)
    if isinstance(zero_point, torch.Tensor):
        check_tensor("zero_point", zero_point, integer=True)
    else:
        check_int("zero_point", zero_point)


@dataclass
class QuantizedTensor:
    """Integer codes + one scale (and zero-point) per block: what a quantized weight really stores."""

    codes: torch.Tensor  # (n_blocks, block_size) int32 holding `bits`-bit values
    scale: torch.Tensor  # (n_blocks, 1) float32
    zero_point: torch.Tensor  # (n_blocks, 1) int64
    shape: tuple
    bits: int
    scheme: str
    granularity: str

    def dequantize(self) -> torch.Tensor:
        return dequantize_codes(self.codes, self.scale, self.zero_point).reshape(self.shape)

    def levels(self, block: int = 0) -> torch.Tensor:
        """Every real value block `block` can take: its quantization grid."""
        n = self.scale.shape[0]
        if isinstance(block, bool) or not isinstance(block, int) or not -n <= block < n:
            raise ValueError(f"block must be a whole number between {-n} and {n - 1}, got {block!r}")
        return grid_levels(self.scale[block], self.zero_point[block], self.bits, self.scheme)

    def nbytes(self, scale_bytes: int = 2) -> float:
        """Storage: `bits` per weight, plus a scale (fp16 by default) and, if affine, a zero-point per block."""
        extra = scale_bytes + (self.bits / 8 if self.scheme == "affine" else 0)
        return self.codes.numel() * self.bits / 8 + self.scale.numel() * extra

    def bits_per_weight(self, scale_bytes: int = 2) -> float:
        return 8 * self.nbytes(scale_bytes) / self.codes.numel()


def quantize_tensor(w: torch.Tensor, bits: int = 8, scheme: str = "symmetric", granularity: str = "tensor",
                    group_size: int = 8, clip: float = 1.0) -> QuantizedTensor:
    """Quantize a weight tensor to `bits`-bit integers with one scale per tensor, output channel or group (chapter 6).

    Codes and scales are computed in float32 whatever w's dtype; w must be finite (see the module's conventions).
    """
    _check_options(bits, scheme, granularity, group_size, clip)
    w_blocks = blocks(_finite_float32(w), granularity, group_size)
    scale, zero_point = compute_qparams(w_blocks, bits, scheme, clip)
    codes = quantize_codes(w_blocks, scale, zero_point, *quant_range(bits, scheme))
    return QuantizedTensor(codes, scale, zero_point, tuple(w.shape), bits, scheme, granularity)


def _finite_float32(w) -> torch.Tensor:
    """w as float32, or a ValueError: quantizing NaN or inf gives no meaningful scale."""
    if not isinstance(w, torch.Tensor) or not w.is_floating_point() or w.numel() == 0:
        got = f"a {w.dtype} tensor of shape {tuple(w.shape)}" if isinstance(w, torch.Tensor) else type(w).__name__
        raise ValueError(f"w must be a non-empty floating-point tensor, got {got}")
    w32 = w.detach().float()
    bad = int((~torch.isfinite(w32)).sum())
    if bad:
        raise ValueError(f"w must hold only finite numbers (within float32's range, ±3.4e38), "
                         f"got {bad} NaN or inf of {w.numel()}: a diverged run? Quantization needs a finite range")
    return w32


def fake_quantize(w: torch.Tensor, bits: int = 8, scheme: str = "symmetric", granularity: str = "tensor",
                  group_size: int = 8, clip: float = 1.0) -> torch.Tensor:
    """Quantize then dequantize: the float tensor a quantized model computes with, in w's dtype."""
    return quantize_tensor(w, bits, scheme, granularity, group_size, clip).dequantize().to(w.dtype)


def fake_quantize_keep_outliers(w: torch.Tensor, bits: int = 8, n_outliers: int = 1, scheme: str = "symmetric",
                                granularity: str = "tensor", group_size: int = 8) -> torch.Tensor:
    """Keep the `n_outliers` largest-magnitude weights in float and quantize the rest.

    The idea of LLM.int8()'s mixed-precision decomposition (Dettmers et al.
    2022), which keeps outlier *feature dimensions* in 16 bits; here applied to
    single weights: the outliers no longer set the scale of everything else.
    """
    if not isinstance(w, torch.Tensor) or not w.is_floating_point():
        raise ValueError(f"w must be a floating-point tensor, got {type(w).__name__}")
    if isinstance(n_outliers, bool) or not isinstance(n_outliers, int) or not 0 <= n_outliers < w.numel():
        raise ValueError(f"n_outliers must be a whole number between 0 and {w.numel() - 1}, got {n_outliers!r}")
    flat = w.detach().reshape(-1)
    outliers = torch.topk(flat.abs(), n_outliers).indices
    rest = flat.clone()
    rest[outliers] = 0.0  # a zero does not widen a symmetric grid
    out = fake_quantize(rest.reshape(w.shape), bits, scheme, granularity, group_size).reshape(-1)
    out[outliers] = flat[outliers]  # stored separately, in float
    return out.reshape(w.shape)


def relative_error(w: torch.Tensor, w_hat: torch.Tensor) -> float:
    """||w - w_hat|| / ||w||: the reconstruction error as a fraction of the weights' size."""
    check_tensor("w", w, floating=True)
    check_tensor("w_hat", w_hat, floating=True)
    if w_hat.shape != w.shape:  # broadcasting would compare the wrong numbers
        fail("w_hat", f"w's shape {tuple(w.shape)}", w_hat)
    w, w_hat = w.detach(), w_hat.detach()  # a measurement, not part of any training graph
    return float(torch.linalg.vector_norm(w - w_hat) / torch.linalg.vector_norm(w).clamp(min=1e-12))


# ---- whole models ----------------------------------------------------------------------------------------------
def weight_names(model: nn.Module) -> list[str]:
    """The matrices worth quantizing: every parameter with 2+ dimensions (biases stay in float, as usual)."""
    check_module("model", model)
    return [name for name, p in model.named_parameters() if p.dim() >= 2]


def _fits(shape, granularity, group_size) -> bool:
    return granularity != "group" or (shape[-1] if len(shape) > 1 else shape[0]) % group_size == 0


@torch.no_grad()
def quantize_model(model: nn.Module, bits: int = 8, scheme: str = "symmetric", granularity: str = "channel",
                   group_size: int = 8, clip: float = 1.0, names: list[str] | None = None) -> nn.Module:
    """Post-training quantization (simulated): a copy of `model` whose weight matrices are quantized + dequantized."""
    _check_options(bits, scheme, granularity, group_size, clip)
    check_module("model", model)
    if names is not None and not isinstance(names, (list, tuple)):
        fail("names", "a list of parameter names (or None for every weight matrix)", names, ArgumentTypeError)
    quantized = copy.deepcopy(model)
    params = dict(quantized.named_parameters())
    for name in names or weight_names(model):
        if name not in params:
            fail("names", f"parameters of the model ({', '.join(sorted(params))})", name)
        params[name].copy_(fake_quantize(params[name], bits, scheme, granularity, group_size, clip))
    return quantized


class FakeQuantizeSTE(torch.autograd.Function):
    """Forward: quantize + dequantize. Backward: the straight-through estimator (Bengio et al. 2013).

    Rounding has zero gradient almost everywhere, so training could not move a
    quantized weight. The straight-through estimator pretends rounding was the
    identity and passes the gradient through -- except for values clamped to the
    end of the range, whose gradient is zero (as in torch.fake_quantize_*).
    """

    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin: int, qmax: int):
        unclamped = torch.round(x * (1.0 / scale))
        if zero_point is not None:  # None: symmetric, no zero-point to add (saves two operations per step)
            unclamped = unclamped + zero_point
        q = unclamped.clamp(qmin, qmax)
        ctx.save_for_backward(q == unclamped)  # inside the range: the gradient passes straight through
        return (q if zero_point is None else q - zero_point) * scale

    @staticmethod
    def backward(ctx, grad_output):
        (inside,) = ctx.saved_tensors
        return grad_output * inside, None, None, None, None


class WeightFakeQuantizer(nn.Module):
    """A parametrization: the layer computes with the quantized weight, the optimizer updates the float one."""

    def __init__(self, bits: int = 4, scheme: str = "symmetric", granularity: str = "channel", group_size: int = 8):
        super().__init__()
        _check_options(bits, scheme, granularity, group_size, 1.0)
        self.bits, self.scheme, self.granularity, self.group_size = bits, scheme, granularity, group_size

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        # in float32, as quantize_tensor: in fp16, 1/scale overflows for weights below about 1e-3
        w_blocks = blocks(w, self.granularity, self.group_size).float()
        scale, zero_point = compute_qparams(w_blocks.detach(), self.bits, self.scheme)  # the grid follows the weights
        qmin, qmax = quant_range(self.bits, self.scheme)
        zero_point = None if self.scheme == "symmetric" else zero_point
        return FakeQuantizeSTE.apply(w_blocks, scale, zero_point, qmin, qmax).reshape(w.shape).to(w.dtype)


def prepare_qat(model: nn.Module, bits: int = 4, scheme: str = "symmetric", granularity: str = "channel",
                group_size: int = 8) -> nn.Module:
    """A copy of `model` for quantization-aware training: every weight matrix is fake-quantized in the forward pass."""
    from torch.nn.utils import parametrize

    _check_options(bits, scheme, granularity, group_size, 1.0)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    qat = copy.deepcopy(model)
    for name in weight_names(model):
        module_name, attr = name.rsplit(".", 1) if "." in name else ("", name)
        module = qat.get_submodule(module_name)
        if not _fits(getattr(module, attr).shape, granularity, group_size):
            raise ValueError(f"group_size must divide the inputs of {name}, got {group_size}")
        parametrize.register_parametrization(module, attr, WeightFakeQuantizer(bits, scheme, granularity, group_size))
    return qat


def finish_qat(model: nn.Module) -> nn.Module:
    """Bake the quantized weights in and drop the float copies (after quantization-aware training)."""
    from torch.nn.utils import parametrize

    check_module("model", model)

    for module in model.modules():
        if parametrize.is_parametrized(module):
            for attr in list(module.parametrizations):
                parametrize.remove_parametrizations(module, attr, leave_parametrized=True)
    return model


# ---- PyTorch's own int8 model, measured ---------------------------------------------------------------------------
def quantize_dynamic_int8(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """PyTorch's dynamic int8 quantization of every nn.Linear, and the warnings PyTorch gave while doing it."""
    from torch.ao.quantization import quantize_dynamic

    check_module("model", model)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized = quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)
    messages = sorted({f"{w.category.__name__}: {str(w.message).strip().splitlines()[0]}" for w in caught})
    return quantized, messages


def saved_bytes(model: nn.Module) -> int:
    """Bytes of the model's state_dict as torch.save writes it (what a file on disk would take)."""
    check_module("model", model)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes
