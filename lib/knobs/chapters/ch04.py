"""Chapter 4's code, the lab: train the tiny model and watch its word vectors find their places.

With an embedding size of 2 the map shows the parameters themselves: each
word's two numbers are its x and y. A wider embedding is shown along two
*fixed* axes, the directions in which the trained vectors spread most (found
by a quick run of the same seed before the lab starts, so the picture never
jumps between frames). Words are coloured by the categories the corpus was
written with (knobs.data.CATEGORIES); the model never sees those labels.

Text is the expensive part of a frame, so the word labels are stamped images
(`knobs.lab.views.WordLabels`): all of them together cost well under a millisecond.
"""
from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
import torch

from knobs import data, models, train
from knobs.embeddings import chance_agreement, neighbor_agreement, principal_axes, project
from knobs.figures import LABEL_SIZE, LEGEND_SIZE, PALETTE, PANEL_WIDTH, TITLE_SIZE, TICK_SIZE, style_axes
from knobs.lab import Lab, Slider
from knobs.lab.views import LossView, View, WordLabels
from knobs.validate import check_examples, check_int, fail

CATEGORY_STYLE = {  # colour (Okabe-Ito) and marker shape, so categories differ without colour too
    "animal": (PALETTE[0], "o"), "food": (PALETTE[1], "s"), "drink": (PALETTE[2], "D"),
    "place": (PALETTE[3], "^"), "verb": (PALETTE[5], "v"), "function": (PALETTE[7], "P"),
}


def word_labels() -> list[str]:
    """The category of each vocabulary word, in vocabulary order."""
    vocab = data.farm_split().vocab
    return [vocab.category(w) for w in vocab.words]


# ---- views ------------------------------------------------------------------------------------------
class WordMapView(View):
    """Every word as a point (snap.info['xy']), coloured and shaped by its category, labelled by name."""

    title = "word vectors"
    size = (PANEL_WIDTH, 400)  # the map is the point of the lab: square, with the categories below it

    def __init__(self, words, labels):
        super().__init__()
        self.words, self.labels = [data.display_word(w) for w in words], list(labels)
        self.groups = {c: [i for i, label in enumerate(self.labels) if label == c] for c in CATEGORY_STYLE}

    def setup(self, ax, total_steps):
        self.ax, self.limit = ax, None
        style_axes(ax, self.title)
        ax.set_aspect("equal", adjustable="box")
        self.points = {}
        for category, (color, marker) in CATEGORY_STYLE.items():
            line, = ax.plot([], [], ls="", marker=marker, color=color, ms=6, mec="white", mew=0.5, label=category)
            self.points[category] = self._keep(line)
        ax.figure.legend(handles=list(self.points.values()), fontsize=LEGEND_SIZE, loc="outside lower center",
                         ncol=3, frameon=False, handletextpad=0.1, columnspacing=1.0)
        self.names = self._keep(ax.add_artist(WordLabels(ax, self.words)))

    def update(self, snap, history):
        xy = np.asarray(snap.info["xy"], dtype=float)
        for category, line in self.points.items():
            idx = self.groups[category]
            line.set_data(xy[idx, 0], xy[idx, 1])
        self.names.set_positions(xy)
        finite = np.abs(xy[np.isfinite(xy)])
        peak = float(finite.max()) if finite.size else 1.0
        if self.limit is None or peak > self.limit:  # rare: new limits need one full redraw
            first = self.limit is None
            self.limit = max(peak * (1.25 if first else 1.5), 1e-3)
            self.ax.set_xlim(-self.limit, self.limit)
            self.ax.set_ylim(-self.limit, self.limit)
            if first:
                self.ax.set_title(snap.info.get("map_title", self.title), fontsize=TITLE_SIZE)
                xlabel, ylabel = snap.info.get("axis_labels", ("", ""))
                self.ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
                self.ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
            return True
        return False

    def describe(self, snap):
        xy = np.asarray(snap.info["xy"], dtype=float)
        if not np.isfinite(xy).all():
            return "The word map is empty: the word vectors are no longer finite numbers."
        distances = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1)
        np.fill_diagonal(distances, np.inf)
        i, j = divmod(int(distances.argmin()), len(self.words))
        far = int(np.linalg.norm(xy - xy.mean(axis=0), axis=1).argmax())
        return (f"Map of the {len(self.words)} word vectors ({snap.info.get('map_title', '')}): "
                f"{self.words[i]} and {self.words[j]} are the closest pair and {self.words[far]} lies farthest out.")


class LossAndAgreementView(LossView):
    """The loss (left axis) and the share of words whose nearest neighbour is of their own category (right axis, 0..1)."""

    title = "loss, and words next to their own kind"
    size = (PANEL_WIDTH, 300)

    def __init__(self, labels):
        super().__init__(title=self.title, labels={"train_loss": "train loss", "val_loss": "validation loss"})
        self.chance = chance_agreement(list(labels))

    def setup(self, ax, total_steps):
        super().setup(ax, total_steps)
        ax.get_legend().remove()
        right = ax.twinx()
        right.set_ylim(0, 1)
        right.set_ylabel("share next to own category", fontsize=LABEL_SIZE)
        right.tick_params(labelsize=TICK_SIZE)
        chance = right.axhline(self.chance, color="#777777", ls="--", lw=1, label=f"share by chance ({self.chance:.0%})")
        self.share = self._keep(right.plot([], [], color=PALETTE[2], lw=1.5, label="share, trained")[0])
        handles = list(self.lines.values()) + [self.share, chance]
        ax.figure.legend(handles, [h.get_label() for h in handles], fontsize=LEGEND_SIZE, loc="outside lower center",
                         ncol=2, frameon=False, columnspacing=1.0)

    def update(self, snap, history):
        changed = super().update(snap, history)
        ys = history.metrics.get("same_category", [])
        self.share.set_data(history.steps[:len(ys)], ys)
        return changed

    def describe(self, snap):
        return (super().describe(snap) + f" Words whose nearest neighbour is of the same category: "
                f"{snap.metrics.get('same_category', float('nan')):.0%} (chance {self.chance:.0%}).")


