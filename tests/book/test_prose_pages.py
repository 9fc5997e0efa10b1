"""book/intro.md and book/how-to-use.md say exactly what is true of the chapters (issue 19)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_intro_names_the_model_of_every_chapter():
    text = (ROOT / "book" / "intro.md").read_text()
    assert "Every chapter trains the same" not in text  # chapters 2, 3, 6 and 7 use other models too
    rows = re.findall(r"^- chapter (\d): (.+)$", text, re.M)
    assert [int(n) for n, _ in rows] == list(range(1, 10))
    models = dict(rows)
    assert "toy" in models["2"] and "curve" in models["3"] and "random weights" in models["6"]
    assert "seven sizes" in models["7"] and "four words" in models["7"]


def test_how_to_use_says_what_is_reproducible_and_what_is_not():
    text = (ROOT / "book" / "how-to-use.md").read_text()
    section = text.split("## Reproducibility", 1)[1]
    assert "running a chapter twice gives the same numbers." not in text
    for said in ("same computer", "runtime", "chapters 5 and 6", "verdicts", "chapter 7", "last digits"):
        assert said in section, said
