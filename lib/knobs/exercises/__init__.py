"""Exercises: checks that say right or wrong with a hint (never the answer), and quick quizzes.

    from knobs.exercises import check, quiz
    check("ch05.mask", answer)      # a chapter's exercise (checkers in chNN.py, loaded on first use)
    quiz.show("ch05")               # the chapter's quiz (questions in quizzes/chNN.json)

checker.py is the checking machinery; chNN.py registers chapter N's checkers; quiz.py shows a quiz.
"""
from knobs.exercises.checker import check

__all__ = ["check"]
