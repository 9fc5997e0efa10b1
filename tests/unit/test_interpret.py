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
