"""Chapter 8: pretrain the tiny LM on the farm corpus, then fine-tune it on a few sentences of a new style.

The new style puts the place first ("in the barn the cow eats hay .",
corpora/farm_place_first.txt): the same words, a different order. A model that
already knows that cows eat hay only has to learn the new order; a model
starting from random numbers has to learn everything from a dozen sentences.
The "pretrained model" is chapter 1's trained tiny model (`train.trained_tiny_lm`).
A *strategy* says which parameters train; LoRA trains small adapters and
leaves every pretrained number untouched.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from knobs import data, models, train
from knobs.lora import LoRALinear
from knobs.models import check_tiny_lm
from knobs.validate import check_choice, check_int, check_module, check_text

STRATEGIES = ("from scratch", "full fine-tune", "freeze embeddings", "output layer only", "LoRA")


@dataclass
class StyleTask:
    X_train: torch.Tensor  # (N, 2) contexts from the few fine-tuning sentences
    y_train: torch.Tensor  # (N,) next words
    X_test: torch.Tensor  # held-out sentences of the new style (none identical to a training one)
    y_test: torch.Tensor
    X_old: torch.Tensor  # the original corpus: does the model forget it?
    y_old: torch.Tensor
    train_sentences: list[str]


def split_sentences(text: str) -> list[str]:
    """The non-empty lines of `text`, stripped: one sentence each."""
    check_text("text", text)
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


@lru_cache(maxsize=8)
def make_style_task(n_sentences: int = 12) -> StyleTask:
    """The first `n_sentences` place-first sentences to fine-tune on; distinct unseen ones to test on."""
    check_int("n_sentences", n_sentences, 1, 100)
    lines = split_sentences(data.read_corpus_text("farm_place_first"))
    farm = data.load_corpus("farm")  # its vocabulary is the pretrained model's
    train_lines = lines[:n_sentences]
    test_lines = sorted(set(lines[n_sentences:]) - set(train_lines))

    def pairs(sentences):
        corpus = data.load_corpus(text=" ".join(sentences))
        ids = torch.tensor(farm.vocab.encode(list(corpus.tokens)))
        return ids.unfold(0, 2, 1)[:-1].contiguous(), ids[2:]

    X_old, y_old = data.make_dataset(farm)
    return StyleTask(*pairs(train_lines), *pairs(test_lines), X_old, y_old, train_lines)


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
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    task = make_style_task(n_sentences)
    model = prepare(strategy, rank, seed)
    # Copies: the optimizer updates the parameters in place, so views of them would always show "no change".
    start = {name: tensor.clone() for name, tensor in effective_tensors(model).items()}
    run = train.train_lm(model, task.X_train, task.y_train, steps=steps, lr=lr, batch_size=32, every=every,
                         seed=seed)
    for snap in run:
        now = effective_tensors(model)
        snap.params = {name: tensor.numpy().copy() for name, tensor in now.items()}
        snap.metrics.update(test_loss=train.evaluate(model, task.X_test, task.y_test),
                            test_acc=train.accuracy(model, task.X_test, task.y_test),
                            old_loss=train.evaluate(model, task.X_old, task.y_old))
        snap.info.update(change={k: float((now[k] - start[k]).norm() / start[k].norm()) for k in now},
                         trainable=trainable_count(model))
        yield snap
