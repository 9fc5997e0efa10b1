"""Property tests of knobs.autograd.Value against torch.autograd (float64: a Value holds a Python float).

Random expressions over every operation, with inputs from -0.0 and 1e-300 to 1e200,
are built twice: with Values and with float64 tensors. The rule, stated in autograd.py:
a Value stays finite, so an expression raises a ValueError exactly when one of
PyTorch's intermediate values becomes inf or NaN (where torch may carry on: tanh(inf) = 1). Otherwise the values and every gradient agree with
torch's, including torch's infinite gradients (d sqrt(x)/dx at 0) and zero ones (d x**0/dx).
"""
import math

import pytest
import torch
from hypothesis import given, strategies as st

from knobs.autograd import Value
from properties import examples

EXPONENTS = (0, 1, 2, 3, -1, -2, 0.5, 1.5, 2.5, -0.5)
UNARY = ("exp", "log", "tanh", "relu", "neg") + tuple(f"**{k}" for k in EXPONENTS)
BINARY = ("+", "-", "*", "/")
REFLECTED = ("2+", "2-", "2*", "2/")  # a plain number on the left
moderate = st.one_of(st.floats(-3, 3).filter(lambda x: x == 0 or abs(x) >= 1e-3),
                     st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-3]))
numbers = st.one_of(moderate, st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([1e-300, 5e-324, 1e200, -1e200, 709.0, 709.9, 710.0, 1.7e308]))


def expressions(constants=moderate, max_leaves: int = 8):
    """Trees of operations over the variables a, b, c; ("2+", 2.0, tree) puts a plain number on the left."""
    return st.recursive(st.sampled_from(["a", "b", "c"]), lambda inner: st.one_of(
        st.tuples(st.sampled_from(UNARY), inner),
        st.tuples(st.sampled_from(BINARY), inner, inner),
        st.tuples(st.sampled_from(REFLECTED), constants, inner)), max_leaves=max_leaves)


def evaluate(tree, env, trace=None):
    """Compute `tree` with the variables in env: Values or float64 tensors, the same code for both engines.

    `trace`, a list, collects every intermediate result (to see whether torch passed through inf or NaN).
    """
    if isinstance(tree, str):
        return env[tree]
    op, *args = tree
    if op in REFLECTED:  # number OP Value: __radd__, __rsub__, __rmul__, __rtruediv__
        x, y, op = args[0], evaluate(args[1], env, trace), op[1:]
        if isinstance(y, torch.Tensor):  # torch's own float / tensor takes a * reciprocal(b): see the last test
            x = torch.tensor(x, dtype=torch.float64)
    elif op in BINARY:
        x, y = evaluate(args[0], env, trace), evaluate(args[1], env, trace)
    else:
        x, y = evaluate(args[0], env, trace), None
    if op.startswith("**"):
        out = x ** (float(op[2:]) if "." in op else int(op[2:]))
    elif y is None:
        out = -x if op == "neg" else getattr(x, op)()
    else:
        out = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y}[op]()
    if trace is not None:
        trace.append(out)
    return out


def both_engines(tree, inputs):
    """(out, ours, ref, theirs, left, M): the expression as Values (None if it raised) and as tensors.

    left: torch passed through inf or NaN; M: the largest |v| or 1/|v| over inputs and intermediates.
    """
    theirs = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in inputs.items()}
    trace = []
    ref = evaluate(tree, theirs, trace)
    left = not all(bool(torch.isfinite(t)) for t in trace)
    sizes = [abs(v.item()) for v in [*trace, *theirs.values()] if v.item() != 0]
    M = max([1.0, *sizes, *(1 / v for v in sizes)])
    ours = {k: Value(v) for k, v in inputs.items()}
    try:
        out = evaluate(tree, ours)
    except ValueError:
        out = None
    return out, ours, ref, theirs, left, M


@examples(250)
@given(expressions(numbers), st.fixed_dictionaries({name: numbers for name in "abc"}))
def test_value_raises_exactly_where_torch_leaves_the_floats(tree, inputs):
    out, ours, ref, theirs, left, _ = both_engines(tree, inputs)
    assert (out is None) == left, f"{tree} at {inputs}: torch {'left' if left else 'kept'} the floats"
    if out is not None:
        torch.testing.assert_close(torch.tensor(out.data, dtype=torch.float64), ref.detach())


@examples(250)
@given(expressions(), st.fixed_dictionaries({name: moderate for name in "abc"}))
def test_values_and_gradients_match_torch(tree, inputs):
    out, ours, ref, theirs, left, M = both_engines(tree, inputs)
    if left:
        return  # the test above checks that Value raised
    torch.testing.assert_close(torch.tensor(out.data, dtype=torch.float64), ref.detach())
    out.backward()
    ref.backward()
    for name in "abc":
        expected = theirs[name].grad if theirs[name].grad is not None else torch.tensor(0.0, dtype=torch.float64)
        got = torch.tensor(ours[name].grad, dtype=torch.float64)
        if bool(torch.isinf(expected)) and bool(torch.isinf(got)):  # the sign of an infinite slope at -0.0 (above)
            expected, got = expected.abs(), got.abs()
        torch.testing.assert_close(got, expected, equal_nan=True, rtol=1e-7, atol=min(1e-12 * M ** 3, math.inf),
                                   msg=lambda m, name=name: f"d/d{name} of {tree} at {inputs}: {m}")


@examples(40)
@given(numbers, st.sampled_from(EXPONENTS))
def test_power_gradients_match_torch_at_zero_and_everywhere(x, k):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ref = t ** k
    v = Value(x)
    if not bool(torch.isfinite(ref)):
        with pytest.raises(ValueError):
            v ** k
        return
    out = v ** k
    out.backward()
    ref.backward()
    # torch computes x**-2 as 1/(x*x), which underflows to 0 below 2.2e-308 where Python's pow keeps a subnormal
    assert math.isclose(out.data, ref.item(), rel_tol=1e-12, abs_tol=torch.finfo(torch.float64).smallest_normal)
    expected = t.grad.abs() if math.copysign(1, x) < 0 and x == 0 else t.grad  # torch's rsqrt(-0.0) = -inf
    got = abs(v.grad) if math.copysign(1, x) < 0 and x == 0 else v.grad
    torch.testing.assert_close(torch.tensor(got, dtype=torch.float64), expected, equal_nan=True)


@pytest.mark.parametrize("a, b", [(0.0, 7e-235), (0.0, 5e-324), (1e-300, 1e-300), (1e-300, 1e-160),
                                  (-1e-310, 1e-160)])
def test_dividing_by_a_tiny_number_gives_the_true_gradient_where_torch_underflows(a, b):
    y = Value(b)
    (a / y).backward()
    exact = -(a / b) / b  # d(a/b)/db = -a / b**2, without squaring b
    assert y.grad == exact and math.isfinite(exact)
    t = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    (a / t).backward()
    assert not math.isfinite(t.grad.item())  # torch's a * reciprocal(b): (1/b)**2 overflows (stated above)
