"""The teacher kit: read what the chapter notebooks declare and make the student edition.

Everything here is found, not typed: chapters by glob (`notebooks/NN_topic.ipynb`), objectives
from each chapter's "You will learn to" box, prerequisites from its "You need" line, exercises
from `check("chNN.name", answer)` cells, solutions from cells tagged "solution" (CONTRIBUTING.md).
Used by `make student` (tools/student.py), the teacher's guide page (bookext.teacher_page) and the
audit tests (tests/test_teacher.py, tests/test_student.py).
"""
from __future__ import annotations

import ast
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the book's repository (this file is tools/bookext/teacher.py)
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
SOLUTION_BOX = re.compile(r"^:::\{admonition\} Solution\n.*?^:::\n?", re.S | re.M)  # an open exercise's answer
SOLUTION_TAG = "solution"
STUDENT_BANNER = ("**Student edition.** The solutions are not in this notebook. Each exercise ends with a "
                  "`check(...)` call: it tells you whether your answer is right and gives a hint when it is not. "
                  "Replace each `...` with your answer and run the cell.")


@dataclass
class Exercise:
    """One auto-checked exercise: the learner's cell and, in the full notebook, its solution cell."""
    id: str                     # "ch01.count"
    cell: int                   # index of the exercise cell in the full notebook
    source: str                 # the exercise cell as the learner sees it (with `...`)
    answer_expr: str            # the expression handed to check(), e.g. "answer_count"
    solution: str | None = None  # the solution cell's source


@dataclass
class ChapterInfo:
    """What a chapter notebook declares about itself (teacher's guide, audits)."""
    number: int
    stem: str                   # "01_parameters"
    path: Path
    title: str                  # "What is a parameter?"
    objectives: list[str] = field(default_factory=list)
    needs: str = ""
    prerequisites: list[int] = field(default_factory=list)  # earlier chapters it requires
    helpful: list[int] = field(default_factory=list)        # earlier chapters it says help but are not required
    runtime_note: str = ""      # the author's "Runtime" line (an estimate; the guide shows measurements)
    exercise_numbers: list[int] = field(default_factory=list)  # from "Exercise N" in the prose
    exercises: list[Exercise] = field(default_factory=list)    # the auto-checked ones
    solution_cells: list[int] = field(default_factory=list)
    quiz_ids: list[str] = field(default_factory=list)          # quiz.show("chNN") calls

    @property
    def key(self) -> str:
        return f"ch{self.number:02d}"

    @property
    def docname(self) -> str:
        return f"notebooks/{self.stem}"


def chapter_paths(root: Path | str = ROOT) -> list[Path]:
    """Every chapter notebook, in chapter order (notebooks/NN_topic.ipynb)."""
    return sorted((Path(root) / "notebooks").glob(CHAPTER_GLOB))


def read_notebook(path: Path | str):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def is_solution(cell) -> bool:
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def check_calls(source: str) -> list[tuple[str, str]]:
    """The (exercise id, answer expression) of every `check("chNN.x", expr)` call in a code cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and (getattr(node.func, "id", None) == "check" or getattr(node.func, "attr", None) == "check")):
            calls.append((node.args[0].value, ast.get_source_segment(source, node.args[1])))
    return calls


def strip_roles(text: str) -> str:
    """Prose for another page: drop computed numbers and parenthetical citations, keep textual citations' words
    and the text of other MyST roles except {term}.

    Citations are links (`[(Radford et al., 2019)](#cite:p:ch01-radford2019language)`, CONTRIBUTING.md) or,
    in older prose, {cite} roles; a computed number is {eval}`name` (or an older {glue:text}`name`).
    """
    text = re.sub(r"\[([^\]]*)\]\(#cite:t:[^)]*\)", r"\1", text)  # "the scaling laws of Kaplan et al. (2020)"
    text = re.sub(r"\s*\[[^\]]*\]\(#cite:[a-z]+:[^)]*\)", "", text)
    text = re.sub(r"\s*\{cite:[a-z]+\}`[^`]*`", "", text)
    text = re.sub(r"\s*\(\s*\)", "", text)  # what a citation alone in parentheses leaves
    text = re.sub(r"\{(?:glue:[a-z]+|eval)\}`[^`]*`", "…", text)
    return re.sub(r"\{(?!term\})[a-z:]+\}`([^`<]*?)(?:\s*<[^`]*>)?`", r"\1", text)


def _box_section(text: str, label: str) -> str:
    """The text after **label** in the 'In this chapter' box, up to the next bold label or the box's end."""
    match = re.search(rf"\*\*{label}\*\*:?(.*?)(?=\n\s*\*\*[A-Z][^*]*\*\*|\n:::|\n```|\Z)", text, re.S)
    return match.group(1).strip() if match else ""


