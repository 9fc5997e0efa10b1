"""Magnitude pruning from scratch, and what sparsity really costs (chapter 5).

A *mask* is a tensor of 0s and 1s with the shape of a weight: 0 means "this
weight is pruned" (held at exactly zero). Three ways to choose the zeros:

- `magnitude_mask`: unstructured, layer-wise -- the smallest |w| of one tensor
  (Han et al. 2015); the same mask as `torch.nn.utils.prune.l1_unstructured`.
- `global_magnitude_masks`: unstructured, global -- one threshold over several
  tensors, so layers lose different fractions (`prune.global_unstructured`).
- `structured_mask`: whole rows (neurons) with the smallest L2 norm
  (`prune.ln_structured`); `neuron_masks` applies it to TinyLM's hidden units,
  and `shrink_hidden` then builds a genuinely smaller model.

`sparsity` is always the fraction of a tensor's entries that end up zero,
counting weights pruned before: pruning to 0.5 and then to 0.75 keeps the
first zeros and adds more. `hold_masks` keeps pruned weights at zero while
fine-tuning; `iterative_prune` and `lottery_ticket` are the chapter's
experiments. What the zeros save in bytes and time is measured in `knobs.sparse_cost`.

Conventions (checked against torch.nn.utils.prune in tests/unit/test_properties_prune.py):
- the number pruned is round(sparsity * n), Python's round (half to even), as PyTorch;
- among equal magnitudes (ties), the earlier entry in flattened order is pruned first.
  PyTorch's topk breaks ties in no documented order, so its mask can differ on ties
  (same count, same magnitudes pruned); ours is the same on every run and machine;
- a mask has the weight's shape and dtype; ±inf ranks as the largest magnitude, and
  a NaN weight is refused (it has no magnitude to rank).
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

import torch
from torch import nn

from knobs.models import TinyLM, TinyLMConfig, check_tiny_lm
from knobs.train import Snapshot, evaluate, train_lm
from knobs.validate import (ArgumentTypeError, check_callable, check_choice, check_examples, check_fraction,
                            check_instance, check_int, check_module, fail)

PRUNABLE = ("hidden.weight", "out.weight")  # TinyLM's two Linear weight matrices; embeddings and biases stay dense
KINDS = ("layer-wise", "global", "structured")


def check_sparsity(sparsity) -> float:
    """The sparsity as a float, or a ValueError naming the allowed range."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be a number between 0 and 1 (the fraction of weights set to zero), "
                         f"got {sparsity!r}")
    return float(sparsity)


def count_to_prune(sparsity: float, n: int) -> int:
    """How many of n entries a sparsity prunes."""
    # Python's round, as torch.nn.utils.prune uses: 0.5 of 5 weights prunes 2 (round half to even).
    return round(check_sparsity(sparsity) * check_int("n", n, 0))


def _check_weight(weight, name: str = "weight") -> torch.Tensor:
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        got = weight.dtype if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"{name} must be a floating-point tensor, got {got}")
    if bool(torch.isnan(weight).any()):
        raise ValueError(f"{name} holds NaN: a NaN has no magnitude to rank (a diverged run?)")
    return weight.detach()


def _smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k smallest scores; among equal scores the earlier index first (a stable sort)."""
    return torch.sort(scores, stable=True).indices[:k]


@torch.no_grad()
def magnitude_mask(weight: torch.Tensor, sparsity: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mask zeroing the `sparsity` fraction of `weight` with the smallest |w| (layer-wise; chapter 5)."""
    weight = _check_weight(weight)
    n = weight.numel()
    k = count_to_prune(sparsity, n)
    scores = weight.abs().flatten().clone()
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(weight.shape):
            got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"mask must have the weight's shape {tuple(weight.shape)}, got {got}")
        if not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("mask must hold only 0s (pruned) and 1s (kept)")
        scores[mask.flatten() == 0] = -1.0  # already pruned: first in line, so earlier zeros stay zeros
        k = max(k, int((mask == 0).sum()))
    new = torch.ones(n, dtype=weight.dtype, device=weight.device)
    new[_smallest(scores, k)] = 0.0
    return new.view_as(weight)


