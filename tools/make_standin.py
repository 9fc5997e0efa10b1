"""Regenerate lib/knobs/standin/: chapter 10's offline stand-in for GPT-2.

Trains a small model of GPT-2's architecture (knobs.gpt) on the book's shipped
corpora -- farm_more.txt (whose first 600 sentences are farm.txt) and
farm_place_first.txt, read as two documents in a row -- with a word-level
vocabulary (the sentence end "." is a word). One CPU thread, fixed seeds, two to
four minutes; a rerun with the same torch build writes the same model.safetensors
(checked: same sha256). It writes, in GPT-2's own format:

  config.json        the keys of openai-community/gpt2's config.json, this model's sizes
  model.safetensors  fp32 tensors named as in the released file (Conv1D [in, out], no lm_head: tied)
  vocab.json         word -> id (ids sorted by word, as knobs.data.Vocab numbers them)
  heldout.txt        farm sentences drawn from the corpus grammar with new seeds, never trained on
  README.md          what it is, how it was made, and its numbers

fp32, like the released GPT-2 file: chapter 10 quantizes the stand-in exactly as
it quantizes GPT-2, from the same 32-bit starting point (and it fits: ~3 MB).
Run once from the repository root (`.venv/bin/python tools/make_standin.py`);
the files are committed and are what the book reads.
"""
import hashlib
import json
import math
import random
import time
from collections import Counter
from pathlib import Path

import torch
from torch.nn import functional as F

from knobs import checkpoints, gpt, pretrained
from knobs.data import read_corpus_text
from make_corpus import place_first, sentence

OUT = Path(__file__).resolve().parents[1] / "lib/knobs/standin"
CONFIG = dict(n_positions=64, n_embd=128, n_layer=4, n_head=4)  # ~0.8M parameters; 64 words ≈ 10 sentences of context
STEPS, BATCH, LR, WARMUP, WEIGHT_DECAY = 800, 32, 2e-3, 50, 0.1
SEED = 0


def heldout_sentences() -> list[str]:
    """New draws from the corpus grammar (make_corpus.py's seeds are 0 and 1): both styles, as in training."""
    rng = random.Random(2)
    plain = [sentence(rng) for _ in range(45)]
    rng = random.Random(3)
    styled = []
    while len(styled) < 8:
        line = place_first(sentence(rng))
        if line:
            styled.append(line)
    return plain + [""] + styled  # two paragraphs, like the two training documents


def lr_at(step: int) -> float:
    """Linear warmup, then cosine decay to a tenth (nanoGPT's schedule)."""
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, STEPS - WARMUP)
    return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def grammar_perplexity(text: str) -> float:
    """Estimated floor: the entropy of the sentence distribution (counted in `text`) per word."""
    sentences = Counter(line.strip() for line in text.splitlines() if line.strip())
    n = sum(sentences.values())
    bits = -sum(c / n * math.log(c / n) for c in sentences.values())
    words = sum(c * len(s.split()) for s, c in sentences.items()) / n
    return math.exp(bits / words)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    text = read_corpus_text("farm_more") + read_corpus_text("farm_place_first")
    words = sorted(set(text.split()))
    tokenizer = pretrained.WordTokenizer({w: i for i, w in enumerate(words)})
    train_ids = torch.tensor(tokenizer.encode(text))  # (N,)
    heldout = "\n".join(heldout_sentences()) + "\n"
    eval_ids = tokenizer.encode(heldout)

    config = gpt.GPTConfig(vocab_size=len(words), **CONFIG)
    model = gpt.GPT(config)
    decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices decay; biases and LayerNorm gains do not
    other = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": other, "weight_decay": 0.0}],
                                  lr=LR, betas=(0.9, 0.95))
    generator = torch.Generator().manual_seed(SEED)
    T = config.n_positions
    start = time.perf_counter()
    for step in range(STEPS):
        starts = torch.randint(0, len(train_ids) - T - 1, (BATCH,), generator=generator)
        window = torch.stack([train_ids[s:s + T + 1] for s in starts.tolist()])  # (B, T + 1)
        X, y = window[:, :-1], window[:, 1:]  # (B, T) each: y is X shifted by one word
        loss = F.cross_entropy(model(X).flatten(0, 1), y.flatten())
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 100 == 0 or step == STEPS - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  held-out perplexity {gpt.perplexity(model, eval_ids):.3f}")
    seconds = time.perf_counter() - start
    model.eval()

    results = {
        "model": gpt.perplexity(model, eval_ids),
        "unigram": pretrained.unigram_perplexity(train_ids.tolist(), eval_ids, len(words)),
        "grammar": grammar_perplexity(text),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    dot = tokenizer.ids["."]  # the stand-in's only boundary token plays GPT-2's <|endoftext|>
    checkpoints.to_safetensors(model, OUT, bos_token_id=dot, eos_token_id=dot)
    (OUT / "vocab.json").write_text(json.dumps(tokenizer.ids, indent=1) + "\n")
    (OUT / "heldout.txt").write_text(heldout)
    n_params = sum(p.numel() for p in model.parameters())
    size = (OUT / "model.safetensors").stat().st_size
    digest = hashlib.sha256((OUT / "model.safetensors").read_bytes()).hexdigest()[:16]
    (OUT / "README.md").write_text(f"""# GPT-2 stand-in (farm language)

A {config.n_layer}-layer GPT-2 ({n_params:,} parameters: n_embd {config.n_embd}, n_head {config.n_head},
n_positions {config.n_positions}, vocabulary {config.vocab_size} words) in GPT-2's own checkpoint format, made
by `tools/make_standin.py` so that chapter 10 runs without a network. Load it with
`knobs.pretrained.load_standin()`, `knobs.checkpoints.from_safetensors(folder)` or
`transformers.GPT2LMHeadModel.from_pretrained(folder)`.

- Trained on `farm_more.txt` + `farm_place_first.txt` ({len(train_ids):,} words), {STEPS} steps of
  {BATCH} windows of {T} words, AdamW (lr {LR}, cosine, weight decay {WEIGHT_DECAY}), seed {SEED},
  1 CPU thread: {seconds:.0f} s with torch {torch.__version__}.
- `heldout.txt` ({len(eval_ids)} words): sentences drawn from the corpus grammar with new seeds, never
  trained on. The farm language has few distinct sentences, so held-out text repeats trained
  sentences in a new order: it measures how well the model learned their probabilities.
- Held-out perplexity: model **{results['model']:.2f}**; word frequencies alone (unigram, add-one)
  {results['unigram']:.2f}; the grammar's own, estimated from the training text, about {results['grammar']:.2f}.
- `model.safetensors`: fp32 (as the released GPT-2), {size:,} bytes, sha256 {digest}...; the tied output
  layer is not in the file (as in GPT-2's). GPT-2's file also stores each block's causal mask as
  `h.N.attn.bias`; this one does not (transformers no longer saves it, and loaders ignore it).
""")
    print(f"trained in {seconds:.0f} s; held-out perplexity {results['model']:.3f} "
          f"(unigram {results['unigram']:.3f}, grammar ≈ {results['grammar']:.3f}); "
          f"model.safetensors {size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
