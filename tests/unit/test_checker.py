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
    with pytest.raises(ValueError, match="no exercise"):
        check.check("ch01.nope", 1)


def test_a_blank_function_answer_counts_as_not_answered():
    def blank(a, b):
        return ...

    result = check.check("ch04.cosine", blank)
    assert not result.ok and not result.answered and "Not answered yet" in str(result)