@torch.no_grad()
def global_magnitude_masks(weights: dict[str, torch.Tensor], sparsity: float,
                           masks: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """One magnitude threshold over all `weights` together (global pruning; chapter 5)."""
    if not isinstance(weights, dict) or not weights:
        raise ValueError(f"weights must be a dict (name -> tensor) holding at least one tensor, got {weights!r:.60}")
    names = list(weights)
    for name in names:
        _check_weight(weights[name], f"weights[{name!r}]")
    if masks is not None and (not isinstance(masks, dict) or set(masks) != set(names)):
        given = sorted(masks) if isinstance(masks, dict) else type(masks).__name__
        raise ValueError(f"masks must have one mask per weight, for exactly {sorted(names)}; got {given}")
    dtype = functools.reduce(torch.promote_types, (weights[n].dtype for n in names))  # one ranking for all
    flat = torch.cat([weights[name].detach().flatten().to(dtype) for name in names])
    old = None if masks is None else torch.cat([masks[name].flatten().to(dtype) for name in names])
    joint = magnitude_mask(flat, sparsity, old)
    sizes = [weights[name].numel() for name in names]
    return {name: part.view_as(weights[name]).to(weights[name].dtype) for name, part in zip(names, joint.split(sizes))}


@torch.no_grad()
def structured_mask(weight: torch.Tensor, sparsity: float, dim: int = 0, p: float = 2) -> torch.Tensor:
    """Mask zeroing whole slices along `dim` (rows: neurons) with the smallest Lp norm (chapter 5); p > 0 or inf."""
    weight = _check_weight(weight)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ValueError(f"p must be a positive number or math.inf (the norm's order), got {p!r}")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise ValueError(f"dim must be a whole number, got {dim!r}")
    if weight.dim() < 2:
        raise ValueError(f"weight must have at least 2 dimensions for structured pruning, got shape {tuple(weight.shape)}")
    if not -weight.dim() <= dim < weight.dim():
        raise ValueError(f"dim must be between {-weight.dim()} and {weight.dim() - 1}, got {dim}")
    dim = dim % weight.dim()
    others = [d for d in range(weight.dim()) if d != dim]
    norms = torch.linalg.vector_norm(weight, ord=p, dim=others)  # one norm per slice
    k = count_to_prune(sparsity, len(norms))
    keep = torch.ones(len(norms), dtype=weight.dtype, device=weight.device)
    keep[_smallest(norms, k)] = 0.0
    shape = [1] * weight.dim()
    shape[dim] = len(norms)
    return keep.view(shape).expand_as(weight).contiguous()


def prunable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """TinyLM's weight matrices that pruning may touch (PRUNABLE), by name."""
    check_module("model", model)
    params = dict(model.named_parameters())
    missing = [name for name in PRUNABLE if name not in params]
    if missing:
        fail("model", f"a knobs TinyLM (pruning here needs its {' and '.join(PRUNABLE)})", model, ArgumentTypeError)
    return {name: params[name] for name in PRUNABLE}


@torch.no_grad()
def neuron_masks(model: nn.Module, sparsity: float) -> dict[str, torch.Tensor]:
    """Structured pruning of TinyLM: drop whole hidden units (row in, bias, column out; chapter 5)."""
    check_tiny_lm(model, exact=True)
    rows = structured_mask(model.hidden.weight, sparsity, dim=0)  # (hidden, context * embed_dim)
    unit = rows[:, 0]  # (hidden,): 1 = the unit survives
    return {"hidden.weight": rows, "hidden.bias": unit.clone(),
            "out.weight": unit.expand_as(model.out.weight).contiguous()}


def prune_masks(model: nn.Module, sparsity: float, kind: str = "layer-wise",
                masks: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Masks for TinyLM's weight matrices: 'layer-wise', 'global' or 'structured' (chapter 5's lab)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    weights = prunable_weights(model)
    if masks is not None and (not isinstance(masks, dict) or not set(weights) <= set(masks)):
        fail("masks", f"a dict with a mask for each of {sorted(weights)} (or None)", masks)
    if kind == "layer-wise":
        return {name: magnitude_mask(w, sparsity, None if masks is None else masks[name]) for name, w in weights.items()}
    if kind == "global":
        return global_magnitude_masks(weights, sparsity, masks)
    return neuron_masks(model, sparsity)


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> nn.Module:
    """Set every masked weight to exactly zero, in place."""
    _check_masks(model, masks)
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].dtype))
    return model


