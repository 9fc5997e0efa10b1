"""Chapter 7: scale -- models of many sizes, the lowest loss any of them can reach, and what they cost.

Scope:
- `DeepTinyLM`: the running example with any number of hidden layers, or
  with no embedding table (one-hot words), so shapes can be compared at a
  fixed parameter count; `lm_parameter_count` counts any shape by formula.
- `conditional_entropy`: the lowest loss any model with this context can reach.
- The cost side: bytes per parameter for training and inference, `6 N D`
  training FLOPs, and FLOPs counted matrix product by matrix product
  (`count_training_flops`, checked against PyTorch's FlopCounterMode).

Training many sizes on many data sizes is `knobs.sweep` (with `knobs.stacked`, its speed-up).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from knobs import models
from knobs.validate import (ArgumentTypeError, check_choice, check_examples, check_instance, check_int,
                            check_module, check_number, fail)


# ---- a deeper (or embedding-free) variant of the running example ---------------------

@dataclass
class DeepLMConfig:
    vocab_size: int = 29  # words in the farm corpus
    context: int = 4  # how many previous words the model sees (chapter 7 uses 4)
    embed_dim: int = 8  # length of each word vector; 0 = no embedding table (one-hot words)
    hidden: int = 32  # width of every hidden layer
    layers: int = 1  # number of tanh hidden layers (TinyLM has 1)

    def __post_init__(self):
        for name, low, high in (("vocab_size", 2, 100_000), ("context", 1, 8), ("embed_dim", 0, 1024),
                                ("hidden", 1, 4096), ("layers", 1, 16)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number between {low} and {high}, got {value!r}")

    @property
    def input_size(self) -> int:
        """Length of the vector the first hidden layer reads: context x (embed_dim, or vocab_size if one-hot)."""
        return self.context * (self.embed_dim or self.vocab_size)


class DeepTinyLM(nn.Module):
    """TinyLM with `layers` tanh hidden layers; with embed_dim=0 it reads one-hot words instead."""

    def __init__(self, config: DeepLMConfig):
        super().__init__()
        check_instance("config", config, DeepLMConfig, "a DeepLMConfig")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim) if config.embed_dim else None
        sizes = [config.input_size] + [config.hidden] * config.layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(config.hidden, config.vocab_size)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if self.embed is None:
            h = F.one_hot(X, self.config.vocab_size).float().flatten(-2)  # (B, context * V)
        else:
            h = self.embed(X).flatten(-2)  # (B, context * embed_dim)
        for layer in self.hidden:
            h = torch.tanh(layer(h))  # (B, hidden)
        return self.out(h)  # (B, vocab_size) logits


def make_lm(vocab_size: int = 29, seed: int = 0, **shape) -> nn.Module:
    """A seeded model of any shape (chapter 7): the running example's TinyLM when it fits, else a DeepTinyLM."""
    check_int("seed", seed, 0)
    c = DeepLMConfig(vocab_size=vocab_size, **shape)
    if c.layers == 1 and c.embed_dim:
        return models.make_tiny_lm(vocab_size, seed=seed, context=c.context, embed_dim=c.embed_dim, hidden=c.hidden)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = DeepTinyLM(c)
    torch.random.set_rng_state(state)  # leave the caller's random stream alone
    return model


def lm_parameter_count(vocab_size: int, context: int, embed_dim: int, hidden: int, layers: int = 1) -> int:
    """Parameters of a (Deep)TinyLM from its shape alone: embeddings + hidden layers + output layer."""
    c = DeepLMConfig(vocab_size, context, embed_dim, hidden, layers)
    embeddings = c.vocab_size * c.embed_dim
    first = c.input_size * c.hidden + c.hidden
    rest = (c.layers - 1) * (c.hidden * c.hidden + c.hidden)
    output = c.hidden * c.vocab_size + c.vocab_size
    return embeddings + first + rest + output


