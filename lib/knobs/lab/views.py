"""Matplotlib drawers for snapshots: each creates its artists once and then updates them.

A view never trains. `setup(ax, total_steps)` makes the artists (kept with `_keep`, which
marks them animated, so the lab draws the static background once and blits only these);
`update(snap, history)` changes their data and returns True only when the axes themselves
must change (new limits), which costs a full redraw; `describe(snap)` is the frame's alt text.

The generic views: `HeatmapView` (a parameter matrix), `HistogramView` (parameter values),
`CurvesView` (metrics against step; `LossView` is its most common use) and `PredictionsView`
(next-word probabilities). `WordLabels` draws many short text labels cheaply. A chapter's own
view subclasses `View` in the chapter's module.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from matplotlib import font_manager
from matplotlib.artist import Artist
from PIL import Image, ImageDraw, ImageFont

from knobs.data import display_word
from knobs.figures import DIVERGING_CMAP, LEGEND_SIZE, PALETTE, PANEL_HEIGHT, PANEL_WIDTH, TICK_SIZE, style_axes
from knobs.validate import (ArgumentTypeError, check_axes, check_bool, check_instance, check_int, check_number,
                            check_strings, check_text, fail)


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
    size = (PANEL_WIDTH, PANEL_HEIGHT)  # CSS px of the view's panel (knobs.figures' display rule)

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


def heatmap_mesh(ax, values, cmap=DIVERGING_CMAP, limit: float = 1.0):
    """A matrix as coloured cells, row 0 at the top (like imshow), cell (i, j) centred at (j + 0.5, i + 0.5).

    A QuadMesh rather than imshow: a frame redraws it ~8x faster at the book's 2 pixels per CSS px
    (imshow resamples the whole image; a mesh fills a few hundred rectangles).
    """
    check_axes("ax", ax)
    values = np.asarray(values.detach() if hasattr(values, "detach") else values)  # a tensor or an array
    if values.ndim != 2:
        fail("values", "a matrix (2-D array or tensor)", values)
    check_number("limit", limit, 0, low_open=True)
    mesh = ax.pcolormesh(values, cmap=cmap, vmin=-limit, vmax=limit, antialiased=False, edgecolors="none")
    ax.set_xlim(0, values.shape[1])
    ax.set_ylim(values.shape[0], 0)
    return mesh


class HeatmapView(View):
    """A parameter matrix as coloured cells: red positive, blue negative."""

    def __init__(self, param: str, title: str | None = None, limit: float | None = None):
        super().__init__()
        check_text("param", param, empty=False)
        if limit is not None:
            check_number("limit", limit, 0, low_open=True)
        self.param, self.title, self.limit = param, title or param, limit

    def setup(self, ax, total_steps):
        self.ax = ax
        style_axes(ax, self.title)
        ax.set_xticks([]), ax.set_yticks([])
        self.image = None

    def update(self, snap, history):
        values = np.nan_to_num(np.atleast_2d(snap.params[self.param]))
        if values.shape[0] > 2 * values.shape[1]:
            values = values.T  # keep tall matrices readable in a short panel
        peak = float(np.abs(values).max()) or 1.0
        if self.image is None:
            self.limit = self.limit or 1.5 * peak
            self.image = self._keep(heatmap_mesh(self.ax, values, limit=self.limit))
            return True
        if peak > self.limit:  # rescale colours, not axes: no full redraw needed
            self.limit = 1.5 * peak
            self.image.set_clim(-self.limit, self.limit)
        self.image.set_array(values)
        return False

    def describe(self, snap):
        v = snap.params[self.param]
        return (f"Heatmap of {self.param} ({'x'.join(map(str, v.shape))}): values from "
                f"{np.nanmin(v):.2f} to {np.nanmax(v):.2f}, mean size {np.nanmean(np.abs(v)):.2f}.")


class HistogramView(View):
    """How the values of one or more parameter tensors are distributed."""

    def __init__(self, params: str | list[str], title: str | None = None, span: float | None = None, bins: int = 41):
        super().__init__()
        if not isinstance(params, str):
            check_strings("params", params, empty=False)
        if span is not None:
            check_number("span", span, 0, low_open=True)
        check_int("bins", bins, 1, 10_000)
        self.params = [params] if isinstance(params, str) else list(params)
        self.title, self.span, self.bins = title or "weight values", span, bins

    def _values(self, snap):
        return np.nan_to_num(np.concatenate([snap.params[p].ravel() for p in self.params]))

    def setup(self, ax, total_steps):
        self.ax, self.stairs = ax, None
        style_axes(ax, self.title, xlabel="value")

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


class CurvesView(View):
    """Metrics against step, one line each, on axes that blit.

    ylim=None: the y axis starts at 0 and grows (a rare full redraw) when a curve outgrows it;
    a fixed ylim clips the curves into it instead (NaN, a diverged run, is drawn at the top).
    `reference` draws dotted horizontal lines, {label: value}; `labels` names the metrics;
    `summary`, e.g. "{val_loss:.2f} at step {step}", is the alt text, formatted with the snapshot's metrics and step.
    """

    def __init__(self, metrics, title: str = "", ylabel: str = "", labels: dict | None = None,
                 ylim: tuple | None = None, log: bool = False, reference: dict | None = None,
                 legend: str | None = "upper right", colors=None, fmt: str = "{:.3f}", yticks=None, summary: str | None = None,
                 **line_style):
        super().__init__()
        _check_curves(metrics, labels, ylim, log, reference, legend, colors, fmt, yticks, summary)
        self.metric_names, self.title, self.ylabel = list(metrics), title, ylabel
        self.labels = {m: (labels or {}).get(m, m.replace("_", " ")) for m in self.metric_names}
        self.ylim, self.log, self.reference, self.legend = ylim, log, reference or {}, legend
        self.colors = list(colors or PALETTE)
        self.fmt, self.yticks, self.summary = fmt, yticks, summary
        self.line_style = {"lw": 1.5, **line_style}

    def setup(self, ax, total_steps):
        self.ax, self.top = ax, None
        style_axes(ax, self.title, xlabel="step", ylabel=self.ylabel)
        ax.set_xlim(0, total_steps)
        if self.log:
            ax.set_yscale("log")
        if self.ylim is not None:
            ax.set_ylim(*self.ylim)
        if self.yticks is not None:
            ax.set_yticks(self.yticks)
        for label, value in self.reference.items():
            ax.axhline(value, color="#555555", ls=":", lw=1, label=label)
        self.lines = {name: self._keep(ax.plot([], [], color=self.colors[i % len(self.colors)],
                                               label=self.labels[name], **self.line_style)[0])
                      for i, name in enumerate(self.metric_names)}
        if self.legend:
            ax.legend(fontsize=LEGEND_SIZE, loc=self.legend)

    def update(self, snap, history):
        peak = 0.0
        for name, line in self.lines.items():
            ys = np.asarray(history.metrics.get(name, []), dtype=float)
            if self.ylim is not None:
                ys = np.clip(np.nan_to_num(ys, nan=self.ylim[1]), *self.ylim)
            line.set_data(history.steps[:len(ys)], ys)
            finite = ys[np.isfinite(ys)]
            peak = max(peak, float(finite.max()) if finite.size else 0.0)
        if self.ylim is None and (self.top is None or peak > self.top):
            self.top = max(peak * 1.15, 1e-3)
            self.ax.set_ylim(0, self.top)
            return True
        return False

    def describe(self, snap):
        if self.summary:
            return self.summary.format(step=snap.step, **snap.metrics)
        parts = [f"{self.labels[n]} {self.fmt.format(snap.metrics[n])}" for n in self.metric_names if n in snap.metrics]
        return f"{self.title[:1].upper() + self.title[1:]} up to step {snap.step}: " + ", ".join(parts) + "."


def _check_curves(metrics, labels, ylim, log, reference, legend, colors, fmt, yticks, summary) -> None:
    check_strings("metrics", metrics, empty=False)
    for name, value in (("labels", labels), ("reference", reference)):
        if value is not None:
            check_instance(name, value, dict, "a dict (or None)")
    if ylim is not None and (not isinstance(ylim, (tuple, list)) or len(ylim) != 2
                             or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ylim)
                             or not ylim[0] < ylim[1]):
        fail("ylim", "a pair (bottom, top) with bottom < top, or None", ylim)
    check_bool("log", log)
    if legend is not None:
        check_text("legend", legend)
    for name, value in (("colors", colors), ("yticks", yticks)):
        if value is not None and not isinstance(value, (list, tuple)):
            fail(name, "a list (or None)", value, ArgumentTypeError)
    check_text("fmt", fmt)
    if summary is not None:
        check_text("summary", summary)


class LossView(CurvesView):
    """Training and validation loss against step (the curves most labs show)."""

    def __init__(self, metrics=("train_loss", "val_loss"), title: str = "loss", ylabel: str = "cross-entropy", **kw):
        super().__init__(metrics, title=title, ylabel=ylabel, **kw)

    def describe(self, snap):
        parts = [f"{self.labels[n]} {snap.metrics[n]:.3f}" for n in self.metric_names if n in snap.metrics]
        return f"Loss curve up to step {snap.step}: " + ", ".join(parts) + "."


class PredictionsView(View):
    """Probability of a fixed list of candidate next words after a context (snap.info['probs']).

    The candidates stay put (as tick labels, drawn once) and only the bars move:
    redrawing text every frame would cost more than the whole training chunk.
    """

    def __init__(self, context: str, words: list[str]):
        super().__init__()
        check_text("context", context)
        check_strings("words", words)
        self.context, self.words = context, list(words)
        self.title = f"next word after “{context}”"

    def setup(self, ax, total_steps):
        self.ax = ax
        style_axes(ax, self.title, xlabel="probability")
        ax.set_xlim(0, 1)
        ax.set_yticks(range(len(self.words)), [display_word(w) for w in self.words], fontsize=TICK_SIZE)
        ax.invert_yaxis()
        self.bars = self._keep(*ax.barh(range(len(self.words)), [0] * len(self.words), color=PALETTE[2]).patches)

    def update(self, snap, history):
        probs = snap.info["probs"][self.context]
        for bar, word in zip(self.bars, self.words):
            bar.set_width(probs[word])
        return False

    def describe(self, snap):
        probs = snap.info["probs"][self.context]
        top = sorted(probs.items(), key=lambda item: -item[1])[:3]
        return (f"After “{self.context}” the model gives "
                + ", ".join(f"{display_word(w)} {p:.0%}" for w, p in top) + ".")


# ---- text labels that cost almost nothing per frame ----------------------------------------------
@lru_cache(maxsize=512)
def _label_sprite(text: str, size_px: int, color: str) -> np.ndarray:
    """`text` rendered once into an RGBA image (rows bottom-up, as Agg's draw_image wants them)."""
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size_px)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGBA", (right - left + 2, bottom - top + 2), (255, 255, 255, 0))
    ImageDraw.Draw(image).text((1 - left, 1 - top), text, font=font, fill=color)
    return np.asarray(image)[::-1].copy()


