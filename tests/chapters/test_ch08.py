"""Chapter 8: the fine-tuning lab declares, runs and describes what it shows."""
from knobs.chapters import ch08


def test_lab_declares_and_draws():
    lab = ch08.fine_tuning_lab()
    lab.reset({"strategy": "LoRA", "rank": 2})
    assert lab.advance()
    assert "Trainable numbers" in lab.describe()
