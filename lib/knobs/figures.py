"""The book's figure style, and `show_figure`: any matplotlib figure shown with alt text (every chapter).

One palette and one set of font sizes for every static figure and every lab frame, so a
change of style is made here once. Colours: Okabe-Ito's palette and ColorBrewer's RdBu stay
distinguishable with the common colour-vision deficiencies (tests/unit/test_figures.py).
"""
from __future__ import annotations

import base64
import html
import io

from knobs.validate import check_axes, check_figure, check_int, check_instance, check_text, fail

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
DIVERGING_CMAP = "RdBu_r"

# Font sizes in points of the panels of a lab frame (titles, axis labels, ticks and legends).
TITLE_SIZE, LABEL_SIZE, TICK_SIZE, LEGEND_SIZE = 9, 8, 7, 7


def style_axes(ax, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None) -> None:
    """Title, axis labels and tick labels in the book's sizes (what every lab panel starts with)."""
    check_axes("ax", ax)
    if title is not None:
        ax.set_title(title, fontsize=TITLE_SIZE)
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)


def figure_png(fig, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes."""
    check_figure("fig", fig)
    check_int("dpi", dpi, 1, 1200)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


class FigureWithAlt:
    """A figure shown as <img alt=...> in HTML (the book) and as a PNG elsewhere."""

    def __init__(self, png: bytes, alt: str):
        check_instance("png", png, bytes, "the PNG image's bytes")
        check_text("alt", alt)
        self.png, self.alt = png, alt

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = base64.b64encode(self.png).decode()
        return {"text/html": f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" '
                             f'class="knobs-figure" style="max-width:100%">',
                "image/png": data, "text/plain": f"<figure: {self.alt}>"}


def show_figure(fig, alt: str, dpi: int = 80) -> FigureWithAlt:
    """Return a figure as a displayable image with alt text, and close it (every chapter)."""
    import matplotlib.pyplot as plt

    check_figure("fig", fig)
    if not isinstance(alt, str) or not alt.strip():
        fail("alt", "a sentence describing what the figure shows (it is read aloud by screen readers)", alt)
    png = figure_png(fig, dpi)
    plt.close(fig)
    return FigureWithAlt(png, alt)
