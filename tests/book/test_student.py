"""Run every chapter as a student would (make test-student; part of make test, not of make test-lib).

One kernel per chapter runs its student edition (knobs.teacher.run_as_student): up to the first
exercise, then the rest with the exercises blank, then each exercise with its reference solution
(from the full notebook's solution cell) and an audit of its checker with wrong answers.
"""
import json
from pathlib import Path

import nbformat
import pytest

from bookext import teacher

pytestmark = pytest.mark.student

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = teacher.chapter_paths(ROOT)
_RUNS: dict[Path, dict] = {}


@pytest.fixture(params=CHAPTERS, ids=[p.stem for p in CHAPTERS])
def run(request):
    """The chapter's student run, done once per test session and shared by the tests below."""
    if request.param not in _RUNS:
        _RUNS[request.param] = teacher.run_as_student(request.param)
        summary = ROOT / "_build" / "student-runs.json"  # seconds and peak memory, for the record
        summary.parent.mkdir(exist_ok=True)
        runs = json.loads(summary.read_text()) if summary.exists() else {}
        runs[request.param.stem] = {k: _RUNS[request.param][k] for k in ("seconds", "peak_memory_mb")}
        summary.write_text(json.dumps(runs, indent=1))
    return teacher.chapter_info(request.param), _RUNS[request.param]


def test_student_notebook_runs_up_to_its_first_exercise(run):
    info, report = run
    assert report["prefix_errors"] == [], report["prefix_errors"]
    assert report["first_exercise_cell"] > 0


def test_blank_exercises_get_a_friendly_message_not_a_traceback(run):
    info, report = run
    assert set(report["blank"]) == {e.id for e in info.exercises}
    for exercise_id, blank in report["blank"].items():
        assert blank["error"] is None and "Traceback" not in blank["text"], (exercise_id, blank)
        assert "Not answered yet" in blank["text"], (exercise_id, blank["text"])
    assert report["after_errors"] == [], "the rest of the notebook must run with the exercises left blank"


def test_reference_solutions_pass_every_check(run):
    info, report = run
    assert set(report["filled"]) == {e.id for e in info.exercises}
    for exercise_id, filled in report["filled"].items():
        assert filled["error"] is None, (exercise_id, filled)
        assert "✅ Correct!" in filled["text"], (exercise_id, filled["text"])


def test_a_chapter_fits_in_a_small_hub_allowance(run):
    info, report = run
    assert report["peak_memory_mb"] is not None and report["peak_memory_mb"] < 1500, report["peak_memory_mb"]


def test_checkers_hint_on_wrong_answers_without_printing_the_right_one(run):
    info, report = run
    for exercise_id, audit in report["audit"].items():
        assert "error" not in audit, (exercise_id, audit)
        assert audit["right_ok"], (exercise_id, audit["right_message"])
        in_form = [wrong for wrong in audit["wrong"] if wrong["in_form"]]
        assert in_form, f"{exercise_id}: no wrong answer of this form could be made (teacher.wrong_variants)"
        for wrong in audit["wrong"]:
            assert not wrong["ok"] and wrong["answered"], (exercise_id, wrong)
            assert len(wrong["message"]) >= 15, f"{exercise_id}: no hint for {wrong['answer']}: {wrong['message']!r}"
            revealed = [form for form in audit["revealing"] if form in wrong["shown"]]
            assert not revealed, f"{exercise_id}: the hint for {wrong['answer']} prints the answer {revealed}"


def test_grading_reruns_a_submission_and_rechecks_each_answer(tmp_path):
    count = 29 * 4 + (2 * 4 * 10 + 10) + (10 * 29 + 29)
    cells = ["from knobs.exercises.checker import check",
             'answer_count = ...\ncheck("ch01.count", answer_count)',
             f'answer_count = {count}  # the learner answered\ncheck("ch01.count", answer_count)',
             'answer_untied = 5\ncheck("ch01.untied", answer_untied)',
             'answer_which = {"learning rate": ...}\ncheck("ch01.which", answer_which)',
             "1 / 0  # a cell that fails does not stop the grading"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "submitted.ipynb"))
    grades = teacher.grade_notebook(tmp_path / "submitted.ipynb")
    assert grades == {"ch01.count": "correct", "ch01.untied": "not yet", "ch01.which": "blank"}
