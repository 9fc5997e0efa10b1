"""Chapter 1: the numbers and claims its prose states (each glued from these functions), its checkers in every
numeric form, and its quiz's numbers."""
import math

import numpy as np
import pytest
import torch

from knobs import data, models, train
from knobs.chapters import ch01
from knobs.exercises import check, quiz
from knobs.exercises.ch01 import COUNT_CONFIG


@pytest.fixture(scope="module")
def farm():
    return data.farm_split()


@pytest.fixture(scope="module")
def trained(farm):
    """The chapter's model, trained as the chapter trains it (300 steps of Adam at lr 0.03, seed 0)."""
    vocab, X, y, X_val, y_val = farm
    model = models.make_tiny_lm(vocab_size=len(vocab), embed_dim=8, hidden=32, seed=0)
    train.run_to_end(train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=300, lr=0.03, batch_size=64,
                                    optimizer="adam", every=50, seed=0))
    return model


@pytest.fixture(scope="module")
def effects(trained, farm):
    from knobs.interpret import single_weight_effects

    return single_weight_effects(trained, farm.vocab, "cow eats", "hay")


# ---- the prose's claims ------------------------------------------------------------------------------------------
def test_the_bias_shifts_the_output_for_every_input():
    neuron = torch.nn.Linear(1, 1)
    x = torch.linspace(-3, 3, 7)[:, None]
    with torch.no_grad():
        before = neuron(x)
        neuron.bias += 0.5
        assert torch.allclose(neuron(x) - before, torch.full_like(before, 0.5))


def test_validation_pairs_all_occur_in_training(farm):
    overlap = ch01.validation_overlap(farm.X, farm.y, farm.X_val, farm.y_val)
    assert overlap["pairs_seen"] == 1.0 and overlap["contexts_seen"] == 1.0  # the prose: not new text
    assert overlap["distinct_train_pairs"] < overlap["train_pairs"] / 10  # "repeats a few dozen sentences"
    numbers = ch01.data_numbers(farm.X, farm.y, farm.X_val, farm.y_val, len(farm.vocab))
    assert numbers["val_pairs_seen"] == "100%"
    total, distinct = ch01.sentence_counts(data.load_corpus("farm"))
    assert distinct < total / 5  # "repeats its sentences"
    assert ch01.data_numbers(farm.X, farm.y, farm.X_val, farm.y_val, len(farm.vocab),
                             data.load_corpus("farm"))["distinct_sentences"] == str(distinct)


def test_the_count_table_floor_is_below_what_the_model_reaches(farm, trained):
    floor = ch01.count_table_loss(farm.X, farm.y, farm.X_val, farm.y_val, len(farm.vocab))
    assert 0.5 < floor < train.evaluate(trained, farm.X_val, farm.y_val) < 0.9  # "about the best any model can do"
    # unseen validation contexts fall back to word frequencies, not to an infinite loss
    assert math.isfinite(ch01.count_table_loss(farm.X[:5], farm.y[:5], farm.X_val, farm.y_val, len(farm.vocab)))


def test_untrained_guesses_are_near_uniform(farm):
    model = models.make_tiny_lm(vocab_size=len(farm.vocab), embed_dim=8, hidden=32, seed=0)
    numbers = ch01.untrained_numbers(model, farm.vocab, farm.X, farm.y)
    top = float(numbers["untrained_top"].rstrip("%")) / 100
    assert 1 / len(farm.vocab) < top < 0.15  # "no word stands out much"
    assert abs(float(numbers["untrained_loss"]) - math.log(len(farm.vocab))) < 0.15  # "about that of uniform"


def test_single_weight_ablation_numbers(trained, farm, effects):
    numbers = ch01.ablation_numbers(trained, farm.vocab, effects)
    groups = ch01.ablation_groups(trained, farm.vocab, effects)
    big = int(numbers["abl_big"])
    assert sum(groups.values()) == big and 10 < big < 200  # "a few dozen"
    assert numbers["abl_rival"] == "grass"  # the quiz's feedback names it
    assert int(numbers["abl_in_rows"]) > big / 2  # "mostly in the output rows of hay and its rival"
    assert float(numbers["abl_largest"]) < float(numbers["abl_base"])  # no single weight removes the fact
    assert float(numbers["abl_median"]) < 0.001  # "most barely matter"
    counts = data.next_word_counts(data.load_corpus("farm"), "cow eats")
    assert abs(counts["hay"] - counts["grass"]) <= 0.1 * counts["hay"]  # "about as often": a balance


