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

# Every sentence of the corpus ends with the word "." (a word like any other for the model). Shown bare, in a bar
# label or a sentence of prose, it reads as punctuation or disappears, so the book shows it by this name.
END_WORD = "."
END_NAME = "⟨end⟩"


def display_word(word: str) -> str:
    """How the book shows a vocabulary word: itself, except the end-of-sentence word "." (every label and alt text)."""
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
    if name not in files:
        raise ValueError(f"corpus {name!r} does not exist; choose one of {sorted(files)}")
    return resources.files("knobs.corpora").joinpath(f"{name}.txt").read_text()


def load_corpus(name: str = "farm", text: str | None = None) -> Corpus:
    """Tokenize a shipped corpus (or your own `text`) into words; used by every chapter."""
    text = read_corpus_text(name) if text is None else text
    tokens = tuple(text.split())
    if len(tokens) < 2:
        raise ValueError("text must contain at least two words")
    return Corpus(name=name, tokens=tokens, vocab=Vocab(tuple(sorted(set(tokens)))))


def next_word_counts(corpus: Corpus, words: str) -> dict[str, int]:
    """How often each word follows `words` in the corpus (the answer the model should learn)."""
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
    if not 1 <= context <= 8:
        raise ValueError(f"context must be between 1 and 8 words, got {context}")
    ids = corpus.ids
    X = ids.unfold(0, context, 1)[:-1]  # (N, context): every window but the last
    y = ids[context:]  # (N,): the word after each window
    return X.contiguous(), y


def split_dataset(X: torch.Tensor, y: torch.Tensor, val_fraction: float = 0.2, seed: int = 0):
    """Shuffle with `seed`, then hold out `val_fraction` of the pairs for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction}")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(len(y) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return X[train], y[train], X[val], y[val]


def iterate_batches(X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0):
    """Yield shuffled (X, y) minibatches forever; reproducible through `seed`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
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
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number 1 or more, got {k!r}")
    return tuple(list(next_word_counts(load_corpus("farm"), context))[:k])
