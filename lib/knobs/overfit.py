"""Chapter 3's experiments: overfitting made visible, and what each regularizer does about it.

Two toys. `CurveData` + `CurveMLP` is a 1-D curve fit (15 noisy points of
sin(3x), a 2-hidden-layer tanh network with about 1,100 weights): small enough
to see the fitted function, big enough to memorize the noise. `fit_lm` trains
the book's tiny language model on a sliver of the farm corpus, with optional
weight decay (by parameter group) and dropout (`DropoutTinyLM`). Both record
train and validation loss; neither knows about widgets.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from knobs import models, train
from knobs.regularize import PENALTIES, AdamState, EarlyStopping, adam_step, param_groups, shrink_, soft_threshold
from knobs.runtime import progress as progress_bar
from knobs.train import Snapshot, take_snapshot
from knobs.validate import (ArgumentTypeError, check_bool, check_choice, check_examples, check_instance, check_int,
                            check_number, fail)


# ---- the 1-D curve fit --------------------------------------------------------------------

@dataclass
class CurveData:
    X: torch.Tensor  # (n, 1) training inputs in [-1, 1]
    y: torch.Tensor  # (n, 1) sin(3x) + noise
    X_val: torch.Tensor  # (n_val, 1) fresh points from the same source
    y_val: torch.Tensor
    grid: torch.Tensor  # (200, 1) where the fitted function is drawn
    noise: float  # standard deviation of the noise: no model can beat noise**2 on fresh data

    def truth(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(3 * x)


def make_curve_data(n_train: int = 15, noise: float = 0.3, n_val: int = 500, seed: int = 0) -> CurveData:
    """A few noisy points of sin(3x) to fit, and many fresh ones to validate on (chapter 3)."""
    check_int("n_train", n_train, 2, 10_000)
    check_number("noise", noise, 0, 10)
    check_int("n_val", n_val, 1, 100_000)
    check_int("seed", seed, 0)

    def sample(n, generator, spread):
        x = torch.rand(n, 1, generator=generator)
        if spread:  # one point in each of n equal slices of [-1, 1]: no big gaps, no extrapolation
            x = (torch.arange(n).unsqueeze(1) + x) / n
        x = x * 2 - 1
        return x, torch.sin(3 * x) + noise * torch.randn(n, 1, generator=generator)

    X, y = sample(n_train, torch.Generator().manual_seed(seed), spread=True)
    X_val, y_val = sample(n_val, torch.Generator().manual_seed(seed + 1000), spread=False)
    return CurveData(X, y, X_val, y_val, torch.linspace(-1, 1, 200).unsqueeze(1), noise)


class CurveMLP(nn.Module):
    """x -> tanh layer -> tanh layer -> y. `input_scale` widens the first layer so it can wiggle."""

    def __init__(self, hidden: int = 32, input_scale: float = 3.0):
        super().__init__()
        check_int("hidden", hidden, 1, 4096)
        check_number("input_scale", input_scale)
        self.hidden1, self.hidden2, self.out = nn.Linear(1, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 1)
        with torch.no_grad():
            self.hidden1.weight.mul_(input_scale)
            self.hidden1.bias.mul_(input_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden2(torch.tanh(self.hidden1(x)))))  # (n, 1)

    def weights(self) -> list[torch.Tensor]:
        """The weight matrices: what the penalties act on (biases are left alone, as in LLM training)."""
        return [self.hidden1.weight, self.hidden2.weight, self.out.weight]


def make_curve_mlp(hidden: int = 32, seed: int = 0) -> CurveMLP:
    """A CurveMLP with `hidden` units per layer; the same seed gives the same starting weights (chapter 3)."""
    check_int("hidden", hidden, 1, 4096)
    check_int("seed", seed, 0)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = CurveMLP(hidden)
    torch.random.set_rng_state(generator_state)
    return model


CURVE_WEIGHTS = ("hidden1.weight", "hidden2.weight", "out.weight")


@torch.no_grad()
def curve_snapshot(model: CurveMLP, data: CurveData, step: int, info: dict | None = None) -> Snapshot:
    """Losses (mean squared error), the fraction of weights exactly zero and the fitted function, as a Snapshot."""
    _check_curve(model, data)
    check_int("step", step, 0)
    if info is not None:
        check_instance("info", info, dict, "a dict (or None)")
    weights = model.weights()
    metrics = {"train_loss": float(F.mse_loss(model(data.X), data.y)),
               "val_loss": float(F.mse_loss(model(data.X_val), data.y_val)),
               "zero_fraction": sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)}
    return take_snapshot(model, step, metrics, {"fit": model(data.grid).squeeze(1).numpy(), **(info or {})})


def _check_curve(model, data) -> None:
    check_instance("model", model, CurveMLP, "a CurveMLP (make_curve_mlp)")
    check_instance("data", data, CurveData, "a CurveData (make_curve_data)")


def _check_penalty(kind, lam, lr):
    check_choice("kind", kind, PENALTIES)
    check_number("lr", lr, 0, 10, low_open=True)
    if check_number("lam", lam, 0) * lr >= 1:
        fail("lam", f"0 or more and below 1/lr = {1 / lr:g}", lam)


def train_curve(model: CurveMLP, data: CurveData, kind: str = "none", lam: float = 0.0, steps: int = 800,
                lr: float = 0.005, every: int = 10):
    """Fit the curve with Adam, the penalty acting on the weight matrices only; yields Snapshots.

    kind "L2": AdamW with weight_decay=lam, i.e. w <- (1 - lr*lam) w each step, decoupled from Adam;
    kind "L1": after each Adam step, w <- soft_threshold(w, lr*lam) (a proximal step: exact zeros).
    Snapshots carry metrics train_loss, val_loss (mean squared error), zero_fraction
    and info["fit"], the fitted function on data.grid.
    """
    _check_curve(model, data)
    _check_penalty(kind, lam, lr)
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    weights = model.weights()
    # weight_decay 0 = plain Adam; fused: one kernel for all tensors, ~30% faster on tiny models
    opt = torch.optim.AdamW(param_groups(model, lam if kind == "L2" else 0.0), lr=lr, fused=True)

    yield curve_snapshot(model, data, 0)
    for step in range(1, steps + 1):
        loss = F.mse_loss(model(data.X), data.y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if kind == "L1":
            shrink_(weights, "L1", lr * lam)
        if step % every == 0 or step == steps or not math.isfinite(loss.item()):
            snap = curve_snapshot(model, data, step)  # losses of the weights as they now are (after the shrink)
            yield snap
            if snap.diverged:
                return


def sweep_lambda(data: CurveData, kind: str, lams, steps: int = 800, lr: float = 0.005,
                 seed: int = 0, progress: bool | None = None) -> list[Snapshot]:
    """Train one network per strength λ, the final Snapshot of each (its λ in snap.info["lam"]).

    The same runs as `train_curve` (same start, same AdamW decay or proximal L1 step), but the K
    networks' parameters are stacked along a leading dimension (torch.func.stack_module_state) and
    one vmapped forward pass runs all of them: one batched step costs about as much as one small one.
    """
    check_instance("data", data, CurveData, "a CurveData (make_curve_data)")
    if isinstance(lams, str) or not hasattr(lams, "__iter__") or not list(lams):
        fail("lams", "a list of strengths λ (at least one)", lams)
    for lam in lams:
        check_number("lams (each strength λ)", lam, 0)
        _check_penalty(kind, lam, lr)
    lams = [float(lam) for lam in lams]
    check_int("steps", steps, 1)
    check_int("seed", seed, 0)
    if progress is not None:
        check_bool("progress", progress)
    K = len(lams)
    params, buffers = stack_module_state([make_curve_mlp(seed=seed) for _ in lams])  # each (K, ...)
    skeleton = make_curve_mlp(seed=seed).to("meta")  # the architecture only: functional_call supplies the numbers
    forward_all = vmap(lambda p, b, x: functional_call(skeleton, (p, b), (x,)), in_dims=(0, 0, None))
    weights = [params[name] for name in CURVE_WEIGHTS]
    shrink = (lr * torch.tensor(lams)).view(K, 1, 1)  # (K, 1, 1): lr × λ of each network
    opt = torch.optim.Adam(params.values(), lr=lr, fused=True)
    for _ in progress_bar(range(steps), f"{kind} sweep, {K} networks at once", show=progress):
        # each network's own mean squared error; their sum keeps the gradients separate
        loss = ((forward_all(params, buffers, data.X) - data.y) ** 2).mean(dim=(1, 2)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            if kind == "L2":  # AdamW's order: decay the weights, then add Adam's update
                for w in weights:
                    w.mul_(1 - shrink)
            opt.step()
            if kind == "L1":  # the proximal step after the Adam step
                for w in weights:
                    w.copy_(soft_threshold(w, shrink))
    finals = []
    for k, lam in enumerate(lams):
        model = make_curve_mlp(seed=seed)
        model.load_state_dict({name: p[k].detach() for name, p in params.items()})
        finals.append(curve_snapshot(model, data, steps, {"lam": lam}))
    return finals


# ---- the tiny language model on a sliver of the corpus ----------------------------------------

class DropoutTinyLM(models.TinyLM):
    """The book's TinyLM with dropout on its embeddings and hidden units (only while training)."""

    def __init__(self, config: models.TinyLMConfig, p: float = 0.5):
        check_number("p (the drop probability)", p, 0, 1, high_open=True)
        super().__init__(config)
        self.drop = nn.Dropout(p)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        e = self.drop(self.embed(X).flatten(1))  # (B, context * embed_dim)
        h = self.drop(torch.tanh(self.hidden(e)))  # (B, hidden)
        return self.out(h)  # (B, vocab_size)


