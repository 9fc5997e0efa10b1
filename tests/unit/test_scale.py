"""knobs.scale: deeper and one-hot variants of the tiny LM, counting by formula, entropy, costs (chapter 7)."""
import math

import pytest
import torch
from torch.nn import functional as F

from knobs import data, models, scale


def test_deep_model_matches_pytorch_sequential():
    model = scale.make_lm(29, seed=3, context=4, embed_dim=5, hidden=7, layers=3)
    layers = [model.embed, torch.nn.Flatten()]
    for layer in model.hidden:
        layers += [layer, torch.nn.Tanh()]
    reference = torch.nn.Sequential(*layers, model.out)
    X = torch.randint(0, 29, (11, 4))
    torch.testing.assert_close(model(X), reference(X))


def test_one_hot_model_is_an_embedding_of_identity_rows():
    model = scale.make_lm(29, seed=0, context=2, embed_dim=0, hidden=5)
    X = torch.randint(0, 29, (6, 2))
    first = model.hidden[0]
    expected = torch.tanh(first.weight[:, X[:, 0]].T + first.weight[:, 29 + X[:, 1]].T + first.bias)
    torch.testing.assert_close(torch.tanh(first(F.one_hot(X, 29).float().flatten(1))), expected)


@pytest.mark.parametrize("shape", [dict(embed_dim=8, hidden=32), dict(embed_dim=16, hidden=13, layers=4),
                                   dict(embed_dim=0, hidden=15), dict(embed_dim=3, hidden=1, layers=2)])
def test_parameter_formula_matches_count(shape):
    model = scale.make_lm(29, context=4, **shape)
    assert scale.lm_parameter_count(29, 4, **{"layers": 1, **shape}) == models.count_parameters(model).total


def test_width_for_budget_hits_the_budget():
    h = scale.width_for_budget(2245, 29, 4, 32)
    assert abs(scale.lm_parameter_count(29, 4, 32, h) - 2245) <= 29 * 1 + 4 * 32 + 1


def test_conditional_entropy_matches_torch_distributions():
    tokens = "a b a c a b a b a c b a".split()
    got = scale.conditional_entropy(tokens, 1)
    # by hand: after 'a' -> b,c,b,b,c (p=3/5, 2/5); after 'b' -> a,a,a (0 nats); after 'c' -> a, b
    after_a = torch.distributions.Categorical(probs=torch.tensor([3 / 5, 2 / 5])).entropy()
    after_c = torch.distributions.Categorical(probs=torch.tensor([1 / 2, 1 / 2])).entropy()
    expected = (5 * after_a + 2 * after_c) / 11
    torch.testing.assert_close(torch.tensor(got, dtype=torch.float32), expected.float())
    assert scale.conditional_entropy("x y x y x y".split(), 1) == 0.0  # deterministic text: nothing to guess


def test_count_training_flops_matches_pytorch_flop_counter():
    for shape in (dict(embed_dim=8, hidden=32), dict(embed_dim=4, hidden=9, layers=3), dict(embed_dim=0, hidden=7)):
        model = scale.make_lm(29, context=4, **shape)
        X, y = torch.randint(0, 29, (50, 4)), torch.randint(0, 29, (50,))
        assert scale.count_training_flops(model, 50) == scale.measure_training_flops(model, X, y)
    model = scale.make_lm(29, context=4, embed_dim=8, hidden=32)
    assert scale.count_training_flops(model, 10) == scale.training_flops(scale.non_embedding_weights(model), 10)


def test_training_memory_is_16_bytes_per_parameter_measured_and_by_recipe():
    model = scale.make_lm(29, context=4, embed_dim=8, hidden=32)
    opt = torch.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="backward"):
        scale.measured_training_state_bytes(model, opt)
    F.cross_entropy(model(torch.randint(0, 29, (8, 4))), torch.randint(0, 29, (8,))).backward()
    with pytest.raises(ValueError, match="step"):
        scale.measured_training_state_bytes(model, opt)
    opt.step()
    measured = scale.measured_training_state_bytes(model, opt)
    n = models.count_parameters(model).total
    assert measured == {"weights": 4 * n, "gradients": 4 * n, "optimizer state": 8 * n}
    assert scale.training_memory_bytes(n, "fp32 Adam") == sum(measured.values())
    assert scale.training_memory_bytes(1e9) == 16e9  # mixed precision, ZeRO's 2 + 2 + 12


