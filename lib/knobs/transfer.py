"""Chapter 8: pretrain the tiny LM on the farm corpus, then fine-tune it on a few sentences of a new style.

The new style puts the place first ("in the barn the cow eats hay .",
corpora/farm_place_first.txt): the same words, a different order. A model that
already knows that cows eat hay only has to learn the new order; a model
starting from random numbers has to learn everything from a dozen sentences.
The "pretrained model" is chapter 1's trained tiny model (`train.trained_tiny_lm`).
A *strategy* says which parameters train; LoRA trains small adapters and
leaves every pretrained number untouched, so switching the adapters off gives the
pretrained model back (while they are on, the model can forget as much as any other).
The test sentences are fixed (the distinct sentences that none of the first
`MAX_TRAIN` lines repeat), so test losses for different `n_sentences` compare.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from knobs import data, models, train
from knobs.lora import LoRALinear
from knobs.models import check_tiny_lm
from knobs.validate import check_choice, check_examples, check_int, check_module, check_number, check_text, fail

STRATEGIES = ("from scratch", "full fine-tune", "freeze embeddings", "output layer only", "LoRA")
MAX_TRAIN = 30  # fine-tuning sentences come from the first MAX_TRAIN lines; the test set is what they never contain


@dataclass
class StyleTask:
    X_train: torch.Tensor  # (N, 2) contexts from the few fine-tuning sentences
    y_train: torch.Tensor  # (N,) next words
    X_test: torch.Tensor  # held-out sentences of the new style (none identical to a training one)
    y_test: torch.Tensor
    X_old: torch.Tensor  # the original corpus: does the model forget it?
    y_old: torch.Tensor
    train_sentences: list[str]
    agree: torch.Tensor  # (len(y_old),) bool: the original pairs whose next word the new style also gives that context




def split_sentences(text: str) -> list[str]:
    """The non-empty lines of `text`, stripped: one sentence each."""
    check_text("text", text)
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


@lru_cache(maxsize=8)
def make_style_task(n_sentences: int = 12) -> StyleTask:
    """The first `n_sentences` place-first lines to fine-tune on; a fixed set of distinct unseen ones to test on."""
    check_int("n_sentences", n_sentences, 1, MAX_TRAIN)
    lines = split_sentences(data.read_corpus_text("farm_place_first"))
    farm = data.load_corpus("farm")  # its vocabulary is the pretrained model's
    train_lines = lines[:n_sentences]
    test_lines = sorted(set(lines) - set(lines[:MAX_TRAIN]))  # the same for every n_sentences

    def pairs(sentences):
        corpus = data.load_corpus(text=" ".join(sentences))
        ids = torch.tensor(farm.vocab.encode(list(corpus.tokens)))
        return ids.unfold(0, 2, 1)[:-1].contiguous(), ids[2:]

    X_old, y_old = data.make_dataset(farm)
    agree = _styles_agree(X_old, y_old, *pairs(lines))
    return StyleTask(*pairs(train_lines), *pairs(test_lines), X_old, y_old, train_lines, agree)


def _next_words(X: torch.Tensor, y: torch.Tensor) -> dict[tuple[int, int], frozenset[int]]:
    """{context: the set of words that follow it} over the pairs (X, y)."""
    found: dict[tuple[int, int], set[int]] = {}
    for context, word in zip(map(tuple, X.tolist()), y.tolist()):
        found.setdefault(context, set()).add(word)
    return {context: frozenset(words) for context, words in found.items()}


def _styles_agree(X_old, y_old, X_new, y_new) -> torch.Tensor:
    """Which old pairs (X_old, y_old) the new text (X_new, y_new) also contains: the same context followed by the
    same next word somewhere in it, so the new style does not contradict that prediction."""
    new = _next_words(X_new, y_new)
    return torch.tensor([y in new.get(c, ()) for c, y in zip(map(tuple, X_old.tolist()), y_old.tolist())],
                        dtype=torch.bool)


def rehearsal_pairs(n_pairs: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`n_pairs` (context, next word) pairs of the original corpus, a seeded random sample: for rehearsal."""
    task = make_style_task()
    check_int("n_pairs", n_pairs, 0, len(task.y_old))
    check_int("seed", seed, 0)
    pick = torch.randperm(len(task.y_old), generator=torch.Generator().manual_seed(seed))[:n_pairs]
    return task.X_old[pick], task.y_old[pick]