OPTIONAL_MARKERS = ("help", "not required", "optional", "useful", "without", "companion", "for the last section",
                    "for one section", "if you")


def _chapter_numbers(text: str) -> set[int]:
    """Chapter numbers named in a piece of prose: "chapter 2", "chapters 1–3", "chapters 1 (…) and 4", links."""
    found: set[int] = set()
    sep = r"\s*(?:,|and|or|&|–|—|-|to)\s*"
    for match in re.finditer(rf"[Cc]hapters?\s+(\d+(?:{sep}\d+)*)", text):
        parts = re.split(r"\s*(,|and|or|&|–|—|-|to)\s*", match.group(1))
        numbers, separators = [int(p) for p in parts[::2]], parts[1::2]
        found.update(numbers)
        for (lo, hi), between in zip(zip(numbers, numbers[1:]), separators):
            if between in ("–", "—", "-", "to"):
                found.update(range(lo, hi + 1))
    found.update(int(n) for n in re.findall(r"\b(\d\d)_[a-z0-9_]+", text))
    return found


def parse_needs(needs: str, number: int) -> tuple[list[int], list[int]]:
    """(required, helpful) earlier chapters named in a "You need" line.

    A chapter named in a clause that says it helps ("helps but is not required", "for the last section")
    is helpful, not required. Later chapters named there are previews ("that is chapter 2"), not needs.
    """
    # drop asides in parentheses unless they name a chapter: "chapters 1 (the tiny model) and 4" -> "chapters 1 and 4"
    text = re.sub(r"\s*\((?![^)]*\b[Cc]hapters?\s+\d)[^)]*\)", "", needs)
    required: set[int] = set()
    helpful: set[int] = set()
    for clause in re.split(r"[.;]\s+|[.;]$|,?\s+and,\s+|,\s+but\s+", text):
        numbers = {n for n in _chapter_numbers(clause) if 0 < n < number}
        (helpful if any(m in clause.lower() for m in OPTIONAL_MARKERS) else required).update(numbers)
    return sorted(required), sorted(helpful - required)


def parse_prerequisites(needs: str, number: int) -> list[int]:
    """The earlier chapters a "You need" line requires (see parse_needs)."""
    return parse_needs(needs, number)[0]


def chapter_info(path: Path | str) -> ChapterInfo:
    """Parse one chapter notebook (see the module docstring for what is read where)."""
    path = Path(path)
    nb = read_notebook(path)
    number = int(path.name[:2])
    info = ChapterInfo(number=number, stem=path.stem, path=path, title=path.stem)
    for i, cell in enumerate(nb.cells):
        src = cell.source
        if cell.cell_type == "markdown":
            title = re.search(r"^#\s+(?:\d+\.\s*)?(.+)$", src, re.M)
            if title and info.title == path.stem:
                info.title = title.group(1).strip()
            if "You will learn to" in src and not info.objectives:
                learn = _box_section(src, "You will learn to")
                info.objectives = [strip_roles(line.strip()[2:].strip()) for line in learn.splitlines()
                                   if line.strip().startswith(("- ", "* "))]
                info.needs = strip_roles(" ".join(_box_section(src, "You need").split()))
                info.runtime_note = " ".join(_box_section(src, "Runtime").split())
            info.exercise_numbers += [int(n) for n in re.findall(
                r"(?:\*\*|^#+\s*)Exercise\s+(\d+)", src, re.M)]
        elif cell.cell_type == "code":
            if is_solution(cell):
                info.solution_cells.append(i)
                for exercise_id, _ in check_calls(src):
                    for exercise in info.exercises:
                        if exercise.id == exercise_id and exercise.solution is None:
                            exercise.solution = src
            else:
                for exercise_id, expr in check_calls(src):
                    if exercise_id not in [e.id for e in info.exercises]:
                        info.exercises.append(Exercise(exercise_id, i, src, expr))
                info.quiz_ids += re.findall(r"quiz\.show\(\s*[\"'](ch\d\d)[\"']", src)
    info.exercise_numbers = sorted(set(info.exercise_numbers))
    info.prerequisites, info.helpful = parse_needs(info.needs, number)
    return info


def chapters(root: Path | str = ROOT) -> list[ChapterInfo]:
    """Every chapter, parsed (teacher's guide, audits)."""
    return [chapter_info(p) for p in chapter_paths(root)]


# --- the student edition ---------------------------------------------------------------------------

