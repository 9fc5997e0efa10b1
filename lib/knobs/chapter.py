"""Chapter bookkeeping: seed and style at the top, report the measured runtime at the bottom."""
from __future__ import annotations

import time

from knobs.figures import use_book_style
from knobs.runtime import use_one_thread
from knobs.train import seed
from knobs.validate import check_bool, check_int, check_number, check_text


class Chapter:
    def __init__(self, number: int, seed_value: int = 0):
        check_int("number", number, 1, 99)
        check_int("seed_value", seed_value, 0)
        self.number = number
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()  # this process's computing time: what a busy machine does not inflate
        seed(seed_value)
        use_one_thread()  # the book's one-thread rule (knobs.runtime)
        use_book_style()  # every figure the chapter draws: the book's fonts, sizes and colours (knobs.figures)

    def runtime(self) -> str:
        """Seconds since the chapter's first cell ran (a real measurement, printed in the book), and how much of
        it the chapter's own process spent computing: on a machine busy with other work the first grows, the
        second hardly, so the sentence says which it was rather than letting a busy build read as a slow chapter."""
        return runtime_sentence(time.perf_counter() - self.started, time.process_time() - self.cpu_started)


BUDGET_SECONDS = 20  # every chapter, top to bottom, on an idle 2-core CPU


def runtime_sentence(wall: float, cpu: float) -> str:
    """What the last cell of a chapter prints: wall-clock and computing seconds, against the budget; past the
    budget, what that means for the page's timings."""
    check_number("wall", wall, 0)
    check_number("cpu", cpu, 0)
    sentence = (f"This chapter ran top to bottom in {wall:.1f} s on this machine, {cpu:.1f} s of it computing in "
                f"this notebook's kernel (budget: {BUDGET_SECONDS} s on an idle 2-core CPU).")
    if wall > 1.5 * cpu + 5:  # waiting, not computing: other programs had the CPU
        sentence += (" Most of the time went waiting for a CPU busy with other work, so the clock overstates the "
                     "chapter, and any speed measured on this page is noisier than usual.")
    elif wall > BUDGET_SECONDS:
        sentence += f" That is {wall / BUDGET_SECONDS:.1f}× the budget: this machine is slower than the budget's."
    return sentence


def start(number: int, seed_value: int = 0) -> Chapter:
    """Seed everything, use the book's figure style and start the chapter's clock (first code cell of every chapter)."""
    return Chapter(number, seed_value)


_BOUND: dict[str, object] = {}  # name -> value glue() has bound in this kernel (tools/nb.py merge checks it)


def glue(name: str, value, display: bool = False):
    """Hand a computed value to the prose: {eval}`name` shows it in the book and in JupyterLab (every chapter).

    Binds `name` in the notebook's namespace (jupyterlab-myst evaluates {eval}`name` there when Run All
    reaches the markdown cell, so glue before the prose that quotes it) and glues it for the book build
    (tools/bookext/evalglue.py answers {eval}`name` from the glue data). Without myst_nb (Colab, a
    learner's own Jupyter) nothing is glued; outside IPython nothing is bound. A name the notebook (or
    Python) already uses for another value is refused with a ValueError: a glue call never changes what
    later code computes. Returns None, so a glue call that ends a cell prints nothing.
    """
    check_text("name", name, empty=False)
    check_bool("display", display)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python (a script, a test): nothing to bind
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        import builtins

        missing = object()
        old = shell.user_ns.get(name, missing)
        if hasattr(builtins, name) or (old is not missing and old is not value and name not in _BOUND):
            # a formatted string must not replace the notebook's own variable (a float, a function...)
            raise ValueError(f"chapter.glue({name!r}, ...) would replace the notebook's {name}: "
                             f"glue it under another name, e.g. {name}_text")
        shell.user_ns[name] = value
        _BOUND[name] = value  # glued again (a second Run All) it may change: it is still only the prose's
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab and plain Jupyter have no myst_nb: the value just isn't glued
        return None
    myst_glue(name, value, display=display)
