"""Chapter 5: pruning masks against torch.nn.utils.prune, held masks, shrinking, storage and timing."""
import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune
from torch.testing import assert_close

from knobs import models, prune


def linear(shape, seed=0):
    torch.manual_seed(seed)
    layer = nn.Linear(shape[1], shape[0])
    return layer


@pytest.mark.parametrize("shape", [(7, 5), (32, 16), (29, 32), (1, 5)])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.9, 0.99, 1.0])
def test_magnitude_mask_matches_l1_unstructured(shape, sparsity):
    layer = linear(shape)
    mine = prune.magnitude_mask(layer.weight, sparsity)
    torch_prune.l1_unstructured(layer, "weight", amount=sparsity)
    assert_close(mine, layer.weight_mask)


def test_magnitude_mask_rounds_like_pytorch():
    weight = torch.tensor([0.5, -0.1, 0.3, -0.2, 0.4])
    for sparsity in (0.3, 0.5, 0.7):  # 1.5, 2.5 and 3.5 weights: Python rounds half to even
        layer = nn.Linear(5, 1, bias=False)
        layer.weight.data = weight.clone().view(1, 5)
        torch_prune.l1_unstructured(layer, "weight", amount=sparsity)
        assert_close(prune.magnitude_mask(weight.view(1, 5), sparsity), layer.weight_mask)


def test_magnitude_mask_prunes_by_size_not_sign():
    weight = torch.tensor([[-3.0, 0.1, 2.0, -0.2]])
    assert_close(prune.magnitude_mask(weight, 0.5), torch.tensor([[1.0, 0.0, 1.0, 0.0]]))


def test_pruning_again_keeps_old_zeros_like_pytorchs_container():
    layer = linear((20, 10), seed=3)
    torch.manual_seed(0)
    torch_prune.random_unstructured(layer, "weight", amount=50)  # old zeros NOT at the smallest weights
    first = layer.weight_mask.clone()
    # then 70 more, chosen among the survivors only, ranked by the unpruned values
    torch_prune.l1_unstructured(layer, "weight", amount=70, importance_scores=layer.weight_orig.detach())
    mine = prune.magnitude_mask(layer.weight_orig, 120 / 200, mask=first)
    assert_close(mine, layer.weight_mask)
    assert bool((mine <= first).all())  # nothing pruned comes back


@pytest.mark.parametrize("sparsity", [0.2, 0.5, 0.9, 0.97])
def test_global_masks_match_global_unstructured(sparsity):
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(16, 32), nn.Linear(32, 29), nn.Conv2d(3, 4, 3))
    with torch.no_grad():
        net[1].weight.mul_(3.0)  # different scales per layer: global pruning treats them unequally
    weights = {"a": net[0].weight, "b": net[1].weight, "c": net[2].weight}
    mine = prune.global_magnitude_masks(weights, sparsity)
    torch_prune.global_unstructured([(net[0], "weight"), (net[1], "weight"), (net[2], "weight")],
                                    pruning_method=torch_prune.L1Unstructured, amount=sparsity)
    for name, module in zip("abc", net):
        assert_close(mine[name], module.weight_mask)
    if 0.2 <= sparsity <= 0.9:
        fractions = [float((m == 0).float().mean()) for m in mine.values()]
        assert fractions[1] < fractions[0]  # the large-weight layer loses less


@pytest.mark.parametrize("dim, p", [(0, 2), (1, 2), (0, 1), (-1, 1)])
@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.8, 1.0])
def test_structured_mask_matches_ln_structured(dim, p, sparsity):
    layer = linear((12, 9), seed=2)
    mine = prune.structured_mask(layer.weight, sparsity, dim=dim, p=p)
    torch_prune.ln_structured(layer, "weight", amount=sparsity, n=p, dim=dim)
    assert_close(mine, layer.weight_mask)


def test_structured_mask_on_a_conv_weight():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3)
    mine = prune.structured_mask(conv.weight, 0.5, dim=0)
    torch_prune.ln_structured(conv, "weight", amount=0.5, n=2, dim=0)
    assert_close(mine, conv.weight_mask)


def test_neuron_masks_remove_whole_hidden_units(trained_model):
    model = copy.deepcopy(trained_model)
    masks = prune.neuron_masks(model, 0.25)
    reference = copy.deepcopy(model)
    torch_prune.ln_structured(reference.hidden, "weight", amount=0.25, n=2, dim=0)
    assert_close(masks["hidden.weight"], reference.hidden.weight_mask)
    dead = masks["hidden.bias"] == 0
    assert int(dead.sum()) == round(0.25 * model.config.hidden)
    assert bool((masks["out.weight"][:, dead] == 0).all()) and bool((masks["out.weight"][:, ~dead] == 1).all())


@pytest.mark.parametrize("kind", prune.KINDS)
def test_prune_masks_reach_the_asked_sparsity(trained_model, kind):
    model = copy.deepcopy(trained_model)
    prune.apply_masks(model, prune.prune_masks(model, 0.75, kind))
    assert prune.sparsity_of(model) == pytest.approx(0.75, abs=0.02)


def test_shrunk_model_is_smaller_and_computes_the_same(trained_model, farm):
    model = copy.deepcopy(trained_model)
    prune.apply_masks(model, prune.neuron_masks(model, 0.5))
    small = prune.shrink_hidden(model)
    X = farm[1][:50]
    assert small.config.hidden == model.config.hidden // 2
    assert models.count_parameters(small).total < models.count_parameters(model).total
    assert_close(small(X), model(X))


