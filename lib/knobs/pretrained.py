"""Where chapter 10's weights come from: GPT-2 from the Hugging Face Hub, or the stand-in that ships with knobs.

`load_gpt2()` tries the Hub (openai-community/gpt2: config.json, model.safetensors,
tokenizer.json; about half a gigabyte) only when it is there to try: the files
are already in the local Hugging Face cache, or the Hub answers a small request
within `timeout` seconds (HF_HUB_OFFLINE=1 forbids asking). Anything else --
no network, no `huggingface_hub` or `tokenizers` package, a failed download --
falls back, quietly, to the *stand-in*, and the result says which model it is
and why. A notebook never waits on a network that does not answer and never
stops with a traceback here; a download, once the Hub has answered, shows
huggingface_hub's progress bars.

The stand-in (`knobs/standin/`, made by tools/make_standin.py) is a small
GPT-2 trained on the book's farm corpora, stored in GPT-2's own format: a
config.json that transformers reads as GPT-2's, the released file's tensor
names, Conv1D [in, out] layouts, no output layer in the file (it is tied). So
`knobs.checkpoints.from_safetensors` and transformers both load it, and every
experiment of the chapter runs on it as it runs on GPT-2 -- with a word-level
tokenizer instead of GPT-2's BPE.
"""
from __future__ import annotations

import json
import math
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from knobs import checkpoints, gpt
from knobs.validate import ArgumentTypeError, check_instance, check_int, check_number, check_text, fail

HUB_REPO = "openai-community/gpt2"
HUB_FILES = ("config.json", "model.safetensors", "tokenizer.json")
STANDIN = Path(str(resources.files("knobs") / "standin"))  # config.json, model.safetensors, vocab.json, heldout.txt
PREFER = ("hub", "standin")


class HubUnavailable(ConnectionError):
    """GPT-2 could not be had from the Hub or the local cache; the message says why."""


class WordTokenizer:
    """The stand-in's tokenizer: one id per word, '.' a word of its own, lower case (vocab.json: word -> id)."""

    def __init__(self, vocab: dict[str, int]):
        if not isinstance(vocab, dict) or not all(isinstance(w, str) and isinstance(i, int) for w, i in vocab.items()):
            fail("vocab", "a dict of word -> id (vocab.json)", vocab, ArgumentTypeError)
        self.ids = dict(vocab)
        self.words = [w for w, _ in sorted(self.ids.items(), key=lambda item: item[1])]  # id -> word

    @classmethod
    def from_file(cls, path) -> WordTokenizer:
        return cls(json.loads(Path(path).read_text()))

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def tokenize(self, text: str) -> list[str]:
        return re.findall(r"[^\s.]+|\.", text.lower())  # "The cat naps." -> the cat naps .

    def encode(self, text: str) -> list[int]:
        ids = []
        for word in self.tokenize(text):
            if word not in self.ids:
                raise ValueError(f"word {word!r} is not in the stand-in's vocabulary; it knows: {' '.join(self.words)}")
            ids.append(self.ids[word])
        return ids

    def decode(self, ids) -> str:
        return " ".join(self.words[int(i)] for i in ids)


class BPETokenizer:
    """GPT-2's byte-level BPE (a tokenizer.json read by the `tokenizers` package): any text, no unknown words."""

    def __init__(self, path):
        check_instance("path", path, (str, os.PathLike), "the path of a tokenizer.json (a str or Path)")
        if not Path(path).is_file():
            fail("path", "an existing tokenizer.json file", str(path))
        from tokenizers import Tokenizer  # only the online path needs the package

        self._tokenizer = Tokenizer.from_file(str(path))

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.encode(text).tokens  # 'Ġ' marks a piece that starts with a space

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text).ids

    def decode(self, ids) -> str:
        return self._tokenizer.decode([int(i) for i in ids])


