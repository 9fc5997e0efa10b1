"""Hypothesis strategies shared by the property tests (tests/unit/test_properties_*.py).

`weights()` draws the tensors learners will really pass: any shape from 0-d to 4-D,
non-contiguous views, the four float dtypes, and magnitudes from subnormal to near
the dtype's largest, with mixed signs, all-equal entries, ties, 0 and -0. Special
values (±inf, NaN) only when asked for. Values are drawn in float64 and rounded to
the dtype, so every dtype gets numbers it can hold.

`examples(n)` is the settings every property test uses: n examples, derandomized
(the same examples on every run: CI never flakes), no deadline, no example
database. KNOBS_PROPERTY_SCALE=20 multiplies every n, and KNOBS_PROPERTY_RANDOM=1
draws fresh examples: a slower, deeper search for new defects.
"""
from __future__ import annotations

import math
import os

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("KNOBS_PROPERTY_SCALE", "1"))
RANDOM = os.environ.get("KNOBS_PROPERTY_RANDOM") == "1"


def examples(n: int) -> settings:
    """@settings(max_examples=n, derandomize=True, deadline=None), scaled by KNOBS_PROPERTY_SCALE."""
    return settings(max_examples=max(1, round(n * SCALE)), derandomize=not RANDOM, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], print_blob=True)


FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
dtypes = st.sampled_from(FLOAT_DTYPES)
STYLES = ("normal", "subnormal", "tiny", "huge", "mixed", "all equal", "ties", "zeros")


def shapes(min_dims: int = 0, max_dims: int = 4, max_side: int = 6) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def magnitude(style: str, dtype: torch.dtype) -> float:
    """A scale for `style` that `dtype` can hold: subnormal, 1e-38 (or the dtype's tiniest normal), huge..."""
    info = torch.finfo(dtype)
    return {"subnormal": info.smallest_normal / 8, "tiny": max(1e-38, info.smallest_normal),
            "huge": min(1e30, info.max / 64)}.get(style, 1.0)


@st.composite
def weights(draw, dtype=None, shape=None, min_dims: int = 0, max_dims: int = 4, max_side: int = 6,
            styles=STYLES, specials: bool = False, noncontiguous: bool = True) -> torch.Tensor:
    """A float tensor; `specials=True` may add ±inf and NaN (0 and -0 are always allowed)."""
    dtype = dtype if dtype is not None else draw(dtypes)
    shape = shape if shape is not None else draw(shapes(min_dims, max_dims, max_side))
    n, style = math.prod(shape), draw(st.sampled_from(styles))
    unit = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False)
    if style == "all equal":
        values = [draw(unit)] * n
    elif style == "ties":  # few distinct values, many repeats: ranking and rounding ties
        values = draw(st.lists(st.sampled_from([-0.5, -0.25, 0.0, 0.25, 0.5, 1.0]), min_size=n, max_size=n))
    elif style == "zeros":
        values = draw(st.lists(st.sampled_from([0.0, -0.0]), min_size=n, max_size=n))
    elif style == "mixed":  # several orders of magnitude in one tensor
        values = [u * 10.0 ** e for u, e in zip(draw(st.lists(unit, min_size=n, max_size=n)),
                                                  draw(st.lists(st.integers(-6, 3), min_size=n, max_size=n)))]
    else:
        values = draw(st.lists(unit, min_size=n, max_size=n))
    t = (torch.tensor(values, dtype=torch.float64) * magnitude(style, dtype)).reshape(shape)
    if specials and n:
        for _ in range(draw(st.integers(0, min(n, 3)))):
            t.view(-1)[draw(st.integers(0, n - 1))] = draw(st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -0.0]))
    t = t.to(dtype)
    if noncontiguous and t.dim() and n > 1 and draw(st.booleans()):
        wide = torch.zeros(*shape, 2, dtype=dtype)  # every other element of a wider tensor: same values, strided
        wide[..., 0] = t
        t = wide[..., 0]
    return t


def tolerance(dtype: torch.dtype) -> dict:
    """rtol / atol for comparing two computations that round differently in `dtype` (a few ulps)."""
    eps = torch.finfo(dtype).eps
    return {"rtol": 8 * eps, "atol": 8 * eps}
