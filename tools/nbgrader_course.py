"""make nbgrader: an nbgrader course generated from the chapter notebooks, graded by the book's own checkers.

    python tools/nbgrader_course.py [--out _build/nbgrader] [--points tools/nbgrader_points.json]

writes, into the course folder:

    nbgrader_config.py        the course's nbgrader settings (per-cell timeout, the stub a student sees)
    source/chNN/chNN.ipynb    one assignment per chapter: nbgrader's "source" version, with the solutions
    points.md, points.json    the points per exercise and per chapter (the teacher's guide shows the table)
    README.md                 what to run next

How a chapter's cells become nbgrader cells (nbgrader's cell metadata, schema version 3):

- An auto-checked exercise (a code cell calling `check("chNN.name", answer)`, followed by its solution
  cell tagged "solution", CONTRIBUTING.md) becomes two cells:
  1. an *autograded answer* cell: the exercise cell as the book has it, with the reference solution
     between `### BEGIN SOLUTION` and `### END SOLUTION` just before its `check(...)` line; the release
     keeps the `...` template and the check, so a student still gets the book's hint while working;
  2. a locked *autograder test* cell with the exercise's points: it calls the same checker on the same
     answer expression and asserts that it accepted the answer, with the checker's hint as the message.
- An exercise the prose announces ("**Exercise N.**") with no check cell becomes a *manually graded
  answer* cell (Markdown, "YOUR ANSWER HERE" in the release) right after its text. The book's own answer
  (a `Solution` dropdown in the prose, or a solution cell without a check) moves into that cell's solution
  region: the teacher sees it in the source version, the student does not.
- Every other cell (prose, code, live labs, quizzes) becomes a locked *read-only* cell.
- `remove-cell` cells (the Colab install cell) are dropped, unless a later cell uses a name one of them
  defines: the chapter still runs top to bottom. The glue cells (`chapter.glue(...)`) stay, collapsed and
  read-only: the prose's {eval} numbers read the names they bind (JupyterLab, with jupyterlab-myst), and
  each markdown cell keeps the values `make record` stored for it (shown before anything runs).

Points come from one file, tools/nbgrader_points.json: a default per kind of exercise and per-exercise
overrides. Nothing here imports the knobs library: the notebooks are read with nbformat, following the
conventions that knobs.teacher (the student edition) also reads.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
POINTS_FILE = ROOT / "tools" / "nbgrader_points.json"
COURSE_ID = "turning-the-knobs"
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"     # notebooks/NN_topic.ipynb, as knobs.teacher.chapter_paths
SOLUTION_TAG = "solution"               # the book's solution cells (CONTRIBUTING.md)
REMOVE_TAG = "remove-cell"              # cells the book hides entirely (Colab install, glue)
GLUE_CALL = "chapter.glue("             # a glue cell: binds the names of the prose's {eval} numbers
DEFAULT_CHECKER_MODULE = "knobs.check"  # where `check` lives if a chapter's own import can't be found
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SCHEMA_VERSION = 3                      # nbgrader's cell metadata schema (nbgrader/nbgraderformat/v3.json)
CELL_TIMEOUT = 60                       # seconds per cell when autograding; a chapter's slowest cell takes ~5 s
CODE_STUB = "# YOUR CODE HERE"          # replaces a solution region in the release (nbgrader's default raises)

EXERCISE_MARK = re.compile(r"(?:\*\*|^#+\s*)Exercise\s+(\d+)", re.M)
# where the text of an exercise without a check ends: a heading, the next exercise, or its Solution dropdown
EXERCISE_END = re.compile(r"^(?:#{1,6}\s|\*\*Exercise\s+\d|(?P<fence>:::+|```+)\{admonition\}\s*Solution\b)", re.M)
# the book's prose speaks of folded solutions; the graded edition has none to show
PROSE_EDITS = [(re.compile(r"\s*Solutions are folded below each check\."), ""),
               (re.compile(r"compare with the solution"), "your teacher grades it")]

GRADED_BANNER = (
    "> **Graded edition.** This notebook is an nbgrader assignment. For each auto-checked exercise, replace "
    "each `...` with your answer (or write your code under `# YOUR CODE HERE`) and run the cell: `check(...)` "
    "says whether you are right and gives a hint when you are not. The locked cell below it runs the same "
    "check when your work is graded, and shows its points. A *YOUR ANSWER HERE* cell is read and graded by "
    "your teacher. The other cells are read-only: to try something of your own, add a new cell.")


@dataclass
class GradedExercise:
    """One exercise of the course: what it is worth and which nbgrader cells grade it."""
    id: str                   # "ch01.count" (its check id) or "ch02.exercise4" (an exercise without a check)
    chapter: str              # "ch01"
    number: int | None        # N of "Exercise N" in the prose (None if the prose does not number it)
    kind: str                 # "auto" (autograder test) or "manual" (graded by a person)
    points: float
    answer_cell: str          # grade_id of the answer cell
    test_cell: str | None = None  # grade_id of the autograder test cell (auto only)
    expression: str = ""      # the answer expression the check is given (auto only)


@dataclass
class ChapterAssignment:
    key: str                  # "ch01": the assignment and notebook name
    number: int
    title: str
    source: Path              # notebooks/NN_topic.ipynb
    exercises: list[GradedExercise] = field(default_factory=list)

    @property
    def auto_points(self) -> float:
        return sum(e.points for e in self.exercises if e.kind == "auto")

    @property
    def manual_points(self) -> float:
        return sum(e.points for e in self.exercises if e.kind == "manual")

    @property
    def total_points(self) -> float:
        return self.auto_points + self.manual_points


# --- reading the book's notebooks --------------------------------------------------------------------

def chapter_paths(root: Path | str = ROOT) -> list[Path]:
    return sorted((Path(root) / "notebooks").glob(CHAPTER_GLOB))


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def check_statements(source: str) -> list[tuple[str, str, int, int]]:
    """(exercise id, answer expression, first line, last line) of each top-level `check("chNN.x", expr)` statement."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for stmt in tree.body:
        for node in ast.walk(stmt):
            if (isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and (getattr(node.func, "id", None) == "check" or getattr(node.func, "attr", None) == "check")):
                found.append((node.args[0].value, ast.get_source_segment(source, node.args[1]),
                              stmt.lineno, stmt.end_lineno))
                break
    return found


