"""The nbgrader course (make nbgrader), graded by the real nbgrader CLI: offline, in a temporary course folder.

One module fixture writes the course with tools/nbgrader_course.py, then runs, as a teacher would:

1. `nbgrader generate_assignment` for every chapter (the release must hold no solution text);
2. `nbgrader autograde` on submissions made from the releases:
   ch01 and ch08: the reference solutions, the blank release, one wrong answer (whose locked test cell the
   student also edited: autograde must put it back);
   ch05: a student whose function never returns (ch05.mask: stopped by the per-cell timeout) and whose
   next exercise raises (ch05.breakeven), with the exercise after them right;
3. a person's grade for ch08's open exercise (what formgrader writes to the gradebook);
4. `nbgrader export` to CSV, whose totals must match the points file and nbgrader's own SQLite gradebook;
5. with KNOBS_NBGRADER_VALIDATE=1, `nbgrader validate` on the source version of the seven other chapters: every
   reference solution passes its test (two to three more minutes).

Run alone: `make test-nbgrader` (pytest -m nbgrader): about three minutes on the 2-core machine, busy; the seconds
of each step go to _build/nbgrader-test-seconds.json.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.nbgrader

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 15  # seconds per cell in this test (the course's own setting is longer); the slowest chapter cell takes ~5 s
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

# A wrong answer per chapter for the one-wrong submission: a line added after the reference solution.
ONE_WRONG = {"ch01": ("ch01.count", "answer_count = answer_count + 1  # off by one"),
             "ch08": ("ch08.forgetting", 'answer_forgetting = "full fine-tune"')}
# A misbehaving student (ch05): the first exercise's function never returns, the second raises.
HANG = ("ch05.mask", "def my_mask(weight, sparsity):\n    while True:  # never returns\n        pass\n\nanswer_mask = my_mask")
CRASH = ("ch05.breakeven", "answer_breakeven = 1 / (3072 - 3072)  # ZeroDivisionError")
OPEN_ANSWER = "Pretraining helps most when the task has only a handful of sentences."


def _load_generator():
    spec = importlib.util.spec_from_file_location("nbgrader_course", ROOT / "tools" / "nbgrader_course.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nbgrader_course"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


course_gen = _load_generator()


def nbgrader(course: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the nbgrader CLI in the course folder; fail the test with its log if it fails."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
           "JUPYTER_CONFIG_DIR": str(course.parent / "jupyter-config"),  # no teacher's ~/.jupyter settings
           # nbgrader runs the `alembic` command to check its database: the venv's bin must be on PATH
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("KNOBS_STATIC", None)  # students run the live chapters
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result


def solution_region(source: str) -> str:
    """The lines between BEGIN and END SOLUTION."""
    lines = source.splitlines()
    start, stop = lines.index(BEGIN), lines.index(END)
    return "\n".join(lines[start + 1:stop])


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def submission(release, source, chapter, wrong: dict[str, str] | None = None, open_answer: str | None = None,
               replace: dict[str, str] | None = None):
    """A student's notebook made from the release: each answer filled with the reference solution
    (or, for ids in `replace`, with that code); `wrong` adds a line after an exercise's solution."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    reference = {grade_id(c): c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.cell_type == "markdown":
            if open_answer:
                cell.source = open_answer
            continue
        exercise_id = next(e.id for e in chapter.exercises if e.answer_cell == meta["grade_id"])
        answer = (replace or {}).get(exercise_id, solution_region(reference[meta["grade_id"]]))
        if exercise_id in (wrong or {}):
            answer += "\n" + wrong[exercise_id]
        assert course_gen.CODE_STUB in cell.source, cell.source
        cell.source = cell.source.replace(course_gen.CODE_STUB, answer, 1)
    return nb


