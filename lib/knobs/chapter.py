"""Chapter bookkeeping: seed and style at the top, report the measured runtime at the bottom."""
from __future__ import annotations

import time

from knobs.figures import use_book_style
from knobs.runtime import use_one_thread
from knobs.train import seed


class Chapter:
    def __init__(self, number: int, seed_value: int = 0):
        self.number = number
        self.started = time.perf_counter()
        seed(seed_value)
        use_one_thread()  # the book's one-thread rule (knobs.runtime)
        use_book_style()  # every figure the chapter draws: the book's fonts, sizes and colours (knobs.figures)

    def runtime(self) -> str:
        """Seconds since the chapter's first cell ran (a real measurement, printed in the book)."""
        seconds = time.perf_counter() - self.started
        return f"This chapter ran top to bottom in {seconds:.1f} s on this machine (budget: 20 s on a 2-core CPU)."


def start(number: int, seed_value: int = 0) -> Chapter:
    """Seed everything, use the book's figure style and start the chapter's clock (first code cell of every chapter)."""
    return Chapter(number, seed_value)


def glue(name: str, value, display: bool = False):
    """Hand a computed value to the book's prose ({glue:text}`name`); a no-op outside the book build."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab and plain Jupyter have no myst_nb: the value just isn't glued
        return None
    myst_glue(name, value, display=display)
