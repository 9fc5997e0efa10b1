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
    samples = compare_rounds(candidates, rounds, number, min_run_time, threads, seed)
    return {name: statistics.median(times) for name, times in samples.items()}


def compare_rounds(candidates: dict, rounds: int = 31, number: int | None = 1, min_run_time: float = 0.05,
                   threads: int = 1, seed: int = 0) -> dict:
    """`compare_seconds` before the medians: {name: [seconds per call in round 1, round 2, ...]}.

    Round i of every candidate ran in the same stretch of time, so ratios taken round by round
    (`ratio_spread`) show how much a comparison moves with the machine's load.
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
    return samples


def ratio_spread(samples: dict, numerator: str, denominator: str) -> tuple[float, float, float]:
    """(lower quartile, median, upper quartile) of numerator's time / denominator's time, round by round.

    `samples` is what `compare_rounds` returns. The middle half of the rounds' ratios lies between the
    quartiles: a ratio whose quartiles enclose 1 is a difference within this measurement's noise.
    """
    if not isinstance(samples, dict):
        raise ValueError(f"samples must be compare_rounds' result (a dict), got {describe(samples)}")
    for arg, name in (("numerator", numerator), ("denominator", denominator)):
        try:
            known = name in samples
        except TypeError:  # an unhashable name
            known = False
        if not known:
            raise ValueError(f"{arg} must be one of the candidates {list(samples)}, got {describe(name)}")
    a, b = samples[numerator], samples[denominator]
    if len(a) != len(b) or not a or not all(t > 0 for t in list(a) + list(b)):
        raise ValueError("samples must hold the same number of positive times per candidate (one per round), "
                         f"got {describe(samples)}")
    q1, median, q3 = statistics.quantiles([x / y for x, y in zip(a, b)], n=4, method="inclusive") if len(a) > 1 \
        else (a[0] / b[0],) * 3
    return q1, median, q3
