"""Chapter 7: stacked training against PyTorch's own layers and Adam, padding, counting, costs, the lab."""
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from knobs import data, models, scale

SHAPES = [dict(embed_dim=8, hidden=16, layers=1), dict(embed_dim=4, hidden=8, layers=3),
          dict(embed_dim=0, hidden=8, layers=1), dict(embed_dim=0, hidden=6, layers=2)]


@pytest.fixture(scope="module")
def small_data():
    return scale.make_scale_data(context=4, farms=(1 / 16, 1 / 4, 1))


def reference_train(model, X, y, batches, lr, steps, decay=True):
    """The plain PyTorch way: one nn.Module, torch.optim.Adam, a LambdaLR schedule, F.cross_entropy."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda done: 1 - done / steps if decay else 1.0)
    for b in batches:
        loss = F.cross_entropy(model(X[b]), y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return model


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: scale.shape_label(s))
def test_stacked_training_equals_separate_pytorch_runs(small_data, shape):
    d, steps = small_data, 25
    sizes = list(d.sizes.values())
    stack = scale.StackedLM([scale.make_lm(29, seed=k, context=4, **shape) for k in range(len(sizes))])
    *_, (_, _, val) = scale.train_stacked(stack, d.X, d.y, sizes, d.X_val, d.y_val, steps=steps, lr=0.02,
                                          batch_size=64, every=5)
    idx = scale.batch_indices(sizes, steps, 64)
    for k in range(len(sizes)):
        model = reference_train(scale.make_lm(29, seed=k, context=4, **shape), d.X, d.y, idx[k], 0.02, steps)
        got = stack.member_params(k)
        assert list(got) == [n for n, _ in model.named_parameters()]
        for name, p in model.named_parameters():
            torch.testing.assert_close(torch.from_numpy(got[name]), p.detach(), rtol=1e-4, atol=1e-5)
        with torch.no_grad():
            torch.testing.assert_close(torch.tensor(val[k]), F.cross_entropy(model(d.X_val), d.y_val),
                                       rtol=1e-5, atol=1e-5)


def test_zero_padded_models_train_exactly_like_the_small_ones(small_data):
    d, steps, shapes = small_data, 20, [(2, 4), (4, 8), (8, 16)]
    members = [scale.make_lm(29, seed=k, context=4, embed_dim=e, hidden=h) for k, (e, h) in enumerate(shapes)]
    stack = scale.StackedLM(members, pad_to=(8, 16))
    sizes = [len(d.y)] * 3
    list(scale.train_stacked(stack, d.X, d.y, sizes, d.X_val, d.y_val, steps=steps, lr=0.02, every=steps))
    idx = scale.batch_indices(sizes, steps, 64)
    for k, (e, h) in enumerate(shapes):
        model = reference_train(scale.make_lm(29, seed=k, context=4, embed_dim=e, hidden=h), d.X, d.y, idx[k],
                                0.02, steps)
        for name, p in model.named_parameters():
            torch.testing.assert_close(torch.from_numpy(stack.member_params(k)[name]), p.detach(),
                                       rtol=1e-4, atol=1e-5)
    # the padding itself never moved: zero gradient, zero Adam update
    assert (stack.embed[0, :, 2:] == 0).all() and (stack.weights[1][0, 4:] == 0).all()


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


def test_batch_indices_stay_in_each_prefix_and_cover_it():
    idx = scale.batch_indices([100, 1000], steps=30, batch_size=20, seed=1)
    assert idx.shape == (2, 30, 20)
    assert idx[0].max() < 100 and idx[1].max() < 1000
    assert set(idx[0, :5].flatten().tolist()) == set(range(100))  # first epoch: every example once


def test_data_is_nested_and_validation_is_held_out(small_data):
    d = small_data
    assert list(d.sizes.values()) == sorted(d.sizes.values())
    assert d.sizes["1 farm"] == d.farm_pairs
    assert len(d.y) > d.sizes["1 farm"] and len(d.y_val) > 1000
    assert scale.farm_label(1 / 16) == "1/16 farm" and scale.farm_label(8) == "8 farms"


def test_farm_more_starts_with_farm():
    farm = data.read_corpus_text("farm").splitlines()
    assert data.read_corpus_text("farm_more").splitlines()[:len(farm)] == farm


@pytest.mark.parametrize("call, message", [
    (lambda: scale.DeepLMConfig(hidden=0), "hidden must be a whole number between 1 and 4096"),
    (lambda: scale.DeepLMConfig(layers=20), "layers must be"),
    (lambda: scale.make_scale_data(farms=(100,)), "farms must be between"),
    (lambda: scale.make_scale_data(val_sentences=0), "val_sentences"),
    (lambda: scale.batch_indices([10, 100], 5, 64), "batch_size must be between 1 and the smallest"),
    (lambda: scale.training_memory_bytes(10, "sgd"), "recipe must be one of"),
    (lambda: scale.training_flops(-1, 5), "n_parameters and tokens"),
    (lambda: scale.count_training_flops(scale.make_lm(29), 0), "batch_size"),
    (lambda: scale.StackedLM([]), "at least one"),
    (lambda: scale.StackedLM([scale.make_lm(29, hidden=4), scale.make_lm(29, hidden=5)]), "same shape"),
    (lambda: scale.StackedLM([scale.make_lm(29, hidden=8)], pad_to=(8, 4)), "pad_to must be at least"),
    (lambda: scale.conditional_entropy(["a", "b"], 2), "context must be between"),
    (lambda: scale.width_for_budget(0, 29, 4, 8), "budget"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sweep_shows_overfitting_and_the_best_size_growing():
    from knobs.labs import ch07

    sweep = ch07.scale_sweep(progress=False)
    small, large = sweep.size_index("1/16 farm"), sweep.size_index("8 farms")
    assert sweep.n_params[-1] / sweep.n_params[0] >= 100  # at least two orders of magnitude
    # scarce data: the biggest model trains best and validates worst of the top half
    assert sweep.final_train[-1, small] == sweep.final_train[:, small].min()
    assert sweep.final_val[-1, small] > sweep.final_val[:, small].min() + 0.3
    assert sweep.final_train[-1, small] < ch07.entropy_floor()  # memorized: below the best possible
    best = [sweep.n_params[sweep.best(s)] for s in sweep.sizes]
    assert best == sorted(best) and best[0] < best[-1]  # the best size grows with the data
    assert sweep.final_val[-1, large] < sweep.final_val[-1, small] - 1.0


def test_lab_run_lands_on_the_sweep_curve():
    from knobs.labs import ch07

    sweep = ch07.scale_sweep(progress=False)
    lab = ch07.scale_lab()
    lab.reset({"hidden": 16, "data": "1/4 farm"})
    while lab.advance(draw=False):
        pass
    s, k = sweep.shapes.index(ch07.SHAPES[16]), sweep.size_index("1/4 farm")
    np.testing.assert_allclose(lab.history.metrics["val_loss"][-1], sweep.final_val[s, k], rtol=1e-4)
    lab.redraw()
    assert "1/4 farm" in lab.describe() and lab.frame("jpeg")[:2] == b"\xff\xd8"


def test_lab_refuses_values_outside_its_options():
    from knobs.labs import ch07

    with pytest.raises(ValueError, match="must be one of"):
        ch07.scale_lab().reset({"hidden": 33})
    with pytest.raises(ValueError, match="must be one of"):
        ch07.scale_lab().reset({"data": "100 farms"})


def test_exercise_checkers_tell_right_from_wrong_without_the_answer():
    from knobs.check import check
    from knobs.labs import ch07

    N = (1e22 / 120) ** 0.5
    assert check("ch07.budget", {"parameters": N, "tokens": 20 * N}).ok
    one_to_one = check("ch07.budget", {"parameters": (1e22 / 6) ** 0.5, "tokens": (1e22 / 6) ** 0.5})
    assert not one_to_one.ok and "20 N" in one_to_one.message
    forward_only = check("ch07.budget", {"parameters": (1e22 / 40) ** 0.5, "tokens": 20 * (1e22 / 40) ** 0.5})
    assert not forward_only.ok and "forward" in forward_only.message
    assert f"{N:.3g}" not in one_to_one.message
    assert check("ch07.memory", {"training_GB": 112, "inference_GB": 14}).ok
    weights_only = check("ch07.memory", {"training_GB": 28, "inference_GB": 14})
    assert not weights_only.ok and "weights alone" in weights_only.message and "112" not in weights_only.message
    assert "fp32" in check("ch07.memory", {"training_GB": 112, "inference_GB": 28}).message
    assert "could not be checked" in check("ch07.memory", {"training_GB": "lots", "inference_GB": 1}).message
    sweep = ch07.scale_sweep(progress=False)
    right = {s: int(sweep.n_params[sweep.best(s)]) for s in sweep.sizes}
    assert check("ch07.best", right).ok
    by_train = {s: int(sweep.n_params[np.argmin(sweep.final_train[:, k])]) for k, s in enumerate(sweep.sizes)}
    result = check("ch07.best", by_train)
    assert not result.ok and "training" in result.message
    assert not check("ch07.best", {s: 32 for s in sweep.sizes}).ok


def test_quiz_loads():
    from knobs import quiz

    questions = quiz.load_questions("ch07")
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert any(a.get("correct") for a in q["answers"])


def test_static_twin_replays_the_sweep_run_the_live_lab_trains(monkeypatch):
    from knobs.labs import ch07

    sweep = ch07.scale_sweep(progress=False)
    monkeypatch.setenv("KNOBS_STATIC", "1")
    lab = ch07.scale_lab()
    lab.reset({"hidden": 256, "data": "1/16 farm"})
    while lab.advance(draw=False):
        pass
    assert lab.history.steps == sweep.steps.tolist()
    assert lab.history.metrics["val_loss"][-1] == pytest.approx(float(sweep.final_val[-1, 0]))


def test_order_of_magnitude_for_prose():
    assert scale.order_of_magnitude(1.2e13) == "10¹³"
    assert scale.order_of_magnitude(0.004) == "10⁻²"
    with pytest.raises(ValueError, match="positive"):
        scale.order_of_magnitude(0)
