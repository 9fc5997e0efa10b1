import pytest
import torch

from knobs import data


def test_corpus_ships_and_every_word_has_a_category():
    corpus = data.load_corpus("farm")
    assert 20 <= len(corpus.vocab) <= 60  # "a few dozen words"
    assert all(corpus.vocab.category(w) != "other" for w in corpus.vocab.words)


def test_dataset_pairs_are_context_then_next_word():
    corpus = data.load_corpus(text="the cat naps . the dog naps .")
    X, y = data.make_dataset(corpus, context=2)
    assert X.shape == (len(corpus.tokens) - 2, 2)
    assert corpus.vocab.decode(X[0]) == ["the", "cat"] and corpus.vocab.decode(y[:1]) == ["naps"]


def test_split_is_reproducible_and_disjoint():
    X, y = torch.arange(100).view(50, 2), torch.arange(50)
    a = data.split_dataset(X, y, 0.2, seed=3)
    b = data.split_dataset(X, y, 0.2, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert len(set(a[1].tolist()) & set(a[3].tolist())) == 0 and len(a[3]) == 10


def test_next_word_counts():
    corpus = data.load_corpus(text="the cat naps . the cat eats . the cat naps .")
    assert data.next_word_counts(corpus, "the cat") == {"naps": 2, "eats": 1}


@pytest.mark.parametrize("call, message", [
    (lambda: data.load_corpus("nope"), "name must be one of 'farm'"),
    (lambda: data.make_dataset(data.load_corpus(), context=0), "context must be a whole number between 1 and 8, got 0"),
    (lambda: data.split_dataset(torch.zeros(4, 2), torch.zeros(4), 1.5), "val_fraction"),
    (lambda: next(data.iterate_batches(torch.zeros(4, 2), torch.zeros(4), 0)), "batch_size"),
    (lambda: data.load_corpus().vocab.encode("the unicorn"), "not in the vocabulary"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_farm_split_is_every_chapters_data_and_built_once():
    split = data.farm_split()
    assert split is data.farm_split()  # cached: every chapter gets the very same tensors
    vocab, X, y, X_val, y_val = split
    assert X.shape[1] == 2 and len(y) == len(X) and len(y_val) == len(X_val)
    assert abs(len(y_val) / (len(y) + len(y_val)) - 0.2) < 0.01
    corpus = data.load_corpus("farm")
    assert vocab == corpus.vocab and len(y) + len(y_val) == len(corpus.tokens) - 2


def test_likely_next_words_are_the_corpus_counts_in_order():
    counts = data.next_word_counts(data.load_corpus("farm"), "the cat")
    assert data.likely_next_words("the cat", k=3) == tuple(list(counts)[:3])
    with pytest.raises(ValueError, match="k must be"):
        data.likely_next_words("the cat", k=0)