def without_lines(source: str, first: int, last: int) -> str:
    """`source` without lines first..last (1-based, inclusive)."""
    lines = source.splitlines()
    return "\n".join(lines[:first - 1] + lines[last:]).strip("\n")


def checker_module(nb) -> str:
    """The module a chapter imports `check` from (`from knobs.check import check` today): the tests use the same."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("knobs")
                    and any(alias.name == "check" and alias.asname in (None, "check") for alias in node.names)):
                return node.module
    return DEFAULT_CHECKER_MODULE


def defined_names(source: str) -> set[str]:
    """Names a code cell binds (assignments, defs, imports); every identifier if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(re.findall(r"[A-Za-z_]\w*", source))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def used_names(source: str) -> set[str]:
    """Every identifier in a code cell (an over-estimate of what it reads: when in doubt, keep a cell)."""
    return set(re.findall(r"[A-Za-z_]\w*", source))


# --- nbgrader cells ------------------------------------------------------------------------------------

def nbgrader_meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _cell(kind: str, source: str, grade_id: str, tags=(), **meta):
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}.get(kind, nbformat.v4.new_raw_cell)
    cell = make(source, id=grade_id)  # the grade id doubles as the cell id: the course is the same on every run
    cell.metadata["nbgrader"] = nbgrader_meta(grade_id, **meta)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def test_source(exercise: GradedExercise, module: str) -> str:
    """The autograder test: the book's check on the student's answer; its hint is the failure message."""
    label = f"exercise {exercise.number} ({exercise.id})" if exercise.number else exercise.id
    points = f"{exercise.points:g} point{'s' if exercise.points != 1 else ''}"
    return (f"# Autograder test for {label}: {points}. It runs the same check as the cell above.\n"
            f"import contextlib as _contextlib, io as _io\n"
            f"from {module} import check as _knobs_check\n"
            f"try:\n"
            f"    _knobs_answer = {exercise.expression}\n"
            f"except NameError as _missing:\n"
            f"    raise AssertionError(f\"{exercise.id} has no answer ({{_missing}}): run the answer cell above\") from None\n"
            f"with _contextlib.redirect_stderr(_io.StringIO()):  # a library warning must not cost points\n"
            f"    _knobs_result = _knobs_check({exercise.id!r}, _knobs_answer)\n"
            f"assert _knobs_result.ok, _knobs_result.message")


