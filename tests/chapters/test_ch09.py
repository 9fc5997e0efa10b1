"""Chapter 9: the bias lab draws and describes."""
from knobs.chapters import ch09


def test_lab_draws():
    lab = ch09.bias_lab()
    lab.reset({"skew": 0.75, "mitigation": "project out direction"})
    assert lab.advance() and "Next-word bias" in lab.describe()

