"""Regularization from scratch (chapter 3): penalties, the optimizer steps that apply them, parameter groups.

Conventions (the ones PyTorch's `weight_decay` follows):

- L2 penalty  = lam/2 * sum(w**2)  -> its gradient is lam * w  (so SGD's weight_decay=lam is exactly this);
- L1 penalty  = lam * sum(|w|)     -> its gradient is lam * sign(w) (zero at w = 0, as autograd says).

Every function returns its input's dtype (a bf16 weight gets a bf16 step, as
torch.optim does for bf16 parameters); NaN or inf in a weight or gradient
propagates to the result, as in torch.optim, so a diverged run shows a NaN loss.

A gradient step on the L1 penalty almost never lands exactly on zero: it
overshoots and oscillates. The *proximal* step does it properly: after the
data step, soft-threshold every weight by lr * lam (`soft_threshold`), which
sets small weights to exactly 0.0 (Parikh & Boyd 2014). `adam_step` is Adam
with either L2 in the gradient (torch.optim.Adam's weight_decay) or decoupled
weight decay (torch.optim.AdamW, Loshchilov & Hutter 2019). `dropout` and
`EarlyStopping` are the two other regularizers the chapter demonstrates.
Every function here is tested against PyTorch's own in tests/test_regularize.py.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from knobs.models import count_parameters
from knobs.validate import ArgumentTypeError, check_bool, check_generator, check_int, check_number, check_tensor, fail

PENALTIES = ("none", "L1", "L2")


def _check_lam(lam, name: str = "lam (the penalty strength λ)") -> float:
    return check_number(name, lam, 0)


def _check_number(name: str, value, low: float, high: float) -> float:
    """value as a float in [low, high), or a ValueError naming the argument, the interval and what was given."""
    return check_number(name, value, low, high, high_open=True)


def _check_step(w, grad) -> None:
    check_tensor("w", w, floating=True)
    check_tensor("grad", grad, floating=True)
    if grad.shape != w.shape:  # broadcasting would silently update the wrong shape
        raise ValueError(f"grad must have w's shape {tuple(w.shape)}, got {tuple(grad.shape)}")


def _tensors(params) -> list[torch.Tensor]:
    if isinstance(params, str) or not (isinstance(params, torch.Tensor) or hasattr(params, "__iter__")):
        fail("params", "a tensor or tensors (e.g. model.parameters())", params, ArgumentTypeError)
    params = [params] if isinstance(params, torch.Tensor) else list(params)
    if not params:
        raise ValueError("params must hold at least one tensor")
    for p in params:
        if not isinstance(p, torch.Tensor):
            hint = " (pass model.parameters(), not model.named_parameters())" if isinstance(p, tuple) else ""
            raise ValueError(f"params must be tensors, got a {type(p).__name__}{hint}")
    return params


def l2_penalty(params, lam: float) -> torch.Tensor:
    """lam/2 * the sum of squares of every weight (chapter 3); add it to the loss."""
    lam = _check_lam(lam)
    return lam / 2 * sum((w ** 2).sum() for w in _tensors(params))


def l1_penalty(params, lam: float) -> torch.Tensor:
    """lam * the sum of absolute values of every weight (chapter 3); add it to the loss."""
    lam = _check_lam(lam)
    return lam * sum(w.abs().sum() for w in _tensors(params))


def l2_gradient(w: torch.Tensor, lam: float) -> torch.Tensor:
    """Gradient of lam/2 * w**2: proportional to the weight, so big weights are pulled back hardest."""
    check_tensor("w", w, floating=True)
    return _check_lam(lam) * w


def l1_gradient(w: torch.Tensor, lam: float) -> torch.Tensor:
    """(Sub)gradient of lam * |w|: the same pull, lam, on every nonzero weight, whatever its size."""
    check_tensor("w", w, floating=True)
    return _check_lam(lam) * torch.sign(w)


def soft_threshold(w: torch.Tensor, threshold) -> torch.Tensor:
    """The proximal step of an L1 penalty: move each weight `threshold` toward 0, stopping at exactly 0.

    `threshold` is a number, or a tensor that broadcasts against w (one per network in a sweep).
    """
    check_tensor("w", w, floating=True)
    if isinstance(threshold, torch.Tensor):
        if not bool((threshold >= 0).all()):
            raise ValueError("threshold must be 0 or more everywhere")
        threshold = threshold.to(w.dtype)  # keep w's dtype (a float64 sweep tensor would promote it)
    else:
        check_number("threshold", threshold, 0)
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)


@torch.no_grad()
def shrink_(params, kind: str, amount: float) -> None:
    """Apply a penalty as its own step, after the data step (decoupled): the lab's L1 and L2.

    L2: w <- (1 - amount) * w, AdamW's decoupled weight decay with amount = lr * lam.
    L1: w <- soft_threshold(w, amount), the proximal step with amount = lr * lam.
    """
    if kind not in PENALTIES:
        raise ValueError(f"kind must be one of {PENALTIES}, got {kind!r}")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 <= amount < 1:
        raise ValueError(f"amount (lr × λ) must be at least 0 and below 1, got {amount!r}")
    for w in _tensors(params):
        if kind == "L2":
            w.mul_(1.0 - amount)
        elif kind == "L1":
            w.copy_(soft_threshold(w, amount))


def fit_penalized_linear(X: torch.Tensor, y: torch.Tensor, kind: str, lam, steps: int = 3000) -> torch.Tensor:
    """Least squares with an L2 or L1 penalty in the loss, solved by (proximal) gradient descent (chapter 3).

    Minimizes 1/(2n) * ||X w - y||^2 + penalty(w), no intercept (centre X and y first), where the
    penalty is lam/2 * ||w||^2 ("L2", plain gradient descent on the whole loss: the real L2 penalty,
    not a decoupled decay), lam * ||w||_1 ("L1", ISTA: a gradient step on the data term, then
    `soft_threshold` by step * lam, the exact proximal-gradient method) or nothing ("none").
    The step is 1 / (the largest eigenvalue of X^T X / n, plus lam for L2), so it converges.
    `lam` is a number (returns w, shape (k,)) or a 1-D tensor of K strengths (returns (K, k): one
    solution per strength, computed together). Starts from w = 0.
    """
    check_tensor("X", X, floating=True, dim=2)
    check_tensor("y", y, floating=True, dim=1)
    if len(y) != len(X) or len(y) == 0:
        raise ValueError(f"X (n, k) and y (n,) must have the same n > 0, got X {tuple(X.shape)} and y {tuple(y.shape)}")
    if not (bool(torch.isfinite(X).all()) and bool(torch.isfinite(y).all())):
        raise ValueError("X and y must be finite (no NaN or inf)")
    if kind not in PENALTIES:
        raise ValueError(f"kind must be one of {PENALTIES}, got {kind!r}")
    check_int("steps", steps, 1)
    single = not isinstance(lam, torch.Tensor)
    if single:
        lams = torch.tensor([_check_lam(lam)], dtype=X.dtype)
    else:
        if lam.dim() != 1 or len(lam) == 0 or not bool(torch.isfinite(lam).all()) or not bool((lam >= 0).all()):
            raise ValueError(f"lam must be a number or a 1-D tensor of strengths, each 0 or more, got {lam!r}")
        lams = lam.to(X.dtype)
    n = len(y)
    gram, Xty = X.T @ X / n, X.T @ y / n  # (k, k), (k,)
    curvature = torch.linalg.eigvalsh(gram).max()
    step = (1.0 / (curvature + (lams if kind == "L2" else torch.zeros_like(lams)))).unsqueeze(1)  # (K, 1)
    w = torch.zeros(len(lams), X.shape[1], dtype=X.dtype)  # (K, k)
    for _ in range(steps):
        grad = w @ gram - Xty  # (K, k): the data term's gradient
        if kind == "L2":
            grad = grad + lams.unsqueeze(1) * w  # the penalty's gradient, lam * w, inside the loss
        w = w - step * grad
        if kind == "L1":
            w = soft_threshold(w, step * lams.unsqueeze(1))
    return w[0] if single else w


def sgd_step(w: torch.Tensor, grad: torch.Tensor, lr: float, weight_decay: float = 0.0) -> torch.Tensor:
    """One plain SGD step with L2 added to the gradient: w - lr * (grad + weight_decay * w) (torch.optim.SGD)."""
    _check_step(w, grad)
    _check_number("lr", lr, 0, math.inf)
    _check_lam(weight_decay, "weight_decay")
    return w - lr * (grad + l2_gradient(w, weight_decay))


@dataclass
class AdamState:
    """Adam's memory for one tensor: the step count and running means of g and g**2."""

    step: int = 0
    m: torch.Tensor | None = None  # running mean of gradients (first moment)
    v: torch.Tensor | None = None  # running mean of squared gradients (second moment)


