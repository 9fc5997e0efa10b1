"""The teacher kit, fast part: student edition, exercise audit (static), quizzes, the guide's readers.

The slow part (running each student notebook in a kernel) is tests/test_student.py (`make test-student`).
"""
import copy
import importlib
import json
import re
import runpy
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from bookext import teacher
from knobs import models
from knobs.exercises import checker as check, quiz

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = teacher.chapter_paths(ROOT)
IDS = [p.stem for p in CHAPTERS]


def test_chapters_are_found_by_glob():
    assert CHAPTERS and all(re.fullmatch(r"\d\d_[a-z0-9_]+", p.stem) for p in CHAPTERS)
    assert CHAPTERS[0].name == "01_parameters.ipynb"


# --- the student edition -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_edition_drops_every_solution_line_and_keeps_the_rest(path):
    full = teacher.read_notebook(path)
    student = teacher.student_notebook(full)
    solutions = [c for c in full.cells if teacher.is_solution(c)]
    assert solutions, "a chapter has solution cells tagged 'solution'"
    for cell in solutions:  # each solution has its own text (else there is nothing to hide)
        assert any(line.strip() in teacher.solution_only_lines(full) for line in cell.source.splitlines())
    assert teacher.leaked_solution_lines(full, student) == []
    text = "\n".join(c.source for c in student.cells)
    assert all(cell.source.strip() not in text for cell in solutions)
    assert not any(teacher.is_solution(c) for c in student.cells)
    # the folded answers of open exercises go too, and the words "Solution" box with them
    boxes = [m.group(0) for c in full.cells if c.cell_type == "markdown" for m in teacher.SOLUTION_BOX.finditer(c.source)]
    assert all(box not in text for box in boxes) and ":::{admonition} Solution" not in text
    # everything else stays, in order: exercises with their checks, labs, quizzes, prose
    kept = [teacher.SOLUTION_BOX.sub("", c.source) for c in full.cells if not teacher.is_solution(c)]
    assert [c.source for c in student.cells if "student-edition" not in c.metadata.get("tags", [])] == kept
    assert any(teacher.check_calls(c.source) for c in student.cells)
    assert all(c.outputs == [] for c in student.cells if c.cell_type == "code")
    nbformat.validate(student)


def test_leak_detection_can_fail():
    full = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('answer = ...\ncheck("ch99.x", answer)'),
        nbformat.v4.new_code_cell('answer = 6 * 7\ncheck("ch99.x", answer)', metadata={"tags": ["hide-input", "solution"]})])
    assert teacher.leaked_solution_lines(full, teacher.student_notebook(full)) == []
    untagged = copy.deepcopy(full)
    untagged.cells[1].metadata["tags"] = ["hide-input"]  # a solution someone forgot to tag
    assert teacher.leaked_solution_lines(full, teacher.student_notebook(untagged)) == ["answer = 6 * 7"]


def test_open_exercise_answers_in_solution_boxes_are_dropped_and_the_rest_of_the_cell_kept():
    prose = ("**Exercise 9.** Why?\n\n:::{admonition} Solution\n:class: dropdown\nBecause.\n:::\n\n## Quick quiz")
    student = teacher.student_notebook(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(prose)]))
    text = next(c.source for c in student.cells if "student-edition" not in c.metadata.get("tags", []))
    assert "Because" not in text and "Solution" not in text and "**Exercise 9.** Why?" in text and "## Quick quiz" in text


def test_make_student_writes_every_chapter_and_a_zip(tmp_path, monkeypatch, capsys):
    out = tmp_path / "student"
    monkeypatch.setattr(sys, "argv", ["student.py", "--out", str(out)])
    runpy.run_path(str(ROOT / "tools" / "student.py"), run_name="__main__")  # what `make student` runs
    assert f"{len(CHAPTERS)} student notebooks" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in CHAPTERS]
    with zipfile.ZipFile(tmp_path / "student.zip") as zf:
        names = zf.namelist()
        assert sorted(names) == sorted([f"turning-the-knobs-student/{p.name}" for p in CHAPTERS]
                                       + ["turning-the-knobs-student/README.md"])
        for path in CHAPTERS:
            nb = nbformat.reads(zf.read(f"turning-the-knobs-student/{path.name}").decode(), as_version=4)
            assert teacher.leaked_solution_lines(teacher.read_notebook(path), nb) == []
            assert nb.metadata["knobs"]["edition"] == "student"


