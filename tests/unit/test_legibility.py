"""Text in every lab panel is large enough to read, on the book's column and on a phone (knobs.figures' rule).

For every view of every lab declared in knobs.chapters (new labs are found through `all_labs`), and for the
panels of knobs.lab.watch, a full draw records every piece of text and its size in points; the size it
is shown at is computed from the panel's design width (CSS px), the DPI and the width it is shown in:
the twin's column at 1280x900 and on a 390x844 phone. Each must be at least MIN_TEXT_PX CSS px. The
static figures of the chapters are checked in the built book (tests/book/test_figures_html.py).
"""
import pytest

from knobs.chapters import all_labs
from knobs.figures import (CONTENT_WIDTH, CSS_PX_PER_INCH, DPI, MIN_TEXT_PX, PHONE_WIDTH, PIXEL_RATIO,
                           shown_text_px, text_sizes)
from knobs.lab.twin import TWIN_INSET

COLUMNS = {"book column (1280x900)": CONTENT_WIDTH - 2 * TWIN_INSET, "phone (390x844)": PHONE_WIDTH - 2 * TWIN_INSET}


def illegible(panel) -> list[str]:
    """Every text of a panel shown smaller than MIN_TEXT_PX in either column, as 'text: size px (where)'."""
    sizes = text_sizes(panel.figure, extra_artists=panel.view.artists)
    assert sizes, f"{type(panel.view).__name__} draws no text at all"
    return [f"{text!r}: {shown_text_px(points, panel.width, available):.1f} px ({where})"
            for text, points in sizes for where, available in COLUMNS.items()
            if shown_text_px(points, panel.width, available) < MIN_TEXT_PX]


def test_the_display_rule_maps_points_to_css_px():
    assert DPI == CSS_PX_PER_INCH * PIXEL_RATIO and PIXEL_RATIO >= 2
    assert shown_text_px(11, 300, 600) == 11  # shown at its design size: points are CSS px
    assert shown_text_px(11, 600, 300) == 5.5  # squeezed into half its width: half the size


@pytest.mark.parametrize("name", sorted(all_labs()))
def test_every_lab_panel_is_legible_and_sharp(name):
    lab = all_labs()[name]()
    lab.reset()
    lab.advance()
    for panel in lab.renderer.panels:
        height, width = panel.pixels().shape[:2]
        assert (width, height) == (PIXEL_RATIO * panel.width, PIXEL_RATIO * panel.height)
        assert panel.width <= COLUMNS["phone (390x844)"], f"{type(panel.view).__name__} is wider than a phone"
        assert illegible(panel) == [], f"{name}, {type(panel.view).__name__}"


def test_watch_panels_are_legible(farm):
    from knobs import models
    from knobs.lab.watch import watch

    watcher = watch(models.make_tiny_lm(len(farm.vocab), seed=0), display=False)
    watcher.close()
    for panel in watcher.renderer.panels:
        assert illegible(panel) == [], type(panel.view).__name__


def test_a_small_font_is_caught():
    from knobs.lab.render import Panel
    from knobs.lab.views import History, LossView
    from knobs.train import Snapshot

    view = LossView(("train_loss",))
    panel = Panel(view, total_steps=10)
    history, snap = History(), Snapshot(0, {}, {"train_loss": 1.0})
    history.add(snap)
    panel.draw(snap, history)
    view.ax.set_xlabel("tiny", fontsize=7)
    assert any("'tiny'" in line for line in illegible(panel))