def test_locate_parameter_names_tensor_and_word(trained, farm):
    vocab = farm.vocab
    assert ch01.locate_parameter(trained, vocab, 0) == f"embed.weight[{vocab.words[0]}, 0]"
    assert ch01.locate_parameter(trained, vocab, 29 * 8) == "hidden.weight[0, 0]"
    last = sum(p.numel() for p in trained.parameters()) - 1
    assert ch01.locate_parameter(trained, vocab, last) == f"out.bias[{vocab.words[-1]}]"
    with pytest.raises(ValueError, match="index"):
        ch01.locate_parameter(trained, vocab, last + 1)


def test_the_smallest_learning_rate_still_learns_but_slowly():
    """Things to try: at lr 0.001 the loss falls steadily but stays far above lr 0.03's after 300 steps."""
    values = {"lr": 0.001, "hidden": 32, "batch_size": 64, "optimizer": "adam"}
    slow = list(ch01.hyperparameter_run(values, 300, 100))
    fast = list(ch01.hyperparameter_run({**values, "lr": 0.03}, 300, 300))
    losses = [s.metrics["val_loss"] for s in slow]
    assert all(a > b for a, b in zip(losses, losses[1:]))  # falls steadily
    assert losses[-1] < losses[0] - 1.0  # not "barely"
    assert losses[-1] > fast[-1].metrics["val_loss"] + 0.2  # far above lr 0.03's


# ---- exercises: every numeric form of a right answer --------------------------------------------------------------
FORMS = {"int": int, "float": float, "np.int64": np.int64, "np.float32": np.float32, "np.float64": np.float64,
         "0-d tensor": lambda v: torch.tensor(v, dtype=torch.float64), "0-d array": np.array}


def untied_answer() -> int:
    config = models.GPT2Config()
    return models.count_parameters(models.make_gpt2(config)).total + config.vocab_size * config.n_embd


@pytest.mark.parametrize("form", FORMS)
def test_checkers_accept_every_numeric_form(form):
    count = models.count_parameters(models.TinyLM(models.TinyLMConfig(**COUNT_CONFIG))).total
    assert check("ch01.count", FORMS[form](count)).ok, form
    assert check("ch01.untied", FORMS[form](untied_answer())).ok, form


@pytest.mark.parametrize("form", FORMS)
def test_hints_work_in_every_numeric_form(form):
    count = models.count_parameters(models.TinyLM(models.TinyLMConfig(**COUNT_CONFIG))).total
    no_bias = check("ch01.count", FORMS[form](count - 39))
    assert not no_bias.ok and "bias" in no_bias.message and str(count) not in no_bias.message
    tied = check("ch01.untied", FORMS[form](untied_answer() - 50257 * 768))
    assert not tied.ok and "tied count" in tied.message


# ---- the quiz ----------------------------------------------------------------------------------------------------
def test_quiz_context_question_is_computed():
    question = quiz.load_questions("ch01")[0]
    assert "3 words" in question["question"] and question["type"] == "numeric"

    def total(context):
        return models.count_parameters(models.make_tiny_lm(29, embed_dim=8, hidden=32, context=context)).total

    shown = eval(question["code"], {"make_tiny_lm": models.make_tiny_lm})  # noqa: S307 - our own JSON
    assert models.count_parameters(shown).total == total(3)  # the code shown is the model the question means
    right = [a for a in question["answers"] if a.get("correct")]
    assert len(right) == 1 and right[0]["value"] == total(3) - total(2)
    wrong = [a["value"] for a in question["answers"] if a.get("type") == "value" and not a["correct"]]
    assert len(wrong) >= 3 and total(3) - total(2) not in wrong
    assert 29 * 8 in wrong  # a second embedding table: the slip the question is about


def test_quiz_is_valid():
    questions = quiz.load_questions("ch01")
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert any(a.get("correct") for a in q["answers"])