def answer_source(exercise_cell: str, solution_cell: str | None, exercise_id: str) -> str:
    """The exercise cell with the reference solution (without its own check line) before the check line."""
    first, last = next((a, b) for i, _, a, b in check_statements(exercise_cell) if i == exercise_id)
    lines = exercise_cell.splitlines()
    template, check_line = "\n".join(lines[:first - 1]).rstrip(), "\n".join(lines[first - 1:last])
    if solution_cell is None:
        raise ValueError(f"{exercise_id}: no solution cell (a code cell tagged {SOLUTION_TAG!r} with the same check)")
    solution = solution_cell
    for i, _, a, b in reversed(check_statements(solution_cell)):
        if i == exercise_id:
            solution = without_lines(solution, a, b)
    after = "\n".join(lines[last:]).strip()
    parts = [template, BEGIN, solution.strip(), END, check_line] + ([after] if after else [])
    return "\n".join(p for p in parts if p)


def manual_answer_source(references: list[str]) -> str:
    """A manually graded answer cell: the book's own answer, if it has one, for the grader (source version only)."""
    if not references:
        return f"{BEGIN}\n*No reference answer in the book: read the student's reasoning and numbers.*\n{END}"
    body = "\n\n".join(references)
    return f"{BEGIN}\n**Reference (from the book, for the grader):**\n\n{body}\n{END}"


def split_exercise_text(text: str, number: int) -> tuple[str, str | None, str] | None:
    """Split Markdown at the end of "Exercise `number`": (text up to it, its Solution dropdown's body, the rest)."""
    mark = next((m for m in EXERCISE_MARK.finditer(text) if int(m.group(1)) == number), None)
    if mark is None:
        return None
    end = EXERCISE_END.search(text, mark.end())
    if end is None:
        return text.rstrip(), None, ""
    head, tail = text[:end.start()].rstrip(), text[end.start():]
    if not end.group("fence"):
        return head, None, tail.strip()
    fence = end.group("fence")
    lines = tail.splitlines()
    close = next((k for k in range(1, len(lines)) if lines[k].strip() == fence), len(lines))
    body = [ln for ln in lines[1:close] if not re.match(r"^:\w+:", ln)]  # drop the admonition's :class: options
    return head, "\n".join(body).strip(), "\n".join(lines[close + 1:]).strip()


def edit_prose(text: str) -> str:
    for pattern, replacement in PROSE_EDITS:
        text = pattern.sub(replacement, text)
    return text