def prepare(strategy: str, rank: int = 4, seed: int = 0) -> nn.Module:
    """A copy of the pretrained LM (or a random one) with only the strategy's parameters trainable."""
    check_choice("strategy", strategy, STRATEGIES)
    check_int("seed", seed, 0)
    model = train.trained_tiny_lm()  # chapter 1's trained model, a fresh copy
    if strategy == "from scratch":
        return models.make_tiny_lm(model.config.vocab_size, seed=seed + 1)  # same shapes, random values
    if strategy == "freeze embeddings":
        model.embed.weight.requires_grad_(False)
    elif strategy == "output layer only":
        for p in (*model.embed.parameters(), *model.hidden.parameters()):
            p.requires_grad_(False)
    elif strategy == "LoRA":
        model.embed.weight.requires_grad_(False)
        torch.manual_seed(seed)
        model.hidden = LoRALinear(model.hidden, rank=rank)  # freezes W and b, adds trainable A and B
        model.out = LoRALinear(model.out, rank=rank)
    return model


def effective_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors the model computes with; an enabled LoRA layer's weight counts as W + (alpha/r)·BA."""
    check_tiny_lm(model, exact=True)
    out = {"embed.weight": model.embed.weight}
    for name in ("hidden", "out"):
        layer = getattr(model, name)
        if isinstance(layer, LoRALinear):
            weight = layer.base.weight + layer.delta_weight() if layer.enabled else layer.base.weight
            out[f"{name}.weight"], out[f"{name}.bias"] = weight, layer.base.bias
        else:
            out[f"{name}.weight"], out[f"{name}.bias"] = layer.weight, layer.bias
    return {k: v.detach() for k, v in out.items()}


def trainable_count(model: nn.Module) -> int:
    """How many numbers of `model` an optimizer may change (requires_grad)."""
    check_module("model", model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def fine_tune(strategy: str, rank: int = 4, steps: int = 150, lr: float = 0.01, every: int = 10,
              n_sentences: int = 12, seed: int = 0):
    """Fine-tune with one strategy; yield Snapshots with new-style loss/accuracy, old-corpus loss, tensor changes."""
    check_choice("strategy", strategy, STRATEGIES)
    return train_on_task(prepare(strategy, rank, seed), steps=steps, lr=lr, every=every, n_sentences=n_sentences,
                         seed=seed)


def train_on_task(model: nn.Module, X=None, y=None, steps: int = 150, lr: float = 0.01, every: int = 10,
                  n_sentences: int = 12, seed: int = 0):
    """Train `model` (from `prepare`) in place, on the task's training pairs or on (X, y); Snapshots as fine_tune's.

    Adam, batches of 32: the recipe every strategy of chapter 8 uses. The model is left trained, so you can
    measure it afterwards (switch LoRA's adapters off, evaluate it on other data).
    """
    check_tiny_lm(model, exact=True)
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    task = make_style_task(n_sentences)
    check_number("lr", lr, 0, low_open=True)
    if (X is None) != (y is None):
        missing, given = ("y", "X") if y is None else ("X", "y")
        fail(missing, f"given together with {given} (or both left out, for the task's training pairs)", None)
    X, y = (task.X_train, task.y_train) if X is None else check_examples(X, y)
    return _train_and_measure(model, task, X, y, steps, lr, every, seed)


def _train_and_measure(model, task, X, y, steps, lr, every, seed):
    # Copies: the optimizer updates the parameters in place, so views of them would always show "no change".
    start = {name: tensor.clone() for name, tensor in effective_tensors(model).items()}
    run = train.train_lm(model, X, y, steps=steps, lr=lr, batch_size=32, every=every, seed=seed)
    for snap in run:
        now = effective_tensors(model)
        snap.params = {name: tensor.numpy().copy() for name, tensor in now.items()}
        snap.metrics.update(test_loss=train.evaluate(model, task.X_test, task.y_test),
                            test_acc=train.accuracy(model, task.X_test, task.y_test),
                            old_loss=train.evaluate(model, task.X_old, task.y_old))
        snap.info.update(change={k: float((now[k] - start[k]).norm() / start[k].norm()) for k in now},
                         trainable=trainable_count(model))
        yield snap
