"""knobs.autograd against torch.autograd: the same random expressions, the same values and gradients."""
import math
import random

import pytest
import torch

from knobs import autograd
from knobs.autograd import Value, topological_order
from knobs.compgraph import describe_graph, graph_figure, layout

BINARY = ["+", "-", "*", "/"]
UNARY = ["exp", "log", "tanh", "relu", "neg", "pow"]
POWERS = [2, 3, -1, 0.5, 1.5]


def random_expression(rng: random.Random, depth: int):
    """A random expression tree over the leaves 'a', 'b', 'c' (each may appear many times)."""
    if depth == 0 or rng.random() < 0.2:
        return rng.choice(["a", "b", "c", rng.uniform(-2, 2)])
    if rng.random() < 0.55:
        return (rng.choice(BINARY), random_expression(rng, depth - 1), random_expression(rng, depth - 1))
    op = rng.choice(UNARY)
    return (op, random_expression(rng, depth - 1), rng.choice(POWERS) if op == "pow" else None)


def evaluate(tree, leaves: dict):
    """Build the expression from Values or from torch tensors: both understand the same operators and methods."""
    if isinstance(tree, str):
        return leaves[tree]
    if isinstance(tree, float):
        return tree
    op, left, right = tree
    x = evaluate(left, leaves)
    if op in BINARY:
        y = evaluate(right, leaves)
        if not isinstance(x, (Value, torch.Tensor)):  # a constant on the left: use the reflected operator
            return {"+": lambda: y.__radd__(x), "-": lambda: y.__rsub__(x),
                    "*": lambda: y.__rmul__(x), "/": lambda: y.__rtruediv__(x)}[op]()
        return {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y}[op]()
    if not isinstance(x, (Value, torch.Tensor)):
        x = Value(x) if isinstance(leaves["a"], Value) else torch.tensor(x, dtype=torch.float64)
    return {"exp": x.exp, "log": x.log, "tanh": x.tanh, "relu": x.relu, "neg": x.__neg__,
            "pow": lambda: x ** right}[op]()


def both(tree, values: dict):
    """(knobs Value output, torch output, knobs leaves, torch leaves), or None when the expression is invalid."""
    ours = {k: Value(v, label=k) for k, v in values.items()}
    theirs = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    try:
        out = evaluate(tree, ours)
    except (ValueError, OverflowError, ZeroDivisionError):
        return None  # log of a negative number, 1/0, ...: our engine refuses, as it should
    if not isinstance(out, Value) or abs(out.data) > 1e6:
        return None
    ref = evaluate(tree, theirs)
    if not ref.requires_grad:
        return None  # constants only: nothing to differentiate
    return out, ref, ours, theirs


def test_random_expressions_match_torch_autograd():
    rng, checked, ops_seen = random.Random(0), 0, set()
    while checked < 300:
        tree = random_expression(rng, depth=rng.randint(1, 5))
        pair = both(tree, {k: rng.uniform(-2, 2) for k in "abc"})
        if pair is None:
            continue
        out, ref, ours, theirs = pair
        ops_seen |= {n._op for n in topological_order(out)}
        out.backward()
        ref.backward()
        torch.testing.assert_close(torch.tensor(out.data, dtype=torch.float64), ref.detach())
        for name in "abc":
            expected = theirs[name].grad if theirs[name].grad is not None else torch.tensor(0.0, dtype=torch.float64)
            torch.testing.assert_close(torch.tensor(ours[name].grad, dtype=torch.float64), expected,
                                       msg=lambda m, name=name: f"d/d{name} of {tree}: {m}")
        checked += 1
    # every operation's own backward rule was exercised
    assert {"+", "-", "*", "/", "exp", "log", "tanh", "relu", "**2", "**0.5", "**-1"} <= ops_seen


def test_a_wrong_backward_rule_is_caught(monkeypatch):
    """The comparison above can fail: break tanh's rule and it does."""
    def wrong_tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1.0 - self.data ** 2) * out.grad  # 1 - a^2 instead of 1 - tanh(a)^2
        out._backward = _backward
        return out

    monkeypatch.setattr(Value, "tanh", wrong_tanh)
    out, ref, ours, theirs = both(("tanh", ("*", "a", "b"), None), {"a": 0.7, "b": 1.3, "c": 0.0})
    out.backward()
    ref.backward()
    with pytest.raises(AssertionError):
        torch.testing.assert_close(torch.tensor(ours["a"].grad, dtype=torch.float64), theirs["a"].grad)


def test_the_chapter_neuron_matches_torch_and_backward_changes_no_value():
    def neuron(x, w, b, y):
        return ((w * x + b).tanh() - y) ** 2

    ours = [Value(v) for v in (1.5, 0.8, -0.3, 1.0)]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.5, 0.8, -0.3, 1.0)]
    L, L_ref = neuron(*ours), neuron(*theirs)
    before = [v.data for v in ours]
    L.backward()
    L_ref.backward()
    assert [v.data for v in ours] == before  # backprop computes gradients; it turns no knob
    torch.testing.assert_close(torch.tensor([v.grad for v in ours], dtype=torch.float64),
                               torch.stack([t.grad for t in theirs]))


def test_gradients_accumulate_like_torch_until_zero_grad():
    a = Value(2.0)
    L = a * a + a
    L.backward()
    L.backward()
    assert a.grad == pytest.approx(2 * (2 * 2.0 + 1))  # twice d/da, as PyTorch would accumulate
    L.zero_grad()
    L.backward()
    assert a.grad == pytest.approx(5.0)


def test_relu_at_zero_has_gradient_zero_like_torch():
    x, t = Value(0.0), torch.tensor(0.0, requires_grad=True)
    x.relu().backward()
    t.relu().backward()
    assert x.grad == t.grad.item() == 0.0


def test_deep_graphs_need_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)


@pytest.mark.parametrize("make, message", [
    (lambda: Value("3"), "finite number"), (lambda: Value(float("nan")), "finite number"),
    (lambda: Value(-1.0).log(), "positive"), (lambda: Value(1.0) / 0, "divide"),
    (lambda: Value(-2.0) ** 0.5, "positive base"), (lambda: Value(0.0) ** -1, "negative power"),
    (lambda: Value(2.0) ** Value(2.0), "plain number")])
def test_bad_input_raises_a_clear_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_graph_layout_and_drawing():
    x, w, b = Value(1.5, label="x"), Value(0.8, label="w"), Value(-0.3, label="b")
    n = w * x + b
    n.label = "n"
    L = n.tanh()
    L.label = "L"
    positions = layout(L)
    assert positions[id(L)][0] == max(p[0] for p in positions.values())  # the output stands rightmost
    assert positions[id(w)][0] == min(p[0] for p in positions.values())  # the deepest input leftmost
    L.backward()
    text = describe_graph(L)
    assert f"dL/dw = {w.grad:.3f}" in text and "n = 0.900" in text
    fig = graph_figure(L, params=("w", "b"))
    assert len(fig.axes) == 2
    assert autograd.as_value(3).data == 3.0
