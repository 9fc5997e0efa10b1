"""Property tests of knobs.prune's masks against torch.nn.utils.prune.

Oracles: L1Unstructured / LnStructured .compute_mask (the same masks l1_unstructured
and ln_structured attach to a module) and global_unstructured on modules holding the
same tensors.

Conventions, stated in prune.py and checked here:
- the count pruned is round(sparsity · n), Python's round (half to even), as torch's;
- ties: among equal magnitudes (or norms) the earlier entry in flattened order is pruned
  first. torch's topk breaks ties in no documented order, so on ties the masks are
  compared by what they prune (the same count, the same magnitudes), and ours by its rule;
- a mask has the weight's shape and dtype, for any shape, dtype and strided view.
"""
import math

import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn
from torch.nn.utils import prune as torch_prune

from knobs import prune
from properties import dtypes, examples, weights

sparsities = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0))


def assert_same_pruning(ours, theirs, scores):
    """Equal masks, or -- where scores tie -- the same number pruned from each score value, ties broken by index."""
    assert ours.shape == theirs.shape
    ours, theirs, scores = ours.flatten(), theirs.flatten(), scores.flatten()
    assert int((ours == 0).sum()) == int((theirs == 0).sum())
    differ = ours != theirs
    if bool(differ.any()):  # allowed only among equal scores
        assert sorted(scores[ours == 0].tolist()) == sorted(scores[theirs == 0].tolist())
    pruned, kept = scores[ours == 0], scores[ours == 1]
    if len(pruned) and len(kept):  # smallest pruned first; among equals, the lower index
        assert float(pruned.max()) <= float(kept.min())
        tie = float(pruned.max())
        idx_pruned = torch.nonzero((ours == 0) & (scores == tie)).flatten()
        idx_kept = torch.nonzero((ours == 1) & (scores == tie)).flatten()
        if len(idx_kept):
            assert int(idx_pruned.max()) < int(idx_kept.min())


@examples(80)
@given(weights(min_dims=0, specials=False), sparsities)
def test_magnitude_mask_matches_l1_unstructured(w, sparsity):
    ours = prune.magnitude_mask(w, sparsity)
    assert ours.shape == w.shape and ours.dtype == w.dtype
    theirs = torch_prune.L1Unstructured(sparsity).compute_mask(w.detach().clone(), torch.ones_like(w))
    assert_same_pruning(ours, theirs, w.detach().abs().double())
    if sparsity == 0:
        assert bool((ours == 1).all())
    if sparsity == 1:
        assert bool((ours == 0).all())


@examples(40)
@given(weights(min_dims=1), sparsities, sparsities)
def test_pruning_in_two_steps_is_pruning_once_and_keeps_old_zeros(w, s1, s2):
    first, second = sorted((s1, s2))
    mask1 = prune.magnitude_mask(w, first)
    mask2 = prune.magnitude_mask(w, second, mask=mask1)
    assert bool((mask2 <= mask1).all())  # nothing pruned comes back
    assert torch.equal(mask2, prune.magnitude_mask(w, second))  # ties broken by index: the same order both ways


@examples(40)
@given(weights(min_dims=1, specials=True), sparsities)
def test_inf_ranks_largest_and_nan_is_refused(w, sparsity):
    if bool(torch.isnan(w).any()):
        with pytest.raises(ValueError, match="weight holds NaN"):
            prune.magnitude_mask(w, sparsity)
        return
    mask = prune.magnitude_mask(w, sparsity)
    if int((mask == 0).sum()) < w.numel() - int(torch.isinf(w).sum()):
        assert bool((mask[torch.isinf(w)] == 1).all())  # an infinite weight is the last to go


@examples(40)
@given(st.lists(weights(dtype=torch.float32, min_dims=1, max_dims=4, styles=("normal", "mixed", "ties")),
                min_size=1, max_size=4), sparsities)
def test_global_masks_match_global_unstructured(tensors, sparsity):
    holders = []
    for t in tensors:
        holder = nn.Module()
        holder.w = nn.Parameter(t.clone())
        holders.append(holder)
    torch_prune.global_unstructured([(h, "w") for h in holders], torch_prune.L1Unstructured, amount=sparsity)
    ours = prune.global_magnitude_masks({str(i): t for i, t in enumerate(tensors)}, sparsity)
    theirs = torch.cat([h.w_mask.flatten() for h in holders])
    assert_same_pruning(torch.cat([ours[str(i)].flatten() for i in range(len(tensors))]), theirs,
                        torch.cat([t.abs().flatten() for t in tensors]))


@examples(30)
@given(st.lists(weights(min_dims=1, max_dims=3, styles=("normal", "mixed")), min_size=1, max_size=3), sparsities)
def test_global_masks_keep_each_weights_shape_and_dtype(tensors, sparsity):
    masks = prune.global_magnitude_masks({str(i): t for i, t in enumerate(tensors)}, sparsity)
    for i, t in enumerate(tensors):
        assert masks[str(i)].shape == t.shape and masks[str(i)].dtype == t.dtype
    assert sum(int((m == 0).sum()) for m in masks.values()) == round(sparsity * sum(t.numel() for t in tensors))


@st.composite
def structured_cases(draw):
    w = draw(weights(min_dims=2, max_dims=4, styles=("normal", "mixed", "ties", "all equal", "huge")))
    return w, draw(sparsities), draw(st.integers(-w.dim(), w.dim() - 1)), draw(st.sampled_from([1, 2, 3, math.inf, 0.5]))


@examples(80)
@given(structured_cases())
def test_structured_mask_matches_ln_structured(case):
    w, sparsity, dim, p = case
    ours = prune.structured_mask(w, sparsity, dim=dim, p=p)
    assert ours.shape == w.shape and ours.dtype == w.dtype
    theirs = torch_prune.LnStructured(sparsity, n=p, dim=dim).compute_mask(w.detach().clone(), torch.ones_like(w))
    others = [d for d in range(w.dim()) if d != dim % w.dim()]
    norms = torch.linalg.vector_norm(w.detach(), ord=p, dim=others)  # the score of each slice, in w's dtype
    take = lambda m: m.amax(dim=others)  # one 0/1 per slice (whole slices are pruned)
    assert torch.equal(ours, take(ours).reshape([-1 if d == dim % w.dim() else 1 for d in range(w.dim())])
                       .expand_as(w).to(w.dtype))
    assert_same_pruning(take(ours), take(theirs), norms.double())


@examples(30)
@given(dtypes, st.integers(1, 6), st.integers(1, 6), st.data())
def test_hold_masks_keeps_pruned_weights_at_zero_through_sgd_and_adam(dtype, n_in, n_out, data):
    model = nn.Linear(n_in, n_out, dtype=dtype)
    masks = {"weight": prune.magnitude_mask(model.weight, data.draw(sparsities))}
    optimizer = data.draw(st.sampled_from([torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW]))
    eps = {"eps": 1e-4} if optimizer is not torch.optim.SGD else {}  # fp16 rounds Adam's default 1e-8 to 0: 0/0
    opt = optimizer(model.parameters(), lr=0.1, **eps)
    x = data.draw(weights(dtype=dtype, shape=(3, n_in), styles=("normal",)))
    with prune.hold_masks(model, masks):
        for _ in range(3):
            opt.zero_grad()
            model(x).square().sum().backward()
            assert model.weight.grad.dtype == dtype
            opt.step()
    assert bool((model.weight[masks["weight"] == 0] == 0).all())