# ---- the run ----------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def trained_view_axes(embed_dim: int, lr: float, steps: int):
    """(mean, axes): where the vectors of a finished run of this setting spread most (a quick run, same seed)."""
    vocab, X, y, _, _ = data.farm_split()
    model = models.make_tiny_lm(len(vocab), seed=0, embed_dim=embed_dim)
    start = model.embed.weight.detach().clone()
    train.run_to_end(train.train_lm(model, X, y, steps=steps, lr=lr, every=steps, seed=0))
    final = model.embed.weight.detach()
    return principal_axes(final if torch.isfinite(final).all() else start)  # a diverged run: any fixed view will do


def embedding_run(values, steps, every):
    """Train the tiny model with one embedding size and learning rate; each snapshot carries the word map."""
    vocab, X, y, X_val, y_val = data.farm_split()
    d, lr = values["embed_dim"], values["lr"]
    labels = word_labels()
    model = models.make_tiny_lm(len(vocab), seed=0, embed_dim=d)
    if d == 2:
        view, map_title, axis_labels = None, "the 2 numbers of each word vector", ("number 1", "number 2")
    else:
        view = trained_view_axes(d, lr, steps)
        map_title = f"{d}-number word vectors, 2 fixed axes"
        axis_labels = ("axis 1 (most spread)", "axis 2")
    for snap in train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=steps, every=every, lr=lr, seed=0):
        E = snap.params["embed.weight"]
        snap.metrics["same_category"] = neighbor_agreement(E, labels)
        snap.info["xy"] = E if view is None else project(E, *view).numpy()
        snap.info["map_title"], snap.info["axis_labels"] = map_title, axis_labels
        yield snap


def embedding_lab() -> Lab:
    vocab = data.farm_split().vocab
    labels = word_labels()
    return Lab(
        name="ch04-embeddings",
        title="Word vectors finding their places",
        controls=[
            Slider("embed_dim", "embedding size", 2, 16, 2, integer=True, twin=(2, 8)),
            Slider("lr", "learning rate", 1e-3, 1.0, 0.03, log=True, twin=(0.003, 0.03, 0.3)),
            Slider("steps", "training steps", 50, 1000, 300, integer=True, twin=(200,)),
        ],
        run=embedding_run,
        views=[lambda: WordMapView(vocab.words, labels),
               lambda: LossAndAgreementView(labels)],
        steps=300, every=5, twin_frames=8,
    )


LABS = [embedding_lab]


# ---- the loss cannot tell a rotated model apart; the optimizer can ---------------------------------
def train_on_from_both(model, rotated, X, y, X_val, steps: int = 100, seed: int = 1) -> dict[str, float]:
    """Train copies of a model and of its rotated twin further, on the same batches; how far apart do they end?

    Returns, per optimizer ("sgd" at lr 0.3, "adam" at lr 0.03), the largest difference of any output
    score on X_val after `steps` more steps. SGD's update turns with the model (a rotation is orthogonal,
    so the rotated model's gradient is the rotated gradient); Adam's per-coordinate scaling does not.
    """
    models.check_tiny_lm(model, exact=True)
    models.check_tiny_lm(rotated, "rotated", exact=True)
    check_examples(X, y)
    if not isinstance(X_val, torch.Tensor) or X_val.dim() != 2:
        fail("X_val", "a (N, context) tensor of word ids", X_val)
    check_int("steps", steps, 1, 100_000)
    check_int("seed", seed, 0)
    result = {}
    for name, lr in (("sgd", 0.3), ("adam", 0.03)):
        twins = [copy.deepcopy(model), copy.deepcopy(rotated)]
        for net in twins:
            for _ in train.train_lm(net, X, y, steps=steps, lr=lr, optimizer=name, every=steps, seed=seed):
                pass
        with torch.no_grad():
            result[name] = float((twins[0](X_val) - twins[1](X_val)).abs().max())
    return result


def transform_numbers(model, changed, vocab, words=("cow", "garden")) -> dict[str, str]:
    """The prose's numbers about a model and its stretched twin: the outputs' change, the angles' change, neighbours."""
    from knobs.embeddings import nearest_words, similarity_matrix

    E, E2 = model.embed.weight.detach(), changed.embed.weight.detach()
    pairs = torch.triu_indices(len(vocab), len(vocab), offset=1)
    cos_change = (similarity_matrix(E2) - similarity_matrix(E))[pairs[0], pairs[1]].abs()
    text = {"cos_change_mean": f"{float(cos_change.mean()):.2f}", "cos_change_max": f"{float(cos_change.max()):.2f}"}
    for word in words:
        for key, table in (("before", E), ("after", E2)):
            text[f"nn_{word}_{key}"] = ", ".join(data.display_word(w) for w, _ in nearest_words(table, vocab, word))
    return text
