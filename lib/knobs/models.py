"""Tiny models, and counting their parameters by layer and by kind.

`TinyLM` is the book's running example: a next-word model in the style of
Bengio et al. (2003) -- look up an embedding for each context word, one tanh
hidden layer, one output layer scoring every word in the vocabulary.
`GPT2` is the same idea at real scale, built on PyTorch's meta device so its
124M parameters can be counted without allocating a byte.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from knobs.data import Vocab
from knobs.validate import (ArgumentTypeError, check_bool, check_choice, check_instance, check_int,
                            check_module, check_number, fail)

# Bytes each parameter takes in each storage format (int4 packs two per byte).
BYTES_PER_PARAMETER = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}


@dataclass
class TinyLMConfig:
    vocab_size: int = 30  # words in the farm corpus
    context: int = 2  # how many previous words the model sees
    embed_dim: int = 8  # length of each word vector
    hidden: int = 32  # width of the hidden layer

    def __post_init__(self):
        for name, low, high in (("vocab_size", 2, 100_000), ("context", 1, 8), ("embed_dim", 1, 1024), ("hidden", 1, 4096)):
            check_int(name, getattr(self, name), low, high)


class TinyLM(nn.Module):
    """Next-word model: embed the context words, concatenate, tanh layer, scores per word."""

    def __init__(self, config: TinyLMConfig):
        super().__init__()
        check_instance("config", config, TinyLMConfig, "a TinyLMConfig")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.hidden = nn.Linear(config.context * config.embed_dim, config.hidden)
        self.out = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        e = self.embed(X)  # (B, context, embed_dim)
        h = torch.tanh(self.hidden(e.flatten(1)))  # (B, hidden)
        return self.out(h)  # (B, vocab_size) logits


def make_tiny_lm(vocab_size: int = 30, seed: int = 0, **config) -> TinyLM:
    """A freshly initialised TinyLM; the same seed gives the same parameters."""
    check_int("seed", seed, 0)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = TinyLM(TinyLMConfig(vocab_size=vocab_size, **config))
    torch.random.set_rng_state(generator_state)  # leave the caller's random stream alone
    return model


@torch.no_grad()
def predict_next(model: nn.Module, vocab, words: str | list[str], k: int = 3) -> list[tuple[str, float]]:
    """The model's k most likely next words (with probabilities) after `words`."""
    check_tiny_lm(model)
    check_instance("vocab", vocab, Vocab, "a knobs Vocab (e.g. data.farm_split().vocab)")
    check_instance("words", words, (str, list, tuple), "a string of words or a list of words")
    context = model.config.context
    ids = vocab.encode(words)
    if len(ids) < context:
        raise ValueError(f"give at least {context} words of context, got {len(ids)}")
    check_int("k", k, 1, len(vocab))
    logits = model(torch.tensor([ids[-context:]]))
    probs = torch.softmax(logits[0], dim=-1)
    top = torch.topk(probs, k)
    return [(vocab.words[i], float(p)) for p, i in zip(top.values, top.indices)]


@torch.no_grad()
def next_word_probs(model: nn.Module, vocab, words: str | list[str], candidates: list[str]) -> dict[str, float]:
    """Probability the model gives each candidate word after `words` (labs draw these as bars)."""
    check_tiny_lm(model)
    check_instance("vocab", vocab, Vocab, "a knobs Vocab (e.g. data.farm_split().vocab)")
    check_instance("words", words, (str, list, tuple), "a string of words or a list of words")
    check_instance("candidates", candidates, (list, tuple), "a list of words")
    ids = vocab.encode(words)[-model.config.context:]
    probs = torch.softmax(model(torch.tensor([ids]))[0], dim=-1)
    return {w: float(probs[vocab.id(w)]) for w in candidates}


def check_tiny_lm(model, name: str = "model", exact: bool = False) -> nn.Module:
    """`model` if it is a knobs next-word model (exact: a TinyLM; else a DeepTinyLM too), else a clear error."""
    if exact:
        return check_instance(name, model, TinyLM, "a knobs TinyLM (make_tiny_lm, trained_tiny_lm)")
    if not (isinstance(model, nn.Module) and hasattr(model, "out")
            and hasattr(getattr(model, "config", None), "context")):
        fail(name, "a knobs next-word model (a TinyLM from make_tiny_lm, or a DeepTinyLM)", model, ArgumentTypeError)
    return model


def parameter_kind(module: nn.Module, name: str) -> str:
    """'embedding', 'norm', 'bias' or 'weight': the groups chapters 1 and 3 count (chapter 3 decays only 'weight').

    A norm layer is a module whose class name ends in "Norm" or "NormNd": every torch.nn one
    (LayerNorm, RMSNorm, GroupNorm, BatchNorm2d, InstanceNorm1d, SyncBatchNorm, the lazy
    ones) and a learner's own (LlamaRMSNorm, nanoGPT's LayerNorm). A bias is any parameter
    whose name contains "bias": GRU/LSTM's bias_ih_l0, nn.MultiheadAttention's in_proj_bias.
    """
    if not isinstance(module, nn.Module) or not isinstance(name, str):
        raise ValueError(f"module must be an nn.Module and name a str, got {type(module).__name__} and {name!r}")
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    if type(module).__name__.lower().rstrip("123d").endswith("norm"):  # BatchNorm2d -> batchnorm
        return "norm"
    return "bias" if "bias" in name else "weight"