def make_lm(vocab_size: int, dropout: float = 0.0, seed: int = 0, embed_dim: int = 16, hidden: int = 64):
    """A TinyLM (with dropout if dropout > 0); the same seed gives the same starting weights."""
    check_number("dropout", dropout, 0, 1, high_open=True)
    check_int("seed", seed, 0)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    config = models.TinyLMConfig(vocab_size=vocab_size, embed_dim=embed_dim, hidden=hidden)
    model = DropoutTinyLM(config, dropout) if dropout else models.TinyLM(config)
    torch.random.set_rng_state(generator_state)
    return model


def fit_lm(model: nn.Module, X, y, X_val, y_val, steps: int = 600, lr: float = 0.01, weight_decay: float = 0.0,
           batch_size: int | None = None, every: int = 10, seed: int = 0,
           early_stopping: EarlyStopping | None = None) -> list[Snapshot]:
    """Train with AdamW (decay on weight matrices only); Snapshots hold train and validation loss.

    batch_size None = the whole training set each step. With `early_stopping`, training
    stops once it says so and the best weights are put back into `model`.
    """
    check_examples(X, y)
    check_examples(X_val, y_val, names=("X_val", "y_val"))
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    check_number("lr", lr, 0, 10, low_open=True)
    if batch_size is not None:
        check_int("batch_size", batch_size, 1)
    check_int("seed", seed, 0)
    if early_stopping is not None:
        check_instance("early_stopping", early_stopping, EarlyStopping, "an EarlyStopping (or None)")
    opt = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, fused=True)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    history = []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            snap = Snapshot(step, {}, {"train_loss": train.evaluate(model, X, y),
                                       "val_loss": train.evaluate(model, X_val, y_val)})
            history.append(snap)
            if snap.diverged or (early_stopping and early_stopping.update(step, snap.metrics["val_loss"], model)):
                break
        if step == steps:
            break
        idx = torch.randperm(len(y), generator=generator)[:batch_size] if batch_size else slice(None)
        loss = F.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if early_stopping is not None and early_stopping.best_state is not None:
        early_stopping.restore(model)
    model.eval()
    return history