def width_for_budget(budget: int, vocab_size: int, context: int, embed_dim: int, layers: int = 1) -> int:
    """The hidden width whose parameter count comes closest to `budget` for this shape."""
    check_int("budget", budget, 1)
    def miss(hidden: int) -> int:
        return abs(lm_parameter_count(vocab_size, context, embed_dim, hidden, layers) - budget)

    return min(range(1, 4097), key=miss)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The matrix-product layers of a (Deep)TinyLM in order: its hidden layer(s), then its output layer."""
    models.check_tiny_lm(model)
    hidden = model.hidden if isinstance(model.hidden, nn.ModuleList) else [model.hidden]
    return [*hidden, model.out]


def conditional_entropy(tokens, context: int) -> float:
    """Entropy of the next word given the previous `context` words, in nats, estimated by counting.

    No model that sees `context` words can beat this on text from the same source: it is the
    irreducible part of the loss (the E of Hoffmann et al.'s fit). Counted from a finite sample,
    it is a slight underestimate.
    """
    if isinstance(tokens, str) or not hasattr(tokens, "__len__"):
        fail("tokens", "a list of words (e.g. load_corpus('farm').tokens)", tokens, ArgumentTypeError)
    check_int("context", context, 1, len(tokens) - 1)
    tokens = list(tokens)
    grams = Counter(zip(*(tokens[i:] for i in range(context + 1))))  # (context words..., next word) -> count
    contexts: Counter = Counter()
    for gram, count in grams.items():
        contexts[gram[:-1]] += count
    # H = -sum over (context, next) of count * log(count / count of context), per predicted word
    nats = -sum(count * math.log(count / contexts[gram[:-1]]) for gram, count in grams.items())
    return nats / (len(tokens) - context)


def entropy_bias_correction(tokens, context: int) -> float:
    """Miller-Madow's first-order correction to `conditional_entropy` (chapter 7), in nats.

    A conditional entropy counted from n predicted words underestimates the source's by about
    (distinct (context, next word) pairs - distinct contexts) / (2 n): add this to the count's estimate.
    """
    if isinstance(tokens, str) or not hasattr(tokens, "__len__"):
        fail("tokens", "a list of words (e.g. load_corpus('farm').tokens)", tokens, ArgumentTypeError)
    check_int("context", context, 1, len(tokens) - 1)
    tokens = list(tokens)
    grams = set(zip(*(tokens[i:] for i in range(context + 1))))
    contexts = {gram[:-1] for gram in grams}
    return (len(grams) - len(contexts)) / (2 * (len(tokens) - context))


# ---- the cost side --------------------------------------------------------------------------

# Bytes per parameter while training with Adam. Mixed precision keeps fp16/bf16 weights and gradients for the
# arithmetic plus an fp32 master copy and Adam's two fp32 moments: 2 + 2 + 12 = 16 (Rajbhandari et al. 2020).
TRAINING_BYTES = {
    "fp32 Adam": {"weights": 4, "gradients": 4, "Adam moments": 8},
    "mixed-precision Adam": {"16-bit weights": 2, "16-bit gradients": 2, "fp32 master weights": 4,
                             "Adam moments": 8},
}


def training_memory_bytes(n_parameters: float, recipe: str = "mixed-precision Adam") -> float:
    """Bytes for weights, gradients and optimizer state (not activations) when training (chapter 7)."""
    check_number("n_parameters", n_parameters, 0)
    check_choice("recipe", recipe, sorted(TRAINING_BYTES))
    return n_parameters * sum(TRAINING_BYTES[recipe].values())


def measured_training_state_bytes(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """Bytes the tensors of a real training step hold: weights, gradients, optimizer state (measured)."""
    check_module("model", model)
    check_instance("optimizer", optimizer, torch.optim.Optimizer, "a torch.optim optimizer (e.g. torch.optim.Adam)")
    params = list(model.parameters())
    if any(p.grad is None for p in params):
        raise ValueError("model must have run a backward pass (every parameter needs a .grad)")
    state = [t for p in params for t in optimizer.state.get(p, {}).values()
             if torch.is_tensor(t) and t.shape == p.shape]  # Adam's exp_avg and exp_avg_sq (its step is a scalar)
    if not state:
        raise ValueError("optimizer has no state yet: call optimizer.step() once first")
    nbytes = lambda tensors: sum(t.numel() * t.element_size() for t in tensors)  # noqa: E731
    return {"weights": nbytes(params), "gradients": nbytes(p.grad for p in params), "optimizer state": nbytes(state)}


def training_flops(n_parameters: float, tokens: float) -> float:
    """The 6 N D rule (Kaplan et al. 2020): 2 N D for the forward pass, 4 N D for the backward pass."""
    check_number("n_parameters", n_parameters, 0)
    check_number("tokens", tokens, 0)
    return 6.0 * n_parameters * tokens


def count_training_flops(model: nn.Module, batch_size: int) -> int:
    """FLOPs of the matrix products in one training step on `batch_size` examples, counted layer by layer.

    A Linear layer with an (out x in) weight costs 2·B·in·out forward, the same again for the gradient
    of its weight and again for the gradient of its input -- which the first layer skips when nothing
    before it learns (one-hot input). Embedding look-ups, biases, tanh and softmax are not matrix
    products: they cost comparatively little and are not counted (nor by the 6 N D rule).
    """
    models.check_tiny_lm(model)
    check_int("batch_size", batch_size, 1)
    layers = linear_layers(model)
    first_input_learns = getattr(model, "embed", None) is not None
    flops = 0
    for i, layer in enumerate(layers):
        macs = batch_size * layer.in_features * layer.out_features
        passes = 3 if (i > 0 or first_input_learns) else 2  # forward, weight gradient, (input gradient)
        flops += 2 * macs * passes
    return flops


def measure_training_flops(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> int:
    """FLOPs PyTorch itself counts (FlopCounterMode) for one forward + backward pass on (X, y)."""
    from torch.utils.flop_counter import FlopCounterMode

    check_module("model", model)
    check_examples(X, y)

    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(X), y).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def attention_flops_per_token(config: models.GPT2Config, n_ctx: int | None = None) -> float:
    """Forward FLOPs per token of attention's scores and weighted sum, which 6 N D leaves out (chapter 7).

    Kaplan et al. (2020, Table 1): 2 n_layer n_ctx d_attn per token forward (d_attn = n_embd in GPT-2 and
    GPT-3), triple that for training. Counted for a token attending to all n_ctx positions (the context's end).
    """
    check_instance("config", config, models.GPT2Config, "a GPT2Config (e.g. scale.GPT3_CONFIG)")
    n_ctx = config.n_positions if n_ctx is None else n_ctx
    check_int("n_ctx", n_ctx, 1)
    return 2.0 * config.n_layer * n_ctx * config.n_embd


def kv_cache_bytes(config: models.GPT2Config, tokens: int, bytes_per_number: int = 2) -> int:
    """Bytes of the key-value cache that generating text keeps: keys and values of every layer (chapter 7).

    2 (K and V) x n_layer x n_embd numbers per token of context (per sequence in the batch); bf16 by default.
    """
    check_instance("config", config, models.GPT2Config, "a GPT2Config (e.g. scale.GPT3_CONFIG)")
    check_int("tokens", tokens, 0)
    check_int("bytes_per_number", bytes_per_number, 1, 8)
    return 2 * config.n_layer * config.n_embd * tokens * bytes_per_number


# Hoffmann et al. (2022), Approach 3: L(N, D) = E + A / N^alpha + B / D^beta, the constants as the paper prints them.
CHINCHILLA_FIT = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def chinchilla_loss(n_parameters: float, tokens: float) -> float:
    """Hoffmann et al.'s fitted loss (Approach 3) for N parameters trained on D tokens, nats per token (chapter 7)."""
    check_number("n_parameters", n_parameters, 0, low_open=True)
    check_number("tokens", tokens, 0, low_open=True)
    f = CHINCHILLA_FIT
    return f["E"] + f["A"] / n_parameters ** f["alpha"] + f["B"] / tokens ** f["beta"]


def chinchilla_optimum(budget: float) -> tuple[float, float]:
    """(N, D) minimising `chinchilla_loss` subject to 6 N D = budget FLOPs (chapter 7).

    Setting the derivative along the constraint to zero gives alpha A / N^alpha = beta B / D^beta, so
    N = G (C/6)^(beta / (alpha + beta)) with G = (alpha A / (beta B))^(1 / (alpha + beta)).
    """
    check_number("budget", budget, 0, low_open=True)
    f = CHINCHILLA_FIT
    a, b = f["alpha"], f["beta"]
    G = (a * f["A"] / (b * f["B"])) ** (1 / (a + b))
    N = G * (budget / 6) ** (b / (a + b))
    return N, budget / (6 * N)


def non_embedding_weights(model: nn.Module) -> int:
    """Weights of the matrix-product layers (no embeddings, no biases): what a step's FLOPs scale with."""
    models.check_tiny_lm(model)
    return sum(layer.weight.numel() for layer in linear_layers(model))


def order_of_magnitude(x: float) -> str:
    """'10¹³' for 1.2e13: the nearest power of ten, written for prose."""
    check_number("x", x, 0, low_open=True, must="a positive number")
    exponent = round(math.log10(x))
    return "10" + str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


@dataclass
class RealModel:
    """A published model: its parameters and training tokens, as its paper reports them."""

    name: str
    parameters: float
    tokens: float
    cite: str  # the bibliography key


# Gopher's and Chinchilla's training budget by Hoffmann et al.'s (2022) fuller FLOP count (attention and embeddings
# included), the same for both models; 6ND gives them 5.0e23 and 5.9e23.
GOPHER_CHINCHILLA_FLOPS = 5.76e23

# GPT-3 175B's published shape (Brown et al. 2020, Table 2.1): GPT-2's architecture, wider, deeper, longer context.
GPT3_CONFIG = models.GPT2Config(n_embd=12288, n_layer=96, n_head=96, n_positions=2048)


def real_models() -> list[RealModel]:
    """GPT-3's count computed from its published shape; the others as their papers report them."""
    gpt3 = sum(models.gpt2_parameter_formula(GPT3_CONFIG).values())
    return [
        RealModel("GPT-3", gpt3, 300e9, "brown2020language"),
        RealModel("Gopher", 280e9, 300e9, "rae2021scaling"),
        RealModel("Chinchilla", 70e9, 1.4e12, "hoffmann2022training"),
        RealModel("LLaMA-13B", 13e9, 1.0e12, "touvron2023llama"),
    ]