def chapter_assignment(path: Path, points: dict) -> tuple[ChapterAssignment, nbformat.NotebookNode]:
    """One chapter notebook -> its nbgrader source notebook and the exercises it grades."""
    nb = nbformat.read(str(path), as_version=4)
    number = int(path.name[:2])
    key = f"ch{number:02d}"
    title = next((m.group(1).strip() for c in nb.cells if c.cell_type == "markdown"
                  for m in [re.search(r"^#\s+(?:\d+\.\s*)?(.+)$", c.source, re.M)] if m), path.stem)
    chapter = ChapterAssignment(key, number, title, path)
    module = checker_module(nb)

    # First pass: which "Exercise N" each check cell answers, each exercise's solution, what needs a person.
    current = None
    checked_numbers, solutions, references = {}, {}, {}
    answer_prose = {}  # cell index -> the exercise whose solution cell it comments on (its text up to a heading)
    for i, cell in enumerate(nb.cells):
        if i in answer_prose and cell.cell_type == "markdown":
            heading = re.search(r"^#{1,6}\s", cell.source, re.M)
            prose = cell.source[:heading.start() if heading else len(cell.source)].strip()
            if prose:
                references.setdefault(answer_prose[i], []).append(prose)
        if cell.cell_type == "markdown":
            marks = [int(n) for n in EXERCISE_MARK.findall(cell.source)]
            current = marks[-1] if marks else current
        elif SOLUTION_TAG in _tags(cell):
            ids = [i for i, *_ in check_statements(cell.source)]
            for exercise_id in ids:
                solutions.setdefault(exercise_id, cell.source)
            if not ids and current is not None:  # the book's answer to an exercise without a check
                references.setdefault(current, []).append(f"```python\n{cell.source.strip()}\n```")
                answer_prose[i + 1] = current
        else:
            for exercise_id, *_ in check_statements(cell.source):
                checked_numbers.setdefault(exercise_id, current)
    numbers = sorted({int(n) for c in nb.cells if c.cell_type == "markdown" for n in EXERCISE_MARK.findall(c.source)})
    manual = [n for n in numbers if n not in checked_numbers.values()]

    # The remove-cell cells a later kept cell still needs (by the names they define).
    keep_removed = set()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and REMOVE_TAG in _tags(cell) and GLUE_CALL not in cell.source:
            later = set().union(*[used_names(c.source) for c in nb.cells[i + 1:] if c.cell_type == "code"
                                  and REMOVE_TAG not in _tags(c) and SOLUTION_TAG not in _tags(c)])
            if defined_names(cell.source) & later:
                keep_removed.add(i)

    cells, counter, banner_done = [], iter(range(1, 10_000)), False

    def read_only(kind, source, tags=(), metadata=None):
        cells.append(_cell(kind, source, f"{key}-cell-{next(counter):03d}", tags, locked=True))
        cells[-1].metadata.update(metadata or {})

    def add_exercise(exercise):
        chapter.exercises.append(exercise)

    for i, cell in enumerate(nb.cells):
        tags = [t for t in _tags(cell) if t not in ("hide-input", SOLUTION_TAG)]
        if cell.cell_type == "code" and SOLUTION_TAG in _tags(cell):
            continue  # inside an answer cell's solution region, or a manual exercise's reference
        if cell.cell_type == "code" and GLUE_CALL in cell.source:  # the prose's numbers: kept, collapsed
            read_only("code", cell.source, [t for t in tags if t != REMOVE_TAG],
                      {"jupyter": {"source_hidden": True, "outputs_hidden": True}})
            continue
        if REMOVE_TAG in _tags(cell) and i not in keep_removed:
            continue
        # the {eval} values stored for JupyterLab to show before anything runs (tools/nb.py record)
        prose_values = {k: cell.metadata[k] for k in ("user_expressions",) if k in cell.metadata}
        if cell.cell_type == "markdown":
            text = cell.source
            if i in answer_prose:  # the book's prose answer below a solution cell: the grader's reference now
                heading = re.search(r"^#{1,6}\s", text, re.M)
                text = text[heading.start():] if heading else ""
            for n in [n for n in manual if any(int(m) == n for m in EXERCISE_MARK.findall(text))]:
                head, dropdown, text = split_exercise_text(text, n)
                read_only("markdown", edit_prose(head), tags, prose_values)
                exercise_id = f"{key}.exercise{n}"
                grade_id = f"{key}-exercise{n}-answer"
                refs = ([dropdown] if dropdown else []) + references.get(n, [])
                exercise = GradedExercise(exercise_id, key, n, "manual", _points(points, exercise_id, "manual"), grade_id)
                cells.append(_cell("markdown", manual_answer_source(refs), grade_id, grade=True, solution=True,
                                   points=exercise.points))
                cells[-1].metadata.update(prose_values)  # the book's answer may quote the chapter's numbers
                add_exercise(exercise)
            if text.strip():
                read_only("markdown", edit_prose(text), tags, prose_values)
            if not banner_done and re.search(r"^#\s", cell.source, re.M):
                cells.append(_cell("markdown", GRADED_BANNER, f"{key}-graded-edition", locked=True))
                banner_done = True
            continue
        if cell.cell_type != "code":
            read_only(cell.cell_type, cell.source, tags)
            continue
        calls = check_statements(cell.source)
        if not calls:
            read_only("code", cell.source, tags)
            continue
        exercise_id, expression, *_ = calls[0]
        if len(calls) > 1:
            raise ValueError(f"{path.name}: one exercise per cell, found {[c[0] for c in calls]}")
        name = exercise_id.split(".", 1)[1]
        exercise = GradedExercise(exercise_id, key, checked_numbers.get(exercise_id), "auto",
                                  _points(points, exercise_id, "auto"), f"{key}-{name}-answer",
                                  f"{key}-{name}-test", expression)
        cells.append(_cell("code", answer_source(cell.source, solutions.get(exercise_id), exercise_id),
                           exercise.answer_cell, solution=True))
        cells.append(_cell("code", test_source(exercise, module), exercise.test_cell, grade=True, locked=True,
                           points=exercise.points))
        add_exercise(exercise)

    out = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": nb.metadata.get("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"}),
        "language_info": nb.metadata.get("language_info", {"name": "python"}),
        "knobs": {"edition": "nbgrader", "chapter": path.stem}})
    nbformat.validate(out)
    chapter.exercises.sort(key=lambda e: (e.number or 0, e.id))
    return chapter, out


