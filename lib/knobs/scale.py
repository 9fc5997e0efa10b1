"""Chapter 7: scale -- models of many sizes, data of many sizes, and what they cost.

Scope:
- `DeepTinyLM`: the running example with any number of hidden layers, or
  with no embedding table (one-hot words), so shapes can be compared at a
  fixed parameter count; `lm_parameter_count` counts any shape by formula.
- `StackedLM` + `train_stacked`: K same-shaped models trained at once with
  batched matrix products. Nothing is shared between the K and Adam works
  element by element, so this is exactly K separate runs (the tests check it
  against PyTorch's own layers and Adam) at the Python cost of one.
- `capacity_sweep`: every size x every data size, with learning curves.
- `conditional_entropy`: the lowest loss any model with this context can reach.
- The cost side: bytes per parameter for training and inference, `6 N D`
  training FLOPs, and FLOPs counted matrix product by matrix product
  (`count_training_flops`, checked against PyTorch's FlopCounterMode).
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from knobs import data, models


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
    if budget < 1:
        raise ValueError(f"budget must be a whole number 1 or more, got {budget}")
    def miss(hidden: int) -> int:
        return abs(lm_parameter_count(vocab_size, context, embed_dim, hidden, layers) - budget)

    return min(range(1, 4097), key=miss)


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    hidden = model.hidden if isinstance(model.hidden, nn.ModuleList) else [model.hidden]
    return [*hidden, model.out]


@contextmanager
def single_thread():
    """Run torch on one thread inside the block: on matrices this small, a second thread costs more than it
    gives (and on a busy machine far more). Switching is slow (~10 ms), so do it per sweep, not per step."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


# ---- K same-shaped models trained at once ------------------------------------------------

class StackedLM(nn.Module):
    """K independent models run as batched matrix products (one Python step for all K).

    Each parameter gets a leading K axis. The K models share nothing, and
    Adam updates element by element, so training the stack is training K
    separate models -- at the Python cost of one.

    Models of different widths stack too: `pad_to=(embed_dim, hidden)` places
    each one in the corner of a bigger, otherwise zero model. A padded unit
    gets no input and sends no output, so its gradient is exactly zero and it
    stays zero for ever (chapter 2's reason for random initialization): the
    padded model computes exactly what the small one does.
    """

    def __init__(self, members: list[nn.Module], pad_to: tuple[int, int] | None = None):
        super().__init__()
        if not members:
            raise ValueError("members must hold at least one model")
        first = members[0]
        self.vocab_size, self.context = first.out.out_features, first.config.context
        self.names = [name for name, _ in first.named_parameters()]
        self.member_shapes = [(m.embed.weight.shape[1] if getattr(m, "embed", None) is not None else 0,
                               m.out.in_features) for m in members]  # (embed_dim, hidden) of each model
        if pad_to is None:
            shapes = {tuple((n, tuple(p.shape)) for n, p in m.named_parameters()) for m in members}
            if len(shapes) != 1:
                raise ValueError("members must all have the same shape (same vocabulary, context, widths and "
                                 "depth), or give pad_to=(embed_dim, hidden)")
            E, H = self.member_shapes[0]
        else:
            E, H = pad_to
            depths = {len(_linear_layers(m)) for m in members}
            if len(depths) != 1 or min(e for e, _ in self.member_shapes) < 1:
                raise ValueError("pad_to needs members with embeddings and the same number of layers")
            if any(e > E or h > H for e, h in self.member_shapes):
                raise ValueError(f"pad_to must be at least every member's (embed_dim, hidden), got {pad_to}")
        self.padded = pad_to is not None
        self.embed = None
        if E:
            self.embed = nn.Parameter(torch.stack([_pad(m.embed.weight, (self.vocab_size, E)) for m in members]))
        # Weights stored transposed, (K, in, out), so a layer is one baddbmm: x (K, B, in) @ W -> (K, B, out).
        weights, biases = [], []
        for i, group in enumerate(zip(*(_linear_layers(m) for m in members))):
            last = i == len(_linear_layers(first)) - 1
            out_size = self.vocab_size if last else H
            in_size = (self.context * E if E else self.context * self.vocab_size) if i == 0 else H
            Ws, bs = [], []
            for layer, (e, _) in zip(group, self.member_shapes):
                W = layer.weight.detach().T  # (in, out)
                if i == 0 and E and e != E:  # the input is context blocks of e numbers: give each block E rows
                    W = torch.cat([_pad(block, (E, W.shape[1])) for block in W.split(e)])
                Ws.append(_pad(W, (in_size, out_size)))
                bs.append(_pad(layer.bias.detach(), (out_size,))[None])
            weights.append(nn.Parameter(torch.stack(Ws)))
            biases.append(nn.Parameter(torch.stack(bs)))
        self.weights, self.biases = nn.ParameterList(weights), nn.ParameterList(biases)

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, X: torch.Tensor, members: slice = slice(None)) -> torch.Tensor:
        """X (k, B, context) word ids -> logits (k, B, vocab_size), for all K models or a slice of them."""
        if self.embed is None:
            h = F.one_hot(X, self.vocab_size).float().flatten(-2)  # (k, B, context * V)
        else:
            E = self.embed[members]  # (k, V, d)
            k, V, d = E.shape
            offsets = torch.arange(k).view(k, 1, 1) * V  # model j looks words up in rows j*V .. j*V + V-1
            h = F.embedding(X + offsets, E.reshape(k * V, d)).flatten(-2)  # (k, B, context * d)
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b[members], h, W[members])  # (k, B, out)
            if i < last:
                h = torch.tanh(h)
        return h

    def member_params(self, k: int) -> dict[str, np.ndarray]:
        """Model k's parameters with its own shapes, named as the separate model names them (a copy)."""
        e, h = self.member_shapes[k]
        E = self.embed.shape[-1] if self.embed is not None else 0
        tensors = [] if self.embed is None else [self.embed[k, :, :e]]
        last = len(self.weights) - 1
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            W, out = W[k], (self.vocab_size if i == last else h)
            if i == 0:
                rows = torch.cat([torch.arange(j * E, j * E + e) for j in range(self.context)]) if E else \
                    torch.arange(W.shape[0])
                W = W[rows]
            else:
                W = W[:h]
            tensors += [W[:, :out].T, b[k, 0, :out]]
        return {name: t.detach().numpy().copy() for name, t in zip(self.names, tensors)}