def write_submission(course: Path, student: str, key: str, nb) -> None:
    folder = course / "submitted" / student / key
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{key}.ipynb"))
    (folder / "timestamp.txt").write_text("2026-01-15 10:00:00.000000 UTC")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The course, every release, the autograded submissions, the CSV export, and how long each step took."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    seconds = {}
    started = time.perf_counter()
    chapters = {ch.key: ch for ch in course_gen.write_course(course)}
    seconds["make nbgrader"] = time.perf_counter() - started

    started = time.perf_counter()
    # one command for every chapter (nbgrader matches the assignment id as a glob): the same conversion
    # as `nbgrader generate_assignment ch03` once per chapter, without the start-ups of ~5 s each
    nbgrader(course, "generate_assignment", "ch[0-9][0-9]")
    assert sorted(p.name for p in (course / "release").iterdir()) == sorted(chapters)
    seconds["generate_assignment (every chapter)"] = time.perf_counter() - started

    read = lambda *parts: nbformat.read(str(course.joinpath(*parts)), as_version=4)  # noqa: E731
    release = {key: read("release", key, f"{key}.ipynb") for key in chapters}
    source = {key: read("source", key, f"{key}.ipynb") for key in chapters}
    for key in ("ch01", "ch08"):
        write_submission(course, "full", key, submission(release[key], source[key], chapters[key], open_answer=OPEN_ANSWER))
        write_submission(course, "blank", key, release[key])
        wrong = submission(release[key], source[key], chapters[key], open_answer=OPEN_ANSWER, wrong=dict([ONE_WRONG[key]]))
        tampered = next(c for c in wrong.cells if grade_id(c) == f"{key}-{ONE_WRONG[key][0].split('.')[1]}-test")
        tampered.source = "pass  # a student who edits the locked test (autograde puts it back)"
        write_submission(course, "one_wrong", key, wrong)
    write_submission(course, "misbehaving", "ch05", submission(release["ch05"], source["ch05"], chapters["ch05"],
                                                               replace=dict([HANG, CRASH])))
    for key in ("ch01", "ch08", "ch05"):
        started = time.perf_counter()
        nbgrader(course, "autograde", key, f"--Execute.timeout={TIMEOUT}")
        seconds[f"autograde {key}"] = time.perf_counter() - started

    # A person grades the open exercise of ch08 in formgrader: it writes the manual score to the gradebook.
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in ("full", "one_wrong"):
            grade = gb.find_grade("ch08-exercise4-answer", "ch08", "ch08", student)
            grade.manual_score = grade.max_score
        gb.db.commit()

    started = time.perf_counter()
    nbgrader(course, "export", "--to", "grades.csv")
    nbgrader(course, "generate_feedback", "ch01", "--student", "one_wrong")
    seconds["export + feedback"] = time.perf_counter() - started
    with open(course / "grades.csv", newline="") as f:
        rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(f)}
    report = {k: round(v, 1) for k, v in seconds.items()}
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "nbgrader-test-seconds.json").write_text(json.dumps(report, indent=1))
    print("nbgrader test seconds:", report)
    return {"course": course, "chapters": chapters, "release": release, "source": source, "csv": rows,
            "seconds": report}


def autograded(graded, student: str, key: str):
    return nbformat.read(str(graded["course"] / "autograded" / student / key / f"{key}.ipynb"), as_version=4)