def student_notebook(nb):
    """A copy of a chapter notebook without its solution cells and outputs; checks, hints, labs stay."""
    import copy

    import nbformat

    student = copy.deepcopy(nb)
    student.cells = [c for c in student.cells if not is_solution(c)]
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:  # an open exercise's answer is a folded "Solution" box in the prose: it goes too
            cell.source = SOLUTION_BOX.sub("", cell.source)
        cell.metadata.pop("execution", None)
    title = next((i for i, c in enumerate(student.cells) if c.cell_type == "markdown"
                  and re.search(r"^#\s", c.source, re.M)), 0)
    banner = nbformat.v4.new_markdown_cell(f"> {STUDENT_BANNER}")  # plain Markdown: read in Jupyter
    banner.metadata["tags"] = ["student-edition"]
    student.cells.insert(title + 1, banner)
    student.metadata["knobs"] = {"edition": "student"}
    return student


def solution_only_lines(nb) -> list[str]:
    """Lines that only solution cells contain (not the exercise cell's `check(...)` they share)."""
    elsewhere = {line.strip() for c in nb.cells if not is_solution(c) for line in c.source.splitlines()}
    return [line.strip() for c in nb.cells if is_solution(c) for line in c.source.splitlines()
            if line.strip() and line.strip() not in elsewhere]


def leaked_solution_lines(full, student) -> list[str]:
    """The solution lines of `full` that are still in `student` (must be empty)."""
    kept = {line.strip() for c in student.cells for line in c.source.splitlines()}
    return [line for line in solution_only_lines(full) if line in kept]


def write_student_edition(out_dir: Path | str, root: Path | str = ROOT) -> tuple[list[Path], Path]:
    """Write every chapter's student notebook into out_dir, and a zip of them beside it (make student)."""
    import nbformat

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.ipynb"):
        old.unlink()
    written = []
    for path in chapter_paths(root):
        target = out_dir / path.name
        nbformat.write(student_notebook(read_notebook(path)), str(target))
        written.append(target)
    readme = out_dir / "README.md"
    readme.write_text(
        "# Turning the Knobs: student edition\n\n"
        "One notebook per chapter, without the solutions. Each exercise ends with `check(...)`, which says whether "
        "your answer is right and gives a hint when it is not.\n\n"
        "The notebooks need the book's helper library `knobs`: open them on the Binder or JupyterHub your teacher "
        "gives you, or install the book's repository (`pip install -r requirements.txt` in a clone of it).\n")
    archive = out_dir.parent / f"{out_dir.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in [readme, *written]:
            zf.write(path, f"turning-the-knobs-student/{path.name}")
    return written, archive


# --- exercise audits (run inside the chapter's kernel, after its solution) ------------------------------

def wrong_variants(right, choices: tuple = ()) -> list:
    """Plausible wrong answers of the same form as a right one (audit: each must get a hint).

    `choices` are the allowed answers of a multiple-choice exercise: its wrong variants are the other choices.
    Numbers get near misses (half, one and a half times) before far ones, so a checker that only accepts
    a range, such as (0, 1], still meets a wrong answer inside it.
    """
    import numpy as np

    if isinstance(right, bool):
        return [not right]
    if isinstance(right, int):
        return [v for v in dict.fromkeys([right + 1, right - 1, 2 * right, 0 if right else 1]) if v != right]
    if isinstance(right, float):
        near_and_far = (right / 2, right * 1.5, right * 2 + 1, -right - 1)
        return [v for v in dict.fromkeys(near_and_far) if math.isfinite(v) and v != right]
    if isinstance(right, str):
        return [c for c in choices if c != right] or ["certainly not this"]
    if isinstance(right, dict) and right:
        values = list(dict.fromkeys(str(v) for v in right.values()))
        first = next(iter(right))
        if isinstance(right[first], str) and len(values) > 1:  # a classification: mix one item up
            other = next(v for v in values if v != str(right[first]))
            return [{**right, first: other}]
        return [{**right, first: w} for w in wrong_variants(right[first])[:1]]
    if isinstance(right, (list, tuple)) and right:
        return [type(right)([w, *right[1:]]) for w in wrong_variants(right[0])[:1]]
    if isinstance(right, np.ndarray) or type(right).__name__ == "Tensor":
        return [right * 2 + 1]
    if callable(right):  # a function answer: the same function, off by one
        return [lambda *args, **kwargs: right(*args, **kwargs) + 1.0]
    return []


