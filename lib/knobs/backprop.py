"""Backpropagation through the tiny LM by hand (chapter 2): the chain rule, one layer at a time.

Forward pass (B examples, context c, embedding d, hidden H, vocabulary V):

    x = embed.weight[X].flatten(1)      (B, c*d)   look up and concatenate the context words
    a = x @ W1.T + b1                   (B, H)     hidden pre-activation
    h = tanh(a)                         (B, H)
    z = h @ W2.T + b2                   (B, V)     logits
    L = mean over i of -log softmax(z_i)[y_i]      cross-entropy, one number

The backward pass runs the same lines in reverse; each line of
`tiny_lm_backward` is one use of the chain rule. It computes the gradients and
changes nothing: updating the parameters is the optimizer's job.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from knobs.models import check_tiny_lm
from knobs.validate import check_examples, check_module, check_tensor


@torch.no_grad()
def tiny_lm_backward(model, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gradient of the mean cross-entropy w.r.t. every parameter of a TinyLM, by hand (no autograd)."""
    check_tiny_lm(model, exact=True)
    check_tensor("X", X, integer=True)
    check_tensor("y", y, integer=True)
    if X.dim() != 2 or X.shape[1] != model.config.context or y.shape != X.shape[:1]:
        raise ValueError(f"X must be (B, {model.config.context}) word ids and y (B,), "
                         f"got {tuple(X.shape)} and {tuple(y.shape)}")
    E, W1, b1, W2, b2 = (model.embed.weight, model.hidden.weight, model.hidden.bias, model.out.weight, model.out.bias)
    B, d = X.shape[0], E.shape[1]
    # forward, keeping what the backward pass needs
    x = E[X].flatten(1)  # (B, c*d)
    h = torch.tanh(x @ W1.T + b1)  # (B, H)
    z = h @ W2.T + b2  # (B, V)
    # backward
    dz = (torch.softmax(z, dim=1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / B  # (B, V): softmax minus the truth
    dW2 = dz.T @ h  # (V, H): each logit's error times each hidden unit's value
    db2 = dz.sum(0)  # (V,)
    dh = dz @ W2  # (B, H): each hidden unit collects the errors it fed, weighted
    da = dh * (1 - h ** 2)  # (B, H): through tanh, whose slope is 1 - tanh^2
    dW1 = da.T @ x  # (H, c*d)
    db1 = da.sum(0)  # (H,)
    dx = da @ W1  # (B, c*d)
    dE = torch.zeros_like(E).index_add_(0, X.flatten(), dx.reshape(-1, d))  # each lookup returns its share to its row
    return {"embed.weight": dE, "hidden.weight": dW1, "hidden.bias": db1, "out.weight": dW2, "out.bias": db2}


def autograd_gradients(model, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same gradients from PyTorch's autograd (what loss.backward() fills into .grad)."""
    check_module("model", model)
    check_examples(X, y)
    loss = F.cross_entropy(model(X), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return {name: g for (name, _), g in zip(model.named_parameters(), grads)}
