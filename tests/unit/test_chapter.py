"""knobs.chapter: start() seeds and times a chapter; glue() hands a number to the prose, in the book and in JupyterLab."""
import types

import pytest

from knobs import chapter


@pytest.fixture
def kernel(monkeypatch):
    """A stand-in for the IPython shell of a notebook kernel: its user namespace is what {eval} reads."""
    import IPython

    shell = types.SimpleNamespace(user_ns={})
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(chapter, "_BOUND", {})
    return shell


def test_glue_binds_the_name_the_prose_evaluates(kernel):
    assert chapter.glue("tiny_total", "1,733") is None  # a glue call that ends a cell prints nothing
    assert kernel.user_ns["tiny_total"] == "1,733" and chapter._BOUND == {"tiny_total": "1,733"}
    chapter.glue("tiny_total", "1,734")  # a second Run All glues it again
    assert kernel.user_ns["tiny_total"] == "1,734"


def test_glue_refuses_to_replace_a_notebook_variable_or_a_builtin(kernel):
    kernel.user_ns["loss_dense"] = 0.78  # the notebook's own number, which later cells compute with
    with pytest.raises(ValueError, match="loss_dense_text"):
        chapter.glue("loss_dense", "0.78")
    assert kernel.user_ns["loss_dense"] == 0.78
    with pytest.raises(ValueError, match="replace"):
        chapter.glue("max", "3")
    value = "same object"
    kernel.user_ns["shared"] = value
    chapter.glue("shared", value)  # the very same object: nothing is replaced


def test_glue_outside_a_kernel_binds_nothing(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    monkeypatch.setattr(chapter, "_BOUND", {})
    chapter.glue("anything", "1")
    assert chapter._BOUND == {}


def test_start_reports_a_measured_runtime():
    ch = chapter.start(1)
    assert ch.number == 1 and "ran top to bottom in" in ch.runtime()


def test_the_runtime_says_when_a_busy_machine_inflated_the_clock():
    quiet = chapter.runtime_sentence(12.0, 10.5)
    busy = chapter.runtime_sentence(94.6, 10.2)
    assert "ran top to bottom in 12.0 s" in quiet and "10.5 s of it computing" in quiet and "waiting" not in quiet
    assert "94.6 s" in busy and "10.2 s of it computing" in busy and "waiting for a CPU busy with other work" in busy
    assert "noisier than usual" in busy
    slow = chapter.runtime_sentence(30.0, 29.0)  # computing all along: a slower machine, not a busy one
    assert "1.5× the budget" in slow and "waiting" not in slow