def _revealing_forms(right) -> list[str]:
    """How a right answer would look if a message printed it."""
    if isinstance(right, bool):
        return []
    if isinstance(right, int):
        return list(dict.fromkeys([str(right), f"{right:,}", f"{right:_}"])) if abs(right) >= 10 else []
    if isinstance(right, float):
        if right == 0 or not math.isfinite(right):
            return []
        forms = {f"{right:.{p}g}" for p in range(3, 8)} | {repr(right)}
        return sorted(f for f in forms if len(f.replace("-", "").replace(".", "").lstrip("0")) >= 3)
    if isinstance(right, str):
        return [repr(right), f'"{right}"'] if len(right) >= 3 else []
    if isinstance(right, dict):
        return [repr(right), json.dumps(right, default=str)]
    if isinstance(right, (list, tuple)):
        return [repr(right), repr(list(right))] if len(right) > 1 else _revealing_forms(right[0]) if right else []
    text = repr(right)
    return [text] if len(text) >= 6 else []


def audit_exercise(exercise_id: str, right) -> dict:
    """Check a right answer and a few wrong ones; report what a learner would read (JSON-able)."""
    from knobs.exercises.checker import CHOICES, check

    result = check(exercise_id, right)
    report = {"id": exercise_id, "right_ok": result.ok, "right_message": result.message,
              "revealing": _revealing_forms(right), "wrong": []}
    for wrong in wrong_variants(right, CHOICES.get(exercise_id, ())):
        res = check(exercise_id, wrong)
        # an answer outside the allowed range is told the expected form, not given a hint about the content
        in_form = "could not be checked" not in res.message
        report["wrong"].append({"answer": repr(wrong)[:200], "ok": res.ok, "answered": res.answered,
                                "in_form": in_form, "message": res.message, "shown": str(res)})
    return report


# --- suggested sequences (declared in the guide, checked against the prerequisites) ---------------------

def parse_sequence(text: str) -> list[tuple[str, list[int]]]:
    """Lines "Session label: 1, 2" -> [("Session label", [1, 2]), ...] (the guide's knobs-sequence blocks)."""
    sessions = []
    for line in text.strip().splitlines():
        if ":" in line:
            label, numbers = line.rsplit(":", 1)
            sessions.append((label.strip(), [int(n) for n in re.findall(r"\d+", numbers)]))
    return sessions


def sequence_problems(sessions: list[tuple[str, list[int]]], infos: list[ChapterInfo]) -> list[str]:
    """Chapters a sequence puts before one of their prerequisites (empty when the order is sound)."""
    position = {n: i for i, (_, numbers) in enumerate(sessions) for n in numbers}
    problems = []
    for info in infos:
        for need in info.prerequisites:
            if info.number in position and need in position and position[need] > position[info.number]:
                problems.append(f"chapter {info.number} comes before chapter {need}, which it needs")
            elif info.number in position and need not in position:
                problems.append(f"chapter {info.number} needs chapter {need}, which this sequence leaves out")
    return problems


# --- run a chapter as a student would (tests/test_student.py) -------------------------------------------

AUDIT_MARK = "KNOBS-AUDIT:"


def _outputs_text(cell) -> tuple[str, str | None]:
    """(everything the cell showed as text, the error's name and message or None)."""
    texts, error = [], None
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            texts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            texts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            error = f"{out.ename}: {out.evalue}"
            texts.append("\n".join(out.traceback))
    return "\n".join(texts), error


def _kernel_peak_memory_mb(client, nb) -> float | None:
    """The kernel's peak resident memory (Linux/macOS), for the guide's advice on hub memory limits."""
    import nbformat

    probe = nbformat.v4.new_code_cell("import resource, sys\n"
                                      "_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
                                      "print('KNOBS-PEAK:', _kb / 1024 if sys.platform != 'darwin' else _kb / 1024 ** 2)")
    nb.cells.append(probe)
    client.execute_cell(probe, len(nb.cells) - 1)
    text, _ = _outputs_text(probe)
    match = re.search(r"KNOBS-PEAK: ([\d.]+)", text)
    return round(float(match.group(1)), 1) if match else None


