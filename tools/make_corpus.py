"""Regenerate lib/knobs/corpora/farm.txt, the book's running-example corpus.

The corpus is written from a small grammar with a fixed seed, so every
sentence follows the selectional rules below (cows eat grass, birds live in
trees, ...). The model can only learn what the grammar puts there: that is
what makes its embeddings and predictions checkable. Run once; the text file
is committed and is what the book reads (no generation at run time).
"""
import random
from pathlib import Path

# animal -> (foods, drinks, places)
ANIMALS = {
    "cat": (["fish", "mice"], ["milk"], ["house", "garden"]),
    "dog": (["meat", "bones"], ["water"], ["house", "garden"]),
    "cow": (["grass", "hay"], ["water"], ["field", "barn"]),
    "horse": (["hay", "apples"], ["water"], ["field", "barn"]),
    "bird": (["seeds", "worms"], ["water"], ["tree", "garden"]),
}
CHASES = {"cat": ["bird"], "dog": ["cat", "bird"]}
NAPS = ["naps", "sleeps"]


def sentence(rng: random.Random) -> str:
    animal = rng.choice(sorted(ANIMALS))
    foods, drinks, places = ANIMALS[animal]
    kind = rng.choice(["eats", "drinks", "naps", "chases", "eats_in"])
    if kind == "chases" and animal in CHASES:
        return f"the {animal} chases the {rng.choice(CHASES[animal])} ."
    if kind == "drinks":
        return f"the {animal} drinks {rng.choice(drinks)} ."
    if kind == "naps":
        return f"the {animal} {rng.choice(NAPS)} in the {rng.choice(places)} ."
    if kind == "eats_in":
        return f"the {animal} eats {rng.choice(foods)} in the {rng.choice(places)} ."
    return f"the {animal} eats {rng.choice(foods)} ."


def place_first(line: str) -> str | None:
    """'the cow eats hay in the barn .' -> 'in the barn the cow eats hay .' (None without a place)."""
    words = line.split()
    if "in" not in words:
        return None
    cut = words.index("in")
    return " ".join(words[cut:-1] + words[:cut] + ["."])


def write(name: str, lines: list[str]) -> None:
    out = Path(__file__).resolve().parents[1] / f"lib/knobs/corpora/{name}.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} sentences to {out}")


def main(n_sentences: int = 600, seed: int = 0) -> None:
    rng = random.Random(seed)
    write("farm", [sentence(rng) for _ in range(n_sentences)])
    # Chapter 8's fine-tuning text: same words, another style (the place comes first).
    rng = random.Random(seed + 1)
    styled = []
    while len(styled) < 200:
        line = place_first(sentence(rng))
        if line:
            styled.append(line)
    write("farm_place_first", styled)


if __name__ == "__main__":
    main()