def _pair_counts(X, y) -> dict[tuple, dict[int, int]]:
    counts: dict[tuple, dict[int, int]] = {}
    for context, word in zip(map(tuple, X.tolist()), y.tolist()):
        follow = counts.setdefault(context, {})
        follow[word] = follow.get(word, 0) + 1
    return counts


def count_statistics(X, y) -> dict[str, float]:
    """What a table of counts knows about (context, next word) pairs (chapter 3).

    examples, distinct contexts and distinct pairs, and the empirical conditional entropy
    H(next word | context) in nats: the lowest average cross-entropy any model can reach on
    exactly these examples (a model that memorizes their frequency table reaches it).
    """
    check_examples(X, y)
    counts = _pair_counts(X, y)
    n = len(y)
    entropy = -sum(c * math.log(c / sum(follow.values())) for follow in counts.values() for c in follow.values()) / n
    return {"examples": n, "contexts": len(counts), "pairs": sum(len(f) for f in counts.values()), "entropy": entropy}


def count_table_loss(X, y, X_val, y_val) -> dict[str, float]:
    """Validation cross-entropy of the plainest model: P(word | context) = its frequency in (X, y) (chapter 3).

    Returns {"loss": nats per word, "seen": the fraction of validation pairs that occur in (X, y)}.
    No smoothing: a validation pair never seen in training makes the loss infinite (say so, or
    compare only when "seen" is 1.0).
    """
    check_examples(X, y)
    check_examples(X_val, y_val, names=("X_val", "y_val"))
    counts = _pair_counts(X, y)
    total, seen = 0.0, 0
    for context, word in zip(map(tuple, X_val.tolist()), y_val.tolist()):
        follow = counts.get(context, {})
        if follow.get(word, 0) == 0:
            total = math.inf
            continue
        seen += 1
        total -= math.log(follow[word] / sum(follow.values()))
    return {"loss": total / len(y_val), "seen": seen / len(y_val)}


