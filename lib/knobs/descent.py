"""Gradient descent on a loss surface of two parameters (chapter 2).

The tiny LM has thousands of parameters, too many to draw its loss. This toy
has two, theta = (t1, t2), so every step can be seen on a contour map. Its
loss is a tilted double valley:

    f(t1, t2) = A (t1^2 - 1)^2 + TILT t1 + B (t2 - K t1)^2

a narrow valley along t2 = K t1 (steep across it, shallow along it) with two
dips: the deeper (global) minimum near t1 = -1, a shallower (local) one near
t1 = +1. The quartic walls make a too-large step explode to inf within a few
steps instead of creeping off slowly. The loss is reported as f - min f, so 0
is the best possible.

The optimizers are from scratch, a few lines each; their update rules are
PyTorch's (torch.optim.SGD, with and without momentum, and torch.optim.Adam),
which the tests check step by step.
"""
from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np

from knobs.validate import ArgumentTypeError, check_choice, check_int, check_number, fail

A, TILT, B, K = 0.5, 0.3, 4.0, 0.8  # well depth, tilt between the two dips, valley steepness, valley slope
BOX = (-2.2, 2.2)  # the square the contour map shows, for both parameters
OPTIMIZERS = ("sgd", "momentum", "adam")


def surface(t1, t2):
    """f(t1, t2) (raw, before subtracting the minimum); works elementwise on arrays."""
    for name, t in (("t1", t1), ("t2", t2)):
        if isinstance(t, bool) or not isinstance(t, (numbers.Real, np.ndarray)):
            fail(name, "a number or a NumPy array of numbers", t, ArgumentTypeError)
    return A * (t1 ** 2 - 1) ** 2 + TILT * t1 + B * (t2 - K * t1) ** 2


def gradient(theta: np.ndarray) -> np.ndarray:
    """(df/dt1, df/dt2) by hand with the chain rule (tested against torch.autograd)."""
    _check_theta(theta)
    t1, t2 = theta
    across = 2 * B * (t2 - K * t1)  # d/d(t2 - K t1) of the valley term
    return np.array([4 * A * t1 * (t1 ** 2 - 1) + TILT - K * across, across])


@lru_cache(maxsize=1)
def minima() -> tuple[np.ndarray, np.ndarray]:
    """(global minimum, local minimum) of the surface, found numerically (t1 < 0 and t1 > 0 respectively)."""
    found = []
    for start in (-1.0, 1.0):
        theta = np.array([start, K * start])
        for _ in range(4000):  # plain gradient descent with a safe step converges on this smooth surface
            theta = theta - 0.02 * gradient(theta)
        found.append(theta)
    return tuple(sorted(found, key=lambda t: surface(*t)))


def loss(theta: np.ndarray) -> float:
    """f(theta) - min f: 0 at the global minimum. inf once the parameters have blown up."""
    _check_theta(theta)
    with np.errstate(over="ignore", invalid="ignore"):
        value = surface(*theta) - surface(*minima()[0])
    return float(value) if np.isfinite(value) else float("inf")


def _check_theta(theta) -> None:
    if not isinstance(theta, (np.ndarray, list, tuple)) or np.ndim(theta) == 0 or len(theta) != 2:
        fail("theta", "the two parameters (t1, t2): a pair, or an array of shape (2,) or (2, N)", theta)


class SGD:
    """theta <- theta - lr * gradient."""

    def __init__(self, lr: float):
        self.lr = check_number("lr", lr, 0, 10, low_open=True)

    def step(self, theta, grad):
        return theta - self.lr * grad


class Momentum:
    """velocity <- momentum * velocity + gradient; theta <- theta - lr * velocity (PyTorch's form, Polyak 1964)."""

    def __init__(self, lr: float, momentum: float = 0.9):
        check_number("lr", lr, 0, 10, low_open=True)
        check_number("momentum", momentum, 0, 1, high_open=True)
        self.lr, self.momentum, self.velocity = lr, momentum, 0.0

    def step(self, theta, grad):
        self.velocity = self.momentum * self.velocity + grad
        return theta - self.lr * self.velocity


class Adam:
    """Running means of the gradient (m) and of its square (v), bias-corrected; step lr * m / sqrt(v) per parameter."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        check_number("lr", lr, 0, 10, low_open=True)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            check_number(name, beta, 0, 1, high_open=True)
        check_number("eps", eps, 0, 1, low_open=True)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m, self.v, self.t = 0.0, 0.0, 0

    def step(self, theta, grad):
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad ** 2
        m_hat, v_hat = self.m / (1 - self.beta1 ** self.t), self.v / (1 - self.beta2 ** self.t)
        return theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def make_optimizer(name: str, lr: float, momentum: float = 0.9):
    """'sgd', 'momentum' or 'adam' (whose beta1 is the momentum knob), with a clear error otherwise."""
    check_choice("name (the optimizer)", name, OPTIMIZERS)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 10:
        raise ValueError(f"lr must be a number in (0, 10], got {lr!r}")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    return {"sgd": lambda: SGD(lr), "momentum": lambda: Momentum(lr, momentum),
            "adam": lambda: Adam(lr, beta1=momentum)}[name]()


def descend(start, optimizer, steps: int):
    """Yield (step, theta, loss) from step 0; stops after the step where the loss becomes inf (diverged)."""
    try:
        theta = np.asarray(start, dtype=float)
    except (TypeError, ValueError):
        theta = None
    if theta is None or theta.shape != (2,) or not np.all(np.isfinite(theta)):
        fail("start", "two finite numbers (t1, t2)", start)
    if not callable(getattr(optimizer, "step", None)):
        fail("optimizer", "an optimizer from make_optimizer (with a .step(theta, grad) method)", optimizer,
             ArgumentTypeError)
    check_int("steps", steps, 0)
    yield 0, theta, loss(theta)
    for step in range(1, steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run overflows: that is the lesson, not an error
            theta = optimizer.step(theta, gradient(theta))  # gradient() only computes; the optimizer moves theta
        value = loss(theta)
        yield step, theta, value
        if not np.isfinite(value):
            return