def test_real_models_and_six_n_d():
    gpt3 = {m.name: m for m in scale.real_models()}["GPT-3"]
    assert round(gpt3.parameters / 1e9) == 175
    assert math.isclose(scale.training_flops(gpt3.parameters, gpt3.tokens), 3.14e23, rel_tol=0.01)  # paper: 3.14e23


def test_farm_more_starts_with_farm():
    farm = data.read_corpus_text("farm").splitlines()
    assert data.read_corpus_text("farm_more").splitlines()[:len(farm)] == farm


@pytest.mark.parametrize("call, message", [
    (lambda: scale.DeepLMConfig(hidden=0), "hidden must be a whole number between 1 and 4096"),
    (lambda: scale.DeepLMConfig(layers=20), "layers must be"),
    (lambda: scale.training_memory_bytes(10, "sgd"), "recipe must be one of"),
    (lambda: scale.training_flops(-1, 5), "n_parameters must be a number at least 0, got -1"),
    (lambda: scale.count_training_flops(scale.make_lm(29), 0), "batch_size"),
    (lambda: scale.conditional_entropy(["a", "b"], 2), "context must be a whole number between 1 and 1, got 2"),
    (lambda: scale.width_for_budget(0, 29, 4, 8), "budget"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_order_of_magnitude_for_prose():
    assert scale.order_of_magnitude(1.2e13) == "10¹³"
    assert scale.order_of_magnitude(0.004) == "10⁻²"
    with pytest.raises(ValueError, match="positive"):
        scale.order_of_magnitude(0)


def test_entropy_bias_correction_is_miller_madow():
    tokens = "a b a c a b a b a c b a".split()
    # pairs (a,b) (a,c) (b,a) (c,a) (c,b): 5 distinct; contexts a, b, c: 3; 11 predicted words
    assert scale.entropy_bias_correction(tokens, 1) == pytest.approx((5 - 3) / (2 * 11))
    assert scale.entropy_bias_correction("x y x y x y".split(), 1) == 0.0  # deterministic: no bias to correct


def test_entropy_bias_correction_moves_a_small_sample_towards_the_source():
    """A plug-in estimate from few words sits below the source's entropy; the correction closes most of the gap."""
    generator = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.5, 0.3, 0.2])
    source = float(torch.distributions.Categorical(probs=probs).entropy())  # every context: the same next-word law
    plug_in, corrected = [], []
    for _ in range(200):
        draws = torch.multinomial(probs, 40, replacement=True, generator=generator).tolist()
        tokens = [t for d in draws for t in ("ctx", str(d))]  # "ctx" then a draw: only "ctx" has an uncertain next word
        plug = scale.conditional_entropy(tokens, 1) * (len(tokens) - 1) / len(draws)  # per draw, not per word
        plug_in.append(plug)
        corrected.append(plug + scale.entropy_bias_correction(tokens, 1) * (len(tokens) - 1) / len(draws))
    assert sum(plug_in) / 200 < source - 0.01
    assert abs(sum(corrected) / 200 - source) < abs(sum(plug_in) / 200 - source) / 2


def test_attention_flops_and_kv_cache_follow_kaplans_and_the_layout():
    c = scale.GPT3_CONFIG
    assert scale.attention_flops_per_token(c) == 2 * 96 * 2048 * 12288
    assert scale.attention_flops_per_token(c, n_ctx=1) == 2 * 96 * 12288
    assert scale.kv_cache_bytes(c, 1) == 2 * 96 * 12288 * 2  # K and V, every layer, bf16
    assert scale.kv_cache_bytes(c, 10, bytes_per_number=4) == 20 * scale.kv_cache_bytes(c, 1)


def test_chinchilla_optimum_minimises_the_fitted_loss_on_the_budget():
    budget = 5.76e23
    N, D = scale.chinchilla_optimum(budget)
    assert 6 * N * D == pytest.approx(budget)
    best = scale.chinchilla_loss(N, D)
    for factor in (0.8, 0.95, 1.05, 1.25):  # move along 6 N D = budget: the loss only rises
        assert scale.chinchilla_loss(N * factor, D / factor) > best
    # the rounded constants put the optimum far from 20 tokens per parameter (Besiroglu et al. 2024)
    assert D / N > 50