def run_as_student(path: Path | str, timeout: int = 300) -> dict:
    """Run a chapter's student edition in one kernel, the learner's way (live labs, no KNOBS_STATIC).

    1. every cell up to the first exercise (the student edition must run that far);
    2. the rest of the notebook with the exercises left blank (each check must say "not answered yet");
    3. each exercise filled in with its reference solution (taken from the full notebook), then
       audit_exercise on the solution's answer: the right one passes, wrong ones get hints.
    """
    import os
    import time

    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    info = chapter_info(path)
    nb = student_notebook(read_notebook(path))
    exercise_cells = {i: calls[0][0] for i, c in enumerate(nb.cells)
                      if c.cell_type == "code" and (calls := check_calls(c.source))}
    first = min(exercise_cells, default=len(nb.cells))
    report = {"chapter": info.key, "first_exercise_cell": first, "prefix_errors": [], "after_errors": [],
              "blank": {}, "filled": {}, "audit": {}, "seconds": {}}
    saved = os.environ.pop("KNOBS_STATIC", None)
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel():
            started = time.perf_counter()
            for i, cell in enumerate(nb.cells):
                if i == first:
                    report["seconds"]["up_to_first_exercise"] = round(time.perf_counter() - started, 2)
                if cell.cell_type != "code":
                    continue
                cell_started = time.perf_counter()
                client.execute_cell(cell, i)
                report["seconds"].setdefault("cells", {})[i] = round(time.perf_counter() - cell_started, 2)
                text, error = _outputs_text(cell)
                if i in exercise_cells:
                    report["blank"][exercise_cells[i]] = {"text": text, "error": error}
                elif error:
                    report["prefix_errors" if i < first else "after_errors"].append(f"cell {i}: {error}")
            report["seconds"]["whole_notebook_blank"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            for exercise in info.exercises:
                if exercise.solution is None:
                    continue
                filled = nbformat.v4.new_code_cell(exercise.solution)
                nb.cells.append(filled)  # nbclient stores each executed cell back into the notebook
                client.execute_cell(filled, len(nb.cells) - 1)
                text, error = _outputs_text(filled)
                report["filled"][exercise.id] = {"text": text, "error": error}
                found, text, error = _run_probe(
                    client, nb, f"import json as _json, sys as _sys\n_sys.path.insert(0, {str(ROOT / 'tools')!r})\n"
                    "from bookext.teacher import AUDIT_MARK as _mark, audit_exercise as _audit\n"
                    f"print(_mark + _json.dumps(_audit({exercise.id!r}, {exercise.answer_expr})))")
                report["audit"][exercise.id] = found if found is not None else {"error": error or text}
            report["seconds"]["solutions_and_audit"] = round(time.perf_counter() - started, 2)
            report["peak_memory_mb"] = _kernel_peak_memory_mb(client, nb)
    finally:
        if saved is not None:
            os.environ["KNOBS_STATIC"] = saved
    return report


def _run_probe(client, nb, source: str):
    """Run `source` as a new cell in the kernel; returns (the JSON it printed after AUDIT_MARK or None, text, error)."""
    import nbformat

    probe = nbformat.v4.new_code_cell(source)
    nb.cells.append(probe)  # nbclient stores each executed cell back into the notebook
    client.execute_cell(probe, len(nb.cells) - 1)
    text, error = _outputs_text(probe)
    line = next((ln for ln in text.splitlines() if ln.startswith(AUDIT_MARK)), None)
    return (json.loads(line[len(AUDIT_MARK):]) if line else None), text, error


# --- grading: rerun a learner's notebook and re-check each answer ---------------------------------------

def grade_notebook(path: Path | str, timeout: int = 600) -> dict[str, str]:
    """Run a submitted notebook top to bottom in a fresh kernel, then re-check every exercise it contains.

    Returns {exercise id: "correct" | "not yet" | "blank" | "error: ..."}. The checks run in the
    learner's kernel, so this is a convenience for formative grading, not a defence against tampering.
    """
    import os

    from nbclient import NotebookClient

    path = Path(path)
    nb = read_notebook(path)
    calls = [call for c in nb.cells if c.cell_type == "code" and not is_solution(c) for call in check_calls(c.source)]
    saved = os.environ.pop("KNOBS_STATIC", None)
    grades: dict[str, str] = {}
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel():
            for i, cell in enumerate(list(nb.cells)):
                if cell.cell_type == "code":
                    client.execute_cell(cell, i)
            for exercise_id, expr in dict(calls).items():
                found, _, error = _run_probe(
                    client, nb, "import json as _json\nfrom knobs.exercises import check as _check\n"
                    f"try:\n    _r = _check({exercise_id!r}, {expr})\n"
                    "    _g = 'correct' if _r.ok else ('not yet' if _r.answered else 'blank')\n"
                    "except Exception as _e:\n    _g = f'error: {type(_e).__name__}: {_e}'\n"
                    f"print({AUDIT_MARK!r} + _json.dumps(_g))")
                grades[exercise_id] = found if found is not None else f"error: {error}"
    finally:
        if saved is not None:
            os.environ["KNOBS_STATIC"] = saved
    return grades
