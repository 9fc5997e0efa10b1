"""One rule for bad arguments, in one place (every module): say which argument, what it must be, and what it got.

    check_int("steps", steps, 1)               steps must be a whole number 1 or more, got 2.5
    check_number("lr", lr, 0, 10, low_open=True)   lr must be a number in (0, 10], got nan
    check_choice("kind", kind, KINDS)          kind must be one of 'layer-wise', 'global', 'structured'; got 'L3'
    check_tensor("w", w, floating=True)        w must be a floating-point tensor, got a list [1, 2]

A wrong *type* raises `ArgumentTypeError`, which is both a TypeError and a ValueError: code that
catches ValueError -- a lab that reports a failed run, a learner's `except ValueError` -- catches
it too. A value of the right type outside its range raises a plain ValueError. Each helper returns
the value (ints as int, numbers as float), so a check reads as an assignment. The public API test
(tests/unit/test_public_api.py) holds every public function of knobs to this rule.
"""
from __future__ import annotations

import math
import numbers

import torch


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a TypeError that `except ValueError` also catches)."""


def describe(value) -> str:
    """What was given, short enough for one line: 2.5, 'adam', a float32 tensor of shape (3, 4), a Linear module."""
    if isinstance(value, torch.Tensor):
        return f"{_a(str(value.dtype).removeprefix('torch.'))} tensor of shape {tuple(value.shape)}"
    if type(value).__module__ == "numpy" and hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
        return f"{_a(str(value.dtype))} array of shape {tuple(value.shape)}"
    if isinstance(value, torch.nn.Module):
        return f"{_a(type(value).__name__)} module"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 20:
        return f"an integer of {len(str(abs(value)))} digits"
    if value is None or isinstance(value, (str, bytes, numbers.Number, list, tuple, dict, set)):
        text = repr(value)
        prefix = {list: "a list ", tuple: "a tuple ", dict: "a dict ", set: "a set "}.get(type(value), "")
        return prefix + (text if len(text) <= 60 else text[:57] + "...")
    return _a(type(value).__name__)


def _a(word: str) -> str:
    """'an int64', 'a float32', 'an object', 'a Linear'."""
    return f"{'an' if word[:1].lower() in 'aeio' else 'a'} {word}"


def fail(name: str, must: str, value, kind: type = ValueError):
    """Raise `kind` with the book's message: "NAME must be MUST, got VALUE"."""
    raise kind(f"{name} must be {must}, got {describe(value)}")


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    """'in [0, 1)', 'at least 0', 'above 0', 'at most 1', or '' when there is no bound (None; an explicit inf shows)."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'above' if low_open else 'at least'} {low:g}"
    if high is not None:
        return f"{'below' if high_open else 'at most'} {high:g}"
    return ""


def check_int(name: str, value, low: int | None = None, high: int | None = None, *, must: str | None = None) -> int:
    """A whole number (not a bool) in [low, high]; NumPy integers are accepted and returned as int.

    `must` replaces the generated description ("a whole number between 1 and 8") in the message.
    """
    if must is None:
        bounds = (f" between {low} and {high}" if low is not None and high is not None else
                  f" {low} or more" if low is not None else f" {high} or less" if high is not None else "")
        must = "a whole number" + bounds
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, must, value, ArgumentTypeError)
    if (low is not None and value < low) or (high is not None and value > high):
        fail(name, must, value)
    return int(value)


def check_number(name: str, value, low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False, finite: bool = True, must: str | None = None) -> float:
    """A real number (not a bool, not NaN; finite unless finite=False) from low to high; returned as a float.

    `must` replaces the generated description ("a number in (0, 1]") in the message.
    """
    bounded = _interval(low, high, low_open, high_open)
    must = must or f"a {'finite ' if finite and not bounded else ''}number {bounded}".strip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, must, value, ArgumentTypeError)
    try:
        number = float(value)
    except OverflowError:  # an int beyond the largest float (about 1.8e308)
        fail(name, must, value)
    if math.isnan(number) or (finite and math.isinf(number)):
        fail(name, must, value)
    if low is not None and (number < low or (low_open and number == low)):
        fail(name, must, value)
    if high is not None and (number > high or (high_open and number == high)):
        fail(name, must, value)
    return number


def check_fraction(name: str, value, *, high_open: bool = False) -> float:
    """A number in [0, 1] (or [0, 1) with high_open): a probability, a sparsity, a share."""
    return check_number(name, value, 0.0, 1.0, high_open=high_open)


def check_bool(name: str, value) -> bool:
    """True or False (NumPy's bool too): a string such as "no" is truthy, so it is refused rather than guessed."""
    numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    if not isinstance(value, bool) and not numpy_bool:
        fail(name, "True or False", value, ArgumentTypeError)
    return bool(value)


def check_choice(name: str, value, options):
    """One of `options` (compared with ==); the message lists them."""
    options = tuple(options)
    try:
        known = value in options
    except (TypeError, RuntimeError):  # e.g. a tensor compared with strings
        known = False
    if not known:
        listed = ", ".join(repr(o) for o in options)
        raise (ValueError if isinstance(value, str) or value is None else ArgumentTypeError)(
            f"{name} must be one of {listed}; got {describe(value)}")
    return value


def check_text(name: str, value, *, empty: bool = True) -> str:
    """A str (non-empty unless empty=True)."""
    if not isinstance(value, str):
        fail(name, "a string" if empty else "a non-empty string", value, ArgumentTypeError)
    if not empty and not value.strip():
        fail(name, "a non-empty string", value)
    return value


def check_instance(name: str, value, types, what: str):
    """`value` if it is an instance of `types`, else an ArgumentTypeError saying `what` was expected."""
    if not isinstance(value, types):
        fail(name, what, value, ArgumentTypeError)
    return value


def check_tensor(name: str, value, *, floating: bool = False, integer: bool = False, dim: int | None = None,
                 min_dim: int | None = None) -> torch.Tensor:
    """A torch.Tensor; floating: of a float dtype; integer: whole numbers (ids); dim, min_dim: its dimensions."""
    kind = "floating-point tensor" if floating else ("tensor of whole numbers (ids)" if integer else "tensor")
    plural = "s" if (dim if dim is not None else min_dim) != 1 else ""
    shape = f" with {dim} dimension{plural}" if dim is not None else (
        f" with at least {min_dim} dimension{plural}" if min_dim is not None else "")
    must = f"a {kind}{shape}"
    if not isinstance(value, torch.Tensor):
        fail(name, must, value, ArgumentTypeError)
    if floating and not value.is_floating_point():
        fail(name, must, value, ArgumentTypeError)
    if integer and (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool):
        fail(name, must, value, ArgumentTypeError)
    if (dim is not None and value.dim() != dim) or (min_dim is not None and value.dim() < min_dim):
        fail(name, must, value)
    return value


def check_strings(name: str, value, *, empty: bool = True) -> list[str]:
    """A list or tuple of strings (not one string: list("loss") would be its letters); non-empty unless empty=True."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        fail(name, "a list of strings", value, ArgumentTypeError)
    if not empty and not value:
        fail(name, "a list of at least one string", value)
    return list(value)


def check_examples(X, y, *, names: tuple[str, str] = ("X", "y"), ids: bool = True):
    """Examples and targets, one target per row; with ids, X holds word ids (N, context) and y the next word (N,)."""
    X = check_tensor(names[0], X, integer=ids, min_dim=1)
    y = check_tensor(names[1], y, integer=ids, dim=1 if ids else None)
    if len(y) != len(X):
        fail(names[1], f"one target per row of {names[0]} ({len(X)} rows)", y)
    return X, y


def check_module(name: str, value) -> torch.nn.Module:
    """A torch.nn.Module (any model or layer)."""
    return check_instance(name, value, torch.nn.Module, "a torch.nn.Module")


def check_generator(name: str, value):
    """None or a torch.Generator (the random stream to draw from)."""
    if value is not None:
        check_instance(name, value, torch.Generator, "a torch.Generator (or None)")
    return value


def check_axes(name: str, value):
    """A matplotlib Axes (what a drawing function draws on)."""
    from matplotlib.axes import Axes

    return check_instance(name, value, Axes, "a matplotlib Axes (e.g. fig, ax = plt.subplots())")


def check_figure(name: str, value):
    """A matplotlib Figure."""
    from matplotlib.figure import Figure, SubFigure

    return check_instance(name, value, (Figure, SubFigure), "a matplotlib Figure (e.g. fig = plt.figure())")


def check_callable(name: str, value, what: str = "a function"):
    """Something that can be called."""
    if not callable(value):
        fail(name, what, value, ArgumentTypeError)
    return value
