import pytest
import torch

from knobs import bias, models


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


def test_counterfactual_data_removes_the_learned_bias():
    *_, none = bias.bias_run(1.0, "none", steps=200, every=200)
    *_, cda = bias.bias_run(1.0, "counterfactual data", steps=200, every=200)
    assert none.metrics["bias_next"] > 0.8 and abs(cda.metrics["bias_next"]) < 0.2
    with pytest.raises(ValueError, match="mitigation"):
        next(bias.bias_run(0.9, "wishful thinking"))


def test_data_bias_is_the_formula_on_the_sentences_and_duplication_keeps_it():
    lines = ["the farmer said he feeds the cow .", "the farmer said she feeds the cat .",
             "the farmer said he feeds the dog .", "the vet said she feeds the cow ."]
    assert bias.data_bias(lines) == pytest.approx(0.5 * (2 / 3 - 1 / 3) + 0.5 * 1.0)
    assert bias.data_bias(bias.job_sentences(1.0)) == 1.0
    assert bias.data_bias(bias.job_sentences(0.9, augment=True)) == 0.0
    plain, doubled = bias.job_sentences(0.9), bias.job_sentences(0.9, duplicate=True)
    assert doubled[::2] == plain and doubled[1::2] == plain
    assert bias.data_bias(doubled) == bias.data_bias(plain)
    with pytest.raises(ValueError, match="duplicate"):
        bias.job_sentences(0.9, augment=True, duplicate=True)
    with pytest.raises(ValueError, match="both jobs"):
        bias.data_bias(lines[:3])
