"""The capacity sweep of chapter 7: every model size trained on every data size, with learning curves.

`make_scale_data` cuts the larger farm corpus (`farm_more.txt`) into nested training
prefixes ("1/16 farm" ... "8 farms") and a fixed validation set; `capacity_sweep` trains
each shape on each size with one recipe (via knobs.stacked, many runs at once) and
returns a `SweepResult` that the chapter's figures and lab read.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from knobs import data
from knobs.runtime import one_thread, progress as progress_bar
from knobs.scale import lm_parameter_count, make_lm
from knobs.stacked import StackedLM, prefix_losses, train_stacked
from knobs.validate import ArgumentTypeError, check_bool, check_instance, check_int, check_number, fail


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
    check_int("context", context, 1, 8)
    if isinstance(farms, str) or not hasattr(farms, "__iter__"):
        fail("farms", "a list of data sizes in farms (e.g. (1/4, 1, 8))", farms, ArgumentTypeError)
    for f in farms:
        check_number("farms (each size)", f, 0, low_open=True)
    check_int("val_sentences", val_sentences, 1)
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
    check_number("fraction", fraction, 0, low_open=True)
    if fraction < 1:
        return f"1/{round(1 / fraction)} farm"
    return f"{fraction:g} farm" + ("s" if fraction != 1 else "")


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
                   progress: bool | None = None) -> SweepResult:
    """Train every shape on every data size, all from the same initialization seed and batch order.

    `shapes` holds (embed_dim, hidden) pairs or dicts with embed_dim, hidden and layers. The data
    sizes of a shape train as one stack; shapes with embeddings and at most `pad_below` parameters
    are zero-padded into one stack together (same numbers, one run instead of several).
    """
    check_instance("d", d, ScaleData, "a ScaleData (make_scale_data)")
    if sizes is not None and (not isinstance(sizes, dict) or not sizes):
        fail("sizes", "a dict of data size name -> training pairs (or None for all of d.sizes)", sizes)
    if isinstance(shapes, str) or not hasattr(shapes, "__iter__") or not list(shapes):
        fail("shapes", "a list of (embed_dim, hidden) pairs or shape dicts", shapes, ArgumentTypeError)
    for s in shapes:
        if not (isinstance(s, dict) and {"embed_dim", "hidden"} <= set(s)) and not (
                isinstance(s, (tuple, list)) and len(s) == 2):
            fail("shapes", "(embed_dim, hidden) pairs or dicts with embed_dim and hidden", s)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("every", every)):
        check_int(name, value, 1)
    check_number("lr", lr, 0, 1, low_open=True)
    check_int("seed", seed, 0)
    check_int("pad_below", pad_below, 0)
    if progress is not None:
        check_bool("progress", progress)
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
    with one_thread():
        for group in progress_bar(groups, "training every size on every data size", show=progress):
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
    if not isinstance(shape, dict) or not {"embed_dim", "hidden"} <= set(shape):
        fail("shape", "a dict with embed_dim and hidden (and optionally layers)", shape)
    words = "one-hot" if not shape["embed_dim"] else f"d={shape['embed_dim']}"
    layers = shape.get("layers", 1)
    return f"{words}, h={shape['hidden']}" + (f" x{layers} layers" if layers > 1 else "")
