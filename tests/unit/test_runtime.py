"""knobs.runtime: the built book or a live kernel; progress bars only for a learner; one torch thread."""
import torch

from knobs import runtime


def test_static_mode_follows_the_build_flag(monkeypatch):
    monkeypatch.setenv("KNOBS_STATIC", "1")
    assert runtime.static_mode()
    monkeypatch.setenv("KNOBS_STATIC", "0")
    assert not runtime.static_mode()


def test_progress_shows_a_bar_only_when_a_learner_is_watching(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setenv("KNOBS_STATIC", "1")
    assert runtime.progress(items, "x") is items  # the built book: no bar at all, not even a hidden one
    monkeypatch.setenv("KNOBS_STATIC", "0")
    bar = runtime.progress(items, "x")
    assert bar is not items and list(bar) == items
    assert runtime.progress(items, "x", show=False) is items


def test_one_thread_inside_the_block_then_the_callers_setting():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with runtime.one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
