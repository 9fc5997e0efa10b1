"""Regenerate lib/knobs/corpora/farm_more.txt, chapter 7's "more data" corpus.

The same grammar and the same seeded random stream as `make_corpus.py`, run
for longer: the first 600 sentences are exactly farm.txt, the rest are new
sentences from the same language. So "more data" means more sentences of the
same farm, and any prefix of this file is "less data" of it. Run once; the
text file is committed and is what the book reads (no generation at run time).
"""
import random
from pathlib import Path

from make_corpus import sentence

N_SENTENCES = 6000  # 10x farm.txt: up to 8x its training text, plus a held-out validation tail


def main(n_sentences: int = N_SENTENCES, seed: int = 0) -> None:
    rng = random.Random(seed)
    lines = [sentence(rng) for _ in range(n_sentences)]
    root = Path(__file__).resolve().parents[1] / "lib/knobs/corpora"
    farm = (root / "farm.txt").read_text().splitlines()
    if lines[:len(farm)] != farm:
        raise SystemExit("the stream no longer reproduces farm.txt: did make_corpus.py's grammar change?")
    out = root / "farm_more.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} sentences to {out} (the first {len(farm)} are farm.txt)")


if __name__ == "__main__":
    main()
