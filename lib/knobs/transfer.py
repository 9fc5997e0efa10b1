"""Chapter 8: pretrain the tiny LM on the farm corpus, then fine-tune it on a few sentences of a new style.

The new style puts the place first ("in the barn the cow eats hay .",
corpora/farm_place_first.txt): the same words, a different order. A model that
already knows that cows eat hay only has to learn the new order; a model
starting from random numbers has to learn everything from a dozen sentences.
A *strategy* says which parameters train; LoRA trains small adapters and
leaves every pretrained number untouched.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn
from torch.nn import functional as F

from knobs import data, models, train
from knobs.lora import LoRALinear

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
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


@lru_cache(maxsize=8)
def make_style_task(n_sentences: int = 12) -> StyleTask:
    """The first `n_sentences` place-first sentences to fine-tune on; distinct unseen ones to test on."""
    lines = split_sentences(data.read_corpus_text("farm_place_first"))
    if not 1 <= n_sentences <= 100:
        raise ValueError(f"n_sentences must be between 1 and 100, got {n_sentences}")
    farm = data.load_corpus("farm")  # its vocabulary is the pretrained model's
    train_lines = lines[:n_sentences]
    test_lines = sorted(set(lines[n_sentences:]) - set(train_lines))

    def pairs(sentences):
        corpus = data.load_corpus(text=" ".join(sentences))
        ids = torch.tensor(farm.vocab.encode(list(corpus.tokens)))
        return ids.unfold(0, 2, 1)[:-1].contiguous(), ids[2:]

    X_old, y_old = data.make_dataset(farm)
    return StyleTask(*pairs(train_lines), *pairs(test_lines), X_old, y_old, train_lines)


@lru_cache(maxsize=2)
def pretrained_lm(steps: int = 400, seed: int = 0) -> models.TinyLM:
    """The tiny LM trained on the whole farm corpus: this chapter's 'pretrained model' (cached)."""
    corpus = data.load_corpus("farm")
    X, y = data.make_dataset(corpus)
    model = models.make_tiny_lm(len(corpus.vocab), seed=seed)
    for _ in train.train_lm(model, X, y, steps=steps, lr=0.03, every=steps, seed=seed):
        pass
    return model


def prepare(strategy: str, rank: int = 4, seed: int = 0) -> nn.Module:
    """A copy of the pretrained LM (or a random one) with only the strategy's parameters trainable."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    base = pretrained_lm()
    if strategy == "from scratch":
        return models.make_tiny_lm(base.config.vocab_size, seed=seed + 1)  # same shapes, random values
    model = copy.deepcopy(base)
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
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def next_word_accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """How often the model's most likely next word is the one that came."""
    return float((model(X).argmax(-1) == y).float().mean())


def fine_tune(strategy: str, rank: int = 4, steps: int = 150, lr: float = 0.01, every: int = 10,
              n_sentences: int = 12, seed: int = 0):
    """Fine-tune with one strategy; yield Snapshots with new-style loss/accuracy, old-corpus loss, tensor changes."""
    task = make_style_task(n_sentences)
    model = prepare(strategy, rank, seed)
    start = effective_tensors(model)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)

    def snapshot(step: int, loss: float) -> train.Snapshot:
        now = effective_tensors(model)
        change = {k: float((now[k] - start[k]).norm() / start[k].norm()) for k in now}
        metrics = {"train_loss": loss, "test_loss": train.evaluate(model, task.X_test, task.y_test),
                   "test_acc": next_word_accuracy(model, task.X_test, task.y_test),
                   "old_loss": train.evaluate(model, task.X_old, task.y_old)}
        return train.Snapshot(step, {k: v.numpy().copy() for k, v in now.items()}, metrics,
                              {"change": change, "trainable": trainable_count(model)})

    yield snapshot(0, train.evaluate(model, task.X_train, task.y_train))
    generator = torch.Generator().manual_seed(seed)
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(task.y_train), (32,), generator=generator)
        loss = F.cross_entropy(model(task.X_train[idx]), task.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % every == 0 or step == steps:
            yield snapshot(step, loss.item())
