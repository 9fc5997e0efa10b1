"""The book's figure style, and `show_figure`: any matplotlib figure shown with alt text (every chapter).

One palette, one set of font sizes and one display rule for every static figure and every lab
panel, so a change of style is made here once. Colours: Okabe-Ito's palette and ColorBrewer's
RdBu stay distinguishable with the common colour-vision deficiencies (tests/unit/test_figures.py).

The display rule: **a figure inch is shown as 72 CSS pixels**, so a font size in points is its
size in CSS pixels when the figure is shown at its design size. Figures are rendered at
`PIXEL_RATIO` (2) device pixels per CSS pixel (`DPI` = 144), sharp on a retina laptop and a
phone, and carry their CSS width and height, so a page does not jump while it loads. A figure is
designed at the width it is shown at: at most `CONTENT_WIDTH` CSS px (the book's column), and each
of its columns of axes at most `PHONE_WIDTH` (the column on a 390 px phone), so that text of
`MIN_TEXT_PX` (11 CSS px) or more stays that large on both (tests/unit/test_legibility.py,
tests/book/test_figures_html.py). `show_figure` cuts a figure with several columns of axes into
one image per column: side by side in the book's column, one under the other on a phone.
"""
from __future__ import annotations

import base64
import html
import io
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from knobs.validate import (ArgumentTypeError, check_axes, check_bool, check_choice, check_figure, check_instance,
                            check_int, check_number, check_text, fail)

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
DIVERGING_CMAP = "RdBu_r"
INK, MUTED = "#222222", "#555555"  # text, and reference lines and secondary text

# ---- the display rule (CSS px are what a reader's browser lays out; see the module docstring) ------------
CSS_PX_PER_INCH = 72  # a figure inch is shown this many CSS px wide: 1 pt of font = 1 CSS px
PIXEL_RATIO = 2  # device pixels per CSS px in every image the book shows
DPI = CSS_PX_PER_INCH * PIXEL_RATIO
CONTENT_WIDTH = 688  # CSS px of a cell's output in the book's column at 1280x900 (measured in Chromium)
PHONE_WIDTH = 358  # ... and on a 390x844 phone
MIN_TEXT_PX = 11  # the smallest text a figure may show, in CSS px, at either width
# A lab panel: two side by side fill the column (a twin's padding and gap included); one fits a phone.
PANEL_WIDTH, PANEL_HEIGHT = 328, 232

# Font sizes in points, which are CSS px at the design size (titles, axis labels, ticks, legends).
TITLE_SIZE, LABEL_SIZE, TICK_SIZE, LEGEND_SIZE = 12, 11.5, 11, 11

BOOK_STYLE = {
    "font.size": LABEL_SIZE, "axes.titlesize": TITLE_SIZE, "axes.labelsize": LABEL_SIZE,
    "xtick.labelsize": TICK_SIZE, "ytick.labelsize": TICK_SIZE, "legend.fontsize": LEGEND_SIZE,
    "legend.title_fontsize": LEGEND_SIZE, "figure.titlesize": TITLE_SIZE, "figure.labelsize": LABEL_SIZE,
    "axes.titlepad": 5.0, "axes.labelpad": 3.0, "xtick.major.pad": 2.5, "ytick.major.pad": 2.5,
    "legend.borderaxespad": 0.3, "legend.handlelength": 1.6, "legend.labelspacing": 0.3, "legend.framealpha": 0.85,
    "text.color": INK, "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK, "axes.edgecolor": "#444444",
    "figure.facecolor": "white", "savefig.facecolor": "white", "savefig.dpi": DPI, "image.cmap": "viridis",
    "figure.constrained_layout.use": True,  # a figure fills its figsize: designed at the size it is shown
}


def _style() -> dict:
    """BOOK_STYLE and the palette as the colour cycle (a cycler is built on demand: no import at import time)."""
    from matplotlib.rcsetup import cycler  # matplotlib's own (cycler is its dependency, not ours)

    return {**BOOK_STYLE, "axes.prop_cycle": cycler(color=PALETTE)}


def use_book_style() -> None:
    """Make every new matplotlib figure use the book's style (chapter.start calls this once per chapter)."""
    import matplotlib

    matplotlib.rcParams.update(_style())


@contextmanager
def book_style():
    """The book's style inside the block only (lab panels, library figures), whatever the caller's settings."""
    import matplotlib

    with matplotlib.rc_context(_style()):
        yield


