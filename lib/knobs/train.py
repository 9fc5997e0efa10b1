"""Training loops that record snapshots, and seeding.

A *snapshot* is what a lab draws: the step, a copy of the parameters and a
few metrics. `train_lm` is a generator, so a caller decides how far to go and
can stop at any snapshot (the live labs train in chunks this way).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")


def seed(n: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so a rerun gives the same numbers."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"seed must be a whole number 0 or more, got {n!r}")
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)


@dataclass
class Snapshot:
    step: int
    params: dict[str, np.ndarray]  # name -> a copy of the tensor's values
    metrics: dict[str, float]  # e.g. train_loss, val_loss, grad_norm
    info: dict = field(default_factory=dict)  # anything else a view needs (predictions, ...)

    @property
    def diverged(self) -> bool:
        return any(not math.isfinite(v) for v in self.metrics.values() if isinstance(v, float))


def take_snapshot(model: nn.Module, step: int, metrics: dict, info: dict | None = None) -> Snapshot:
    params = {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}
    return Snapshot(step, params, {k: float(v) for k, v in metrics.items()}, info or {})


def make_optimizer(params, name: str, lr: float, weight_decay: float = 0.0, momentum: float = 0.9):
    """One of sgd / momentum / adam / adamw by name, with a clear error otherwise."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    if not (isinstance(lr, (int, float)) and 0 < lr <= 100):
        raise ValueError(f"lr must be a number in (0, 100], got {lr!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be 0 or more, got {weight_decay}")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy (nats per word) of `model` on (X, y)."""
    return float(F.cross_entropy(model(X), y))


def gradient_norm(model: nn.Module) -> float:
    """Length of the whole gradient vector (all parameters together) after a backward pass."""
    grads = [p.grad.detach().ravel() for p in model.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.cat(grads))) if grads else 0.0


def train_lm(model: nn.Module, X, y, *, steps: int = 300, lr: float = 0.01, batch_size: int = 64,
             optimizer: str = "adam", weight_decay: float = 0.0, every: int = 10,
             X_val=None, y_val=None, seed: int = 0, loss_fn=None) -> Iterator[Snapshot]:
    """Train `model` on (X, y), yielding a Snapshot at step 0 and every `every` steps.

    Stops early (after yielding the bad snapshot) when the loss is NaN or inf,
    so a lab can say "diverged" instead of drawing garbage. `loss_fn(model,
    logits, y)` replaces plain cross-entropy (chapter 3 adds penalties).
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number 1 or more, got {steps!r}")
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number 1 or more, got {every!r}")
    from knobs.data import iterate_batches  # local import keeps train usable without the corpus

    opt = make_optimizer(model.parameters(), optimizer, lr, weight_decay)
    batches = iterate_batches(X, y, batch_size, seed=seed)
    loss_fn = loss_fn or (lambda model, logits, y: F.cross_entropy(logits, y))

    def metrics(train_loss: float, grad_norm: float) -> dict:
        m = {"train_loss": train_loss, "grad_norm": grad_norm}
        if X_val is not None:
            m["val_loss"] = evaluate(model, X_val, y_val)
        return m

    yield take_snapshot(model, 0, metrics(evaluate(model, X, y), 0.0))
    for step in range(1, steps + 1):
        Xb, yb = next(batches)
        loss = loss_fn(model, model(Xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        if not math.isfinite(loss_value) or step % every == 0 or step == steps:
            snap = take_snapshot(model, step, metrics(loss_value, gradient_norm(model)))
            yield snap
            if snap.diverged:
                return


def train_to_end(run: Iterator[Snapshot]) -> list[Snapshot]:
    """Exhaust a training generator and keep every snapshot."""
    return list(run)