@dataclass
class ParameterRow:
    name: str  # e.g. 'hidden.weight'
    kind: str  # embedding / weight / bias / norm
    shape: tuple[int, ...]
    count: int


class ParameterTable(list):
    """One row per parameter tensor; prints as a table with totals."""

    @property
    def total(self) -> int:
        return sum(row.count for row in self)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self:
            counts[row.kind] = counts.get(row.kind, 0) + row.count
        return counts

    def by_layer(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self:
            layer = row.name.rsplit(".", 1)[0]
            counts[layer] = counts.get(layer, 0) + row.count
        return counts

    def __str__(self) -> str:
        lines = [f"{'parameter':<28}{'kind':<11}{'shape':<16}{'count':>12}"]
        lines += [f"{r.name:<28}{r.kind:<11}{str(tuple(r.shape)):<16}{r.count:>12,}" for r in self]
        lines.append(f"{'total':<55}{self.total:>12,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> ParameterTable:
    """Every parameter tensor of `model` with its kind and size (shared tensors counted once)."""
    check_module("model", model)
    check_bool("trainable_only", trainable_only)
    table, seen = ParameterTable(), set()
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen or (trainable_only and not param.requires_grad):
                continue  # tied weights (GPT-2's lm_head) are one tensor, counted once
            seen.add(id(param))
            full_name = f"{module_name}.{name}" if module_name else name
            table.append(ParameterRow(full_name, parameter_kind(module, name), tuple(param.shape), param.numel()))
    return table


def memory_bytes(n_parameters: int, dtype: str = "fp32") -> float:
    """Bytes needed to store `n_parameters` in `dtype` (fp32, fp16, bf16, int8, int4)."""
    check_number("n_parameters", n_parameters, 0)  # a float too: 70e9, or an estimate
    check_choice("dtype", dtype, sorted(BYTES_PER_PARAMETER))
    return n_parameters * BYTES_PER_PARAMETER[dtype]


def format_bytes(n: float) -> str:
    """Human-readable size in powers of 1024 (KiB, MiB, GiB)."""
    n = check_number("n", n, 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


@dataclass
class GPT2Config:
    """GPT-2 small as published (Radford et al. 2019; the released config.json)."""

    vocab_size: int = 50257  # byte-level BPE tokens
    n_positions: int = 1024  # longest context, one learned position vector each
    n_embd: int = 768  # width of the residual stream
    n_layer: int = 12  # transformer blocks
    n_head: int = 12  # attention heads (splitting d does not change the count)
    tie_word_embeddings: bool = True  # the output layer reuses the token embedding

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            check_int(name, getattr(self, name), 1)
        check_bool("tie_word_embeddings", self.tie_word_embeddings)


class GPT2Block(nn.Module):
    def __init__(self, c: GPT2Config):
        super().__init__()
        check_instance("c", c, GPT2Config, "a GPT2Config")
        d = c.n_embd
        self.ln_1 = nn.LayerNorm(d)
        self.attn_qkv = nn.Linear(d, 3 * d)  # queries, keys and values in one matrix
        self.attn_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp_fc = nn.Linear(d, 4 * d)  # GPT-2's MLP is 4x wider than the stream
        self.mlp_proj = nn.Linear(4 * d, d)


class GPT2(nn.Module):
    """GPT-2's parameter tensors with their real shapes (no forward pass: for counting)."""

    def __init__(self, c: GPT2Config):
        super().__init__()
        check_instance("c", c, GPT2Config, "a GPT2Config")
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)  # token embeddings
        self.wpe = nn.Embedding(c.n_positions, c.n_embd)  # position embeddings
        self.blocks = nn.ModuleList(GPT2Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.wte.weight


def make_gpt2(config: GPT2Config | None = None) -> GPT2:
    """GPT-2 on the meta device: real shapes, no memory, built in milliseconds."""
    if config is not None:
        check_instance("config", config, GPT2Config, "a GPT2Config (or None for GPT-2 small)")
    with torch.device("meta"):
        return GPT2(config or GPT2Config())


def gpt2_parameter_formula(c: GPT2Config) -> dict[str, int]:
    """GPT-2's parameter count by part, from the configuration alone (chapter 1)."""
    check_instance("c", c, GPT2Config, "a GPT2Config")
    d, V, P, L = c.n_embd, c.vocab_size, c.n_positions, c.n_layer
    per_block = {
        "layer norms": 2 * 2 * d,  # two LayerNorms, each a gain and a bias vector
        "attention": (d * 3 * d + 3 * d) + (d * d + d),
        "mlp": (d * 4 * d + 4 * d) + (4 * d * d + d),
    }
    parts = {
        "token embeddings": V * d,
        "position embeddings": P * d,
        **{name: L * n for name, n in per_block.items()},
        "final layer norm": 2 * d,
        "output layer (untied)": 0 if c.tie_word_embeddings else V * d,
    }
    return parts