# --- points ------------------------------------------------------------------------------------------

def load_points(path: Path | str = POINTS_FILE) -> dict:
    data = json.loads(Path(path).read_text())
    return {"default": data["default"], "exercises": data.get("exercises", {})}


def _points(points: dict, exercise_id: str, kind: str) -> float:
    value = points["exercises"].get(exercise_id, points["default"][kind])
    if not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"points for {exercise_id}: {value!r} (a number >= 0)")
    return value


# --- the course ----------------------------------------------------------------------------------------

CONFIG_TEMPLATE = '''\
# nbgrader settings for the course "Turning the Knobs" (written by `make nbgrader`: tools/nbgrader_course.py).
# One assignment per chapter: source/chNN/chNN.ipynb. Copy the lines you need into an existing course's
# nbgrader_config.py if you add the chapters to a course you already run.
c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "{course_id}"

# Autograding runs each submitted notebook top to bottom in a fresh kernel. nbgrader keeps going after a
# cell raises (its Execute preprocessor always allows errors), so a student's exception costs only the
# points of the test cells that fail because of it. A cell that runs longer than this many seconds is
# interrupted and recorded as an error: a function that never returns costs that exercise's points.
# The slowest cell of any chapter takes about 5 s on a 2-core laptop.
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True

# What replaces a solution region in the release. nbgrader's default ends with `raise NotImplementedError()`,
# which would hide the book's friendly "not answered yet" hint behind a traceback; the `...` template
# above the stub already marks what to fill in.
c.ClearSolutions.code_stub = {{"python": {stub!r}}}
'''


def write_course(out: Path | str, root: Path | str = ROOT, points_file: Path | str = POINTS_FILE) -> list[ChapterAssignment]:
    """Write the whole course folder (see the module docstring); returns its chapters."""
    out = Path(out)
    points = load_points(points_file)
    if (out / "source").exists():
        shutil.rmtree(out / "source")
    chapters = []
    for path in chapter_paths(root):
        chapter, nb = chapter_assignment(path, points)
        target = out / "source" / chapter.key / f"{chapter.key}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(target))
        chapters.append(chapter)
    known = {e.id for ch in chapters for e in ch.exercises}
    unknown = sorted(set(points["exercises"]) - known)
    if unknown:
        raise ValueError(f"{points_file}: no such exercise {unknown}; exercises are {sorted(known)}")
    (out / "nbgrader_config.py").write_text(CONFIG_TEMPLATE.format(course_id=COURSE_ID, timeout=CELL_TIMEOUT,
                                                                   stub=CODE_STUB))
    (out / "points.md").write_text(points_table_markdown(chapters))
    (out / "points.json").write_text(json.dumps(
        {ch.key: {"title": ch.title, "auto": ch.auto_points, "manual": ch.manual_points, "total": ch.total_points,
                  "exercises": [{k: v for k, v in asdict(e).items() if k != "expression"} for e in ch.exercises]}
         for ch in chapters}, indent=1))
    (out / "README.md").write_text(README)
    return chapters