def test_shrinking_away_every_unit_still_computes_the_same(trained_model, farm):
    model = copy.deepcopy(trained_model)
    prune.apply_masks(model, prune.neuron_masks(model, 1.0))
    small = prune.shrink_hidden(model)
    assert small.config.hidden == 1
    assert_close(small(farm[1][:20]), model(farm[1][:20]))


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "momentum"])
def test_hold_masks_keeps_pruned_weights_at_exactly_zero(trained_model, farm, optimizer):
    vocab, X, y, *_ = farm
    model = copy.deepcopy(trained_model)
    masks = prune.prune_masks(model, 0.8, "global")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    list(prune.fine_tune(model, masks, X, y, steps=20, lr=0.01, every=20, optimizer=optimizer))
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert bool((params[name][mask == 0] == 0).all()), name
        assert not torch.equal(params[name][mask == 1], before[name][mask == 1])  # survivors did learn
    assert all(not p._backward_hooks for p in model.parameters())  # hooks are gone afterwards
    loss = nn.functional.cross_entropy(model(X[:8]), y[:8])
    loss.backward()
    assert bool((params["out.weight"].grad[masks["out.weight"] == 0] != 0).any())


def test_iterative_pruning_reaches_the_final_sparsity(trained_model, farm):
    vocab, X, y, X_val, y_val = farm
    model = copy.deepcopy(trained_model)
    masks, history = prune.iterative_prune(model, X, y, final=0.9, rounds=3, steps_per_round=10,
                                           X_val=X_val, y_val=y_val, every=5)
    assert prune.sparsity_of(model) == pytest.approx(0.9, abs=0.005)
    assert [h[0] for h in history] == sorted(h[0] for h in history)
    assert sorted({round(h[1], 6) for h in history}) == [round(s, 6) for s in prune.sparsity_schedule(0.9, 3)]


def test_sparsity_schedule_prunes_the_same_fraction_of_survivors():
    schedule = prune.sparsity_schedule(0.875, 3)
    assert_close(torch.tensor(schedule), torch.tensor([0.5, 0.75, 0.875]))
    assert prune.sparsity_schedule(0.6, 1) == [pytest.approx(0.6)]


def test_lottery_ticket_rewinds_survivors_to_their_initial_values(farm):
    vocab, X, y, X_val, y_val = farm
    make = lambda seed: models.make_tiny_lm(len(vocab), seed=seed)  # noqa: E731
    masks, runs = prune.lottery_ticket(make, X, y, 0.8, steps=4, every=2, X_val=X_val, y_val=y_val,
                                       reinit_seeds=(1,))
    assert list(runs) == ["dense", prune.RESET, "random re-init 1"]
    init = make(0)
    ticket0 = runs[prune.RESET][0].params["out.weight"]
    expected = (init.out.weight * masks["out.weight"]).detach().numpy()
    assert_close(torch.from_numpy(ticket0), torch.from_numpy(expected))
    assert runs[prune.RESET][-1].step == 4 and "val_loss" in runs["dense"][-1].metrics


def _run(losses, every=25):
    from knobs.train import Snapshot
    return [Snapshot(every * i, {}, {"val_loss": v}) for i, v in enumerate(losses)]


def test_winning_ticket_test_is_frankle_and_carbins_criterion():
    dense = _run([3.0, 1.0, 0.8, 0.75, 0.78])  # best 0.75 at step 75
    # matches the dense best at step 50, earlier than the dense network: a winning ticket
    early = prune.winning_ticket_test(_run([3.0, 0.9, 0.74, 0.8, 0.9]), dense)
    assert early["winning"] and early["ticket_step"] == 50 and early["dense_step"] == 75
    assert early["dense_best"] == 0.75 and early["ticket_best"] == 0.74
    # beats random re-inits perhaps, but stays above the dense best: not a winning ticket
    above = prune.winning_ticket_test(_run([3.0, 1.5, 1.0, 0.83, 0.82]), dense)
    assert not above["winning"] and above["ticket_step"] is None and above["ticket_best"] == 0.82
    # matches it, but only later than the dense network did: not in at most as many iterations
    late = prune.winning_ticket_test(_run([3.0, 1.5, 1.0, 0.9, 0.75]), dense)
    assert not late["winning"] and late["ticket_step"] == 100
    with pytest.raises(ValueError, match="key"):
        prune.winning_ticket_test(_run([1.0]), dense, key="val_acc")


@pytest.mark.parametrize("call, message", [
    (lambda w: prune.magnitude_mask(w, 1.5), "sparsity must be a number between 0 and 1"),
    (lambda w: prune.magnitude_mask(w, -0.1), "sparsity must be"),
    (lambda w: prune.magnitude_mask(w, "half"), "sparsity must be"),
    (lambda w: prune.magnitude_mask(w, True), "sparsity must be"),
    (lambda w: prune.magnitude_mask(w, 0.5, mask=torch.ones(3, 4)), "mask must have the weight's shape"),
    (lambda w: prune.structured_mask(w[0], 0.5), "at least 2 dimensions"),
    (lambda w: prune.structured_mask(w, 0.5, dim=2), "dim must be between -2 and 1"),
    (lambda w: prune.global_magnitude_masks({}, 0.5), "at least one tensor"),
    (lambda w: prune.sparsity_schedule(0.9, 0), "rounds must be"),
    (lambda w: prune.prune_masks(nn.Linear(2, 2), 0.5), "knobs TinyLM"),
])
def test_bad_input_gets_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(torch.randn(4, 3))


def test_prune_masks_refuses_an_unknown_kind(trained_model):
    with pytest.raises(ValueError, match="kind must be one of"):
        prune.prune_masks(trained_model, 0.5, "random")

