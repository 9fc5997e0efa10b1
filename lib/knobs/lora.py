"""Low-rank adapters (LoRA, Hu et al. 2021) from scratch: train r·(in+out) numbers instead of in·out.

A LoRA layer keeps a pretrained nn.Linear frozen and adds a trainable
low-rank update:  y = x Wᵀ + b + (alpha / r) · x Aᵀ Bᵀ,  A: (r, in), B: (out, r).
B starts at zero, so the adapted model starts *exactly* at the pretrained
function; A starts random (Kaiming-uniform, as Microsoft's loralib does; Hu et
al. describe a random Gaussian), because with both at zero neither would ever get
a gradient: dL/dB = (dL/dy)ᵀ(xAᵀ) needs A ≠ 0 and dL/dA = Bᵀ(dL/dy)ᵀx needs B ≠ 0.
Only A and B receive gradients. `merge()` folds the update into
one ordinary weight matrix for inference. A and B take the base layer's dtype
and device, so a float64, fp16 or bf16 layer is adapted (and merged) in its own
dtype.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from knobs.validate import ArgumentTypeError, check_instance, check_int, check_number, fail


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable rank-`rank` update scaled by alpha / rank (chapter 8)."""

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float | None = None):
        super().__init__()
        check_instance("base", base, nn.Linear, "an nn.Linear (LoRA wraps a Linear layer)")
        most = min(base.in_features, base.out_features)
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= most:
            raise ValueError(f"rank must be a whole number between 1 and {most}, got {rank!r}")
        if alpha is not None:
            check_number("alpha", alpha, 0, low_open=True, must="a positive finite number (or None for alpha = rank)")
        self.base, self.rank = base, rank
        self.scale = (alpha if alpha is not None else rank) / rank  # alpha = rank: scale 1
        for p in self.base.parameters():
            p.requires_grad_(False)  # the pretrained weights stay exactly as they were
        like = dict(dtype=base.weight.dtype, device=base.weight.device)  # the base's dtype: F.linear mixes none
        self.A = nn.Parameter(torch.empty(rank, base.in_features, **like))  # (r, in)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, **like))  # (out, r): zero, so the update starts at 0
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.enabled = True

    def delta_weight(self) -> torch.Tensor:
        return self.scale * self.B @ self.A  # (out, in), rank <= r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.enabled:
            y = y + self.scale * F.linear(F.linear(x, self.A), self.B)  # never builds the (out, in) matrix
        return y

    def merge(self) -> nn.Linear:
        """An ordinary nn.Linear computing the same function as this layer now (enabled or not), in the base's dtype."""
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None,
                           dtype=self.base.weight.dtype, device=self.base.weight.device)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.delta_weight() if self.enabled else self.base.weight)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged


def lora_parameter_count(in_features: int, out_features: int, rank: int) -> int:
    """Trainable numbers of one LoRA adapter: A is rank × in, B is out × rank."""
    for name, value in (("in_features", in_features), ("out_features", out_features), ("rank", rank)):
        check_int(name, value, 1)
    return rank * (in_features + out_features)


def gpt2_lora_count(config, rank: int, targets=("attn_qkv", "attn_proj")) -> int:
    """Trainable parameters when every block's `targets` matrices of GPT-2 get a rank-`rank` adapter (chapter 8).

    attn_q, attn_k and attn_v are the three d → d thirds of the fused attn_qkv (Hu et al. adapt W_q and W_v).
    """
    if not (hasattr(config, "n_embd") and hasattr(config, "n_layer")):
        fail("config", "a GPT-2 configuration (models.GPT2Config or gpt.GPTConfig)", config, ArgumentTypeError)
    check_int("rank", rank, 1)
    if isinstance(targets, str) or not isinstance(targets, (list, tuple, set)):
        fail("targets", "a tuple of matrix names", targets, ArgumentTypeError)
    d = config.n_embd
    shapes = {"attn_qkv": (d, 3 * d), "attn_proj": (d, d), "mlp_fc": (d, 4 * d), "mlp_proj": (4 * d, d),
              "attn_q": (d, d), "attn_k": (d, d), "attn_v": (d, d)}  # (in, out)
    unknown = set(targets) - set(shapes)
    if unknown:
        raise ValueError(f"targets must be among {sorted(shapes)}, got {sorted(unknown)}")
    return config.n_layer * sum(lora_parameter_count(*shapes[t], rank) for t in targets)
