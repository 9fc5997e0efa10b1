"""K small language models trained at once, as batched matrix products (speed-up code, chapter 7).

Chapter 7 trains every model size on every data size: dozens of tiny runs, each
dominated by Python's per-step overhead. `StackedLM` holds K independent
(Deep)TinyLMs as one set of tensors with a leading K axis, so one step of
Python trains all K; `train_stacked` is that loop. Nothing is shared between
the K and Adam works element by element, so this is exactly K separate runs
(tests/unit/test_stacked.py checks it against PyTorch's own layers and Adam).
This module is about speed, not about an idea the book teaches.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from knobs.models import check_tiny_lm
from knobs.scale import linear_layers
from knobs.validate import (ArgumentTypeError, check_bool, check_examples, check_instance, check_int, check_number,
                            fail)


class StackedLM(nn.Module):
    """K independent models run as batched matrix products (one Python step for all K).

    Each parameter gets a leading K axis. The K models share nothing, and
    Adam updates element by element, so training the stack is training K
    separate models -- at the Python cost of one.

    Models of different widths stack too: `pad_to=(embed_dim, hidden)` places
    each one in the corner of a bigger, otherwise zero model. A padded unit
    gets no input and sends no output, so its gradient is exactly zero and it
    stays zero for ever (chapter 2's reason for random initialization): the
    padded model computes exactly what the small one does.
    """

    def __init__(self, members: list[nn.Module], pad_to: tuple[int, int] | None = None):
        super().__init__()
        if not isinstance(members, (list, tuple)) or not members:
            fail("members", "a list of at least one model", members)
        for member in members:
            check_tiny_lm(member, "members (each model)")
        if pad_to is not None and (not isinstance(pad_to, (tuple, list)) or len(pad_to) != 2):
            fail("pad_to", "a pair (embed_dim, hidden), or None", pad_to)
        first = members[0]
        self.vocab_size, self.context = first.out.out_features, first.config.context
        self.names = [name for name, _ in first.named_parameters()]
        self.member_shapes = [(m.embed.weight.shape[1] if getattr(m, "embed", None) is not None else 0,
                               m.out.in_features) for m in members]  # (embed_dim, hidden) of each model
        if pad_to is None:
            shapes = {tuple((n, tuple(p.shape)) for n, p in m.named_parameters()) for m in members}
            if len(shapes) != 1:
                raise ValueError("members must all have the same shape (same vocabulary, context, widths and "
                                 "depth), or give pad_to=(embed_dim, hidden)")
            E, H = self.member_shapes[0]
        else:
            E, H = pad_to
            depths = {len(linear_layers(m)) for m in members}
            if len(depths) != 1 or min(e for e, _ in self.member_shapes) < 1:
                raise ValueError("pad_to needs members with embeddings and the same number of layers")
            if any(e > E or h > H for e, h in self.member_shapes):
                raise ValueError(f"pad_to must be at least every member's (embed_dim, hidden), got {pad_to}")
        self.padded = pad_to is not None
        self.embed = None
        if E:
            self.embed = nn.Parameter(torch.stack([_pad(m.embed.weight, (self.vocab_size, E)) for m in members]))
        # Weights stored transposed, (K, in, out), so a layer is one baddbmm: x (K, B, in) @ W -> (K, B, out).
        weights, biases = [], []
        for i, group in enumerate(zip(*(linear_layers(m) for m in members))):
            last = i == len(linear_layers(first)) - 1
            out_size = self.vocab_size if last else H
            in_size = (self.context * E if E else self.context * self.vocab_size) if i == 0 else H
            Ws, bs = [], []
            for layer, (e, _) in zip(group, self.member_shapes):
                W = layer.weight.detach().T  # (in, out)
                if i == 0 and E and e != E:  # the input is context blocks of e numbers: give each block E rows
                    W = torch.cat([_pad(block, (E, W.shape[1])) for block in W.split(e)])
                Ws.append(_pad(W, (in_size, out_size)))
                bs.append(_pad(layer.bias.detach(), (out_size,))[None])
            weights.append(nn.Parameter(torch.stack(Ws)))
            biases.append(nn.Parameter(torch.stack(bs)))
        self.weights, self.biases = nn.ParameterList(weights), nn.ParameterList(biases)

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, X: torch.Tensor, members: slice = slice(None)) -> torch.Tensor:
        """X (k, B, context) word ids -> logits (k, B, vocab_size), for all K models or a slice of them."""
        if self.embed is None:
            h = F.one_hot(X, self.vocab_size).float().flatten(-2)  # (k, B, context * V)
        else:
            E = self.embed[members]  # (k, V, d)
            k, V, d = E.shape
            offsets = torch.arange(k).view(k, 1, 1) * V  # model j looks words up in rows j*V .. j*V + V-1
            h = F.embedding(X + offsets, E.reshape(k * V, d)).flatten(-2)  # (k, B, context * d)
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b[members], h, W[members])  # (k, B, out)
            if i < last:
                h = torch.tanh(h)
        return h

    def member_params(self, k: int) -> dict[str, np.ndarray]:
        """Model k's parameters with its own shapes, named as the separate model names them (a copy)."""
        e, h = self.member_shapes[k]
        E = self.embed.shape[-1] if self.embed is not None else 0
        tensors = [] if self.embed is None else [self.embed[k, :, :e]]
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            W, out = W[k], (self.vocab_size if i == last else h)
            if i == 0:
                rows = torch.cat([torch.arange(j * E, j * E + e) for j in range(self.context)]) if E else \
                    torch.arange(W.shape[0])
                W = W[rows]
            else:
                W = W[:h]
            tensors += [W[:, :out].T, b[k, 0, :out]]
        return {name: t.detach().numpy().copy() for name, t in zip(self.names, tensors)}


def _pad(t: torch.Tensor, shape: tuple) -> torch.Tensor:
    """`t` in the corner of a zero tensor of `shape`."""
    out = torch.zeros(shape, dtype=t.dtype)
    out[tuple(slice(0, n) for n in t.shape)] = t
    return out


def batch_indices(sizes, steps: int, batch_size: int, seed: int = 0) -> torch.Tensor:
    """(K, steps, batch_size) example indices: model k draws only from its first sizes[k] examples.

    Every epoch is a fresh shuffle; a short last batch is dropped, so all K batches stack.
    """
    sizes = _sizes(sizes)
    check_int("steps", steps, 1)
    check_int("batch_size", batch_size, 1)
    check_int("seed", seed, 0)
    if min(sizes) < batch_size:
        raise ValueError(f"batch_size must be between 1 and the smallest data size ({min(sizes, default=0)}), "
                         f"got {batch_size}")
    out = torch.empty(len(sizes), steps, batch_size, dtype=torch.long)
    for k, n in enumerate(sizes):
        generator, per_epoch = torch.Generator().manual_seed(seed), n // batch_size
        epochs = -(-steps // per_epoch)
        order = torch.cat([torch.randperm(n, generator=generator)[:per_epoch * batch_size] for _ in range(epochs)])
        out[k] = order[:steps * batch_size].view(steps, batch_size)
    return out


def _sizes(sizes) -> list[int]:
    """One data size (a whole number of pairs, 1 or more) per model."""
    if isinstance(sizes, str) or not hasattr(sizes, "__iter__") or not list(sizes):
        fail("sizes", "a list of data sizes, one per model", sizes, ArgumentTypeError)
    return [check_int("sizes (each data size)", n, 1) for n in sizes]


def _check_stack(stack, X, y) -> None:
    check_instance("stack", stack, StackedLM, "a StackedLM")
    check_examples(X, y)


@torch.no_grad()
def stacked_losses(stack: StackedLM, X: torch.Tensor, y: torch.Tensor, members: slice = slice(None),
                   chunk: int = 4096) -> np.ndarray:
    """Mean cross-entropy of each model (or each of `members`) on the same (X, y): shape (k,)."""
    _check_stack(stack, X, y)
    check_instance("members", members, slice, "a slice of the stack's models (e.g. slice(0, 2))")
    check_int("chunk", chunk, 1)
    k = len(range(stack.size)[members])
    total = torch.zeros(k)
    for start in range(0, len(y), chunk):
        Xc, yc = X[start:start + chunk], y[start:start + chunk]
        logits = stack(Xc.expand(k, *Xc.shape), members)  # (k, B, V)
        total += F.cross_entropy(logits.flatten(0, 1), yc.repeat(k), reduction="none").view(k, -1).sum(1)
    return (total / len(y)).numpy()


def prefix_losses(stack: StackedLM, X: torch.Tensor, y: torch.Tensor, sizes) -> np.ndarray:
    """Model k's mean cross-entropy on all its training data, the first sizes[k] pairs: shape (K,)."""
    _check_stack(stack, X, y)
    sizes = _sizes(sizes)
    return np.array([stacked_losses(stack, X[:n], y[:n], slice(k, k + 1))[0] for k, n in enumerate(sizes)])


def train_stacked(stack: StackedLM, X: torch.Tensor, y: torch.Tensor, sizes, X_val, y_val, *, steps: int = 300,
                  lr: float = 0.01, batch_size: int = 64, every: int = 30, seed: int = 0, decay: bool = True):
    """Train the K models of `stack` with Adam, model k on the first sizes[k] pairs of (X, y) (chapter 7).

    A generator: yields (step, train_loss (K,), val_loss (K,)) at step 0 and every `every` steps;
    train_loss is the minibatch loss averaged since the last record. Stops after a non-finite loss.
    """
    _check_stack(stack, X, y)
    check_examples(X_val, y_val, names=("X_val", "y_val"))
    sizes = _sizes(sizes)
    if len(sizes) != stack.size:
        raise ValueError(f"sizes must give one data size per model ({stack.size}), got {len(sizes)}")
    if max(sizes) > len(y):
        raise ValueError(f"sizes must be at most the {len(y)} examples given, got {max(sizes)}")
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    check_number("lr", lr, 0, 1, low_open=True)
    check_bool("decay", decay)
    idx = batch_indices(sizes, steps, batch_size, seed)
    opt = torch.optim.Adam(stack.parameters(), lr=lr, fused=True)  # one kernel per step for all tensors
    # Linear decay to zero (the scaling-law papers decay theirs too, with a cosine): the last steps stop
    # jittering, so a model's final loss measures the model rather than the noise of its last update.
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda done: 1 - done / steps if decay else 1.0)
    # At step 0 every model is at its initialization: its loss on the first pairs of its data is estimate
    # enough (the final training loss, after training, is measured on all of it by prefix_losses).
    yield 0, prefix_losses(stack, X, y, [min(n, len(y_val)) for n in sizes]), stacked_losses(stack, X_val, y_val)
    running, counted = torch.zeros(stack.size), 0
    for step in range(1, steps + 1):
        batch = idx[:, step - 1]  # (K, B)
        logits = stack(X[batch])  # (K, B, V)
        losses = F.cross_entropy(logits.flatten(0, 1), y[batch].flatten(), reduction="none")
        losses = losses.view(stack.size, -1).mean(1)  # (K,): each model's own mean loss
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()  # the K models share no parameter: each gets exactly its own gradient
        opt.step()
        schedule.step()
        running, counted = running + losses.detach(), counted + 1
        if step % every == 0 or step == steps:
            train_loss, val_loss = (running / counted).numpy(), stacked_losses(stack, X_val, y_val)
            running, counted = torch.zeros(stack.size), 0
            yield step, train_loss, val_loss
            if not (np.isfinite(train_loss).all() and np.isfinite(val_loss).all()):
                return