def curves(history: list[Snapshot]) -> dict[str, np.ndarray]:
    """{"step", "train_loss", "val_loss"} as arrays, for plotting a fit_lm history."""
    if not isinstance(history, (list, tuple)) or not all(isinstance(s, Snapshot) for s in history):
        fail("history", "a list of Snapshots (what fit_lm returns)", history, ArgumentTypeError)
    return {"step": np.array([s.step for s in history]),
            **{k: np.array([s.metrics[k] for s in history]) for k in ("train_loss", "val_loss")}}


# ---- Adam + L2 versus AdamW --------------------------------------------------------------------

def adam_vs_adamw(steps: int = 400, lr: float = 0.01, weight_decay: float = 0.5,
                  big_gradient: float = 10.0) -> dict[str, np.ndarray]:
    """Two weights start at 1.0: the data pushes one back and forth hard (±big_gradient), the other not at all.

    Returns each weight's path, shape (steps + 1, 2), under Adam with L2 in the gradient and
    under AdamW (decoupled decay), both from knobs.regularize.adam_step.
    """
    check_int("steps", steps, 1)
    check_number("big_gradient", big_gradient)
    paths = {}
    for label, decoupled in (("Adam + L2 in the loss", False), ("AdamW (decoupled)", True)):
        w, state, path = torch.ones(2, dtype=torch.float64), AdamState(), [np.ones(2)]
        for t in range(steps):
            grad = torch.tensor([big_gradient * (-1) ** t, 0.0], dtype=torch.float64)  # (2,): loud, silent
            w = adam_step(w, grad, state, lr=lr, weight_decay=weight_decay, decoupled=decoupled)
            path.append(w.numpy().copy())
        paths[label] = np.array(path)
    return paths
