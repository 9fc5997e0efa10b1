"""A scalar autograd engine on one screen (chapter 2), in the spirit of karpathy/micrograd.

A `Value` wraps one number. Every operation on Values makes a new Value that
remembers its inputs and carries its own `_backward` rule: the chain rule for
that one operation ("add my gradient, times my local derivative, to each
input's gradient"). `backward()` runs those rules from the output back to the
inputs in reverse topological order, so each node's gradient is complete
before it is passed on. That is all backpropagation is: it computes gradients;
it changes no value (an optimizer does that, with the gradients).

Scope: scalars; +, -, *, /, ** (a number exponent), exp, log, tanh, relu; -a is a * -1.
Like PyTorch, gradients accumulate: call `zero_grad()` before a new backward.

A Value holds a finite number. Where PyTorch would produce inf or NaN (exp(1000),
1e200 * 1e200, log(-1)), the operation raises a ValueError naming it instead: a
learner sees which step left the numbers, not a NaN three steps later. Gradients
follow PyTorch where a value is finite but its slope is not: d(x**0.5)/dx at 0
is inf, d(x**0)/dx is 0 everywhere.
"""
from __future__ import annotations

import math
import numbers

from knobs.validate import ArgumentTypeError, check_instance, check_text, fail


class Value:
    """One number in a computational graph, with the gradient of the final output with respect to it."""

    def __init__(self, data: float, children: tuple = (), op: str = "", label: str = ""):
        if isinstance(data, bool) or not isinstance(data, numbers.Real) or not _finite(data):
            if children:  # the result of an operation left the floats: say which one
                operands = ", ".join(f"{c.data:g}" for c in children)
                raise ValueError(f"{op} of {operands} gives {data!r}, beyond the largest float (about 1.8e308): "
                                 "a Value must stay a finite number")
            fail("data", "a finite number (a float holds up to about 1.8e308)", data,
                 ValueError if isinstance(data, numbers.Real) and not isinstance(data, bool) else ArgumentTypeError)
        check_text("label", label)
        self.data, self.grad = float(data), 0.0
        self._prev, self._op, self.label = tuple(children), op, label
        self._backward = lambda: None  # a leaf (an input or a parameter) has no rule to run

    def __add__(self, other):
        other = as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = as_value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward():  # d(a-b)/da = 1, d(a-b)/db = -1
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = as_value(other)
        if other.data == 0:
            raise ValueError("cannot divide by a Value that is 0")
        out = Value(self.data / other.data, (self, other), "/")

        def _backward():  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(a/b)/b (b^2 could underflow to 0)
            self.grad += out.grad / other.data
            other.grad -= out.data / other.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        if isinstance(k, bool) or not isinstance(k, (int, float)):
            raise ValueError(f"the exponent must be a plain number, got {type(k).__name__}")
        if not math.isfinite(k):
            raise ValueError(f"the exponent must be a finite number, got {k!r}")
        if self.data < 0 and not float(k).is_integer():
            raise ValueError(f"a non-integer power needs a positive base (or 0), got {self.data:g} ** {k:g}")
        if self.data == 0 and k < 0:
            raise ValueError(f"0 cannot be raised to the negative power {k:g}")
        out = Value(_power(self.data, k), (self,), f"**{k:g}")

        def _backward():  # d(a^k)/da = k a^(k-1); 0 for k = 0 even at a = 0, as in PyTorch
            self.grad += (0.0 if k == 0 else k * _power(self.data, k - 1)) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        try:
            e = math.exp(self.data)
        except OverflowError:  # e^709.8 is the largest float: the Value below says so
            e = math.inf
        out = Value(e, (self,), "exp")

        def _backward():  # d(e^a)/da = e^a
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data:g}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # d(ln a)/da = 1/a
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():  # d(tanh a)/da = 1 - tanh(a)^2
            self.grad += (1.0 - out.data ** 2) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():  # passed where the input was positive, else 0 (PyTorch's choice at exactly 0, too);
            self.grad += out.grad if self.data > 0 else 0.0  # a mask, not a product: an inf upstream stays out
        out._backward = _backward
        return out

    def backward(self) -> None:
        """Fill `.grad` of every Value this one depends on with d(self)/d(that Value)."""
        order = topological_order(self)
        for node in order:  # inner gradients are recomputed each pass; inputs accumulate, as in PyTorch
            if node._prev:
                node.grad = 0.0
        self.grad = 1.0  # d(out)/d(out)
        for node in reversed(order):
            node._backward()

    def zero_grad(self) -> None:
        """Set the gradient of this Value and everything it depends on back to 0."""
        for node in topological_order(self):
            node.grad = 0.0

    # Everything else is built from the rules above, so it needs no backward rule of its own.
    def __neg__(self):
        return self * -1


    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return as_value(other) - self

    def __rtruediv__(self, other):
        return as_value(other) / self

    def named(self, label: str) -> "Value":
        """Give this Value a name for drawings (returns self, so it chains: (w * x).named("w·x"))."""
        self.label = label
        return self

    def __repr__(self) -> str:
        name = f"{self.label}, " if self.label else ""
        return f"Value({name}data={self.data:.4g}, grad={self.grad:.4g})"


def as_value(x) -> Value:
    """Wrap a plain number as a (constant) Value; leave Values alone."""
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not _finite(x):
        fail("x", "a finite number or a Value", x, ValueError if isinstance(x, numbers.Real) else ArgumentTypeError)
    return Value(x)


def _finite(x) -> bool:
    """math.isfinite, but False (not an OverflowError) for an int beyond the largest float, such as 2**1024."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _power(a: float, k: float) -> float:
    """a ** k with IEEE's answers where Python raises: ±inf on overflow and for 0 ** negative (a slope, not a Value)."""
    odd = float(k).is_integer() and float(k) % 2 == 1
    if a == 0 and k < 0:
        return math.copysign(math.inf, a) if odd else math.inf
    try:
        return a ** k
    except OverflowError:
        return -math.inf if a < 0 and odd else math.inf


def topological_order(root: Value) -> list[Value]:
    """Every Value `root` depends on, each after all of its inputs (inputs first, root last)."""
    check_instance("root", root, Value, "a knobs.autograd Value")
    order, seen, stack = [], set(), [(root, False)]
    while stack:  # an explicit stack: deep graphs do not hit Python's recursion limit
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in seen)
    return order