def style_axes(ax, title: str | None = None, xlabel: str | None = None, ylabel: str | None = None) -> None:
    """Title, axis labels and tick labels in the book's sizes, and no more ticks than fit (every lab panel)."""
    from matplotlib.ticker import AutoLocator

    check_axes("ax", ax)

    if title is not None:
        ax.set_title(title, fontsize=TITLE_SIZE)
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    width, height = ax.figure.get_size_inches() * CSS_PX_PER_INCH
    # a tick label of 11 px needs ~64 px of a horizontal axis, ~40 px of a vertical one
    for axis, span in ((ax.xaxis, width / 64), (ax.yaxis, height / 40)):
        if isinstance(axis.get_major_locator(), AutoLocator):
            axis.get_major_locator().set_params(nbins=max(3, int(span)))


def inches(css_px: float) -> float:
    """A figure size in inches for a width or height of `css_px` CSS px as shown in the book."""
    check_number("css_px", css_px, 0)
    return css_px / CSS_PX_PER_INCH


# ---- what a figure shows, measured -----------------------------------------------------------------------
@contextmanager
def recording_text(renderer):
    """Record (text, size in points) of every piece of text `renderer` draws inside the block."""
    if not callable(getattr(renderer, "draw_text", None)):
        fail("renderer", "a matplotlib renderer (canvas.get_renderer())", renderer, ArgumentTypeError)
    drawn: list[tuple[str, float]] = []
    draw_text = renderer.draw_text

    def spy(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if str(s).strip():
            drawn.append((str(s), float(prop.get_size_in_points())))
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = spy
    try:
        yield drawn
    finally:
        del renderer.draw_text  # the class's method again


def text_sizes(fig, extra_artists=()) -> list[tuple[str, float]]:
    """(text, points) of every piece of text a full draw of `fig` shows, and of `extra_artists` that draw text
    themselves (a `fontsize` attribute, e.g. knobs.lab.views.WordLabels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    check_figure("fig", fig)
    check_instance("extra_artists", extra_artists, (list, tuple), "a list of artists")
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    with recording_text(renderer) as drawn:
        canvas.draw()
        for artist in fig.findobj(lambda a: a.get_animated() and a.get_visible()):
            if artist.axes is not None:
                artist.axes.draw_artist(artist)
    sizes = list(drawn)
    for artist in extra_artists:
        if getattr(artist, "fontsize", None) is not None:
            sizes.append((type(artist).__name__, float(artist.fontsize)))
    return sizes


def shown_text_px(points: float, css_width: float, available: float) -> float:
    """How many CSS px text of `points` is on screen in an image designed `css_width` CSS px wide, shown in a
    column `available` CSS px wide (an image is never shown wider than its design, narrower when it must)."""
    check_number("points", points, 0)
    check_number("css_width", css_width, 0, low_open=True)
    check_number("available", available, 0)
    return points * (CSS_PX_PER_INCH / 72) * min(1.0, available / css_width)


# ---- images ----------------------------------------------------------------------------------------------
def encode_rgba(rgba: np.ndarray, fmt: str = "webp") -> bytes:
    """An RGBA pixel array (rows top-down) as image bytes.

    "webp": lossless WebP (the book's frames and figures: flat colours and thin lines compress smaller
    losslessly than lossy, tools/encodings.py measures it); "png": lossless PNG; "jpeg": fast and lossy
    (the live labs, where encoding time counts; no alpha).
    """
    from PIL import Image

    check_choice("fmt", fmt, tuple(MIME))
    if not isinstance(rgba, np.ndarray) or rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        fail("rgba", "a (height, width, 4) uint8 array of RGBA pixels", rgba, ArgumentTypeError)
    rgba = np.ascontiguousarray(rgba)
    out = io.BytesIO()
    if fmt == "jpeg":  # straight from the buffer, the alpha byte skipped (no conversion copy: ~0.4 ms a panel)
        Image.frombuffer("RGBX", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBX", 0, 1).save(
            out, format="jpeg", quality=88)
        return out.getvalue()
    image = Image.fromarray(rgba, "RGBA")
    if fmt == "webp":
        opaque = bool((rgba[..., 3] == 255).all())
        (image.convert("RGB") if opaque else image).save(out, format="webp", lossless=True, quality=50, method=4)
    elif fmt == "png":
        image.save(out, format="png", compress_level=6)
    else:
        raise ValueError(f"fmt must be 'webp', 'png' or 'jpeg', got {fmt!r}")
    return out.getvalue()


MIME = {"webp": "image/webp", "png": "image/png", "jpeg": "image/jpeg"}


def data_uri(data: bytes, fmt: str) -> str:
    """Image bytes as a data: URI (inlined in the page: the book makes no image request)."""
    check_instance("data", data, bytes, "the image's bytes")
    check_choice("fmt", fmt, tuple(MIME))
    return f"data:{MIME[fmt]};base64," + base64.b64encode(data).decode()


@dataclass
class Picture:
    """One image of a figure: its bytes, format, size in CSS px and the smallest text it shows (points)."""

    data: bytes
    fmt: str
    width: int  # CSS px (the image is PIXEL_RATIO times as many pixels)
    height: int
    text_pt: float | None = None

    def __post_init__(self):
        check_instance("data", self.data, bytes, "the image's bytes")
        check_choice("fmt", self.fmt, tuple(MIME))
        check_int("width", self.width, 1)
        check_int("height", self.height, 1)
        if self.text_pt is not None:
            check_number("text_pt", self.text_pt, 0, low_open=True)

    def min_width(self) -> int:
        """The narrowest the image may be shown: where its smallest text is still MIN_TEXT_PX CSS px."""
        if not self.text_pt:
            return min(self.width, PHONE_WIDTH)
        return min(self.width, int(np.ceil(self.width * MIN_TEXT_PX / shown_text_px(self.text_pt, 1, 1))))

    def tag(self, alt: str, cls: str = "knobs-figure") -> str:
        extra = f' data-text-pt="{self.text_pt:g}"' if self.text_pt is not None else ""
        # shown at its design width, narrower where the column is narrower, never so narrow that its text drops
        # below MIN_TEXT_PX (its box then scrolls sideways: only a figure shown with wide=True is allowed that)
        return (f'<img class="{cls}" src="{data_uri(self.data, self.fmt)}" alt="{html.escape(alt)}" '
                f'width="{self.width}" height="{self.height}" data-dpi="{DPI}"{extra} '
                f'style="flex:0 1 {self.width}px;width:{self.width}px;min-width:{self.min_width()}px;'
                f'max-width:none;height:auto;display:block;margin:0;padding:0">')


# Layout in inline styles (they survive a notebook front end's sanitizer); the theme's dark mode in a stylesheet.
PANELS_STYLE = ("display:flex;flex-wrap:wrap;justify-content:center;justify-content:safe center;"
                "align-items:flex-start;overflow-x:auto;max-width:100%;margin:.3em 0")
FIGURE_CSS = ("html[data-theme=dark] .bd-content div.cell_output .text_html.text_html:has(.knobs-figure-panels)"
              "{background:none;padding:0}"
              "html[data-theme=dark] .bd-content .knobs-figure-panels img.knobs-figure{padding:0;border-radius:0}")


class FigureWithAlt:
    """A figure shown as <img alt=...> in HTML (the book, Jupyter): one image per column of axes, side by side
    where they fit and one under another where they don't (a phone).
    `wide`: a figure that cannot be cut (a diagram) and may scroll sideways on a phone rather than shrink."""

    def __init__(self, pictures: list[Picture], alt: str, wide: bool = False):
        if not isinstance(pictures, (list, tuple)) or not pictures or not all(isinstance(p, Picture) for p in pictures):
            fail("pictures", "a list of at least one Picture", pictures)
        check_text("alt", alt)
        check_bool("wide", wide)
        self.pictures, self.alt, self.wide = list(pictures), alt, wide

    def alts(self) -> list[str]:
        n = len(self.pictures)
        return [self.alt] + [f"Panel {i} of {n} of this figure (described with panel 1)" for i in range(2, n + 1)]

    def html(self) -> str:
        tags = "".join(p.tag(alt) for p, alt in zip(self.pictures, self.alts()))
        wide = ' data-wide="1"' if self.wide else ""
        return (f'<style>{FIGURE_CSS}{self._scroll_hint_css()}</style><div class="knobs-figure-panels"{wide} '
                f'style="{PANELS_STYLE}">{tags}</div>{self._scroll_hint()}')

    def _scroll_hint_width(self) -> int:
        """Below this viewport width (CSS px) a wide figure overflows its column (the theme's margins included)."""
        return max(p.width for p in self.pictures) + 64

    def _scroll_hint_css(self) -> str:
        if not self.wide:
            return ""
        return (f"@media (max-width:{self._scroll_hint_width()}px)"
                f"{{.knobs-scroll-hint-{self._scroll_hint_width()}{{display:block!important}}}}")

    def _scroll_hint(self) -> str:
        """A wide figure scrolls sideways on a narrow screen: say so there (hidden where a sanitizer drops <style>)."""
        if not self.wide:
            return ""
        return (f'<div class="knobs-scroll-hint knobs-scroll-hint-{self._scroll_hint_width()}" aria-hidden="true" '
                f'style="display:none;text-align:right;font-size:.85em;opacity:.75;margin:0 0 .4em">'
                f'scroll sideways for the rest of the figure →</div>')

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html(), "text/plain": f"<figure: {self.alt}>"}


def _columns(fig, renderer) -> list[tuple[float, float]]:
    """x-extents (display px) of the figure's columns of axes, left to right; one column when they cannot be
    cut apart (figure-level text or legends, axes that overlap horizontally)."""
    if fig.texts or fig.legends or any(getattr(fig, name, None) is not None and getattr(fig, name).get_text()
                                       for name in ("_suptitle", "_supxlabel", "_supylabel")):
        return []
    spans = []
    for ax in fig.axes:
        if not ax.get_visible() or hasattr(ax, "_colorbar"):
            continue  # a colorbar stays with the column it sits next to
        box = ax.get_tightbbox(renderer)
        if box is not None:
            spans.append([box.x0, box.x1])
    spans.sort()
    merged: list[list[float]] = []
    for x0, x1 in spans:
        if merged and x0 < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], x1)
        else:
            merged.append([x0, x1])
    # colorbars (and anything else drawn outside an axes' tight box) widen the column they overlap or follow
    for ax in fig.axes:
        if ax.get_visible() and hasattr(ax, "_colorbar") and merged:
            box = ax.get_tightbbox(renderer)
            owner = max((c for c in merged if c[0] <= box.x0), key=lambda c: c[0], default=merged[0])
            owner[0], owner[1] = min(owner[0], box.x0), max(owner[1], box.x1)
    for a, b in zip(merged, merged[1:]):
        if a[1] > b[0]:
            return []
    return [tuple(c) for c in merged]


