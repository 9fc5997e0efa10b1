"""Chapter 2 exercises: the chain rule by hand, backprop through the hidden layer, the largest stable step."""
from __future__ import annotations

import torch

from knobs.autograd import Value
from knobs.exercises.checker import as_number, direction_hint, exercise, is_close
from knobs.validate import fail

CHAIN_AT = {"a": 2.0, "b": -3.0, "c": 10.0}  # f(a, b, c) = (a*b + c)**2 at this point


def chain_gradients() -> dict[str, float]:
    """df/da, df/db, df/dc of f = (a*b + c)^2, computed by knobs.autograd (the checker's reference)."""
    leaves = {k: Value(v, label=k) for k, v in CHAIN_AT.items()}
    f = (leaves["a"] * leaves["b"] + leaves["c"]) ** 2
    f.backward()
    return {k: v.grad for k, v in leaves.items()}


@exercise("ch02.chain")
def check_chain(answer):
    if not isinstance(answer, dict) or set(answer) != set(CHAIN_AT):
        raise ValueError("give a dict with the keys 'a', 'b' and 'c'")
    expected = chain_gradients()
    inner = CHAIN_AT["a"] * CHAIN_AT["b"] + CHAIN_AT["c"]
    wrong = [k for k in CHAIN_AT if not is_close(answer[k], expected[k], rel=1e-6, abs_tol=1e-9)]
    if not wrong:
        return True, "The outer derivative 2(ab + c), times each input's local derivative: that is the chain rule."
    local = {"a": CHAIN_AT["b"], "b": CHAIN_AT["a"], "c": 1.0}  # derivatives of u = ab + c alone
    if all(is_close(answer[k], local[k], rel=1e-6) for k in wrong):
        return False, "You have the local derivatives of u = ab + c. Multiply each by the derivative of u², which is 2u."
    k = wrong[0]
    if k in ("a", "b") and is_close(answer[k], 2 * inner, rel=1e-6):
        return False, f"For {k}: 2(ab + c) is the outer factor; multiply it by d(ab)/d{k}, which is the *other* input."
    return False, f"{len(wrong)} of 3 are off ({', '.join(wrong)}). Write u = ab + c, then df/d{k} = df/du · du/d{k}."


def backprop_setting():
    """The model and batch of the hand-backprop exercise: TinyLM(seed 0) and the first 8 training pairs."""
    from knobs import models
    from knobs.data import farm_split

    vocab, X, y, *_ = farm_split()
    return models.make_tiny_lm(len(vocab), seed=0), X[:8], y[:8]


@exercise("ch02.hidden")
def check_hidden(answer):
    from torch.nn import functional as F

    if not isinstance(answer, dict) or set(answer) != {"hidden.weight", "hidden.bias"}:
        raise ValueError("give a dict with the keys 'hidden.weight' and 'hidden.bias' (tensors)")
    model, X, y = backprop_setting()
    loss = F.cross_entropy(model(X), y)
    reference = dict(zip(("hidden.weight", "hidden.bias"),
                         torch.autograd.grad(loss, [model.hidden.weight, model.hidden.bias])))
    mine = {k: torch.as_tensor(v, dtype=torch.float32).detach() for k, v in answer.items()}
    shape = tuple(reference["hidden.weight"].shape)
    if tuple(mine["hidden.weight"].shape) == shape[::-1]:
        return False, "Transposed: a weight's gradient has the weight's own shape (out, in). Try d_pre.T @ x_in."
    for name in reference:
        if tuple(mine[name].shape) != tuple(reference[name].shape):
            return False, f"{name} should have shape {tuple(reference[name].shape)}, got {tuple(mine[name].shape)}."
    close = {k: torch.allclose(mine[k], reference[k], rtol=1e-4, atol=1e-6) for k in reference}
    if all(close.values()):
        return True, "Your hand gradients match autograd's: you ran the chain rule through tanh and the hidden layer."
    hints = _hidden_mistakes(model, X, y, mine)
    if hints:
        return False, hints
    if close["hidden.weight"]:
        return False, "hidden.weight is right; the bias gradient sums d_pre over the batch (each example adds its share)."
    return False, "Go one line at a time: d_pre = dh · tanh'(a_pre), then dW1 = d_pre.T @ x_in and db1 = d_pre summed over the batch."


@torch.no_grad()
def _hidden_mistakes(model, X, y, mine) -> str:
    """Recognise the usual slips by recomputing the gradient with each slip made on purpose."""
    x_in = model.embed.weight[X].flatten(1)
    a_pre = x_in @ model.hidden.weight.T + model.hidden.bias
    h = torch.tanh(a_pre)
    z = h @ model.out.weight.T + model.out.bias
    dz = (torch.softmax(z, 1) - torch.nn.functional.one_hot(y, z.shape[1])) / len(y)
    dh = dz @ model.out.weight
    slips = {
        "You skipped tanh: multiply dh by its slope 1 - h² before going into the weights.": dh,
        "tanh'(a_pre) is 1 - tanh(a_pre)² = 1 - h², not 1 - a_pre².": dh * (1 - a_pre ** 2),
        "The loss is the *mean* over the batch, so dz already carries the 1/B: don't divide again.":
            dh * (1 - h ** 2) / len(y),
        "The loss is the mean over the batch: the gradient carries a 1/B (dz did).": dh * (1 - h ** 2) * len(y),
    }
    for message, d_pre in slips.items():
        if torch.allclose(mine["hidden.weight"], d_pre.T @ x_in, rtol=1e-4, atol=1e-7):
            return message
    return ""


def stable_limit() -> float:
    """The largest stable learning rate of plain gradient descent on MAX_LR_LOSS: 2 / largest curvature."""
    hessian = torch.autograd.functional.hessian(max_lr_loss, torch.zeros(2, dtype=torch.float64))
    return float(2 / torch.linalg.eigvalsh(hessian).max())


def max_lr_loss(theta):
    """L(θ1, θ2) = 3 θ1² + ½ θ2², the loss of the max-learning-rate exercise."""
    if isinstance(theta, str) or not hasattr(theta, "__len__") or len(theta) != 2:
        fail("theta", "the two parameters (θ1, θ2)", theta)
    return 3 * theta[0] ** 2 + 0.5 * theta[1] ** 2


@exercise("ch02.max_lr")
def check_max_lr(answer):
    answer = as_number(answer)  # any numeric form: int, float, NumPy scalar, 0-d tensor
    expected = stable_limit()
    if is_close(answer, expected, rel=0.01):
        return True, "Beyond 2 / (largest curvature) the steep direction overshoots by more than it corrects, and grows."
    if is_close(answer, expected / 2, rel=0.01):
        return False, ("That step lands θ1 exactly on 0 in one go: the best step, not the largest safe one. "
                       "Larger steps overshoot but can still shrink.")
    if is_close(answer, 2.0, rel=0.01):
        return False, "That is the limit for the flat direction θ2; the steep one, θ1, breaks first."
    if is_close(answer, 2 * expected, rel=0.01):
        return False, "The curvature is the second derivative of 3θ1², which is 6, not 3."
    return False, (direction_hint(answer, expected)
                   + " Write one step for θ1 alone: θ1 ← (1 - lr · 6) θ1. When does it grow?")
