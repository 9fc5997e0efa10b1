"""The running example's data: the farm corpus, its vocabulary and batches.

Every chapter trains on the same tiny corpus (`corpora/farm.txt`, 600
sentences over 30 words, made by `tools/make_corpus.py`). A training example
is `context` words in a row (X) and the word that follows them (y).
`farm_split()` is the split every chapter uses: the running example's data.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

import torch

from knobs.validate import check_choice, check_examples, check_instance, check_int, check_number, check_text

# Every sentence of the corpus ends with the word "." (a word like any other for the model). Shown bare, in a bar
# label or a sentence of prose, it reads as punctuation or disappears, so the book shows it by this name.
END_WORD = "."
END_NAME = "⟨end⟩"


def display_word(word: str) -> str:
    """How the book shows a vocabulary word: itself, except the end-of-sentence word "." (every label and alt text)."""
    check_text("word", word)
    return END_NAME if word == END_WORD else word


# The categories the corpus grammar was built with; chapter 4 colours words by them.
CATEGORIES = {
    "animal": ["cat", "dog", "cow", "horse", "bird"],
    "food": ["fish", "mice", "meat", "bones", "grass", "hay", "apples", "seeds", "worms"],
    "drink": ["milk", "water"],
    "place": ["house", "garden", "field", "barn", "tree"],
    "verb": ["eats", "drinks", "naps", "sleeps", "chases"],
    "function": ["the", "in", "."],
}


@dataclass(frozen=True)
class Vocab:
    """Maps words to integer ids and back (ids are sorted by word, so stable)."""

    words: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        try:
            return self.words.index(word)
        except ValueError:
            raise ValueError(f"word {word!r} is not in the vocabulary; known words: {' '.join(self.words)}") from None

    def encode(self, words: str | list[str]) -> list[int]:
        if isinstance(words, str):
            words = words.split()
        return [self.id(w) for w in words]

    def decode(self, ids) -> list[str]:
        return [self.words[int(i)] for i in ids]

    def category(self, word: str) -> str:
        for name, members in CATEGORIES.items():
            if word in members:
                return name
        return "other"


@dataclass(frozen=True)
class Corpus:
    name: str
    tokens: tuple[str, ...]
    vocab: Vocab

    @property
    def ids(self) -> torch.Tensor:
        return torch.tensor(self.vocab.encode(list(self.tokens)), dtype=torch.long)


def read_corpus_text(name: str = "farm") -> str:
    """The raw text of a corpus that ships with knobs (no download, ever)."""
    files = {p.name.removesuffix(".txt") for p in resources.files("knobs.corpora").iterdir() if p.name.endswith(".txt")}
    check_choice("name", name, sorted(files))
    return resources.files("knobs.corpora").joinpath(f"{name}.txt").read_text()


def load_corpus(name: str = "farm", text: str | None = None) -> Corpus:
    """Tokenize a shipped corpus (or your own `text`) into words; used by every chapter."""
    check_text("name", name)
    if text is not None:
        check_text("text", text)
    text = read_corpus_text(name) if text is None else text
    tokens = tuple(text.split())
    if len(tokens) < 2:
        raise ValueError("text must contain at least two words")
    return Corpus(name=name, tokens=tokens, vocab=Vocab(tuple(sorted(set(tokens)))))


def next_word_counts(corpus: Corpus, words: str) -> dict[str, int]:
    """How often each word follows `words` in the corpus (the answer the model should learn)."""
    check_instance("corpus", corpus, Corpus, "a Corpus (from load_corpus)")
    check_text("words", words)
    context = words.split()
    n = len(context)
    counts: dict[str, int] = {}
    for i in range(len(corpus.tokens) - n):
        if list(corpus.tokens[i:i + n]) == context:
            nxt = corpus.tokens[i + n]
            counts[nxt] = counts.get(nxt, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def make_dataset(corpus: Corpus, context: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """All (X, y) pairs: X is (N, context) word ids, y is (N,) the next word's id."""
    check_instance("corpus", corpus, Corpus, "a Corpus (from load_corpus)")
    check_int("context", context, 1, 8)
    ids = corpus.ids
    X = ids.unfold(0, context, 1)[:-1]  # (N, context): every window but the last
    y = ids[context:]  # (N,): the word after each window
    return X.contiguous(), y


def split_dataset(X: torch.Tensor, y: torch.Tensor, val_fraction: float = 0.2, seed: int = 0):
    """Shuffle with `seed`, then hold out `val_fraction` of the pairs for validation."""
    check_examples(X, y, ids=False)
    check_number("val_fraction", val_fraction, 0.0, 1.0, low_open=True, high_open=True)
    check_int("seed", seed, 0)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(len(y) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]


def iterate_batches(X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0):
    """Yield shuffled (X, y) minibatches forever; reproducible through `seed`."""
    check_examples(X, y, ids=False)
    check_int("batch_size", batch_size, 1)
    check_int("seed", seed, 0)
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch_size):
            idx = order[start:start + batch_size]
            yield X[idx], y[idx]


class FarmSplit(NamedTuple):
    """The running example's data: unpack it as `vocab, X, y, X_val, y_val = farm_split()`."""

    vocab: Vocab
    X: torch.Tensor  # (N, 2) training contexts
    y: torch.Tensor  # (N,) the next word of each
    X_val: torch.Tensor  # held-out pairs (20%)
    y_val: torch.Tensor


@lru_cache(maxsize=1)
def farm_split() -> FarmSplit:
    """The farm corpus as 2-word contexts, 80% to train and 20% to validate (seed 0): every chapter's data."""
    corpus = load_corpus("farm")
    X, y = make_dataset(corpus, context=2)
    return FarmSplit(corpus.vocab, *split_dataset(X, y, val_fraction=0.2, seed=0))


@lru_cache(maxsize=None)
def likely_next_words(context: str, k: int = 5) -> tuple[str, ...]:
    """The k words that most often follow `context` in the farm corpus (what labs draw bars for)."""
    check_text("context", context)
    check_int("k", k, 1)
    return tuple(list(next_word_counts(load_corpus("farm"), context))[:k])