@dataclass
class LoadedGPT:
    model: gpt.GPT
    tokenizer: WordTokenizer | BPETokenizer
    name: str  # "gpt2" or "stand-in"
    source: str  # where the files came from: a folder or cache path
    reason: str  # why this model: what the Hub attempt said, or that the caller asked for it

    def complete(self, text: str, max_new_tokens: int = 10) -> str:
        """Greedy continuation of `text` (deterministic: the same text gives the same words)."""
        ids = self.tokenizer.encode(text)
        return self.tokenizer.decode(gpt.generate(self.model, ids, max_new_tokens)[len(ids):])

    def perplexity(self, text: str) -> float:
        return gpt.perplexity(self.model, self.tokenizer.encode(text))

    def __str__(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        return f"{self.name}: {n:,} parameters, from {self.source} ({self.reason})"


def load_standin(reason: str = "asked for the stand-in") -> LoadedGPT:
    """The shipped stand-in (no network, about a second): a GPT-2-format model of the farm language."""
    check_text("reason", reason)
    model = checkpoints.from_safetensors(STANDIN)
    return LoadedGPT(model, WordTokenizer.from_file(STANDIN / "vocab.json"), "stand-in", str(STANDIN), reason)


def heldout_text() -> str:
    """The stand-in's evaluation text: farm sentences drawn after training, never trained on (chapter 10)."""
    return (STANDIN / "heldout.txt").read_text()


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_reachable(timeout: float = 2.0) -> tuple[bool, str]:
    """(True, '') if the Hub answers a request for GPT-2's config within `timeout` s, else (False, why)."""
    check_number("timeout", timeout, 0, 60, low_open=True)
    if _offline():
        return False, "HF_HUB_OFFLINE is set"
    try:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
    except ImportError:
        return False, "the huggingface_hub package is not installed"
    answer = {}

    def ask():
        try:
            get_hf_file_metadata(hf_hub_url(HUB_REPO, "config.json"), timeout=timeout)
            answer["ok"] = True
        except Exception as error:  # noqa: BLE001 -- any failure means "not reachable", said in words
            answer["error"] = error

    # A thread bounds the whole request, name lookup included (a socket timeout does not cover DNS).
    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    if "ok" in answer:
        return True, ""
    if "error" in answer:
        return False, f"the Hub is not reachable ({_one_line(answer['error'])})"
    return False, f"the Hub did not answer within {timeout:g} s"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _hub_files(timeout: float, cache_dir) -> tuple[list[str], str]:
    """Local paths of HUB_FILES, and where they came from."""
    from huggingface_hub import hf_hub_download

    try:  # downloaded once already: the cache answers without the network
        return [hf_hub_download(HUB_REPO, f, cache_dir=cache_dir, local_files_only=True) for f in HUB_FILES], \
            "the local Hugging Face cache"
    except Exception:  # noqa: BLE001 -- not (all) cached: ask the Hub, if allowed and reachable
        pass
    reachable, why = hub_reachable(timeout)
    if not reachable:
        raise HubUnavailable(f"{why}, and GPT-2 is not in the local cache")
    paths = [hf_hub_download(HUB_REPO, f, cache_dir=cache_dir, etag_timeout=timeout) for f in HUB_FILES]
    return paths, "the Hugging Face Hub"


def load_gpt2(prefer: str = "hub", timeout: float = 2.0, cache_dir=None) -> LoadedGPT:
    """GPT-2 small from the Hub when it can be had quickly, else the stand-in; `.reason` says which and why (chapter 10)."""
    if prefer not in PREFER:
        raise ValueError(f"prefer must be one of {PREFER}, got {prefer!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
        raise ValueError(f"timeout must be a number of seconds in (0, 60], got {timeout!r}")
    if cache_dir is not None:
        check_instance("cache_dir", cache_dir, (str, os.PathLike), "a folder as a str or Path (or None)")
    if prefer == "standin":
        return load_standin("prefer='standin'")
    try:
        for package in ("huggingface_hub", "tokenizers"):
            __import__(package)
        (_config, weights, tokenizer), where = _hub_files(timeout, cache_dir)  # config.json lies beside the weights
        model = checkpoints.from_safetensors(weights)
        return LoadedGPT(model, BPETokenizer(tokenizer), "gpt2", str(Path(weights).parent), f"{HUB_REPO} from {where}")
    except Exception as error:  # noqa: BLE001 -- whatever went wrong, the chapter goes on with the stand-in
        reason = (f"the {error.name} package is not installed" if isinstance(error, ImportError)
                  else str(error) if isinstance(error, HubUnavailable) else _one_line(error))
        return load_standin(f"GPT-2 unavailable: {reason}")


def unigram_perplexity(train_ids, eval_ids, vocab_size: int) -> float:
    """Perplexity of word frequencies alone (add-one smoothed): the baseline any language model must beat."""
    check_int("vocab_size", vocab_size, 1)
    for name, ids in (("train_ids", train_ids), ("eval_ids", eval_ids)):
        if isinstance(ids, str) or not hasattr(ids, "__len__"):
            fail(name, "a list (or tensor) of token ids", ids, ArgumentTypeError)
    if len(eval_ids) == 0:
        raise ValueError("eval_ids must hold at least one token")
    counts = Counter(int(i) for i in train_ids)
    total = sum(counts.values()) + vocab_size  # +1 for every word: unseen words keep a little probability
    nll = -sum(math.log((counts[int(i)] + 1) / total) for i in eval_ids)
    return math.exp(nll / len(eval_ids))
