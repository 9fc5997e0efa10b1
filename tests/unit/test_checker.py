"""knobs.exercises.checker: right, wrong, unanswered; hints never reveal the answer."""
import pytest

from knobs.exercises import checker as check


def test_check_right_wrong_unanswered_and_hints_do_not_reveal():
    right = 29 * 4 + (2 * 4 * 10 + 10) + (10 * 29 + 29)
    assert check.check("ch01.count", right).ok
    no_bias = check.check("ch01.count", right - 39)
    assert not no_bias.ok and "bias" in no_bias.message and str(right) not in str(no_bias)
    assert not check.check("ch01.count", ...).answered
    assert "could not be checked" in check.check("ch01.count", "lots").message


def test_a_blank_function_answer_counts_as_not_answered():
    def blank(a, b):
        return ...

    result = check.check("ch04.cosine", blank)
    assert not result.ok and not result.answered and "Not answered yet" in str(result)



def all_exercise_ids():
    import importlib
    import pkgutil

    import knobs.exercises

    for info in pkgutil.iter_modules(knobs.exercises.__path__):
        if info.name.startswith("ch"):
            importlib.import_module(f"knobs.exercises.{info.name}")
    return sorted(check.REGISTRY)


def todo(*args):
    raise NotImplementedError("todo")


def shape_slip(weight, *args):
    return weight[:1]  # the wrong shape, whatever it was given


HOSTILE = {"text": "lots", "NaN": float("nan"), "inf": float("inf"), "huge": 10 ** 400, "negative": -1,
           "list": [1, 2], "empty dict": {}, "object": object(), "tensor": __import__("torch").ones(3),
           "numpy NaN": __import__("numpy").float32("nan"), "crashing function": todo, "shape slip": shape_slip,
           "bool": True}


@pytest.mark.parametrize("exercise_id", all_exercise_ids())
def test_check_never_raises_whatever_a_learner_passes(exercise_id):
    for label, answer in HOSTILE.items():
        result = check.check(exercise_id, answer)
        assert isinstance(result.message, str) and result.message, (exercise_id, label)
        assert not result.ok, (exercise_id, label)
        if label in ("NaN", "numpy NaN"):
            assert "too low" not in result.message and "too high" not in result.message, result.message
            if "must be a number" in check.check(exercise_id, "lots").message:  # a numeric exercise
                assert "NaN" in result.message, result.message
        if label == "crashing function" and "raised" in result.message:
            assert "NotImplementedError: todo" in result.message, result.message


def test_a_crashing_function_is_reported_in_one_line_naming_the_case():
    result = check.check("ch05.mask", todo)
    assert str(result).startswith("❌") and "NotImplementedError: todo" in result.message
    assert "float32 tensor" in result.message and "Traceback" not in result.message

    def fails_only_without_sparsity(weight, sparsity):  # a realistic mask: right, except that kthvalue(0) raises
        k = round(sparsity * weight.numel())
        return (weight.abs() > weight.abs().flatten().kthvalue(k).values).float()

    result = check.check("ch05.mask", fails_only_without_sparsity)
    assert "RuntimeError" in result.message and "and 0.0" in result.message, result.message  # names the case


def test_an_unknown_exercise_is_a_message_not_an_exception():
    result = check.check("ch01.nope", 1)
    assert not result.ok and "no exercise called 'ch01.nope'" in result.message and "ch01.count" in result.message


@pytest.mark.parametrize("form", ["int", "float", "np.int64", "np.float32", "np.float64", "0-d tensor",
                                  "1-element tensor", "0-d array"])
def test_every_numeric_form_of_a_right_answer_is_accepted(form):
    import numpy as np
    import torch

    convert = {"int": int, "float": float, "np.int64": np.int64, "np.float32": np.float32, "np.float64": np.float64,
               "0-d tensor": torch.tensor, "1-element tensor": lambda v: torch.tensor([v]),
               "0-d array": np.array}[form]
    assert check.as_number(convert(3)) == 3.0
    right = 29 * 4 + (2 * 4 * 10 + 10) + (10 * 29 + 29)  # chapter 1's count: a whole number
    assert check.check("ch01.count", convert(right)).ok, form
    assert check.check("ch04.rows", convert(check.as_whole_number(_rows_answer()))).ok, form


def _rows_answer():
    from knobs.exercises.ch04 import rows_batch

    return len(set(rows_batch()[0].flatten().tolist()))


@pytest.mark.parametrize("bad, message", [(float("nan"), "NaN"), (float("inf"), "infinite"), (True, "number"),
                                          ("3", "number"), ([3], "number")])
def test_as_number_refuses_what_is_not_a_finite_number(bad, message):
    with pytest.raises(check.AnswerForm, match=message):
        check.as_number(bad)