def adam_step(w: torch.Tensor, grad: torch.Tensor, state: AdamState, lr: float = 1e-3,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
              decoupled: bool = False) -> torch.Tensor:
    """One Adam step (Kingma & Ba 2015), returning the new weights and updating `state`.

    decoupled=False: L2 in the gradient, g <- g + weight_decay * w, then Adam (torch.optim.Adam).
    decoupled=True:  w <- w * (1 - lr * weight_decay), then Adam on g alone (torch.optim.AdamW).
    The difference: in the first, the decay term is divided by sqrt(v) like the rest of the
    gradient, so weights with large gradients are decayed less (Loshchilov & Hutter 2019).
    """
    _check_step(w, grad)
    _check_lam(weight_decay, "weight_decay")
    check_bool("decoupled", decoupled)
    if not isinstance(state, AdamState):
        raise ValueError(f"state must be an AdamState (one per tensor), got {type(state).__name__}")
    if state.m is not None and state.m.shape != w.shape:
        raise ValueError(f"state belongs to a tensor of shape {tuple(state.m.shape)}, not w's {tuple(w.shape)}")
    _check_number("lr", lr, 0, math.inf)
    _check_number("eps", eps, 0, math.inf)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1, beta2 = (_check_number(f"betas[{i}]", b, 0, 1) for i, b in enumerate(betas))  # 1 divides by 0 in the correction
    if decoupled:
        w = w * (1 - lr * weight_decay)
    else:
        grad = grad + weight_decay * w
    if state.m is None:
        state.m, state.v = torch.zeros_like(w), torch.zeros_like(w)
    state.step += 1
    state.m = beta1 * state.m + (1 - beta1) * grad
    state.v = torch.addcmul(beta2 * state.v, grad, grad, value=1 - beta2)  # beta2 v + (1-beta2) g², one rounding
    # w - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - beta1^t) and v_hat = v / (1 - beta2^t) (the bias
    # correction: m and v start at zero). Arranged as torch.optim does, so that in fp16 no intermediate (g², v_hat,
    # lr * m_hat) overflows or underflows where the step itself is an ordinary number:
    denom = state.v.sqrt() / math.sqrt(1 - beta2 ** state.step) + eps
    return w - lr / (1 - beta1 ** state.step) * (state.m / denom)


