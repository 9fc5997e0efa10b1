"""Chapter 8 exercises: count LoRA's numbers, find the rank a task needs, measure forgetting with the adapters
on and off, and rehearse old data to keep the old task.

The run-something checkers recompute the experiment with the chapter's own code (`chapters.ch08`, cached),
so a check costs one or two fine-tuning runs of a fraction of a second.
"""
from knobs.chapters import ch08
from knobs.exercises.checker import (AnswerForm, as_number, as_whole_number, direction_hint, exercise, is_close,
                                     multiple_choice)
from knobs.lora import lora_parameter_count


@exercise("ch08.lora_count")
def check_lora_count(answer):
    """Trainable numbers of a rank-8 adapter on a 768 x 3072 layer (GPT-2's MLP expansion)."""
    expected = lora_parameter_count(768, 3072, 8)
    if is_close(answer, expected, rel=0):
        return True, "A is rank × in, B is out × rank: tiny next to in × out."
    if is_close(answer, 768 * 3072, rel=0):
        return False, "That is the full matrix. LoRA trains two thin matrices instead."
    if is_close(answer, 8 * 768, rel=0) or is_close(answer, 8 * 3072, rel=0):
        return False, "You counted one of the two adapter matrices; there are two, A and B."
    return False, direction_hint(answer, expected) + " Count A (rank × in) and B (out × rank)."


@exercise("ch08.min_rank")
def check_min_rank(answer):
    """The smallest LoRA rank whose loss on the fine-tuning pairs after 150 steps is below the target."""
    rank = as_whole_number(answer, "the rank")
    if not 1 <= rank <= 8:
        return False, "Give a rank between 1 and 8 (the smallest one that reaches the target)."
    # Right when this rank reaches the target and the one below does not: two runs, whatever the answer.
    if ch08.lora_train_loss(rank) >= ch08.TARGET_TRAIN_LOSS:
        return False, ("At that rank the loss on the fine-tuning pairs is still above the target. Measure it with "
                       "train.evaluate(model, task.X_train, task.y_train) after train_on_task.")
    if rank > 1 and ch08.lora_train_loss(rank - 1) < ch08.TARGET_TRAIN_LOSS:
        return False, ("A smaller rank already gets below the target. Start at rank 1 and stop at the first rank "
                       "that reaches it (use the fine-tuning pairs, task.X_train, not the test pairs).")
    return True, ("That rank is enough to fit the 12 sentences. More rank fits them a little better still, "
                  "but look at the unseen sentences: there it does not help.")


def _two_numbers(answer, keys):
    if not isinstance(answer, dict) or set(answer) != set(keys):
        raise AnswerForm(f"give a dict with exactly the keys {', '.join(map(repr, keys))}")
    return [as_number(answer[k], f"the value for {k!r}") for k in keys]


def _near(value, expected):
    return abs(value - expected) <= 1e-3 * max(1.0, abs(expected))


@exercise("ch08.on_off")
def check_on_off(answer):
    """Original-corpus loss of a rank-1 LoRA fine-tune with its adapters on and off: {"on": ..., "off": ...}."""
    on, off = _two_numbers(answer, ("on", "off"))
    expected = ch08.on_off_losses(ch08.ON_OFF_RANK)
    if _near(on, expected["on"]) and _near(off, expected["off"]):
        return True, ("With the adapters on the model has forgotten the original corpus; switched off, it is the "
                      "pretrained model again, exactly. Reversible, not prevented.")
    if _near(on, expected["off"]) and _near(off, expected["on"]):
        return False, "Your two numbers are swapped: 'on' is the loss with the adapters switched on."
    if _near(off, expected["hidden off"]) or _near(off, expected["out off"]):
        return False, "You switched off one adapter. The model has two LoRA layers, hidden and out: switch both off."
    if _near(on, off):
        return False, "You measured the same model twice: switch the adapters off between the two measurements."
    if not _near(off, expected["off"]):
        return False, ("With every adapter off the model computes with the pretrained tensors only; what is the "
                       "pretrained model's loss on the original corpus (task.X_old, task.y_old)?")
    if _near(on, ch08.on_off_losses(4)["on"]):
        return False, "That is the rank-4 model's loss from the chapter; this exercise fine-tunes at rank 1."
    return False, ("'off' is right; 'on' is not. Fine-tune a fresh transfer.prepare('LoRA', rank=1) with "
                   "transfer.train_on_task(model, every=150), then measure it on task.X_old, task.y_old.")


@exercise("ch08.rehearsal")
def check_rehearsal(answer):
    """Original-corpus and new-style test loss after a full fine-tune that rehearses as many original pairs."""
    old, new = _two_numbers(answer, ("old", "new"))
    right = ("Rehearsing old pairs keeps most of the old task while the new one is learned, at some cost to the "
             "new one: compare both with the plain full fine-tune.")
    expected = ch08.rehearsal_losses()  # the prompt's recipe: new pairs first, rehearsal_pairs' default seed
    if _near(old, expected["old"]) and _near(new, expected["new"]):
        return True, right
    # Another faithful variant (other seed, other order, shuffled) gives slightly other numbers: accept any run
    # inside the band that several such variants span.
    band = ch08.rehearsal_band()
    variants = [ch08.rehearsal_losses(seed=seed, old_first=old_first, shuffle=shuffle)
                for seed, old_first, shuffle in ch08.REHEARSAL_VARIANTS]
    if any(_near(old, e["new"]) and _near(new, e["old"]) for e in variants):
        return False, "Your two numbers are swapped: 'old' is the loss on the original corpus."
    inside = {key: band[key][0] <= value <= band[key][1] for key, value in (("old", old), ("new", new))}
    if inside["old"] and inside["new"]:
        return True, right
    plain = ch08.rehearsal_losses(n_pairs=0)
    if _near(old, plain["old"]):
        return False, ("That is the forgetting of a plain fine-tune: train on the new pairs and the rehearsed ones "
                       "together (torch.cat both X and both y, and pass them to train_on_task).")
    if _near(old, ch08.on_off_losses()["off"]):
        return False, "That is the pretrained model's loss: did the model train?"
    if inside["old"]:
        return False, "'old' is right; measure 'new' on the unseen new-style sentences, task.X_test and task.y_test."
    return False, ("Not what a rehearsal run gives: a fresh transfer.prepare('full fine-tune'), the task's pairs "
                   "joined with transfer.rehearsal_pairs(len(task.y_train)), train_on_task(model, X, y, every=150), "
                   "then the loss on task.X_old, task.y_old.")


NEVER_WRITES = "That strategy writes to pretrained tensors: which strategy never writes to one?"
check_forgetting = multiple_choice(
    "ch08.forgetting", "Which strategy leaves the original model's predictions exactly recoverable?", right="LoRA",
    feedback={"from scratch": ("Training from scratch leaves the pretrained model alone only because it builds a "
                               "second, separate model, which the question rules out (and the new model has none "
                               "of the pretrained knowledge)."),
              "full fine-tune": NEVER_WRITES, "freeze embeddings": NEVER_WRITES,
              "output layer only": "The embeddings and hidden layer are safe, but the output layer itself was overwritten.",
              "LoRA": "Switch the adapters off and every pretrained number is exactly as it was."})
