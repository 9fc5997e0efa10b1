import pytest
import torch
from torch import nn

from knobs import models


def test_count_matches_torch_and_splits_by_kind():
    model = models.make_tiny_lm(29, embed_dim=8, hidden=32)
    table = models.count_parameters(model)
    assert table.total == sum(p.numel() for p in model.parameters())
    assert table.by_kind() == {"embedding": 29 * 8, "weight": 32 * 16 + 29 * 32, "bias": 32 + 29}
    assert table.by_layer()["hidden"] == 32 * 16 + 32


def test_gpt2_small_formula_matches_the_built_tensors_and_is_124m():
    config = models.GPT2Config()
    built = models.count_parameters(models.make_gpt2(config)).total
    assert built == sum(models.gpt2_parameter_formula(config).values())
    assert round(built / 1e6) == 124


def test_untied_gpt2_counts_the_output_matrix():
    tied = models.count_parameters(models.make_gpt2()).total
    untied = models.count_parameters(models.make_gpt2(models.GPT2Config(tie_word_embeddings=False))).total
    assert untied - tied == 50257 * 768
    assert untied == sum(models.gpt2_parameter_formula(models.GPT2Config(tie_word_embeddings=False)).values())


def test_gpt2_block_matches_pytorch_transformer_layer_shapes():
    # An independent count: PyTorch's own encoder layer has the same tensors as a GPT-2 block.
    d = 64
    layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=4 * d)
    block = models.GPT2Block(models.GPT2Config(n_embd=d))
    assert models.count_parameters(block).total == sum(p.numel() for p in layer.parameters())


def test_memory_bytes_per_dtype():
    assert models.memory_bytes(1000, "fp32") == 4000
    assert models.memory_bytes(1000, "bf16") == 2000
    assert models.memory_bytes(1000, "int4") == 500
    assert models.format_bytes(1536) == "1.5 KiB"


def test_predictions_are_probabilities(farm, trained_model):
    vocab = farm[0]
    top = models.predict_next(trained_model, vocab, "the cow", k=3)
    assert len(top) == 3 and all(0 <= p <= 1 for _, p in top)
    assert top[0][0] in {"eats", "drinks", "naps", "sleeps"}  # the grammar's verbs after "the cow"
    probs = models.next_word_probs(trained_model, vocab, "cow eats", list(vocab.words))
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert max(probs, key=probs.get) in {"grass", "hay"}


def test_same_seed_same_model():
    a, b = models.make_tiny_lm(29, seed=5), models.make_tiny_lm(29, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("call, message", [
    (lambda: models.TinyLMConfig(hidden=0), "hidden must be"),
    (lambda: models.memory_bytes(10, "fp8"), "dtype must be one of"),
    (lambda: models.count_parameters("not a model"), "torch.nn.Module"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_chapter_1s_count_by_hand_agrees_with_the_code():
    """Chapter 1 counts the tiny model's parameters by hand in a table before the code does; keep them equal."""
    import re

    import nbformat

    from conftest import ROOT
    from knobs import data

    notebook = nbformat.read(ROOT / "notebooks" / "01_parameters.ipynb", as_version=4)
    text = next(c.source for c in notebook.cells if c.cell_type == "markdown" and "Count it by hand" in c.source)
    by_hand = {name: int(count) for name, count in re.findall(r"\| `([\w.]+)` \|[^|]*\| \$(?:[^$]*= )?(\d+)\$ \|", text)}
    vocab = len(data.load_corpus("farm").vocab)
    assert f"$V = {vocab}$" in text
    model = models.make_tiny_lm(vocab_size=vocab, embed_dim=8, hidden=32, seed=0)
    assert by_hand == {name: p.numel() for name, p in model.named_parameters()}
