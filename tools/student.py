"""make student: the student edition — every chapter notebook without its solution cells; and grading.

    python tools/student.py [--out _build/student]          # the student edition
    python tools/student.py grade SUBMITTED.ipynb ... [--csv grades.csv]

The student edition: _build/student/NN_topic.ipynb (checks, hints and labs kept; outputs cleared;
a note on top) and _build/student.zip. The tests (tests/book/test_teacher.py, tests/book/test_student.py)
prove that no solution text survives, that each notebook runs up to its first exercise, that the
reference solutions pass every check, and that blank exercises get a friendly message.

`grade` reruns each submitted notebook in a fresh kernel and re-checks every exercise in it:
correct / not yet / blank / error, one row per notebook.
"""
import argparse
import csv
import sys
from pathlib import Path

from bookext import teacher

ROOT = Path(__file__).resolve().parents[1]


def grade(paths: list[str], csv_path: str | None) -> None:
    rows = []
    for path in paths:
        grades = teacher.grade_notebook(path)
        rows.append({"notebook": path, **grades})
        correct = sum(g == "correct" for g in grades.values())
        print(f"{path}: {correct}/{len(grades)} correct  " + "  ".join(f"{k}={v}" for k, v in grades.items()))
    if csv_path:
        fields = ["notebook"] + sorted({k for row in rows for k in row if k != "notebook"})
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(rows)
        print(f"written to {csv_path}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "grade":
        parser = argparse.ArgumentParser(prog="student.py grade", description="rerun and re-check submitted notebooks")
        parser.add_argument("notebooks", nargs="+")
        parser.add_argument("--csv")
        args = parser.parse_args(sys.argv[2:])
        grade(args.notebooks, args.csv)
    else:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--out", default=str(ROOT / "_build" / "student"))
        args = parser.parse_args()
        written, archive = teacher.write_student_edition(args.out, root=ROOT)
        for path in written:
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        print(f"{len(written)} student notebooks; zip: {archive}")