class WordLabels(Artist):
    """Many short labels drawn as pre-rendered images next to data points (blit-friendly, no text layout).

    Text is the expensive part of a frame (~1–2 ms per matplotlib label); stamping a label
    rendered once costs microseconds. A label that would overlap one already drawn is
    skipped (its marker stays). Add it with `ax.add_artist`, move it with `set_positions(xy)`.
    """

    def __init__(self, ax, texts, fontsize: float = TICK_SIZE, color: str = "#222222"):
        super().__init__()
        check_axes("ax", ax)
        check_strings("texts", texts)
        check_number("fontsize", fontsize, 0, 100, low_open=True)
        check_text("color", color)
        self.axes, self.fontsize = ax, fontsize
        self.set_figure(ax.figure)
        size_px = max(6, round(fontsize * ax.figure.dpi / 72))
        self.sprites = [_label_sprite(t, size_px, color) for t in texts]
        self.xy = np.full((len(texts), 2), np.nan)
        self.shown: list[int] = []

    def set_positions(self, xy) -> None:
        self.xy = np.asarray(xy, dtype=float)

    def draw(self, renderer):
        if not self.get_visible():
            return
        pixels = self.axes.transData.transform(self.xy)
        gc = renderer.new_gc()
        gc.set_clip_rectangle(self.axes.bbox)
        placed, self.shown = [], []
        for i, ((x, y), sprite) in enumerate(zip(pixels, self.sprites)):
            if not (np.isfinite(x) and np.isfinite(y)):
                continue
            height, width = sprite.shape[:2]
            x0, y0 = round(x + 4), round(y - height / 2)
            if any(x0 < bx1 and bx0 < x0 + width and y0 < by1 and by0 < y0 + height for bx0, by0, bx1, by1 in placed):
                continue
            placed.append((x0, y0, x0 + width, y0 + height))
            self.shown.append(i)
            renderer.draw_image(gc, x0, y0, sprite)
        gc.restore()
