"""Matplotlib drawers for snapshots: each creates its artists once and then updates them.

A view never trains. `setup(ax)` makes the artists (marked `animated`, so the
lab can draw the static background once and blit only these); `update(snap,
history)` changes their data and returns True only when the axes themselves
must change (new limits), which costs a full redraw. `describe(snap)` is the
frame's alt text. `show_figure` displays any figure with alt text.
"""
from __future__ import annotations

import base64
import html
import io

import numpy as np

# ColorBrewer's RdBu and Okabe-Ito's palette stay distinguishable with the common colour-vision deficiencies.
DIVERGING_CMAP = "RdBu_r"
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


class History:
    """Metrics of every snapshot seen so far in one run (what curves draw)."""

    def __init__(self):
        self.steps: list[int] = []
        self.metrics: dict[str, list[float]] = {}

    def add(self, snap) -> None:
        self.steps.append(snap.step)
        for name, value in snap.metrics.items():
            self.metrics.setdefault(name, []).append(value)


class View:
    title = ""

    def __init__(self):
        self.artists: list = []

    def setup(self, ax, total_steps: int) -> None:
        raise NotImplementedError

    def update(self, snap, history: History) -> bool:
        raise NotImplementedError

    def describe(self, snap) -> str:
        return self.title

    def _keep(self, *artists):
        for artist in artists:
            artist.set_animated(True)
            self.artists.append(artist)
        return artists[0] if len(artists) == 1 else artists


