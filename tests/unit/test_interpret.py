"""knobs.interpret: ablation, gradient × weight and probes, each checked against PyTorch's own machinery."""
import pytest
import torch

from knobs import bias, interpret, models


@pytest.fixture(scope="module")
def skewed():
    return bias.train_skewed(0.9, steps=200)


def test_unit_ablation_matches_a_forward_hook_that_zeroes_the_unit(skewed):
    model, vocab, _ = skewed
    effects = interpret.hidden_unit_effects(model, vocab, "farmer said", "he")
    ids = torch.tensor([vocab.encode("farmer said")])
    base = models.next_word_probs(model, vocab, "farmer said", ["he"])["he"]
    for unit in (0, 5):
        # TinyLM applies tanh after `hidden`: a hook returning atanh(masked tanh) switches one unit off
        handle = model.hidden.register_forward_hook(lambda m, i, o, unit=unit: torch.atanh(
            (torch.tanh(o) * (torch.arange(o.shape[-1]) != unit)).clamp(-0.999999, 0.999999)))
        with torch.no_grad():
            p = float(torch.softmax(model(ids), -1)[0, vocab.id("he")])
        handle.remove()
        assert effects[unit].item() == pytest.approx(p - base, abs=1e-4)


def test_gradient_x_weight_uses_torch_gradients(skewed):
    model, vocab, _ = skewed
    attribution = interpret.gradient_x_weight(model, vocab, "farmer said", "he")
    ids = torch.tensor([vocab.encode("farmer said")])
    logp = torch.log_softmax(model(ids), -1)[0, vocab.id("he")]
    grads = torch.autograd.grad(logp, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads):
        torch.testing.assert_close(attribution[name], g * p.detach())


def test_probe_reads_a_linear_property_and_checks_lengths():
    torch.manual_seed(0)
    features = torch.randn(200, 5)
    labels = (features[:, 0] > 0).long()
    assert interpret.linear_probe(features, labels) > 0.9
    with pytest.raises(ValueError, match="same length"):
        interpret.linear_probe(features, labels[:10])


def test_gradient_x_weight_estimates_the_drop_from_zeroing_where_first_order_is_accurate(skewed):
    """w·∂f/∂w ≈ f(w) − f(0), so the change from zeroing is ≈ −w·∂f/∂w: checked on weights made small."""
    model, vocab, _ = skewed
    model = __import__("copy").deepcopy(model)
    he, she = vocab.id("he"), vocab.id("she")
    for index in ((he, 24), (she, 31), (he, 3)):
        with torch.no_grad():
            model.out.weight[index] = 0.01 if index[1] != 31 else -0.01  # small: f is nearly linear from 0 to w
        estimate = float(interpret.gradient_x_weight(model, vocab, "farmer said", "he")["out.weight"][index])
        change = interpret.zeroing_change(model, vocab, "farmer said", "he", "out.weight", index)
        assert estimate != 0 and change == pytest.approx(-estimate, rel=0.02)


def test_zeroing_change_measures_the_real_change_and_restores_the_model(skewed):
    model, vocab, _ = skewed
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ids = torch.tensor([vocab.encode("farmer said")])
    with torch.no_grad():
        logp = float(torch.log_softmax(model(ids), -1)[0, vocab.id("he")])
    change = interpret.zeroing_change(model, vocab, "farmer said", "he", "out.bias")
    fixed = __import__("copy").deepcopy(model)
    with torch.no_grad():
        fixed.out.bias.zero_()
        assert change == pytest.approx(float(torch.log_softmax(fixed(ids), -1)[0, vocab.id("he")]) - logp, abs=1e-6)
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]), n
    # one weight at a time: the sum of the estimates does not predict zeroing the whole tensor
    whole = interpret.zeroing_change(model, vocab, "farmer said", "he", "out.weight")
    summed = float(interpret.gradient_x_weight(model, vocab, "farmer said", "he")["out.weight"].sum())
    assert abs(whole) > 5 * abs(summed)
    with pytest.raises(ValueError, match="name"):
        interpret.zeroing_change(model, vocab, "farmer said", "he", "out.nope")
    with pytest.raises(ValueError, match="index"):
        interpret.zeroing_change(model, vocab, "farmer said", "he", "out.bias", (99,))


