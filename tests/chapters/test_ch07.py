"""Chapter 7: the sweep shows overfitting and the best size growing; the lab lands on the sweep; exercises; quiz."""
import numpy as np
import pytest

from knobs.chapters import ch07
from knobs.exercises import check, quiz


def test_sweep_shows_overfitting_and_the_best_size_growing():
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
    with pytest.raises(ValueError, match="must be one of"):
        ch07.scale_lab().reset({"hidden": 33})
    with pytest.raises(ValueError, match="must be one of"):
        ch07.scale_lab().reset({"data": "100 farms"})


def test_exercise_checkers_tell_right_from_wrong_without_the_answer():
    N = (1e22 / 120) ** 0.5
    assert check("ch07.budget", {"parameters": N, "tokens": 20 * N}).ok
    one_to_one = check("ch07.budget", {"parameters": (1e22 / 6) ** 0.5, "tokens": (1e22 / 6) ** 0.5})
    assert not one_to_one.ok and "20 N" in one_to_one.message
    forward_only = check("ch07.budget", {"parameters": (1e22 / 40) ** 0.5, "tokens": 20 * (1e22 / 40) ** 0.5})
    assert not forward_only.ok and "forward" in forward_only.message
    assert f"{N:.3g}" not in one_to_one.message
    assert check("ch07.memory", {"training_GB": 112, "inference_GB": 14}).ok
    weights_only = check("ch07.memory", {"training_GB": 14, "inference_GB": 14})
    assert not weights_only.ok and "weights alone" in weights_only.message and "112" not in weights_only.message
    four_bytes = check("ch07.memory", {"training_GB": 28, "inference_GB": 14})  # fp32 weights, or 16-bit w + g
    assert not four_bytes.ok and "master" in four_bytes.message and "112" not in four_bytes.message
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
    questions = quiz.load_questions("ch07")
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert any(a.get("correct") for a in q["answers"])


def test_static_twin_replays_the_sweep_run_the_live_lab_trains(monkeypatch):
    sweep = ch07.scale_sweep(progress=False)
    monkeypatch.setenv("KNOBS_STATIC", "1")
    lab = ch07.scale_lab()
    lab.reset({"hidden": 256, "data": "1/16 farm"})
    while lab.advance(draw=False):
        pass
    assert lab.history.steps == sweep.steps.tolist()
    assert lab.history.metrics["val_loss"][-1] == pytest.approx(float(sweep.final_val[-1, 0]))


def test_shape_numbers_the_prose_quotes_before_training_agree_with_the_trained_comparison():
    """The prose introduces the shape comparison (its base shape, how equal the counts are) before the cell that
    trains it runs, so ch07.shape_numbers computes them from the declaration: the same as from the results."""
    numbers, shapes = ch07.shape_numbers(), ch07.shape_comparison(progress=False)
    assert numbers["base_shape"] == shapes.labels[0] == "d=8, h=32"
    assert numbers["shape_tolerance"] == f"{np.abs(shapes.n_params / shapes.n_params[0] - 1).max():.1%}"


def test_four_words_reach_the_food_not_the_animal():
    """The prose: after "in the" any place can follow; four words back reach the food, which narrows it to two."""
    from knobs import data

    corpus = data.load_corpus("farm_more")
    assert len(data.next_word_counts(corpus, "in the")) == 5
    assert set(data.next_word_counts(corpus, "eats hay in the")) == {"barn", "field"}
    assert set(data.next_word_counts(corpus, "eats seeds in the")) == {"tree", "garden"}
    # the animal (five words back) does not narrow it further
    assert set(data.next_word_counts(corpus, "cow eats hay in the")) == set(data.next_word_counts(corpus, "horse eats hay in the"))


def test_floor_is_counted_on_training_words_and_its_bias_is_upwards_and_small():
    d, tokens = ch07.scale_data(), ch07.training_tokens()
    assert len(tokens) - d.context == len(d.y)  # exactly the pool every training pair comes from
    numbers = ch07.floor_numbers()
    assert float(numbers["floor_exact"]) == pytest.approx(ch07.entropy_floor(), abs=5e-4)
    assert 0 < float(numbers["floor_bias"]) < 0.02
    assert float(numbers["floor_corrected"]) > float(numbers["floor_exact"])


def test_memorization_reads_as_the_samples_own_entropy_and_a_little_below_the_floor_is_normal():
    sweep, samples = ch07.scale_sweep(progress=False), ch07.sample_entropies()
    floor = ch07.entropy_floor()
    assert list(samples.values()) == sorted(samples.values()) and max(samples.values()) < floor  # smaller samples look easier
    k = sweep.size_index("1/16 farm")
    assert abs(sweep.final_train[-1, k] - samples["1/16 farm"]) < 0.02  # the largest model scores its sample's counts
    k1, b1 = sweep.size_index("1 farm"), sweep.best("1 farm")
    assert samples["1 farm"] < sweep.final_train[b1, k1] < floor  # below the floor, above its sample: not memorized


def test_early_stopping_moves_the_best_scarce_data_size_up_and_rescues_the_largest():
    sweep = ch07.scale_sweep(progress=False)
    numbers, stopped = ch07.overfit_numbers(sweep), ch07.early_stopping(sweep, "1/16 farm")
    k = sweep.size_index("1/16 farm")
    assert sweep.n_params[np.argmin(stopped["val"])] > sweep.n_params[sweep.best("1/16 farm")]
    assert stopped["val"][-1] < sweep.final_val[-1, k] - 0.5
    assert int(numbers["turn_step"]) < 25 and numbers["record_every"] == str(ch07.RECORD_EVERY)
    assert numbers["highest_or_not"] == "the highest" and sweep.final_val[-1, k] == sweep.final_val[:, k].max()


def test_the_best_sizes_from_one_farm_on_are_a_tie():
    sweep = ch07.scale_sweep(progress=False)
    first, spread = ch07.plateau(sweep)
    assert spread <= ch07.TIE and sweep.best("1 farm") >= first and sweep.best("8 farms") >= first
    assert first < len(sweep.shapes) - 1  # more than one size in the tie


def test_data_use_counts_pairs_processed_as_well_as_pairs_available():
    sweep = ch07.scale_sweep(progress=False)
    numbers = ch07.data_use_numbers(sweep)
    assert numbers["pairs_most"] == f"{sweep.sizes['8 farms']:,}" and sweep.tokens_seen() < sweep.sizes["8 farms"]
    assert numbers["processed_range"] != numbers["ratio_range"]


def test_chinchilla_numbers_and_the_years_text():
    numbers = ch07.chinchilla_numbers()
    assert int(numbers["opt_ratio"]) > 50  # the rounded Approach-3 law, taken literally: far from 20
    assert float(numbers["opt_loss"]) < 1.937  # lower than Chinchilla's own fitted loss
    assert ch07.years_text(1_444_078) == "about 1.4 million" and ch07.years_text(974_463) == "about 970,000"
    cost = ch07.cost_numbers()
    assert cost["attn_share"] == "1.4%" and int(cost["kv_batch_equal"]) > 1


def test_the_compute_frontier_moves_to_bigger_models():
    sweep = ch07.scale_sweep(progress=False)
    frontier = ch07.compute_frontier(sweep)
    budgets, sizes = zip(*frontier)
    assert list(budgets) == sorted(budgets) and list(sizes) == sorted(sizes) and len(sizes) >= 4
    assert "–" in ch07.frontier_numbers(sweep)["frontier_range"]
