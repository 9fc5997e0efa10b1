"""make student: the student edition — every chapter notebook without its solution cells.

    python tools/student.py [--out _build/student]

Writes _build/student/NN_topic.ipynb (checks, hints and labs kept; outputs cleared; a note on top)
and _build/student.zip. The tests (tests/test_teacher.py, tests/test_student.py) prove that no
solution text survives, that each notebook runs up to its first exercise, that the reference
solutions pass every check, and that blank exercises get a friendly message.
"""
import argparse
from pathlib import Path

from knobs import teacher

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "_build" / "student"))
    args = parser.parse_args()
    written, archive = teacher.write_student_edition(args.out, root=ROOT)
    for path in written:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"{len(written)} student notebooks; zip: {archive}")