# ---- parameter groups: what real LLM training code decays ---------------------------------

@dataclass
class DecayGroups:
    """Parameter names and counts that get weight decay, and those that don't."""

    decay: dict[str, int] = field(default_factory=dict)  # name -> number of parameters
    no_decay: dict[str, int] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"decay": sum(self.decay.values()), "no decay": sum(self.no_decay.values())}

    def __str__(self) -> str:
        total = sum(self.counts.values())
        return "\n".join(f"{group:9s} {len(names):3d} tensors {n:>13,} parameters ({n / total:6.1%})"
                         for group, names, n in (("decay", self.decay, self.counts["decay"]),
                                                 ("no decay", self.no_decay, self.counts["no decay"])))

    __repr__ = __str__


def split_decay(model: nn.Module, decay_embeddings: bool = False) -> DecayGroups:
    """Which parameters get weight decay: weight matrices yes; biases and norm gains/biases no.

    Embeddings are a choice: minGPT leaves them out (decay_embeddings=False); nanoGPT and the
    Hugging Face Trainer decay them (True). Shared (tied) tensors are counted once.
    """
    if not isinstance(decay_embeddings, bool):
        raise ValueError(f"decay_embeddings must be True or False, got {decay_embeddings!r}")
    groups = DecayGroups()
    for row in count_parameters(model):
        decayed = row.kind == "weight" or (row.kind == "embedding" and decay_embeddings)
        (groups.decay if decayed else groups.no_decay)[row.name] = row.count
    return groups


def param_groups(model: nn.Module, weight_decay: float, decay_embeddings: bool = False) -> list[dict]:
    """Optimizer parameter groups, e.g. torch.optim.AdamW(param_groups(model, 0.1), lr=...)."""
    _check_lam(weight_decay, "weight_decay")
    split = split_decay(model, decay_embeddings)
    tensors = dict(model.named_parameters())  # tied tensors appear once, under their first name
    groups = [{"params": [tensors[n] for n in split.decay], "weight_decay": weight_decay},
              {"params": [tensors[n] for n in split.no_decay], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]  # an optimizer refuses an empty group


# ---- dropout and early stopping -----------------------------------------------------------

def dropout(x: torch.Tensor, p: float, mask: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout (Srivastava et al. 2014): zero each unit with probability p, scale the rest by 1/(1-p).

    The scaling keeps every unit's expected value unchanged, so at evaluation time the
    network is used as is, with nothing dropped. Pass `mask` (1 = keep) to reuse one.
    """
    check_tensor("x", x, floating=True)
    _check_number("p (the drop probability)", p, 0, 1)
    check_generator("generator", generator)
    if mask is not None:
        check_tensor("mask", mask)
    if mask is None:
        mask = (torch.rand(x.shape, generator=generator) >= p).to(x.dtype)
    elif mask.shape != x.shape:
        raise ValueError(f"mask must have the shape of x, {tuple(x.shape)}, got {tuple(mask.shape)}")
    return x * mask.to(x.dtype) / (1 - p)  # x's dtype, whatever the mask's


class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` checks; keep the best weights."""

    def __init__(self, patience: int = 5, min_delta: float = 0.0):
        check_int("patience", patience, 1)
        check_number("min_delta", min_delta, 0)
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_step, self.best_state, self.bad_checks = math.inf, None, None, 0

    def update(self, step: int, val_loss: float, model: nn.Module | None = None) -> bool:
        """Record one validation check; True means stop now."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_step, self.bad_checks = val_loss, step, 0
            if model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_checks += 1
        return self.bad_checks >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Put the best weights seen back into `model`."""
        if self.best_state is None:
            raise ValueError("no weights were kept: pass the model to update() so the best weights can be saved")
        model.load_state_dict(self.best_state)