def _check_masks(model, masks) -> None:
    """Every mask names a parameter of the model and has its exact shape (a broadcast would prune whole rows)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(masks, dict):
        raise ValueError(f"masks must be a dict of parameter name -> mask, got {type(masks).__name__}")
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        if name not in params:
            raise ValueError(f"masks: {name!r} is not a parameter of the model; it has {sorted(params)}")
        if not isinstance(mask, torch.Tensor) or mask.shape != params[name].shape:
            got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"masks[{name!r}] must have the parameter's shape {tuple(params[name].shape)}, got {got}")


@contextmanager
def hold_masks(model: nn.Module, masks: dict[str, torch.Tensor]):
    """Fine-tune with pruned weights held at zero: zero them, and zero their gradients while inside.

    With zero gradients from the start, a *freshly created* SGD or Adam never moves a pruned weight
    (its momentum and Adam's moment estimates stay zero), so masks hold without re-applying. An optimizer
    that carries momentum or moments from before pruning would still move them: re-apply the masks after
    each of its steps (`apply_masks`).
    (In fp16, give Adam an eps fp16 can hold, such as 1e-4: the default 1e-8 rounds
    to 0, and a zero gradient then makes 0/0 = NaN, pruned or not.)
    """
    apply_masks(model, masks)
    params = dict(model.named_parameters())
    handles = [params[name].register_hook(lambda grad, mask=mask.to(params[name].dtype): grad * mask)
               for name, mask in masks.items()]  # in the parameter's dtype: a hook must not change the grad's
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def sparsity_of(model: nn.Module, names=PRUNABLE) -> float:
    """Fraction of exactly-zero entries in the named tensors (default: the prunable weights)."""
    check_module("model", model)
    params = dict(model.named_parameters())
    if not isinstance(names, (list, tuple)) or not names or any(name not in params for name in names):
        fail("names", f"a list of the model's parameter names ({', '.join(params)})", names)
    zeros = sum(int((params[name] == 0).sum()) for name in names)
    return zeros / sum(params[name].numel() for name in names)


@torch.no_grad()
def shrink_hidden(model: nn.Module) -> nn.Module:
    """A TinyLM without its dead hidden units (all-zero row and bias): a smaller dense model, same outputs."""
    check_tiny_lm(model, exact=True)
    alive = (model.hidden.weight != 0).any(dim=1) | (model.hidden.bias != 0)  # (hidden,)
    small = TinyLM(TinyLMConfig(**{**model.config.__dict__, "hidden": max(1, int(alive.sum()))}))
    small.embed.weight.copy_(model.embed.weight)
    small.out.bias.copy_(model.out.bias)
    if alive.any():
        small.hidden.weight.copy_(model.hidden.weight[alive])
        small.hidden.bias.copy_(model.hidden.bias[alive])
        small.out.weight.copy_(model.out.weight[:, alive])
    else:  # a Linear needs one unit; an all-zero one computes tanh(0) = 0, the same as none at all
        for p in (small.hidden.weight, small.hidden.bias, small.out.weight):
            p.zero_()
    return small


# ---- experiments: pruned models that learn again --------------------------------------------


def fine_tune(model: nn.Module, masks: dict, X, y, steps: int = 60, lr: float = 0.01, every: int = 10, **kw):
    """Train with the pruned weights held at zero; yields knobs.train Snapshots (step 0 = just pruned)."""
    with hold_masks(model, masks):
        yield from train_lm(model, X, y, steps=steps, lr=lr, every=every, **kw)


def sparsity_schedule(final: float, rounds: int) -> list[float]:
    """Sparsities for iterative pruning: the same fraction of the *surviving* weights goes each round."""
    check_fraction("final", final)
    check_int("rounds", rounds, 1, 100)
    keep_per_round = (1.0 - final) ** (1.0 / rounds)
    return [1.0 - keep_per_round ** (r + 1) for r in range(rounds)]


def iterative_prune(model: nn.Module, X, y, final: float, rounds: int, steps_per_round: int, kind: str = "layer-wise",
                    lr: float = 0.01, X_val=None, y_val=None, every: int = 10, seed: int = 0):
    """Prune a little, fine-tune, repeat (`rounds` times) up to `final` sparsity; returns (masks, history).

    history is a list of (total fine-tune step, sparsity, val_loss) after each evaluation, so a plot can
    show the loss jump at each pruning and recover during each fine-tune. rounds=1 is one-shot pruning.
    """
    prunable_weights(model)
    check_examples(X, y)
    if X_val is not None or y_val is not None:
        check_examples(X_val, y_val, names=("X_val", "y_val"))
    check_int("steps_per_round", steps_per_round, 1)
    check_choice("kind", kind, KINDS)
    check_int("seed", seed, 0)
    masks, history, done = None, [], 0
    for target in sparsity_schedule(final, rounds):
        masks = prune_masks(model, target, kind, masks)
        for snap in fine_tune(model, masks, X, y, steps=steps_per_round, lr=lr, every=every,
                              X_val=X_val, y_val=y_val, seed=seed + done):
            history.append((done + snap.step, target, snap.metrics.get("val_loss", evaluate(model, X, y))))
        done += steps_per_round
    return masks, history


RESET = "reset to θ₀"  # lottery_ticket's run from the mask and the original initial values (a *candidate* ticket)


def lottery_ticket(make_model, X, y, sparsity: float, steps: int = 300, lr: float = 0.01, reinit_seeds=(1, 2, 3),
                   X_val=None, y_val=None, every: int = 25, seed: int = 0, kind: str = "layer-wise"):
    """Frankle & Carbin (2019), one shot: train a dense model from init, prune it, reset the survivors to their
    initial values and retrain with the mask; compare with the same mask on fresh random inits.

    `make_model(seed)` returns a freshly initialised model (seed 0 is "the" init). Returns (masks, runs) with
    runs = {"dense": [...], RESET: [...], "random re-init 1": [...], ...}, each a list of Snapshots. Whether the
    reset run is a *winning* ticket is `winning_ticket_test`'s question, not this function's.
    """
    check_callable("make_model", make_model, "a function make_model(seed) returning a fresh model")
    check_sparsity(sparsity)
    check_choice("kind", kind, KINDS)
    check_instance("reinit_seeds", reinit_seeds, (list, tuple), "a tuple of seeds")
    for reinit in reinit_seeds:
        check_int("reinit_seeds (each seed)", reinit, 0)
    common = dict(steps=steps, lr=lr, every=every, X_val=X_val, y_val=y_val, seed=seed)
    dense = make_model(0)
    runs = {"dense": list(train_lm(dense, X, y, **common))}
    masks = prune_masks(dense, sparsity, kind)
    runs[RESET] = list(fine_tune(make_model(0), masks, X, y, **common))  # survivors reset to their initial values
    for n, reinit in enumerate(reinit_seeds, start=1):
        runs[f"random re-init {n}"] = list(fine_tune(make_model(reinit), masks, X, y, **common))
    return masks, runs


def winning_ticket_test(ticket, dense, key: str = "val_loss") -> dict:
    """Frankle & Carbin's criterion: does the subnetwork, trained from θ₀, match the dense network in at most as
    many iterations?

    `ticket` and `dense` are lists of Snapshots (`lottery_ticket`'s runs) whose metrics hold `key`, a loss (lower is
    better; F&C use test accuracy). The dense network's best value and the step it reached it set the bar (early
    stopping, as in F&C); the ticket wins if it reaches that value at the same step or earlier. Returns the dense
    best and its step, the ticket's best, the first step the ticket matched the dense best (None if never), and
    `winning`.
    """
    for name, run in (("ticket", ticket), ("dense", dense)):
        if not isinstance(run, (list, tuple)) or not run or not all(isinstance(s, Snapshot) for s in run):
            fail(name, "a non-empty list of knobs.train Snapshots", run, ArgumentTypeError)
        if any(key not in s.metrics for s in run):
            fail("key", f"a metric every snapshot of {name} has ({', '.join(run[0].metrics)})", key)
    dense_best = min(dense, key=lambda s: s.metrics[key])
    matched = [s.step for s in ticket if s.metrics[key] <= dense_best.metrics[key]]
    ticket_step = min(matched) if matched else None
    return {"dense_best": dense_best.metrics[key], "dense_step": dense_best.step,
            "ticket_best": min(s.metrics[key] for s in ticket), "ticket_step": ticket_step,
            "winning": ticket_step is not None and ticket_step <= dense_best.step}
