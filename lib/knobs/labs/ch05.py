"""Chapter 5's lab: prune the trained tiny model, then fine-tune it with the mask held fixed.

Step 0 of a run is the model right after pruning (no fine-tune); every later
step is a step of fine-tuning the surviving weights. The curves of loss and
accuracy against sparsity are computed once per pruning kind (`sweep`) and
drawn in the background, so a frame only moves the marker, the heatmaps and
the prediction bars.
"""
from __future__ import annotations

from functools import lru_cache

import matplotlib
import numpy as np

from knobs import models, prune, train
from knobs.lab import Choice, Lab, Slider
from knobs.labs.ch01 import candidates, farm_data
from knobs.views import DIVERGING_CMAP, PALETTE, PredictionsView, View

TRAIN = dict(steps=300, lr=0.03, seed=0)  # chapter 1's recipe: the model every chapter knows
FINE_TUNE = dict(steps=60, lr=0.01)  # a short fine-tune after pruning
SWEEP = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)  # sparsities the background curves are measured at
CONTEXT = "the cat"


@lru_cache(maxsize=1)
def trained_state() -> dict:
    """The trained tiny model's parameters (chapter 1's recipe), computed once per session."""
    vocab, X, y, X_val, y_val = farm_data()
    model = models.make_tiny_lm(len(vocab), seed=0)
    list(train.train_lm(model, X, y, steps=TRAIN["steps"], lr=TRAIN["lr"], every=TRAIN["steps"], seed=TRAIN["seed"]))
    return {name: value.clone() for name, value in model.state_dict().items()}


def trained_model():
    """A fresh copy of the trained tiny model (prune it freely: the cached original stays intact)."""
    vocab = farm_data()[0]
    model = models.make_tiny_lm(len(vocab), seed=0)
    model.load_state_dict(trained_state())
    return model


def measure(model) -> tuple[float, float]:
    """(validation loss, validation accuracy) of a model."""
    *_, X_val, y_val = farm_data()
    return train.evaluate(model, X_val, y_val), prune.accuracy(model, X_val, y_val)


@lru_cache(maxsize=None)
def sweep(kind: str, sparsities: tuple = SWEEP) -> dict:
    """Loss and accuracy of the pruned model at each sparsity, before and after FINE_TUNE (cached per kind)."""
    vocab, X, y, X_val, y_val = farm_data()
    rows = {key: [] for key in ("sparsity", "loss_pruned", "acc_pruned", "loss_tuned", "acc_tuned")}
    for target in sparsities:
        model = trained_model()
        masks = prune.prune_masks(model, target, kind)
        prune.apply_masks(model, masks)
        rows["sparsity"].append(prune.sparsity_of(model))
        for key, value in zip(("loss_pruned", "acc_pruned"), measure(model)):
            rows[key].append(value)
        for _ in prune.fine_tune(model, masks, X, y, steps=FINE_TUNE["steps"], lr=FINE_TUNE["lr"],
                                 every=FINE_TUNE["steps"], seed=0):
            pass
        for key, value in zip(("loss_tuned", "acc_tuned"), measure(model)):
            rows[key].append(value)
    dense = measure(trained_model())
    return {**{k: np.array(v) for k, v in rows.items()}, "kind": kind, "loss_dense": dense[0], "acc_dense": dense[1]}


class NeuronHeatmapView(View):
    """One row per hidden unit: its incoming weights (a row of hidden.weight), then its outgoing weights (a column
    of out.weight). Red +, blue -, pruned weights black: a structured cut blacks out a whole row."""

    title = "weights per hidden unit (black: pruned)"

    def __init__(self):
        super().__init__()
        self.cmap = matplotlib.colormaps[DIVERGING_CMAP].with_extremes(bad="black")  # masked cells: black

    def _table(self, snap):
        w_in, w_out = snap.params["hidden.weight"], snap.params["out.weight"].T  # (hidden, inputs), (hidden, words)
        m_in, m_out = snap.info["masks"]["hidden.weight"], snap.info["masks"]["out.weight"].T
        gap = np.zeros((w_in.shape[0], 1))  # a white column between the two matrices
        values = np.hstack([w_in, gap, w_out])
        pruned = np.hstack([m_in == 0, gap != 0, m_out == 0])
        return np.ma.masked_where(pruned, values), w_in.shape[1]

    def setup(self, ax, total_steps):
        self.ax, self.image = ax, None
        ax.set_title(self.title, fontsize=9)
        ax.set_yticks([])
        ax.set_ylabel("hidden unit", fontsize=8)

    def update(self, snap, history):
        shown, n_in = self._table(snap)
        if self.image is None:
            limit = 1.2 * float(np.abs(shown).max() or 1.0)
            self.image = self._keep(self.ax.imshow(shown, cmap=self.cmap, vmin=-limit, vmax=limit, aspect="auto",
                                                   interpolation="nearest"))
            n_out = shown.shape[1] - n_in - 1
            self.ax.set_xticks([(n_in - 1) / 2, n_in + 1 + (n_out - 1) / 2],
                               [f"in ({n_in})", f"out ({n_out} words)"], fontsize=7)
            return True
        self.image.set_data(shown)
        return False

    def describe(self, snap):
        masks = snap.info["masks"]
        parts = []
        for name in ("hidden.weight", "out.weight"):
            mask, values = masks[name], snap.params[name]
            kept = values[mask != 0]
            span = f"survivors from {kept.min():.2f} to {kept.max():.2f}" if kept.size else "no weight survives"
            parts.append(f"{name}: {int((mask == 0).sum())} of {mask.size} weights pruned ({(mask == 0).mean():.0%}), "
                         f"{span}")
        dead = int(((masks["hidden.weight"] == 0).all(axis=1) & (masks["out.weight"] == 0).all(axis=0)).sum())
        return (f"Heatmap, one row per hidden unit, pruned weights black. {dead} of {len(masks['hidden.weight'])} "
                f"hidden units removed entirely. " + "; ".join(parts) + ".")