class HeatmapView(View):
    """A parameter matrix as coloured cells: red positive, blue negative."""

    def __init__(self, param: str, title: str | None = None, limit: float | None = None):
        super().__init__()
        self.param, self.title, self.limit = param, title or param, limit

    def setup(self, ax, total_steps):
        self.ax = ax
        ax.set_title(self.title, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
        self.image = None

    def update(self, snap, history):
        values = np.nan_to_num(np.atleast_2d(snap.params[self.param]))
        if values.shape[0] > 2 * values.shape[1]:
            values = values.T  # keep tall matrices readable in a short panel
        peak = float(np.abs(values).max()) or 1.0
        if self.image is None:
            self.limit = self.limit or 1.5 * peak
            self.image = self._keep(self.ax.imshow(values, cmap=DIVERGING_CMAP, vmin=-self.limit, vmax=self.limit,
                                                   aspect="auto", interpolation="nearest"))
            return True
        if peak > self.limit:  # rescale colours, not axes: no full redraw needed
            self.limit = 1.5 * peak
            self.image.set_clim(-self.limit, self.limit)
        self.image.set_data(values)
        return False

    def describe(self, snap):
        v = snap.params[self.param]
        return (f"Heatmap of {self.param} ({'x'.join(map(str, v.shape))}): values from "
                f"{np.nanmin(v):.2f} to {np.nanmax(v):.2f}, mean size {np.nanmean(np.abs(v)):.2f}.")


class HistogramView(View):
    """How the values of one or more parameter tensors are distributed."""

    def __init__(self, params: str | list[str], title: str | None = None, span: float | None = None, bins: int = 41):
        super().__init__()
        self.params = [params] if isinstance(params, str) else list(params)
        self.title, self.span, self.bins = title or "weight values", span, bins

    def _values(self, snap):
        return np.nan_to_num(np.concatenate([snap.params[p].ravel() for p in self.params]))

    def setup(self, ax, total_steps):
        self.ax, self.stairs = ax, None
        ax.set_title(self.title, fontsize=9)
        ax.set_xlabel("value", fontsize=8)
        ax.tick_params(labelsize=7)

    def update(self, snap, history):
        values = self._values(snap)
        if self.stairs is None:
            self.span = self.span or 3 * float(np.abs(values).max() or 1.0)
            self.edges = np.linspace(-self.span, self.span, self.bins + 1)
        counts, _ = np.histogram(np.clip(values, -self.span, self.span), self.edges)
        # twice the tallest bar of room (never more than every value in one bin): new limits cost a full redraw
        room = min(2 * counts.max() + 1, len(values) + 1)
        if self.stairs is None:
            self.stairs = self._keep(self.ax.stairs(counts, self.edges, fill=True, color=PALETTE[0]))
            self.ax.set_xlim(-self.span, self.span)
            self.ax.set_ylim(0, room)
            return True
        self.stairs.set_data(counts)
        if counts.max() > self.ax.get_ylim()[1]:
            self.ax.set_ylim(0, min(2 * room, len(values) + 1))  # outgrown once: more room still
            return True
        return False

    def describe(self, snap):
        values = self._values(snap)
        zeros = float(np.mean(values == 0))
        return (f"Histogram of {len(values)} values of {', '.join(self.params)}: spread (std) {values.std():.2f}"
                + (f", {zeros:.0%} exactly zero." if zeros else "."))


class LossView(View):
    """Training and validation loss against step, on fixed axes (so it blits)."""

    def __init__(self, metrics=("train_loss", "val_loss"), title: str = "loss", ylabel: str = "cross-entropy"):
        super().__init__()
        self.metric_names, self.title, self.ylabel = list(metrics), title, ylabel

    def setup(self, ax, total_steps):
        self.ax = ax
        ax.set_title(self.title, fontsize=9)
        ax.set_xlim(0, total_steps)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel(self.ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        self.lines = {name: self._keep(ax.plot([], [], color=PALETTE[i], lw=1.5, label=name.replace("_", " "))[0])
                      for i, name in enumerate(self.metric_names)}
        ax.legend(fontsize=7, loc="upper right")
        self.top = None

    def update(self, snap, history):
        peak = 0.0
        for name, line in self.lines.items():
            ys = np.asarray(history.metrics.get(name, []), dtype=float)
            line.set_data(history.steps[:len(ys)], ys)
            finite = ys[np.isfinite(ys)]
            peak = max(peak, float(finite.max()) if finite.size else 0.0)
        if self.top is None or peak > self.top:
            self.top = max(peak * 1.15, 1e-3)
            self.ax.set_ylim(0, self.top)
            return True
        return False

    def describe(self, snap):
        parts = [f"{n.replace('_', ' ')} {snap.metrics[n]:.3f}" for n in self.metric_names if n in snap.metrics]
        return f"Loss curve up to step {snap.step}: " + ", ".join(parts) + "."


class PredictionsView(View):
    """Probability of a fixed list of candidate next words after a context (snap.info['probs']).

    The candidates stay put (as tick labels, drawn once) and only the bars move:
    redrawing text every frame would cost more than the whole training chunk.
    """

    def __init__(self, context: str, words: list[str]):
        super().__init__()
        self.context, self.words = context, list(words)
        self.title = f"next word after “{context}”"

    def setup(self, ax, total_steps):
        self.ax = ax
        ax.set_title(self.title, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_yticks(range(len(self.words)), self.words, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("probability", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        self.bars = self._keep(*ax.barh(range(len(self.words)), [0] * len(self.words), color=PALETTE[2]).patches)

    def update(self, snap, history):
        probs = snap.info["probs"][self.context]
        for bar, word in zip(self.bars, self.words):
            bar.set_width(probs[word])
        return False

    def describe(self, snap):
        probs = snap.info["probs"][self.context]
        top = sorted(probs.items(), key=lambda item: -item[1])[:3]
        return f"After “{self.context}” the model gives " + ", ".join(f"{w} {p:.0%}" for w, p in top) + "."


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


class FigureWithAlt:
    """A figure shown as <img alt=...> in HTML (the book) and as a PNG elsewhere."""

    def __init__(self, png: bytes, alt: str):
        self.png, self.alt = png, alt

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = base64.b64encode(self.png).decode()
        return {"text/html": f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" '
                             f'class="knobs-figure" style="max-width:100%">',
                "image/png": data, "text/plain": f"<figure: {self.alt}>"}


def show_figure(fig, alt: str, dpi: int = 80) -> FigureWithAlt:
    """Return a figure as a displayable image with alt text, and close it (every chapter)."""
    import matplotlib.pyplot as plt

    if not alt or not alt.strip():
        raise ValueError("alt must describe what the figure shows (it is read aloud by screen readers)")
    png = figure_png(fig, dpi)
    plt.close(fig)
    return FigureWithAlt(png, alt)