# --- exercise audit, static part ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_has_three_exercises_two_auto_checked_each_with_a_solution(path):
    info = teacher.chapter_info(path)
    assert len(info.exercise_numbers) >= 3, f"{path.name}: {info.exercise_numbers} ('**Exercise N.**' in the prose)"
    assert len(info.exercises) >= 2, f"{path.name}: auto-checked exercises {[e.id for e in info.exercises]}"
    for exercise in info.exercises:
        assert exercise.id.startswith(info.key + "."), exercise.id
        assert exercise.solution is not None, f"{exercise.id} has no solution cell tagged 'solution'"
        assert "..." in exercise.source, f"{exercise.id}: the learner's cell must start blank (`answer = ...`)"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_check_is_registered_and_every_checker_is_used(path):
    info = teacher.chapter_info(path)
    importlib.import_module(f"knobs.exercises.{info.key}")
    registered = {k for k in check.REGISTRY if k.startswith(info.key + ".")}
    assert {e.id for e in info.exercises} == registered


def test_wrong_variants_are_wrong_and_of_the_same_form():
    assert teacher.wrong_variants(437) == [438, 436, 874, 0]
    assert teacher.wrong_variants(True) == [False]
    assert all(abs(v - 0.25) > 0.1 for v in teacher.wrong_variants(0.25))
    mixed = teacher.wrong_variants({"a": "parameter", "b": "hyperparameter"})
    assert mixed == [{"a": "hyperparameter", "b": "hyperparameter"}]  # one item put in the other class
    assert torch.equal(teacher.wrong_variants(torch.ones(2))[0], torch.full((2,), 3.0))
    assert teacher.wrong_variants(object()) == []
    assert teacher.wrong_variants("LoRA", ("LoRA", "full fine-tune")) == ["full fine-tune"]  # the other choices


def test_audit_meets_wrong_answers_inside_a_checkers_allowed_range():
    @check.exercise("ch99.fraction")
    def fraction(answer):
        if not 0 < answer <= 1:
            raise ValueError("give a number in (0, 1]")
        return answer == 0.6, "Too high." if answer > 0.6 else "Too low."

    check.multiple_choice("ch99.pick", "Which colour?", right="green",
                          feedback={"red": "Red is the other one.", "green": "Yes, green."})

    try:
        for exercise_id, right in (("ch99.fraction", 0.6), ("ch99.pick", "green")):
            report = teacher.audit_exercise(exercise_id, right)
            in_form = [w for w in report["wrong"] if w["in_form"]]
            assert in_form and not any(w["ok"] for w in report["wrong"]), report
        assert "answer with one of ('red', 'green')" in check.check("ch99.pick", "blue").message
    finally:
        for exercise_id in ("ch99.fraction", "ch99.pick"):
            check.REGISTRY.pop(exercise_id)
            check.CHOICES.pop(exercise_id, None)


def test_revealing_forms_cover_the_ways_a_number_is_printed():
    forms = teacher._revealing_forms(124439808)
    assert {"124439808", "124,439,808"} <= set(forms)
    assert "0.123" in teacher._revealing_forms(0.12345)
    assert teacher._revealing_forms(3) == []  # too short to tell from any other digit in a hint


def test_audit_flags_a_checker_that_prints_the_answer():
    right = 29 * 4 + (2 * 4 * 10 + 10) + (10 * 29 + 29)
    report = teacher.audit_exercise("ch01.count", right)
    assert report["right_ok"] and report["wrong"] and not any(w["ok"] for w in report["wrong"])
    assert not any(f in w["message"] for w in report["wrong"] for f in report["revealing"])

    @check.exercise("ch99.leaky")
    def leaky(answer):
        return answer == 1234, "The answer is 1,234."

    try:
        leaky_report = teacher.audit_exercise("ch99.leaky", 1234)
        assert any(f in w["message"] for w in leaky_report["wrong"] for f in leaky_report["revealing"])
    finally:
        del check.REGISTRY["ch99.leaky"]


# --- quizzes -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_chapter_shows_its_quiz(path):
    info = teacher.chapter_info(path)
    assert info.quiz_ids == [info.key], f"{path.name}: add a 'Quick quiz' section with quiz.show({info.key!r})"
    assert info.key in quiz.available()


