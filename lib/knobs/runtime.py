"""Where knobs is running, and the three rules that follow from it (every chapter).

- `static_mode()`: True while the book is built (`make book` sets KNOBS_STATIC=1). Labs then
  show their static twins, and nothing shows a progress bar.
- `progress(items, desc)`: a tqdm bar in a live kernel, so a learner knows a sweep is working;
  no bar at all in the built book, where it would be frozen text (and tqdm's notebook bar
  leaves widget state behind even when disabled).
- `one_thread()`: the book's models are tiny, so torch runs them on one CPU thread. One thread
  is as fast as two on an idle laptop and many times faster on a busy one (threads wait for
  each other), and the numbers do not depend on how many cores a machine has.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import torch

from knobs.validate import ArgumentTypeError, check_bool, check_text, fail


def static_mode() -> bool:
    """True while the book is being built: show twins, not widgets; no progress bars."""
    return os.environ.get("KNOBS_STATIC") == "1"


def progress(items, desc: str, show: bool | None = None):
    """`items` with a progress bar when a learner is watching (show=None: everywhere but the built book)."""
    if not hasattr(items, "__iter__"):
        fail("items", "something to iterate over (a list, a range, ...)", items, ArgumentTypeError)
    check_text("desc", desc)
    if show is not None:
        check_bool("show", show)
    show = not static_mode() if show is None else show
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc)


def use_one_thread() -> None:
    """Run torch on one CPU thread from now on (chapter.start calls this once per chapter)."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


@contextmanager
def one_thread():
    """Run torch on one thread inside the block, then restore the caller's setting.

    Switching costs ~10 ms, so wrap a whole sweep or run, never a single step.
    """
    before = torch.get_num_threads()
    use_one_thread()
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)
