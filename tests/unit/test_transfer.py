"""knobs.transfer: fine-tuning strategies train what they say; fine-tuning measures every tensor's change."""
import io
import pickle

import pytest
import torch

from knobs import data, models, train, transfer
from knobs.lora import lora_parameter_count


def test_strategies_train_what_they_say():
    counts = {s: transfer.trainable_count(transfer.prepare(s, rank=2)) for s in transfer.STRATEGIES}
    lm = train.trained_tiny_lm()
    total = models.count_parameters(lm).total
    assert counts["full fine-tune"] == counts["from scratch"] == total
    assert counts["freeze embeddings"] == total - lm.embed.weight.numel()
    assert counts["output layer only"] == lm.out.weight.numel() + lm.out.bias.numel()
    c = lm.config
    assert counts["LoRA"] == lora_parameter_count(2 * c.embed_dim, c.hidden, 2) + lora_parameter_count(c.hidden, c.vocab_size, 2)
    with pytest.raises(ValueError, match="strategy must be one of"):
        transfer.prepare("everything")


def test_fine_tuning_beats_scratch_and_lora_never_writes_pretrained_tensors():
    scratch = list(transfer.fine_tune("from scratch", steps=150, every=150))[-1]
    tuned = list(transfer.fine_tune("full fine-tune", steps=150, every=150))[-1]
    lora = list(transfer.fine_tune("LoRA", steps=150, every=150))[-1]
    assert tuned.metrics["test_loss"] < scratch.metrics["test_loss"]
    assert tuned.metrics["old_loss"] > 2 * list(transfer.fine_tune("full fine-tune", steps=1, every=1))[0].metrics["old_loss"]
    assert lora.info["change"]["embed.weight"] == 0.0 and lora.info["change"]["hidden.bias"] == 0.0
    assert lora.info["change"]["hidden.weight"] > 0.0


def test_style_task_has_no_test_sentence_from_training_and_one_test_set_for_every_size():
    task = transfer.make_style_task(12)
    assert len(task.train_sentences) == 12 and len(task.y_test) > len(task.y_train)
    for n in (1, 4, transfer.MAX_TRAIN):
        other = transfer.make_style_task(n)
        assert torch.equal(other.X_test, task.X_test) and torch.equal(other.y_test, task.y_test)
    test_pairs = set(map(tuple, task.X_test.tolist()))
    assert len(test_pairs) > 0
    with pytest.raises(ValueError, match="n_sentences"):
        transfer.make_style_task(0)
    with pytest.raises(ValueError, match="n_sentences"):
        transfer.make_style_task(transfer.MAX_TRAIN + 1)


def test_agree_marks_the_original_pairs_the_new_style_also_contains():
    task = transfer.make_style_task()
    farm = data.load_corpus("farm")
    end, the, dot, garden = farm.vocab.encode([data.END_WORD, "the", ".", "garden"])
    lines = transfer.split_sentences(data.read_corpus_text("farm_place_first"))
    ids = torch.tensor(farm.vocab.encode(list(data.load_corpus(text=" ".join(lines)).tokens)))
    new_pairs = {(a, b, c) for a, b, c in ids.unfold(0, 3, 1).tolist()}
    expected = [(a, b, c) in new_pairs for (a, b), c in zip(task.X_old.tolist(), task.y_old.tolist())]
    assert task.agree.tolist() == expected
    assert 0 < int(task.agree.sum()) < len(task.y_old)
    pairs = list(zip(task.X_old.tolist(), task.y_old.tolist(), task.agree.tolist()))
    # the styles disagree after a sentence's end (the new style says "in" there) and after a place ("the garden"
    # ends the old sentence; in the new style the subject follows it)
    assert not any(agree for (a, b), c, agree in pairs if end in (a, b))
    assert not any(agree for (a, b), c, agree in pairs if (b, c) == (garden, dot))