@pytest.mark.parametrize("key", quiz.available())
def test_quiz_questions_are_well_formed(key):
    questions = quiz.load_questions(key)
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert q["type"] in quiz.QUESTION_TYPES and q["question"].strip()
        answers = q["answers"]
        if q["type"] == "numeric":
            assert any(a.get("correct") for a in answers if a["type"] in ("value", "range"))
            assert any(a["type"] == "default" and a.get("feedback") for a in answers)
            # JupyterQuiz calls value.toPrecision(precision): 0 throws in the browser, and no answer is ever right
            assert "precision" not in q or (isinstance(q["precision"], int) and 1 <= q["precision"] <= 21), q
        else:
            assert len(answers) >= 2 and any(a["correct"] for a in answers)
            assert len({a["answer"] for a in answers}) == len(answers)
            if q["type"] == "multiple_choice":
                assert sum(a["correct"] for a in answers) == 1
        assert all(a.get("feedback") for a in answers), "feedback on every answer, right or wrong"


def test_ch01_quiz_numbers_are_computed_not_guessed():
    numeric = next(q for q in quiz.load_questions("ch01") if q["type"] == "numeric")
    wider = eval(numeric["code"], {"make_tiny_lm": models.make_tiny_lm})  # noqa: S307 - our own JSON: 3 words
    gain = models.count_parameters(wider).total - models.count_parameters(
        models.make_tiny_lm(29, embed_dim=8, hidden=32, context=2)).total
    values = {a["value"]: a["correct"] for a in numeric["answers"] if a["type"] == "value"}
    assert values[gain] is True
    assert values[wider.embed.weight.numel()] is False  # the "a second embedding table" answer


def test_quiz_script_is_self_contained_and_cannot_fetch_mathjax():
    markup, script = quiz.quiz_html_and_script("ch01")
    assert 'id="knobsquizch01"' in markup and "<script" not in markup and "http" not in markup
    opener = "if (typeof Question === 'undefined') {\n"
    assert opener + quiz.MATHJAX_SHIM in script  # the shim shadows window.MathJax inside JupyterQuiz's block
    assert json.dumps(quiz.load_questions("ch01")[1]["question"]) in script
    assert quiz.quiz_html_and_script("ch01") == (markup, script)  # reproducible page