def _pad(t: torch.Tensor, shape: tuple) -> torch.Tensor:
    """`t` in the corner of a zero tensor of `shape`."""
    out = torch.zeros(shape, dtype=t.dtype)
    out[tuple(slice(0, n) for n in t.shape)] = t
    return out


def batch_indices(sizes, steps: int, batch_size: int, seed: int = 0) -> torch.Tensor:
    """(K, steps, batch_size) example indices: model k draws only from its first sizes[k] examples.

    Every epoch is a fresh shuffle; a short last batch is dropped, so all K batches stack.
    """
    sizes = [int(n) for n in sizes]
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number 1 or more, got {steps!r}")
    if not sizes or batch_size < 1 or min(sizes) < batch_size:
        raise ValueError(f"batch_size must be between 1 and the smallest data size ({min(sizes, default=0)}), "
                         f"got {batch_size}")
    out = torch.empty(len(sizes), steps, batch_size, dtype=torch.long)
    for k, n in enumerate(sizes):
        generator, per_epoch = torch.Generator().manual_seed(seed), n // batch_size
        epochs = -(-steps // per_epoch)
        order = torch.cat([torch.randperm(n, generator=generator)[:per_epoch * batch_size] for _ in range(epochs)])
        out[k] = order[:steps * batch_size].view(steps, batch_size)
    return out


@torch.no_grad()
def stacked_losses(stack: StackedLM, X: torch.Tensor, y: torch.Tensor, members: slice = slice(None),
                   chunk: int = 4096) -> np.ndarray:
    """Mean cross-entropy of each model (or each of `members`) on the same (X, y): shape (k,)."""
    k = len(range(stack.size)[members])
    total = torch.zeros(k)
    for start in range(0, len(y), chunk):
        Xc, yc = X[start:start + chunk], y[start:start + chunk]
        logits = stack(Xc.expand(k, *Xc.shape), members)  # (k, B, V)
        total += F.cross_entropy(logits.flatten(0, 1), yc.repeat(k), reduction="none").view(k, -1).sum(1)
    return (total / len(y)).numpy()


def prefix_losses(stack: StackedLM, X: torch.Tensor, y: torch.Tensor, sizes) -> np.ndarray:
    """Model k's mean cross-entropy on all its training data, the first sizes[k] pairs: shape (K,)."""
    return np.array([stacked_losses(stack, X[:n], y[:n], slice(k, k + 1))[0] for k, n in enumerate(sizes)])


def train_stacked(stack: StackedLM, X: torch.Tensor, y: torch.Tensor, sizes, X_val, y_val, *, steps: int = 300,
                  lr: float = 0.01, batch_size: int = 64, every: int = 30, seed: int = 0, decay: bool = True):
    """Train the K models of `stack` with Adam, model k on the first sizes[k] pairs of (X, y) (chapter 7).

    A generator: yields (step, train_loss (K,), val_loss (K,)) at step 0 and every `every` steps;
    train_loss is the minibatch loss averaged since the last record. Stops after a non-finite loss.
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) != stack.size:
        raise ValueError(f"sizes must give one data size per model ({stack.size}), got {len(sizes)}")
    if max(sizes) > len(y):
        raise ValueError(f"sizes must be at most the {len(y)} examples given, got {max(sizes)}")
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number 1 or more, got {every!r}")
    if not (isinstance(lr, (int, float)) and 0 < lr <= 1):
        raise ValueError(f"lr must be a number in (0, 1], got {lr!r}")
    idx = batch_indices(sizes, steps, batch_size, seed)
    opt = torch.optim.Adam(stack.parameters(), lr=lr, fused=True)  # one kernel per step for all tensors
    # Linear decay to zero (the scaling-law papers decay theirs too, with a cosine): the last steps stop
    # jittering, so a model's final loss measures the model rather than the noise of its last update.
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda done: 1 - done / steps if decay else 1.0)
    # At step 0 every model is at its initialization: its loss on the first pairs of its data is estimate
    # enough (the final training loss, after training, is measured on all of it by prefix_losses).
    yield 0, prefix_losses(stack, X, y, [min(n, len(y_val)) for n in sizes]), stacked_losses(stack, X_val, y_val)
    running, counted = torch.zeros(stack.size), 0
    for step in range(1, steps + 1):
        batch = idx[:, step - 1]  # (K, B)
        logits = stack(X[batch])  # (K, B, V)
        losses = F.cross_entropy(logits.flatten(0, 1), y[batch].flatten(), reduction="none")
        losses = losses.view(stack.size, -1).mean(1)  # (K,): each model's own mean loss
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()  # the K models share no parameter: each gets exactly its own gradient
        opt.step()
        schedule.step()
        running, counted = running + losses.detach(), counted + 1
        if step % every == 0 or step == steps:
            train_loss, val_loss = (running / counted).numpy(), stacked_losses(stack, X_val, y_val)
            running, counted = torch.zeros(stack.size), 0
            yield step, train_loss, val_loss
            if not (np.isfinite(train_loss).all() and np.isfinite(val_loss).all()):
                return


# ---- the data: more and less of the same farm ---------------------------------------------

@dataclass
class ScaleData:
    """Training pairs (a pool read in order: any prefix is "less data"), a fixed validation set, sizes."""

    vocab: data.Vocab
    context: int
    X: torch.Tensor  # (N, context) word ids, in corpus order
    y: torch.Tensor  # (N,) the next word
    X_val: torch.Tensor
    y_val: torch.Tensor
    farm_pairs: int  # pairs in farm.txt: the unit of "how much data"
    sizes: dict[str, int]  # name -> number of training pairs, e.g. {"1 farm": 3613}


def make_scale_data(context: int = 4, farms=(1 / 16, 1 / 4, 1, 8), val_sentences: int = 250) -> ScaleData:
    """farm_more.txt as nested training prefixes of `farms` x farm.txt, validated on its last sentences."""
    lines = data.read_corpus_text("farm_more").splitlines()
    farm_lines = len(data.read_corpus_text("farm").splitlines())
    if not 1 <= val_sentences <= len(lines) // 10:
        raise ValueError(f"val_sentences must be between 1 and {len(lines) // 10}, got {val_sentences}")
    vocab = data.load_corpus("farm").vocab
    pool = data.load_corpus(text=" ".join(lines[:-val_sentences]))
    X, y = data.make_dataset(data.Corpus("pool", pool.tokens, vocab), context)
    X_val, y_val = data.make_dataset(data.Corpus("val", tuple(" ".join(lines[-val_sentences:]).split()), vocab),
                                     context)
    farm_pairs = len(" ".join(lines[:farm_lines]).split()) - context
    sizes = {}
    for f in farms:
        n = round(f * farm_pairs)
        if not 64 <= n <= len(y):
            raise ValueError(f"farms must be between {64 / farm_pairs:.3f} and {len(y) / farm_pairs:.1f}, got {f}")
        sizes[farm_label(f)] = n
    return ScaleData(vocab, context, X, y, X_val, y_val, farm_pairs, sizes)


def farm_label(fraction: float) -> str:
    """'1/16 farm', '1 farm', '8 farms': data sizes in units of the farm corpus."""
    if fraction < 1:
        return f"1/{round(1 / fraction)} farm"
    return f"{fraction:g} farm" + ("s" if fraction != 1 else "")


def conditional_entropy(tokens, context: int) -> float:
    """Entropy of the next word given the previous `context` words, in nats, estimated by counting.

    No model that sees `context` words can beat this on text from the same source: it is the
    irreducible part of the loss (the E of Hoffmann et al.'s fit). Counted from a finite sample,
    it is a slight underestimate.
    """
    if not 1 <= context < len(tokens):
        raise ValueError(f"context must be between 1 and {len(tokens) - 1}, got {context}")
    tokens = list(tokens)
    grams = Counter(zip(*(tokens[i:] for i in range(context + 1))))  # (context words..., next word) -> count
    contexts: Counter = Counter()
    for gram, count in grams.items():
        contexts[gram[:-1]] += count
    # H = -sum over (context, next) of count * log(count / count of context), per predicted word
    nats = -sum(count * math.log(count / contexts[gram[:-1]]) for gram, count in grams.items())
    return nats / (len(tokens) - context)


# ---- the sweep ----------------------------------------------------------------------------

# The capacity sweep's shapes: width and embedding grow together, parameters span ~170x.
SWEEP_SHAPES = ((2, 4), (4, 8), (8, 16), (8, 32), (16, 64), (16, 128), (32, 256))  # (embed_dim, hidden)


@dataclass
class SweepResult:
    """Learning curves of every shape on every data size (chapter 7's figures and lab read this)."""

    shapes: list[dict]  # e.g. {"embed_dim": 8, "hidden": 32, "layers": 1}
    n_params: np.ndarray  # (S,)
    sizes: dict[str, int]  # data size name -> training pairs
    steps: np.ndarray  # (T,) recorded steps
    train: np.ndarray  # (S, K, T) minibatch loss averaged over each stretch
    val: np.ndarray  # (S, K, T) validation loss
    final_train: np.ndarray  # (S, K) loss on all of each model's training data, after training
    batch_size: int
    seconds: float = 0.0  # measured wall-clock time of the whole sweep
    labels: list[str] = field(default_factory=list)

    @property
    def final_val(self) -> np.ndarray:
        return self.val[:, :, -1]

    def best(self, size: str) -> int:
        """Index of the shape with the lowest final validation loss on data `size`."""
        return int(np.argmin(self.final_val[:, self.size_index(size)]))

    def size_index(self, size: str) -> int:
        if size not in self.sizes:
            raise ValueError(f"size must be one of {list(self.sizes)}, got {size!r}")
        return list(self.sizes).index(size)

    def tokens_seen(self) -> int:
        """Training pairs each model processed (steps x batch size; repeats counted again)."""
        return int(self.steps[-1]) * self.batch_size

    def training_flops(self) -> np.ndarray:
        """6 N D for every run: (S,) -- the same for every data size, since steps are the same."""
        return 6.0 * self.n_params * self.tokens_seen()


def capacity_sweep(d: ScaleData, shapes=SWEEP_SHAPES, sizes=None, *, steps: int = 300, lr: float = 0.01,
                   batch_size: int = 64, every: int = 30, seed: int = 0, pad_below: int = 3000,
                   progress: bool = True) -> SweepResult:
    """Train every shape on every data size, all from the same initialization seed and batch order.

    `shapes` holds (embed_dim, hidden) pairs or dicts with embed_dim, hidden and layers. The data
    sizes of a shape train as one stack; shapes with embeddings and at most `pad_below` parameters
    are zero-padded into one stack together (same numbers, one run instead of several).
    """
    import time

    from tqdm.auto import tqdm

    sizes = dict(d.sizes if sizes is None else sizes)
    shapes = [{"layers": 1, **(s if isinstance(s, dict) else {"embed_dim": s[0], "hidden": s[1]})} for s in shapes]
    V, K = len(d.vocab), len(sizes)
    counts = [lm_parameter_count(V, d.context, **s) for s in shapes]
    small: dict[int, list[int]] = defaultdict(list)  # depth -> indices of small shapes with embeddings
    for i, s in enumerate(shapes):
        if s["embed_dim"] and counts[i] <= pad_below:
            small[s["layers"]].append(i)
    groups = list(small.values()) + [[i] for i in range(len(shapes)) if not any(i in g for g in small.values())]
    started, runs, finals = time.perf_counter(), {}, {}
    with single_thread():
        # tqdm's notebook bar can leave a widget behind even when disabled, so skip it entirely without progress
        for group in tqdm(groups, desc="training every size on every data size") if progress else groups:
            members = [make_lm(V, seed=seed, context=d.context, **shapes[i]) for i in group for _ in sizes]
            pad = (max(shapes[i]["embed_dim"] for i in group), max(shapes[i]["hidden"] for i in group))
            stack = StackedLM(members, pad_to=pad if len(group) > 1 else None)
            run = list(train_stacked(stack, d.X, d.y, list(sizes.values()) * len(group), d.X_val, d.y_val,
                                     steps=steps, lr=lr, batch_size=batch_size, every=every, seed=seed))
            final = prefix_losses(stack, d.X, d.y, list(sizes.values()) * len(group))
            for j, i in enumerate(group):  # member j*K + k is shape i on data size k
                part = slice(j * K, (j + 1) * K)
                runs[i] = [(step, t[part], v[part]) for step, t, v in run]
                finals[i] = final[part]
    T = min(len(run) for run in runs.values())  # a diverged run stops early: keep the common part
    steps_rec = np.array([step for step, _, _ in runs[0][:T]])
    train = np.stack([np.stack([t for _, t, _ in runs[i][:T]], axis=1) for i in range(len(shapes))])  # (S, K, T)
    val = np.stack([np.stack([v for _, _, v in runs[i][:T]], axis=1) for i in range(len(shapes))])
    return SweepResult(shapes, np.array(counts), sizes, steps_rec, train, val,
                       np.stack([finals[i] for i in range(len(shapes))]), batch_size,
                       time.perf_counter() - started, [shape_label(s) for s in shapes])


def shape_label(shape: dict) -> str:
    """'d=8, h=32' or 'one-hot, 3 layers of 13': a short name for a shape."""
    words = "one-hot" if not shape["embed_dim"] else f"d={shape['embed_dim']}"
    layers = shape.get("layers", 1)
    return f"{words}, h={shape['hidden']}" + (f" x{layers} layers" if layers > 1 else "")


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
    if recipe not in TRAINING_BYTES:
        raise ValueError(f"recipe must be one of {sorted(TRAINING_BYTES)}, got {recipe!r}")
    if n_parameters < 0:
        raise ValueError(f"n_parameters must be 0 or more, got {n_parameters}")
    return n_parameters * sum(TRAINING_BYTES[recipe].values())


def measured_training_state_bytes(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """Bytes the tensors of a real training step hold: weights, gradients, optimizer state (measured)."""
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
    if n_parameters < 0 or tokens < 0:
        raise ValueError(f"n_parameters and tokens must be 0 or more, got {n_parameters} and {tokens}")
    return 6.0 * n_parameters * tokens


def count_training_flops(model: nn.Module, batch_size: int) -> int:
    """FLOPs of the matrix products in one training step on `batch_size` examples, counted layer by layer.

    A Linear layer with an (out x in) weight costs 2·B·in·out forward, the same again for the gradient
    of its weight and again for the gradient of its input -- which the first layer skips when nothing
    before it learns (one-hot input). Embedding look-ups, biases, tanh and softmax are not matrix
    products: they cost comparatively little and are not counted (nor by the 6 N D rule).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number 1 or more, got {batch_size!r}")
    layers = _linear_layers(model)
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

    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(X), y).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def non_embedding_weights(model: nn.Module) -> int:
    """Weights of the matrix-product layers (no embeddings, no biases): what a step's FLOPs scale with."""
    return sum(layer.weight.numel() for layer in _linear_layers(model))


def order_of_magnitude(x: float) -> str:
    """'10¹³' for 1.2e13: the nearest power of ten, written for prose."""
    if not x > 0:
        raise ValueError(f"x must be a positive number, got {x!r}")
    exponent = round(math.log10(x))
    return "10" + str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


@dataclass
class RealModel:
    """A published model: its parameters and training tokens, as its paper reports them."""

    name: str
    parameters: float
    tokens: float
    cite: str  # the bibliography key


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
