"""Where training starts: symmetry and scale of the initial parameters (chapter 2).

Two separate jobs, two separate tools:

- *symmetry*: if two hidden units start with the same weights, they compute
  the same thing, get the same gradient and stay twins forever. Any
  randomness, however small, breaks the tie (`set_symmetric_init`,
  `count_distinct_units`).
- *scale*: the spread of the random weights sets whether signals shrink
  (vanish) or grow (explode) layer after layer, forward and backward. Glorot
  and Bengio (2010) keep the variance of activations and gradients about
  constant for tanh-like units: Var(W) = 2 / (fan_in + fan_out); He et al.
  (2015) correct it for ReLU, which zeroes half its inputs: Var(W) = 2 / fan_in
  (`init_std`, `signal_through_depth`).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from knobs.models import check_tiny_lm
from knobs.validate import check_choice, check_generator, check_int, check_number, fail

SCHEMES = ("small", "large", "xavier", "he")  # N(0, 0.01^2), N(0, 1), Glorot & Bengio, He et al.
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}
SYMMETRIC_INITS = ("random", "zero", "equal")


def init_std(scheme: str, fan_in: int, fan_out: int) -> float:
    """The standard deviation each scheme gives a fan_in -> fan_out weight matrix."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if any(isinstance(f, bool) or not isinstance(f, int) or f < 1 for f in (fan_in, fan_out)):
        raise ValueError(f"fan_in and fan_out must be 1 or more, got {fan_in} and {fan_out}")
    return {"small": 0.01, "large": 1.0,
            "xavier": math.sqrt(2.0 / (fan_in + fan_out)),  # Glorot & Bengio (2010)
            "he": math.sqrt(2.0 / fan_in)}[scheme]  # He et al. (2015)


def init_normal_(weight: torch.Tensor, scheme: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill a (fan_out, fan_in) weight matrix in place with N(0, init_std^2) samples.

    A conv weight (out, in, *kernel) works too: its fans count the kernel, as torch.nn.init's do.
    """
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point() or weight.dim() < 2:
        got = f"shape {tuple(weight.shape)}, {weight.dtype}" if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a floating-point tensor with at least 2 dimensions (fan_out, fan_in, ...), "
                         f"got {got}")
    check_generator("generator", generator)
    receptive = math.prod(weight.shape[2:])  # 1 for a matrix, kernel height x width for a conv
    fan_out, fan_in = weight.shape[0] * receptive, weight.shape[1] * receptive
    with torch.no_grad():
        return weight.normal_(0.0, init_std(scheme, fan_in, fan_out), generator=generator)


def signal_through_depth(scheme: str, activation: str = "tanh", depth: int = 20, width: int = 64,
                         batch: int = 128, seed: int = 0) -> dict[str, list[float]]:
    """Send random inputs forward through `depth` layers initialized by `scheme`, and a random gradient back.

    Returns the spread (std) of each layer's output going forward, of the
    gradient with respect to each layer's output coming back (layers 1..depth),
    and the size (Frobenius norm) of the gradient with respect to each layer's
    weights: the signal from above times the activation from below (chapter 2).
    """
    check_choice("scheme", scheme, SCHEMES)
    check_choice("activation", activation, sorted(ACTIVATIONS))
    check_int("depth", depth, 1, 200)
    check_int("width", width, 1, 4096)
    check_int("batch", batch, 1, 100_000)
    check_int("seed", seed, 0)
    generator = torch.Generator().manual_seed(seed)
    weights = [init_normal_(torch.empty(width, width), scheme, generator).requires_grad_() for _ in range(depth)]
    h = torch.randn(batch, width, generator=generator)  # unit-variance inputs, (batch, width)
    outputs = []
    for W in weights:  # no biases: they start at zero anyway
        h = ACTIVATIONS[activation](h @ W.T)  # (batch, width); needs grad through W
        h.retain_grad()  # keep d(loss)/d(h) of this inner node for us to measure
        outputs.append(h)
    loss = (h * torch.randn(h.shape, generator=generator)).sum()  # a random direction to send back
    loss.backward()
    return {"activation_std": [float(h.detach().std()) for h in outputs],
            "gradient_std": [float(h.grad.std()) for h in outputs],
            "weight_gradient_norm": [float(W.grad.norm()) for W in weights]}


@torch.no_grad()
def set_symmetric_init(model: nn.Module, how: str, noise: float = 0.0, value: float = 0.3, seed: int = 0) -> None:
    """Start the tiny LM's hidden and output layers 'random' (PyTorch's default), all 'zero' or all 'equal'.

    `noise` adds N(0, noise^2) to those weights afterwards: the smallest
    symmetry breaker. The embedding keeps its random start in every case.
    """
    check_tiny_lm(model, exact=True)
    check_choice("how", how, SYMMETRIC_INITS)
    check_number("noise", noise, 0.0, 1.0)
    check_number("value", value)
    check_int("seed", seed, 0)
    layers = (model.hidden, model.out)
    if how != "random":
        for layer in layers:
            layer.weight.fill_(0.0 if how == "zero" else value)
            layer.bias.zero_()
    if noise > 0:
        generator = torch.Generator().manual_seed(seed)
        for layer in layers:
            layer.weight.add_(noise * torch.randn(layer.weight.shape, generator=generator))


def count_distinct_units(weight: np.ndarray, bias: np.ndarray | None = None, tol: float = 1e-6) -> int:
    """How many hidden units (rows of weight, with their bias) differ from each other by more than `tol`."""
    rows = _numbers("weight", weight, 2)
    if bias is not None:
        bias = _numbers("bias", bias, 1)
        if len(bias) != len(rows):
            fail("bias", f"one number per row of weight ({len(rows)})", bias)
        rows = np.column_stack([rows, bias])
    check_number("tol", tol, 0)
    scale = tol * (1.0 + float(np.abs(rows).max(initial=0.0)))
    kept: list[np.ndarray] = []
    for row in rows:
        if not any(np.abs(row - other).max() <= scale for other in kept):
            kept.append(row)
    return len(kept)


def _numbers(name: str, values, ndim: int) -> np.ndarray:
    """values (an array, a tensor or nested lists of numbers) as a float array with `ndim` dimensions."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError, RuntimeError):
        array = None
    if array is None or array.ndim != ndim:
        fail(name, f"a {ndim}-D array of numbers", values)
    return array