def cell_scores(graded, student: str, key: str) -> dict[str, float | None]:
    """{grade_id: score} for every graded cell of one submission, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded['course'] / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(key, key, student)
        return {g.name: (None if g.needs_manual_grade and g.manual_score is None else g.score) for g in notebook.grades}


def points(graded, key: str, kind: str | None = None) -> float:
    return sum(e.points for e in graded["chapters"][key].exercises if kind in (None, e.kind))


# --- the generated course, without nbgrader's CLI -------------------------------------------------------------

def test_course_has_every_chapter_and_every_exercise(tmp_path):
    chapters = course_gen.write_course(tmp_path)
    assert [ch.key for ch in chapters] == [f"ch{int(p.name[:2]):02d}" for p in course_gen.chapter_paths()]
    assert len(chapters) == len(course_gen.chapter_paths()) >= 10
    assert (tmp_path / "nbgrader_config.py").exists() and (tmp_path / "points.md").exists()
    from nbgrader.nbgraderformat import MetadataValidator

    for ch in chapters:
        book = nbformat.read(str(ch.source), as_version=4)
        checks = [i for c in book.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])
                  for i, *_ in course_gen.check_statements(c.source)]
        auto = [e for e in ch.exercises if e.kind == "auto"]
        assert sorted(e.id for e in auto) == sorted(checks), ch.key
        prose_numbers = {int(n) for c in book.cells if c.cell_type == "markdown"
                         for n in course_gen.EXERCISE_MARK.findall(c.source)}
        assert {e.number for e in ch.exercises} == prose_numbers, f"{ch.key}: every 'Exercise N' is graded once"
        nb = nbformat.read(str(tmp_path / "source" / ch.key / f"{ch.key}.ipynb"), as_version=4)
        MetadataValidator().validate_nb(nb)  # nbgrader's own schema check (ids, points, markdown grade cells)
        assert all("nbgrader" in c.metadata for c in nb.cells), "every cell is an nbgrader cell"
        graded_cells = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"] for c in nb.cells
                        if c.metadata.nbgrader["grade"]}
        assert graded_cells == {(e.test_cell or e.answer_cell): e.points for e in ch.exercises}
        assert not any("remove-cell" in c.metadata.get("tags", []) for c in nb.cells), "the Colab cell dropped"
        # the glue cells stay, collapsed: the prose's {eval} numbers read the names they bind
        glue = [c for c in nb.cells if "chapter.glue(" in c.source]
        assert len(glue) == sum("chapter.glue(" in c.source for c in book.cells)
        assert all(c.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True} for c in glue)
        evals = [c for c in nb.cells if c.cell_type == "markdown" and "{eval}" in c.source]
        assert all(c.metadata.get("user_expressions") for c in evals), "the stored {eval} values came along"


def test_points_come_from_the_points_file(tmp_path):
    custom = tmp_path / "points.json"
    custom.write_text(json.dumps({"default": {"auto": 3, "manual": 5}, "exercises": {"ch01.count": 7}}))
    chapters = {ch.key: ch for ch in course_gen.write_course(tmp_path / "course", points_file=custom)}
    assert {e.id: e.points for e in chapters["ch01"].exercises} == {"ch01.count": 7, "ch01.untied": 3, "ch01.which": 3}
    assert chapters["ch02"].manual_points == 5
    custom.write_text(json.dumps({"default": {"auto": 1, "manual": 1}, "exercises": {"ch01.cuont": 2}}))
    with pytest.raises(ValueError, match="ch01.cuont"):
        course_gen.write_course(tmp_path / "typo", points_file=custom)


# --- generate_assignment ----------------------------------------------------------------------------------------

def leaked_lines(graded, key: str) -> list[str]:
    """Solution lines (from the book's solution cells and the course's solution regions) found in the release."""
    book = nbformat.read(str(graded["chapters"][key].source), as_version=4)
    source = graded["source"][key]
    elsewhere = {ln.strip() for c in book.cells if "solution" not in c.metadata.get("tags", [])
                 for ln in c.source.splitlines()}
    secret = {ln.strip() for c in book.cells if "solution" in c.metadata.get("tags", [])
              for ln in c.source.splitlines()} - elsewhere
    outside = set()
    for c in source.cells:
        if BEGIN in c.source:
            secret |= {ln.strip() for ln in solution_region(c.source).splitlines()}
            outside |= {ln.strip() for ln in c.source.replace(solution_region(c.source), "").splitlines()}
        else:
            outside |= {ln.strip() for ln in c.source.splitlines()}
    secret = {ln for ln in secret - outside if ln and not ln.startswith(("```", "**Reference"))}
    released = {ln.strip() for c in graded["release"][key].cells for ln in c.source.splitlines()}
    return sorted(secret & released)


@pytest.mark.parametrize("key", [f"ch{n:02d}" for n in range(1, 11)])
def test_release_has_no_solution_text(graded, key):
    release = graded["release"][key]
    text = "\n".join(c.source for c in release.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert leaked_lines(graded, key) == []
    assert "Solutions are folded" not in text and ":::{admonition} Solution" not in text
    answers = [c for c in release.cells if c.metadata.nbgrader.get("solution")]
    assert all(course_gen.CODE_STUB in c.source or c.source == "YOUR ANSWER HERE" for c in answers)
    locked = [c for c in release.cells if not c.metadata.nbgrader.get("solution")]
    assert all(c.metadata.get("editable") is False and c.metadata.get("deletable") is False for c in locked)


def test_gradebook_knows_every_chapters_points(graded):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded['course'] / 'gradebook.db'}") as gb:
        for key, ch in graded["chapters"].items():
            assignment = gb.find_assignment(key)
            assert assignment.max_score == ch.total_points, key
            assert assignment.max_code_score == ch.auto_points, key


# --- autograde and export ---------------------------------------------------------------------------------------

def expected_totals(graded) -> dict[tuple[str, str], float]:
    wrong = {key: next(e.points for e in graded["chapters"][key].exercises if e.id == ONE_WRONG[key][0])
             for key in ONE_WRONG}
    expected = {}
    for key in ("ch01", "ch08"):
        expected[key, "full"] = points(graded, key)  # ch08's open exercise was graded in full by a person
        expected[key, "blank"] = 0
        expected[key, "one_wrong"] = points(graded, key) - wrong[key]
    expected["ch05", "misbehaving"] = next(e.points for e in graded["chapters"]["ch05"].exercises
                                           if e.id == "ch05.claims")
    return expected


def test_autograde_gives_full_zero_and_partial_marks(graded):
    for (key, student), total in expected_totals(graded).items():
        scores = cell_scores(graded, student, key)
        assert sum(s or 0 for s in scores.values()) == total, (key, student, scores)
    assert cell_scores(graded, "blank", "ch08")["ch08-exercise4-answer"] == 0, "an unchanged open answer gets 0"
    scores = cell_scores(graded, "one_wrong", "ch01")
    assert scores == {"ch01-count-test": 0, "ch01-untied-test": 1, "ch01-which-test": 1}


def test_export_csv_totals_match(graded):
    expected = expected_totals(graded)
    rows = graded["csv"]
    for (key, student), total in expected.items():
        row = rows[key, student]
        assert float(row["score"]) == total, row
        assert float(row["max_score"]) == points(graded, key), row
    # the CSV lists every assignment for every student; a chapter a student did not submit scores 0
    assert {k for k, row in rows.items() if float(row["score"]) > 0} == {k for k, v in expected.items() if v > 0}


def test_a_wrong_answer_gets_the_checkers_hint_not_the_answer(graded):
    nb = autograded(graded, "one_wrong", "ch01")
    test = next(c for c in nb.cells if grade_id(c) == "ch01-count-test")
    errors = [o for o in test.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError"
    hint = errors[0].evalue
    assert hint and "could not be checked" not in hint and "Replace the ..." not in hint
    answer = next(c for c in graded["source"]["ch01"].cells if grade_id(c) == "ch01-count-answer")
    right = eval(solution_region(answer.source).splitlines()[-1].split("=", 1)[1])  # noqa: S307 (our own source)
    assert str(right) not in hint and f"{right:,}" not in hint
    feedback = graded["course"] / "feedback" / "one_wrong" / "ch01" / "ch01.html"
    assert hint.split(".")[0] in feedback.read_text(), "the student's feedback page shows the hint"


def test_blank_exercises_are_told_to_answer(graded):
    nb = autograded(graded, "blank", "ch01")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert errors and "Replace the ..." in errors[0].evalue, cell.source


def test_a_crash_and_a_hang_cost_only_their_exercises(graded):
    scores = cell_scores(graded, "misbehaving", "ch05")
    assert scores["ch05-mask-test"] == 0 and scores["ch05-breakeven-test"] == 0
    assert scores["ch05-claims-test"] == 1, "the exercise after the crash and the hang was still graded"
    nb = autograded(graded, "misbehaving", "ch05")
    errors = {grade_id(c): [o.ename for o in c.get("outputs", []) if o.output_type == "error"] for c in nb.cells}
    assert "CellTimeoutError" in errors["ch05-mask-answer"], "the answer cell's own check was stopped"
    assert "CellTimeoutError" in errors["ch05-mask-test"], "the locked test cell was stopped too"
    assert errors["ch05-breakeven-answer"] == ["ZeroDivisionError"]
    later = [c for c in nb.cells[nb.cells.index(next(c for c in nb.cells if grade_id(c) == "ch05-claims-test")):]
             if c.cell_type == "code"]
    assert all(c.execution_count for c in later), "every cell after the crash and the hang ran"
    assert not any(o.output_type == "error" for c in later for o in c.outputs)


@pytest.mark.skipif(not os.environ.get("KNOBS_NBGRADER_VALIDATE"),
                    reason="runs 7 more chapters (~2 min): KNOBS_NBGRADER_VALIDATE=1 make test-nbgrader")
def test_every_chapters_reference_solutions_pass_nbgrader_validate(graded):
    """nbgrader's own "does it pass its tests?" on the source version of each chapter not autograded in full above."""
    keys = [k for k in graded["chapters"] if k not in ONE_WRONG]
    started = time.perf_counter()
    result = nbgrader(graded["course"], "validate", *[f"source/{k}/{k}.ipynb" for k in keys])
    graded["seconds"][f"validate ({len(keys)} chapters)"] = round(time.perf_counter() - started, 1)
    (ROOT / "_build" / "nbgrader-test-seconds.json").write_text(json.dumps(graded["seconds"], indent=1))
    output = result.stdout + result.stderr
    assert output.count("Success! Your notebook passes all the tests.") == len(keys), output[-5000:]
