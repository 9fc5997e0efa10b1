"""Timing on a shared computer, honestly: interleaved rounds and medians (chapters 5 and 6).

A burst of load from another program can double one measurement. So every round
times every candidate once, in a new shuffled order, and each candidate's time is
the median over rounds: a burst hits all candidates alike, and the median ignores it.
Each sample is short (`number` calls, or torch.utils.benchmark's own autorange) and
runs on one thread under inference mode, as a deployed model would.
"""
from __future__ import annotations

import random
import statistics

import torch
from torch.utils.benchmark import Timer

from knobs.validate import check_int, check_number, describe


def compare_seconds(candidates: dict, rounds: int = 31, number: int | None = 1, min_run_time: float = 0.05,
                    threads: int = 1, seed: int = 0) -> dict:
    """Median seconds per call of each zero-argument function in {name: function}, over interleaved rounds.

    number=k times k calls per sample (keep it short: a long sample is almost always interrupted on a busy
    machine); number=None lets torch.utils.benchmark pick, running for at least `min_run_time` seconds.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 1000:
        raise ValueError(f"rounds must be a whole number between 1 and 1000, got {rounds!r}")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 10_000):
        raise ValueError(f"number must be None or a whole number between 1 and 10000, got {number!r}")
    check_number("min_run_time", min_run_time, 0, 10, low_open=True, must="a number of seconds in (0, 10]")
    check_int("threads", threads, 1, 256)
    check_int("seed", seed, 0)
    if not isinstance(candidates, dict) or not candidates or not all(callable(f) for f in candidates.values()):
        raise ValueError("candidates must map each name to a function that takes no arguments, "
                         f"got {describe(candidates)}")
    timers = {name: Timer(stmt="f()", globals={"f": f}, num_threads=threads) for name, f in candidates.items()}
    samples = {name: [] for name in candidates}
    order = list(timers)
    shuffle = random.Random(seed).shuffle
    with torch.inference_mode():
        for timer in timers.values():
            timer.timeit(1)  # warm up: first calls allocate memory and pick kernels
        for _ in range(rounds):
            shuffle(order)  # no candidate always runs first, or right after a slow one
            for name in order:
                timer = timers[name]
                sample = timer.timeit(number) if number else timer.blocked_autorange(min_run_time=min_run_time)
                samples[name].append(sample.median)
    return {name: statistics.median(times) for name, times in samples.items()}
