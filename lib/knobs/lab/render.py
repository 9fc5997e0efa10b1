"""Turn snapshots into pictures fast: each view is a panel of its own, its background drawn once, the rest blitted.

Used by both faces of a lab and by knobs.lab.watch. Every view draws on its own small figure (a
*panel*, `view.size` CSS px, knobs.figures' display rule: rendered at 2 pixels per CSS px), so a
page can lay the panels out side by side on a wide screen and one under another on a phone.
Only a view's animated artists are redrawn each frame; a full redraw happens only when the view
says its axes changed. The live lab encodes each panel that changed (JPEG, fast); the static twin
keeps each panel as two layers, the background and a transparent foreground of the animated
artists, so frames that share a background send it once.
"""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from knobs.figures import (DPI, PANEL_HEIGHT, PANEL_WIDTH, PIXEL_RATIO, TITLE_SIZE, book_style, encode_rgba,
                           inches)
from knobs.lab.views import History, View
from knobs.validate import ArgumentTypeError, check_instance, check_int, fail


class Panel:
    """One view on its own figure: `width` x `height` CSS px, rendered at PIXEL_RATIO pixels per CSS px."""

    def __init__(self, view, total_steps: int, size: tuple[int, int] | None = None):
        check_instance("view", view, View, "a View")
        check_int("total_steps", total_steps, 1)
        if size is not None and (not isinstance(size, (tuple, list)) or len(size) != 2):
            fail("size", "a pair (width, height) of CSS px, or None", size)
        self.view = view
        self.width, self.height = size or getattr(view, "size", None) or (PANEL_WIDTH, PANEL_HEIGHT)
        with book_style():
            # A bare Figure on an Agg canvas: no pyplot, so nothing pops up as a stray output.
            self.figure = Figure(figsize=(inches(self.width), inches(self.height)), dpi=DPI, layout="constrained")
            self.canvas = FigureCanvasAgg(self.figure)
            view.setup(self.figure.add_subplot(), total_steps)
        self.background = None
        self.background_changed = False
        self.overlay: list = []  # figure-level animated artists drawn over the view's (a diverged run's alert)

    def draw(self, snap, history: History) -> None:
        full = bool(self.view.update(snap, history)) or self.background is None
        if full:
            with book_style():
                self.canvas.draw()  # animated artists are skipped here...
            self.figure.set_layout_engine("none")  # ...and the layout stays put from now on
            self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.background_changed = full
        self.canvas.restore_region(self.background)
        self.draw_foreground()

    def draw_foreground(self) -> None:
        for artist in self.view.artists:
            artist.axes.draw_artist(artist)
        for artist in self.overlay:
            self.figure.draw_artist(artist)

    def pixels(self) -> np.ndarray:
        """The panel as it is now: (height, width, 4) RGBA pixels, a view of the canvas (copy it to keep it)."""
        return np.asarray(self.canvas.buffer_rgba())

    def layers(self) -> tuple[np.ndarray, np.ndarray]:
        """(background, foreground): the panel without its animated artists (opaque), and those artists alone on
        a transparent canvas. Laid one over the other they are the panel (the static twin sends them apart)."""
        self.canvas.restore_region(self.background)
        background = self.pixels().copy()
        self.canvas.get_renderer().clear()  # transparent
        self.draw_foreground()
        foreground = self.pixels().copy()
        self.canvas.restore_region(self.background)
        self.draw_foreground()
        return background, foreground

    def encode(self, fmt: str = "jpeg") -> bytes:
        """The panel straight from the Agg buffer (no savefig, no re-render)."""
        return encode_rgba(self.pixels(), fmt)


class Renderer:
    """The panels of a list of views, drawn together from one snapshot."""

    def __init__(self, views, total_steps: int, size: tuple[int, int] | None = None):
        if not isinstance(views, (list, tuple)) or not views or not all(isinstance(v, View) for v in views):
            fail("views", "a list of at least one View", views, ArgumentTypeError)
        check_int("total_steps", total_steps, 1)
        if size is not None and (not isinstance(size, (tuple, list)) or len(size) != 2):
            fail("size", "a pair (width, height) of CSS px, or None", size)
        self.views = views
        self.panels = [Panel(view, total_steps, size) for view in views]
        self._shown: list[np.ndarray | None] = [None] * len(self.panels)

    @property
    def background(self):
        """The first panel's background (None before the first draw)."""
        return self.panels[0].background if self.panels else None

    def draw(self, snap, history: History, alert: str = "") -> None:
        first = self.panels[0]
        if alert and not first.overlay:  # rare (a diverged run): made once, drawn over the first panel from now on
            first.overlay.append(first.figure.text(0.5, 0.5, alert, ha="center", va="center", fontsize=TITLE_SIZE,
                                                   color="#B00020", backgroundcolor="white", wrap=True,
                                                   animated=True))
        for artist in first.overlay:
            artist.set_text(alert)
            artist.set_visible(bool(alert))
        for panel in self.panels:
            panel.draw(snap, history)

    def changed_panels(self) -> list[int]:
        """Indices of the panels whose pixels differ from the last call's (what a live face must send again)."""
        changed = []
        for i, panel in enumerate(self.panels):
            pixels = panel.pixels()
            if self._shown[i] is None or not np.array_equal(pixels, self._shown[i]):
                self._shown[i] = pixels.copy()
                changed.append(i)
        return changed

    def encode(self, fmt: str = "jpeg") -> bytes:
        """All panels in one image, side by side (a contact sheet for scripts and tests)."""
        pixels = [panel.pixels() for panel in self.panels]
        height = max(p.shape[0] for p in pixels)
        sheet = np.full((height, sum(p.shape[1] for p in pixels), 4), 255, np.uint8)
        x = 0
        for p in pixels:
            sheet[:p.shape[0], x:x + p.shape[1]] = p
            x += p.shape[1]
        return encode_rgba(sheet, fmt)

    def css_sizes(self) -> list[tuple[int, int]]:
        """(width, height) in CSS px of each panel (its images have PIXEL_RATIO times as many pixels)."""
        return [(p.width, p.height) for p in self.panels]


__all__ = ["Panel", "Renderer", "PIXEL_RATIO"]
