import pytest
import torch
from torch.nn import functional as F

from knobs import bias, models
from knobs.labs import ch09


@pytest.fixture(scope="module")
def skewed():
    return bias.train_skewed(0.9, steps=200)


def test_skew_sets_the_pronoun_ratio_and_augmentation_balances_it():
    lines = bias.job_sentences(0.8, n=1000, seed=0)
    farmer = [l for l in lines if "farmer" in l]
    assert abs(sum(" he " in l for l in farmer) / len(farmer) - 0.8) < 0.05
    balanced = bias.job_sentences(0.8, n=200, augment=True)
    assert sum(" he " in l for l in balanced) == sum(" she " in l for l in balanced)
    with pytest.raises(ValueError, match="skew"):
        bias.job_sentences(1.5)


def test_next_word_bias_follows_the_formula(skewed):
    model, vocab, _ = skewed
    p = {job: models.next_word_probs(model, vocab, f"{job} said", ["he", "she"]) for job in ("farmer", "vet")}
    expected = 0.5 * (p["farmer"]["he"] - p["farmer"]["she"]) + 0.5 * (p["vet"]["she"] - p["vet"]["he"])
    assert bias.next_word_bias(model, vocab) == pytest.approx(expected)
    assert bias.next_word_bias(model, vocab) > 0.5  # a 90% skew is learned


def test_projection_leaves_jobs_orthogonal_to_the_direction(skewed):
    model, vocab, _ = skewed
    fixed = bias.project_out_direction(model, vocab)
    E = fixed.embed.weight
    g = E[vocab.id("he")] - E[vocab.id("she")]
    for job in bias.OCCUPATIONS:
        torch.testing.assert_close(E[vocab.id(job)] @ g, torch.tensor(0.0), atol=1e-5, rtol=0)
    assert bias.embedding_bias(fixed, vocab) == pytest.approx(0.0, abs=1e-5)


def test_unit_ablation_matches_a_forward_hook_that_zeroes_the_unit(skewed):
    model, vocab, _ = skewed
    effects = bias.hidden_unit_effects(model, vocab, "farmer said", "he")
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
    attribution = bias.gradient_x_weight(model, vocab, "farmer said", "he")
    ids = torch.tensor([vocab.encode("farmer said")])
    logp = torch.log_softmax(model(ids), -1)[0, vocab.id("he")]
    grads = torch.autograd.grad(logp, list(model.parameters()))
    for (name, p), g in zip(model.named_parameters(), grads):
        torch.testing.assert_close(attribution[name], g * p.detach())


def test_probe_reads_a_linear_property_and_checks_lengths():
    torch.manual_seed(0)
    features = torch.randn(200, 5)
    labels = (features[:, 0] > 0).long()
    assert bias.linear_probe(features, labels) > 0.9
    with pytest.raises(ValueError, match="same length"):
        bias.linear_probe(features, labels[:10])


def test_counterfactual_data_removes_the_learned_bias():
    *_, none = bias.bias_run(1.0, "none", steps=200, every=200)
    *_, cda = bias.bias_run(1.0, "counterfactual data", steps=200, every=200)
    assert none.metrics["bias_next"] > 0.8 and abs(cda.metrics["bias_next"]) < 0.2
    with pytest.raises(ValueError, match="mitigation"):
        next(bias.bias_run(0.9, "wishful thinking"))


def test_lab_draws():
    lab = ch09.bias_lab()
    lab.reset({"skew": 0.75, "mitigation": "project out direction"})
    assert lab.advance() and "Next-word bias" in lab.describe()