def test_styles_agree_on_a_small_example():
    X_old, y_old = torch.tensor([[1, 2], [1, 2], [2, 3]]), torch.tensor([3, 4, 5])
    X_new, y_new = torch.tensor([[1, 2], [2, 3]]), torch.tensor([4, 6])
    assert transfer._styles_agree(X_old, y_old, X_new, y_new).tolist() == [False, True, False]


def test_rehearsal_pairs_are_a_seeded_sample_of_the_original_corpus():
    task = transfer.make_style_task()
    X, y = transfer.rehearsal_pairs(50)
    assert X.shape == (50, 2) and y.shape == (50,)
    X2, _ = transfer.rehearsal_pairs(50)
    assert torch.equal(X, X2)
    originals = set(zip(map(tuple, task.X_old.tolist()), task.y_old.tolist()))
    assert all(pair in originals for pair in zip(map(tuple, X.tolist()), y.tolist()))
    with pytest.raises(ValueError, match="n_pairs"):
        transfer.rehearsal_pairs(len(task.y_old) + 1)


def test_train_on_task_trains_the_given_model_in_place_and_equals_fine_tune():
    model = transfer.prepare("LoRA", rank=2)
    last = train.run_to_end(transfer.train_on_task(model, steps=20, every=20))
    same = train.run_to_end(transfer.fine_tune("LoRA", rank=2, steps=20, every=20))
    assert last.metrics == same.metrics
    task = transfer.make_style_task()
    assert train.evaluate(model, task.X_test, task.y_test) == pytest.approx(last.metrics["test_loss"])
    with pytest.raises(ValueError, match="y must be given together with X"):
        transfer.train_on_task(transfer.prepare("full fine-tune"), X=task.X_train)


def test_lora_forgets_while_on_and_is_the_pretrained_model_exactly_when_off():
    """Adapters make forgetting reversible; they do not prevent it (chapter 8's claim, measured)."""
    task = transfer.make_style_task()
    pretrained = train.trained_tiny_lm()
    lora = transfer.prepare("LoRA", rank=4)
    train.run_to_end(transfer.train_on_task(lora, every=150))
    before = train.evaluate(pretrained, task.X_old, task.y_old)
    assert train.evaluate(lora, task.X_old, task.y_old) > 2 * before  # on: forgotten
    lora.hidden.enabled = lora.out.enabled = False
    assert train.evaluate(lora, task.X_old, task.y_old) == before  # off: exactly the pretrained model
    assert train.evaluate(lora, task.X_test, task.y_test) == train.evaluate(pretrained, task.X_test, task.y_test)


def test_switching_adapters_off_restores_the_pretrained_tensors_exactly():
    model = transfer.prepare("LoRA", rank=2)
    with torch.no_grad():
        model.hidden.B.normal_()
    on = transfer.effective_tensors(model)["hidden.weight"]
    model.hidden.enabled = False
    off = transfer.effective_tensors(model)["hidden.weight"]
    assert not torch.equal(on, off)
    assert torch.equal(off, train.trained_tiny_lm().hidden.weight.detach())



def test_weights_only_load_refuses_code_but_round_trips_tensors():
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2), "x": Payload()}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)
    model = models.make_tiny_lm(29)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("strategy", ["full fine-tune", "freeze embeddings", "output layer only", "LoRA"])
def test_fine_tuning_measures_the_change_of_every_tensor_it_trains(strategy):
    """Regression: the change was measured against views of the parameters, which the optimizer updates in place."""
    last = train.run_to_end(transfer.fine_tune(strategy, steps=10, every=10))
    model = transfer.prepare(strategy, rank=4)
    trained = {"embed.weight": model.embed.weight.requires_grad}
    for name in ("hidden", "out"):
        layer = getattr(model, name)
        lora = hasattr(layer, "A")
        trained[f"{name}.weight"] = lora or layer.weight.requires_grad
        trained[f"{name}.bias"] = (not lora) and layer.bias.requires_grad
    for name, is_trained in trained.items():
        assert (last.info["change"][name] > 0) == is_trained, (strategy, name, last.info["change"][name])