class SparsityCurveView(View):
    """A metric against sparsity: pruned (solid), pruned + fine-tuned (dashed), dense (dotted); the run as a dot."""

    LABELS = {"loss": ("validation loss", "val_loss"), "acc": ("validation accuracy", "val_acc")}

    def __init__(self, metric: str):
        super().__init__()
        self.metric = metric
        self.title, self.key = self.LABELS[metric]

    def setup(self, ax, total_steps):
        self.ax, self.ready = ax, False
        ax.set_title(self.title + " vs sparsity", fontsize=9)
        ax.set_xlabel("weights pruned (%)", fontsize=8)
        ax.set_xlim(0, 100)
        ax.tick_params(labelsize=7)
        self.pruned, = ax.plot([], [], color=PALETTE[5], lw=1.5, marker=".", label="pruned")
        self.tuned, = ax.plot([], [], color=PALETTE[0], lw=1.5, ls="--", marker=".",
                              label=f"+ {FINE_TUNE['steps']} fine-tune steps")
        self.dense = ax.axhline(np.nan, color="#555", lw=1, ls=":", label="dense")
        ax.legend(fontsize=6.5, loc="upper left" if self.metric == "loss" else "lower left", frameon=False)
        self.path = self._keep(ax.plot([], [], color="#000", lw=1)[0])
        self.dot = self._keep(ax.plot([], [], "o", color="#000", ms=6)[0])

    def update(self, snap, history):
        value = snap.metrics[self.key]
        x = 100 * snap.info["sparsity"]
        self.path.set_data([x, x], [history.metrics[self.key][0], value])
        self.dot.set_data([x], [value])
        if self.ready:
            return False
        curves = snap.info["sweep"]
        xs = 100 * curves["sparsity"]
        self.pruned.set_data(xs, curves[f"{self.metric}_pruned"])
        self.tuned.set_data(xs, curves[f"{self.metric}_tuned"])
        self.dense.set_ydata([curves[f"{self.metric}_dense"]] * 2)
        if self.metric == "loss":
            top = max(float(np.max(curves["loss_pruned"])), float(np.log(len(farm_data()[0])))) * 1.1  # >= "no idea"
            self.ax.set_ylim(0, top)
        else:
            self.ax.set_ylim(0, 1)
        self.ready = True
        return True

    def describe(self, snap):
        curves = snap.info["sweep"]
        return (f"{self.title.capitalize()} of the {curves['kind']} pruned model at "
                f"{snap.info['sparsity']:.0%} sparsity after {snap.step} fine-tune steps: "
                f"{snap.metrics[self.key]:.2f} (dense model: {curves[f'{self.metric}_dense']:.2f}).")


def prune_run(values, steps, every):
    """Prune a copy of the trained model, then fine-tune it `steps` steps with the mask held."""
    vocab, X, y, X_val, y_val = farm_data()
    kind, target = values["kind"], values["sparsity"] / 100
    curves = sweep(kind)
    model = trained_model()
    masks = prune.prune_masks(model, target, kind)
    shown = {name: mask.numpy() for name, mask in masks.items()}
    prune.apply_masks(model, masks)
    actual = prune.sparsity_of(model)
    for snap in prune.fine_tune(model, masks, X, y, steps=steps, lr=FINE_TUNE["lr"], every=every,
                                X_val=X_val, y_val=y_val, seed=0):
        snap.metrics["val_acc"] = prune.accuracy(model, X_val, y_val)
        snap.info.update(masks=shown, sweep=curves, sparsity=actual,
                         probs={CONTEXT: models.next_word_probs(model, vocab, CONTEXT, candidates(CONTEXT))})
        yield snap


def pruning_lab() -> Lab:
    return Lab(
        name="ch05-pruning",
        title="Prune the tiny model, then fine-tune what is left",
        controls=[
            Slider("sparsity", "weights pruned (%)", 0, 99, 90, integer=True, twin=(50, 80, 90, 99), fmt="{}%"),
            Choice("kind", "pruning", prune.KINDS, "layer-wise"),
        ],
        run=prune_run,
        views=[NeuronHeatmapView,
               lambda: SparsityCurveView("loss"),
               lambda: SparsityCurveView("acc"),
               lambda: PredictionsView(CONTEXT, candidates(CONTEXT))],
        steps=FINE_TUNE["steps"], every=3, twin_frames=3, figsize=(11.5, 2.8),
    )


LABS = [pruning_lab]