def render_figure(fig, split: bool = True, pad_px: float = 4.0) -> tuple[list[Picture], np.ndarray]:
    """Render `fig` at DPI, cropped to what it draws (plus `pad_px` CSS px), cut into one picture per column of
    axes; also returns the whole figure's pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    check_figure("fig", fig)
    check_bool("split", split)
    check_number("pad_px", pad_px, 0, 100)
    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)  # a figure made with pyplot gets an Agg canvas of its own here
    renderer = canvas.get_renderer()
    with recording_text(renderer) as drawn:
        canvas.draw()
    pad = pad_px * PIXEL_RATIO
    tight = fig.get_tightbbox(renderer)  # inches
    box = Bbox.from_extents(tight.x0 * DPI - pad, tight.y0 * DPI - pad, tight.x1 * DPI + pad, tight.y1 * DPI + pad)
    box = Bbox.from_extents(*(round(v / PIXEL_RATIO) * PIXEL_RATIO for v in box.extents))  # whole CSS px
    canvas_height = round(fig.bbox.height)
    if box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height:
        # what it draws lies on the canvas (the usual case with constrained layout): crop the pixels just drawn
        pixels = np.asarray(canvas.buffer_rgba())
        whole = pixels[canvas_height - round(box.y1):canvas_height - round(box.y0), round(box.x0):round(box.x1)].copy()
    else:  # text sticks out of the figure: draw again on a canvas grown to hold it
        buffer = io.BytesIO()
        fig.savefig(buffer, format="rgba", dpi=DPI, bbox_inches=Bbox(box.get_points() / DPI))
        whole = np.frombuffer(buffer.getvalue(), np.uint8).reshape(round(box.height), -1, 4)
    height = whole.shape[0]
    columns = _columns(fig, renderer) if split else []
    cuts = [box.x0] + [(a[1] + b[0]) / 2 for a, b in zip(columns, columns[1:])] + [box.x1]
    cuts = [round((c - box.x0) / PIXEL_RATIO) * PIXEL_RATIO for c in cuts]
    smallest = min((size for _, size in drawn), default=None)
    pictures = []
    for left, right in zip(cuts, cuts[1:]):
        part = whole[:, left:right]
        pictures.append(Picture(encode_rgba(part, "webp"), "webp", (right - left) // PIXEL_RATIO,
                                height // PIXEL_RATIO, smallest))
    return pictures, whole


def show_figure(fig, alt: str, split: bool = True, wide: bool = False) -> FigureWithAlt:
    """Return a figure as displayable images with alt text, and close it (every chapter).

    A figure with several columns of axes becomes one image per column (split=False keeps it whole), so that
    each column fits a phone. wide=True: a figure that cannot fit a phone (a wide diagram) scrolls sideways
    there instead of shrinking its text below MIN_TEXT_PX (tests/book/test_figures_html.py allows only these).
    """
    import matplotlib.pyplot as plt

    check_figure("fig", fig)
    if not isinstance(alt, str) or not alt.strip():
        fail("alt", "a sentence describing what the figure shows (it is read aloud by screen readers)", alt)
    pictures, _ = render_figure(fig, split=split)
    plt.close(fig)
    return FigureWithAlt(pictures, alt, wide=wide)