def test_mean_ablation_replaces_the_unit_by_the_baseline(skewed):
    model, vocab, _ = skewed
    baseline = torch.linspace(-0.5, 0.5, model.config.hidden)
    effects = interpret.hidden_unit_effects(model, vocab, "farmer said", "he", baseline=baseline)
    ids = torch.tensor([vocab.encode("farmer said")])
    base = models.next_word_probs(model, vocab, "farmer said", ["he"])["he"]
    for unit in (3, 24):
        handle = model.hidden.register_forward_hook(lambda m, i, o, unit=unit: torch.atanh(torch.where(
            torch.arange(o.shape[-1]) == unit, baseline, torch.tanh(o)).clamp(-0.999999, 0.999999)))
        with torch.no_grad():
            p = float(torch.softmax(model(ids), -1)[0, vocab.id("he")])
        handle.remove()
        assert effects[unit].item() == pytest.approx(p - base, abs=1e-4)
    torch.testing.assert_close(interpret.hidden_unit_effects(model, vocab, "farmer said", "he",
                                                             baseline=torch.zeros(model.config.hidden)),
                               interpret.hidden_unit_effects(model, vocab, "farmer said", "he"))
    with pytest.raises(ValueError, match="baseline"):
        interpret.hidden_unit_effects(model, vocab, "farmer said", "he", baseline=torch.zeros(3))


def test_control_task_gives_each_type_one_label_at_the_task_rate():
    generator = torch.Generator().manual_seed(0)
    X = torch.randint(0, 40, (5000, 2), generator=generator)  # up to 1600 context types, each seen a few times
    labels = (torch.rand(5000, generator=generator) < 0.3).long()
    control = interpret.control_task_labels(X, labels, seed=1)
    types, inverse = X.unique(dim=0, return_inverse=True)
    for t in range(0, len(types), 97):
        assert len(control[inverse == t].unique()) == 1  # consistent within a type
    per_type = torch.stack([control[inverse == t][0] for t in range(len(types))]).float()
    assert per_type.mean().item() == pytest.approx(labels.float().mean().item(), abs=0.04)
    assert torch.equal(control, interpret.control_task_labels(X, labels, seed=1))  # seeded
    with pytest.raises(ValueError, match="labels"):
        interpret.control_task_labels(X, labels[:10])


def test_selectivity_separates_a_probe_that_reads_from_one_that_memorises():
    """Hewitt and Liang's point: on features that carry only the property, the control task is hard (high
    selectivity); on one-hot features of the types, a probe memorises any labelling (selectivity near 0)."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randint(0, 12, (3000, 2), generator=generator)  # 144 types
    labels = (X[:, 0] < 6).long()  # a property of the type
    readable = torch.stack([labels.float() * 2 - 1, torch.randn(3000, generator=generator) * 0.1], 1)
    one_hot = torch.nn.functional.one_hot(X[:, 0] * 12 + X[:, 1], 144).float()
    narrow = interpret.probe_selectivity(readable, X, labels)
    memorising = interpret.probe_selectivity(one_hot, X, labels)
    assert narrow["task"] > 0.95 and narrow["selectivity"] > 0.3 and narrow["selectivity_balanced"] > 0.3
    assert memorising["task"] > 0.95 and memorising["selectivity_balanced"] < 0.1


def test_balanced_accuracy_is_not_fooled_by_the_majority_class():
    features = torch.zeros(200, 3)  # nothing to read: the probe can only guess the majority
    labels = torch.tensor([1] * 10 + [0] * 190)
    mask = torch.arange(200) % 2 == 0
    assert interpret.linear_probe(features, labels, test_mask=mask) == pytest.approx(0.95)
    assert interpret.linear_probe(features, labels, test_mask=mask, balanced=True) == pytest.approx(0.5)