def points_table_markdown(chapters: list[ChapterAssignment]) -> str:
    """The teacher's guide table: points per chapter, then per exercise (Markdown)."""
    def fmt(x):
        return f"{x:g}"

    lines = ["| chapter | auto-checked | graded by a person | total |", "|---|---:|---:|---:|"]
    for ch in chapters:
        n_auto = sum(e.kind == "auto" for e in ch.exercises)
        n_manual = len(ch.exercises) - n_auto
        lines.append(f"| {ch.number}. {ch.title} (`{ch.key}`) | {fmt(ch.auto_points)} ({n_auto} exercises) | "
                     f"{fmt(ch.manual_points)} ({n_manual}) | {fmt(ch.total_points)} |")
    total = sum(ch.total_points for ch in chapters)
    lines.append(f"| **all chapters** | {fmt(sum(ch.auto_points for ch in chapters))} | "
                 f"{fmt(sum(ch.manual_points for ch in chapters))} | **{fmt(total)}** |")
    lines += ["", "| chapter | exercise | graded by | points | nbgrader cell |", "|---|---|---|---:|---|"]
    for ch in chapters:
        for e in ch.exercises:
            who = "autograder (the book's check)" if e.kind == "auto" else "a person"
            cell = e.test_cell if e.kind == "auto" else e.answer_cell
            lines.append(f"| `{ch.key}` | {e.number or ''} (`{e.id}`) | {who} | {fmt(e.points)} | `{cell}` |")
    return "\n".join(lines) + "\n"


README = """\
# Turning the Knobs: nbgrader course

Generated by `make nbgrader` from the book's chapter notebooks. One assignment per chapter:
`source/chNN/chNN.ipynb` (with solutions; keep it away from students).

    cd _build/nbgrader
    nbgrader generate_assignment ch01      # release/ch01/ch01.ipynb: no solutions
    nbgrader autograde ch01                # after collecting submissions into submitted/<student>/ch01/
    nbgrader export --to grades.csv

The grading machine needs the book's `knobs` library (the same version as the students'), since the
autograder tests call its checkers. Points: points.md. Settings: nbgrader_config.py. The teacher's guide
explains the rest ("Grading with nbgrader").
"""


def course_chapters(root: Path | str = ROOT, points_file: Path | str | None = None) -> list[ChapterAssignment]:
    """Every chapter's assignment and points, without writing anything (the teacher's guide table)."""
    points = load_points(points_file or Path(root) / "tools" / "nbgrader_points.json")
    return [chapter_assignment(path, points)[0] for path in chapter_paths(root)]


# --- the teacher's guide: ```{knobs-nbgrader-points}``` shows points_table_markdown at build time ----------------
# Enable with `sphinx: local_extensions: {nbgrader_course: tools/}` in _config.yml (or from the guide's extension).

def setup(app):
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class PointsDirective(SphinxDirective):
        """The points per chapter and per exercise, read from the chapters and tools/nbgrader_points.json."""

        def run(self):
            root = Path(self.env.srcdir)
            for path in [*chapter_paths(root), root / "tools" / "nbgrader_points.json"]:
                self.env.note_dependency(str(path))
            container = nodes.container(classes=["knobs-nbgrader-points"])
            text = points_table_markdown(course_chapters(root))
            self.state.nested_parse(StringList(text.splitlines(), source="nbgrader-points"), self.content_offset,
                                    container)
            return container.children

    app.add_directive("knobs-nbgrader-points", PointsDirective)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "_build" / "nbgrader"))
    parser.add_argument("--points", default=str(POINTS_FILE))
    args = parser.parse_args()
    chapters = write_course(args.out, points_file=args.points)
    for ch in chapters:
        auto = ", ".join(f"{e.id.split('.', 1)[1]} {e.points:g}" for e in ch.exercises if e.kind == "auto")
        manual = ", ".join(f"{e.id.split('.', 1)[1]} {e.points:g}" for e in ch.exercises if e.kind == "manual")
        print(f"{ch.key}: {ch.total_points:g} points  auto: {auto}" + (f"  by hand: {manual}" if manual else ""))
    print(f"{len(chapters)} assignments in {args.out}; points table: {Path(args.out) / 'points.md'}")


if __name__ == "__main__":
    main()