def test_quiz_show_displays_html_then_javascript(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    quiz.show("ch01")
    assert [type(o).__name__ for o in shown] == ["HTML", "Javascript"]
    with pytest.raises(ValueError, match="ch01"):
        quiz.load_questions("ch00")


# --- what the guide reads ------------------------------------------------------------------------------

def test_chapter_info_reads_the_in_this_chapter_box():
    info = teacher.chapter_info(ROOT / "notebooks" / "01_parameters.ipynb")
    assert info.title == "What is a parameter?" and len(info.objectives) >= 3
    assert all(o and not o.startswith(("-", "*")) for o in info.objectives)
    assert info.prerequisites == []  # "No calculus yet: that is chapter 2" is a preview, not a need
    assert [e.id for e in info.exercises] == ["ch01.count", "ch01.untied", "ch01.which"]


@pytest.mark.parametrize("needs, number, expected", [
    ("chapter 1 and the chain rule", 2, [1]),
    ("chapters 1–3, and chapter 5", 6, [1, 2, 3, 5]),
    ("chapters 1, 2 and 4", 7, [1, 2, 4]),
    ("chapter 1; we come back to this in chapter 7", 4, [1]),
    ("{doc}`the first chapter <01_parameters>` and 04_embeddings", 9, [1, 4]),
    ("a little Python", 3, []),
    ("chapters 1 (the tiny model) and 4 (embeddings, cosine similarity) and the idea of a gradient (chapter 2).", 9,
     [1, 2, 4]),
])
def test_prerequisites_are_earlier_chapters_named_in_you_need(needs, number, expected):
    assert teacher.parse_prerequisites(needs, number) == expected


@pytest.mark.parametrize("needs, number, required, helpful", [
    ("chapter 1 (the tiny model). Chapter 2's gradients help in one section, but you can read it without them.", 4,
     [1], [2]),
    ("chapter 1 (training). Chapter 3's L1 penalty is a useful companion but not required.", 5, [1], [3]),
    ("chapter 1 (bytes per parameter) and, for the last section, the idea of a gradient from chapter 2.", 6, [1], [2]),
    ("chapter 1 (parameters) and chapter 2 (training by gradient descent).", 8, [1, 2], []),
])
def test_needs_tell_required_from_helpful_chapters(needs, number, required, helpful):
    assert teacher.parse_needs(needs, number) == (required, helpful)


def test_strip_roles_keeps_glossary_terms_and_drops_citations():
    text = "count {term}`parameters <parameter>` of GPT-2 {cite:p}`radford2019language` via {doc}`ch 1 <../x>`"
    assert teacher.strip_roles(text) == "count {term}`parameters <parameter>` of GPT-2 via ch 1"
    # the chapters' own forms (CONTRIBUTING.md): citation links and {eval} numbers
    text = "GPT-2 [(Radford et al., 2019)](#cite:p:ch01-radford2019language) has {eval}`gpt2_total` parameters"
    assert teacher.strip_roles(text) == "GPT-2 has … parameters"
    assert teacher.strip_roles("tying ([Press and Wolf, 2017](#cite:alp:ch01-press2017using))") == "tying"
    text = "the laws of [Kaplan et al. (2020)](#cite:t:ch07-kaplan2020scaling) and [Hoffmann et al. (2022)](#cite:t:x)"
    assert teacher.strip_roles(text) == "the laws of Kaplan et al. (2020) and Hoffmann et al. (2022)"


def _info(number, needs=(), helps=()):
    return teacher.ChapterInfo(number=number, stem=f"{number:02d}_x", path=Path("x"), title=f"Topic {number}",
                               prerequisites=list(needs), helpful=list(helps))


def test_sequences_are_checked_against_prerequisites():
    infos = [_info(1), _info(2, [1]), _info(3, [1, 2])]
    good = teacher.parse_sequence("Day 1: 1, 2\nDay 2: 3")
    assert good == [("Day 1", [1, 2]), ("Day 2", [3])] and teacher.sequence_problems(good, infos) == []
    bad = teacher.parse_sequence("Day 1: 1, 3\nDay 2: 2")
    assert teacher.sequence_problems(bad, infos) == ["chapter 3 comes before chapter 2, which it needs"]
    assert "leaves out" in teacher.sequence_problems(teacher.parse_sequence("Day 1: 2"), infos)[0]


def test_the_guides_sequences_follow_the_dependency_map():
    guide = (ROOT / "book" / "teachers-guide.md").read_text()
    blocks = re.findall(r"```\{knobs-sequence\}[^\n]*\n(.*?)```", guide, re.S)
    assert len(blocks) >= 2
    infos = teacher.chapters(ROOT)
    for block in blocks:
        sessions = teacher.parse_sequence(block)
        assert sorted(n for _, ns in sessions for n in ns) == [i.number for i in infos]
        assert teacher.sequence_problems(sessions, infos) == []


def test_dependency_map_draws_every_chapter_and_edge():
    from bookext.teacher_page import draw_dependency_map

    infos = [_info(1), _info(2, [1]), _info(3, [1, 2]), _info(4, [1], [2])]
    png, alt = draw_dependency_map(infos)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "chapter 3 (Topic 3) needs chapters 1 and 2" in alt and "chapter 1 (Topic 1) needs no other chapter" in alt
    assert "chapter 4 (Topic 4) needs chapter 1 and is helped by chapter 2" in alt
    png_real, alt_real = draw_dependency_map(teacher.chapters(ROOT))
    assert all(f"chapter {i.number} ({i.title})" in alt_real for i in teacher.chapters(ROOT))


def test_runtime_rows_read_the_benchmark():
    from bookext.teacher_page import bench_rows

    bench = {"notebooks": {"01_x": {"seconds": 12.345}, "02_x": {"seconds": 25.0}},
             "labs": {"ch01-a": {"frame_ms_median": 9.87}, "ch01-b": {"frame_ms_median": 4.0},
                      "ch010-z": {"frame_ms_median": 1.0}},
             "pages": {"notebooks/01_x.html": {"bytes": 1024 ** 2}}}
    assert bench_rows([_info(1), _info(2), _info(3)], bench) == [
        ["12.3 s", "9.9 ms, 4.0 ms", "1.00 MB"], ["25.0 s (over budget)", "—", "—"], ["not measured yet", "—", "—"]]
