"""knobs.validate: the one message rule for bad arguments ("NAME must be ..., got VALUE").

tests/unit/test_public_api.py holds every public function to the rule; this file checks the vocabulary itself.
"""
import math

import numpy as np
import pytest
import torch
from torch import nn

from knobs import validate as V


def test_a_wrong_type_is_both_a_type_error_and_a_value_error():
    with pytest.raises(TypeError) as caught:
        V.check_int("steps", "3", 1)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, V.ArgumentTypeError)
    with pytest.raises(ValueError) as caught:  # a right type out of range is a plain ValueError
        V.check_int("steps", 0, 1)
    assert not isinstance(caught.value, TypeError)


@pytest.mark.parametrize("call, message", [
    (lambda: V.check_int("steps", 2.5, 1), "steps must be a whole number 1 or more, got 2.5"),
    (lambda: V.check_int("bits", True, 2, 16), "bits must be a whole number between 2 and 16, got True"),
    (lambda: V.check_number("lr", math.nan, 0, 10, low_open=True), "lr must be a number in (0, 10], got nan"),
    (lambda: V.check_number("lr", 0, 0, low_open=True), "lr must be a number above 0, got 0"),
    (lambda: V.check_number("x", 2 ** 1024), "x must be a finite number, got an integer of 309 digits"),
    (lambda: V.check_number("lr", -1, 0, math.inf, high_open=True), "lr must be a number in [0, inf), got -1"),
    (lambda: V.check_fraction("p", 1.5), "p must be a number in [0, 1], got 1.5"),
    (lambda: V.check_bool("tied", "no"), "tied must be True or False, got 'no'"),
    (lambda: V.check_choice("kind", "L3", ("L1", "L2")), "kind must be one of 'L1', 'L2'; got 'L3'"),
    (lambda: V.check_text("alt", None), "alt must be a string, got None"),
    (lambda: V.check_strings("metrics", "val_loss"), "metrics must be a list of strings, got 'val_loss'"),
    (lambda: V.check_tensor("w", [1.0, 2.0], floating=True),
     "w must be a floating-point tensor, got a list [1.0, 2.0]"),
    (lambda: V.check_tensor("w", torch.ones(2, dtype=torch.long), floating=True),
     "w must be a floating-point tensor, got an int64 tensor of shape (2,)"),
    (lambda: V.check_tensor("X", torch.ones(3), integer=True, dim=2),
     "X must be a tensor of whole numbers (ids) with 2 dimensions, got a float32 tensor of shape (3,)"),
    (lambda: V.check_module("model", "model"), "model must be a torch.nn.Module, got 'model'"),
    (lambda: V.check_callable("run", 3), "run must be a function, got 3"),
    (lambda: V.check_examples(torch.zeros(4, 2, dtype=torch.long), torch.zeros(3, dtype=torch.long)),
     "y must be one target per row of X (4 rows), got an int64 tensor of shape (3,)"),
    (lambda: V.check_generator("generator", 3), "generator must be a torch.Generator (or None), got 3"),
    (lambda: V.check_number("alpha", -1, 0, low_open=True, must="a positive finite number"),
     "alpha must be a positive finite number, got -1"),
])
def test_messages_name_the_argument_what_it_must_be_and_what_it_got(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_good_values_come_back_in_the_type_the_caller_computes_with():
    assert V.check_int("n", np.int64(3), 1) == 3 and type(V.check_int("n", np.int64(3))) is int
    assert V.check_number("lr", np.float32(0.5), 0) == 0.5 and type(V.check_number("lr", 1, 0)) is float
    assert V.check_bool("flag", np.bool_(True)) is True
    assert V.check_choice("kind", "L1", ("L1", "L2")) == "L1"
    assert V.check_strings("names", ("a", "b")) == ["a", "b"]
    w = torch.ones(2)
    assert V.check_tensor("w", w, floating=True) is w


def test_describe_keeps_what_was_given_to_one_short_line():
    assert V.describe(nn.Linear(2, 2)) == "a Linear module"
    assert V.describe(np.zeros((2, 3))) == "a float64 array of shape (2, 3)"
    assert V.describe("x" * 200).endswith("...") and len(V.describe("x" * 200)) <= 60
    assert V.describe(object()) == "an object" and V.describe(torch.nn.Identity()) == "an Identity module"
