"""Training the running example: seeding, the training loop, evaluation, and the trained tiny model.

A *snapshot* is what a lab draws: the step, a copy of the parameters and a
few metrics. `train_lm` is a generator, so a caller decides how far to go and
can stop at any snapshot (the live labs train in chunks this way);
`run_to_end(run)` trains to the end and returns the last snapshot.
`trained_tiny_lm()` is "chapter 1's trained model", the one every later chapter
prunes, quantizes, fine-tunes or looks inside: one recipe, trained once per session.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from knobs.data import farm_split, iterate_batches
from knobs.models import make_tiny_lm
from knobs.validate import (ArgumentTypeError, check_callable, check_choice, check_examples,
                            check_instance, check_int, check_module, check_number, fail)

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")


def seed(n: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so a rerun gives the same numbers."""
    check_int("n (the seed)", n, 0)
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
    """A Snapshot of `model` at `step`: a copy of every parameter, the metrics as floats, and `info` for the views."""
    check_module("model", model)
    check_int("step", step, 0)
    check_instance("metrics", metrics, dict, "a dict of metric name -> number")
    if info is not None:
        check_instance("info", info, dict, "a dict (or None)")
    params = {name: p.detach().cpu().numpy().copy() for name, p in model.named_parameters()}
    return Snapshot(step, params, {k: float(v) for k, v in metrics.items()}, info or {})


def make_optimizer(params, name: str, lr: float, weight_decay: float = 0.0, momentum: float = 0.9):
    """One of sgd / momentum / adam / adamw by name, with a clear error otherwise."""
    if isinstance(params, (torch.Tensor, str)) or not hasattr(params, "__iter__"):
        fail("params", "the parameters to train (e.g. model.parameters())", params, ArgumentTypeError)
    check_choice("name (the optimizer)", name, OPTIMIZERS)
    check_number("lr", lr, 0, 100, low_open=True)
    check_number("weight_decay", weight_decay, 0)
    check_number("momentum", momentum, 0, 1, high_open=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy (nats per word) of `model` on (X, y), in eval mode (dropout off), then back."""
    check_module("model", model)
    check_examples(X, y)
    was_training = model.training
    model.eval()
    try:
        return float(F.cross_entropy(model(X), y))
    finally:
        model.train(was_training)


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of examples whose most likely next word is the true one (top-1), in eval mode, then back."""
    check_module("model", model)
    check_examples(X, y)
    was_training = model.training
    model.eval()
    try:
        return float((model(X).argmax(dim=-1) == y).float().mean())
    finally:
        model.train(was_training)


def gradient_norm(model: nn.Module) -> float:
    """Length of the whole gradient vector (all parameters together) after a backward pass."""
    check_module("model", model)
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
    check_module("model", model)
    check_examples(X, y)
    if X_val is not None or y_val is not None:
        check_examples(X_val, y_val, names=("X_val", "y_val"))
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    check_int("batch_size", batch_size, 1)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_int("seed", seed, 0)
    if loss_fn is not None:
        check_callable("loss_fn", loss_fn, "a function loss_fn(model, logits, y) (or None for cross-entropy)")
    # Only what may train: frozen parameters (a fine-tuning strategy, LoRA's base) get no optimizer state.
    opt = make_optimizer([p for p in model.parameters() if p.requires_grad], optimizer, lr, weight_decay)
    batches = iterate_batches(X, y, batch_size, seed=seed)
    loss_fn = loss_fn or (lambda model, logits, y: F.cross_entropy(logits, y))

    def metrics(train_loss: float, grad_norm: float) -> dict:
        m = {"train_loss": train_loss, "grad_norm": grad_norm}
        if X_val is not None:
            m["val_loss"] = evaluate(model, X_val, y_val)
        return m

    model.train()  # dropout on while training (evaluate() switches it off for each measurement)
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


def run_to_end(run: Iterator[Snapshot]) -> Snapshot:
    """Train to the end of a run and return its last snapshot (the model is left trained)."""
    if not hasattr(run, "__iter__"):
        fail("run", "a run to iterate over, such as train_lm(...)", run, ArgumentTypeError)
    last = None
    for last in run:
        pass
    if last is None:
        raise ValueError("run yielded no snapshot: pass a generator such as train_lm(...)")
    return last


# Chapter 1's recipe: 300 steps of Adam at lr 0.03, batches of 64, seed 0, on farm_split()'s training pairs.
TINY_LM_RECIPE = dict(steps=300, lr=0.03, batch_size=64, optimizer="adam", seed=0)


@lru_cache(maxsize=1)
def _trained_tiny_lm_state() -> dict:
    vocab, X, y, _, _ = farm_split()
    model = make_tiny_lm(len(vocab), seed=TINY_LM_RECIPE["seed"])
    run_to_end(train_lm(model, X, y, every=TINY_LM_RECIPE["steps"], **TINY_LM_RECIPE))
    return {name: value.clone() for name, value in model.state_dict().items()}


def trained_tiny_lm() -> nn.Module:
    """Chapter 1's trained tiny model (TINY_LM_RECIPE), trained once per session; a fresh copy each call.

    Prune, quantize or fine-tune the copy freely: the next call gives the trained model again.
    """
    model = make_tiny_lm(len(farm_split().vocab), seed=TINY_LM_RECIPE["seed"])
    model.load_state_dict(_trained_tiny_lm_state())
    return model.eval()
