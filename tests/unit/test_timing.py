"""knobs.timing: one median per candidate, from interleaved rounds; bad settings get a clear message."""
import pytest
import torch

from knobs import timing


def test_compare_seconds_gives_a_median_per_candidate_with_either_sampling():
    a = torch.randn(64, 64)
    cases = {"small": lambda: a[:8] @ a, "big": lambda: a @ a}
    for number in (2, None):
        times = timing.compare_seconds(cases, rounds=3, number=number, min_run_time=0.01)
        assert set(times) == {"small", "big"} and all(t > 0 for t in times.values())


def test_a_slower_candidate_measures_slower():
    a = torch.randn(256, 256)
    times = timing.compare_seconds({"one": lambda: a @ a, "eight": lambda: [a @ a for _ in range(8)]}, rounds=5)
    assert times["eight"] > 3 * times["one"]


@pytest.mark.parametrize("kwargs, message", [
    ({"rounds": 0}, "rounds must be"), ({"number": 0}, "number must be"), ({"min_run_time": 0}, "min_run_time"),
])
def test_bad_settings_get_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        timing.compare_seconds({"f": lambda: None}, **kwargs)
    with pytest.raises(ValueError, match="no arguments"):
        timing.compare_seconds({"f": (print, 1)})


def test_compare_rounds_keeps_one_time_per_round_and_ratio_spread_gives_quartiles():
    a = torch.randn(64, 64)
    rounds = timing.compare_rounds({"x": lambda: a @ a, "y": lambda: a @ a}, rounds=4)
    assert [len(t) for t in rounds.values()] == [4, 4]
    low, mid, high = timing.ratio_spread({"a": [2.0, 4.0, 6.0, 8.0, 10.0], "b": [1.0] * 5}, "a", "b")
    assert (low, mid, high) == (4.0, 6.0, 8.0)
    with pytest.raises(ValueError, match="numerator"):
        timing.ratio_spread({"a": [1.0]}, "z", "a")
