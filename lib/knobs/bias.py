"""Chapter 9: social bias learned from skewed data, measured in the parameters, and two mitigations.

The example is synthetic and says so: two invented job sentences ("the
farmer said he feeds the cow .") are added to the farm corpus, with the
pronoun after each job chosen at a ratio we set (`skew`). A skew of 0.5 is
balanced; 0.9 means 90% of farmer sentences say "he" and 90% of vet sentences
say "she". We then measure what the trained parameters picked up:

  next-word bias  = ½ [P(he | farmer said) − P(she | farmer said)] + ½ [P(she | vet said) − P(he | vet said)]
  embedding bias  = ½ [cos(e_farmer, g) − cos(e_vet, g)],  g = e_he − e_she
                    (a one-pair, signed version of Bolukbasi et al.'s direction; they take the first
                    principal component of ten pair differences and average |cos|)
  job separation  = 1 − cos(e_farmer, e_vet)

The next-word bias is 0 for an unbiased model, 1 for a fully stereotyped one and −1 for the opposite
stereotype. `data_bias` computes the same formula on the sentences' own pronoun frequencies.
"""
from __future__ import annotations

import copy
import random

import torch
from torch.nn import functional as F

from knobs import data, models, train
from knobs.validate import check_bool, check_choice, check_fraction, check_instance, check_int, fail

OCCUPATIONS = {"farmer": "he", "vet": "she"}  # job -> the pronoun the skew favours (an arbitrary, synthetic choice)
SWAP = {"he": "she", "she": "he"}
MITIGATIONS = ("none", "counterfactual data", "project out direction")


def job_sentences(skew: float, n: int = 300, augment: bool = False, seed: int = 0,
                  duplicate: bool = False) -> list[str]:
    """n synthetic job sentences at the given skew.

    `augment`: each also gets its pronoun-swapped twin (counterfactual data). `duplicate`: each is added a
    second time unchanged: as many extra sentences as `augment` adds, with no balancing (the control that
    separates counterfactual data's effect from the effect of having more job sentences).
    """
    check_fraction("skew", skew)
    check_int("n", n, 1)
    check_bool("augment", augment)
    check_int("seed", seed, 0)
    check_bool("duplicate", duplicate)
    if augment and duplicate:
        fail("duplicate", "False when augment is True (one or the other)", duplicate)
    rng = random.Random(seed)
    animals = ["cow", "horse", "dog", "cat", "bird"]
    out = []
    for i in range(n):
        job = list(OCCUPATIONS)[i % 2]
        favored = OCCUPATIONS[job]
        pronoun = favored if rng.random() < skew else SWAP[favored]
        sentence = f"the {job} said {pronoun} feeds the {rng.choice(animals)} ."
        out.append(sentence)
        if augment:  # counterfactual data augmentation: the same sentence with the pronoun swapped
            out.append(sentence.replace(f" {pronoun} ", f" {SWAP[pronoun]} "))
        if duplicate:
            out.append(sentence)
    return out


def data_bias(sentences: list[str]) -> float:
    """The next-word bias formula on the sentences' own frequencies: what a perfect model of them would score.

    ½ [f(he | farmer said) − f(she | farmer said)] + ½ [f(she | vet said) − f(he | vet said)], f the fraction
    of that job's sentences with that pronoun (chapter 9: the realised skew of the data, not the nominal one).
    """
    if not isinstance(sentences, (list, tuple)) or not all(isinstance(x, str) for x in sentences):
        fail("sentences", "a list of sentences (strings), e.g. job_sentences(0.9)", sentences)
    total = 0.0
    for job, favored in OCCUPATIONS.items():
        after = [x.split()[x.split().index("said") + 1] for x in sentences if f" {job} said " in f" {x} "]
        if not after:
            fail("sentences", f"sentences about both jobs (none says '{job} said')", sentences)
        total += (after.count(favored) - after.count(SWAP[favored])) / len(after)
    return total / len(OCCUPATIONS)


def make_skewed_corpus(skew: float, augment: bool = False, seed: int = 0, duplicate: bool = False) -> data.Corpus:
    """The farm corpus plus job sentences at `skew`, shuffled together (sentence order fixed by `seed`)."""
    lines = data.read_corpus_text("farm").strip().splitlines() + job_sentences(skew, augment=augment, seed=seed,
                                                                               duplicate=duplicate)
    random.Random(seed).shuffle(lines)
    return data.load_corpus("farm+jobs", text="\n".join(lines))


def _check(model, vocab) -> None:
    models.check_tiny_lm(model, exact=True)
    check_instance("vocab", vocab, data.Vocab, "the skewed corpus's Vocab (make_skewed_corpus(...).vocab)")


@torch.no_grad()
def next_word_bias(model, vocab) -> float:
    """Average extra probability the model gives the favored pronoun after 'JOB said' (0 = none)."""
    _check(model, vocab)
    total = 0.0
    for job, favored in OCCUPATIONS.items():
        p = models.next_word_probs(model, vocab, f"{job} said", ["he", "she"])
        total += p[favored] - p[SWAP[favored]]
    return total / len(OCCUPATIONS)


@torch.no_grad()
def embedding_bias(model, vocab) -> float:
    """Average cosine of each job's embedding with g = e_he − e_she, signed toward its favored pronoun."""
    _check(model, vocab)
    E = model.embed.weight
    g = E[vocab.id("he")] - E[vocab.id("she")]
    total = 0.0
    for job, favored in OCCUPATIONS.items():
        cos = float(F.cosine_similarity(E[vocab.id(job)], g, dim=0))
        total += cos if favored == "he" else -cos
    return total / len(OCCUPATIONS)


@torch.no_grad()
def job_separation(model, vocab) -> float:
    """1 − cos(e_farmer, e_vet): how differently the model's input vectors treat the two jobs."""
    _check(model, vocab)
    E = model.embed.weight
    return 1.0 - float(F.cosine_similarity(E[vocab.id("farmer")], E[vocab.id("vet")], dim=0))


def project_out_direction(model, vocab):
    """Remove each job embedding's component along e_he − e_she: the "neutralize" step of Bolukbasi et al.'s
    (2016) hard debiasing, with a one-pair direction (their "equalize" step is left out)."""
    _check(model, vocab)
    fixed = copy.deepcopy(model)
    with torch.no_grad():
        E = fixed.embed.weight
        g = E[vocab.id("he")] - E[vocab.id("she")]
        g = g / g.norm()
        for job in OCCUPATIONS:
            row = E[vocab.id(job)]
            row -= (row @ g) * g
    return fixed


def farm_pairs(vocab, context: int = 2, every_nth: int = 6):
    """Every `every_nth` pair of the plain farm corpus, in this vocabulary: what mitigation's cost is measured on.

    These farm sentences are part of the training data too: the cost is in fit to trained-on text.
    """
    check_instance("vocab", vocab, data.Vocab, "a knobs Vocab")
    check_int("context", context, 1, 8)
    check_int("every_nth", every_nth, 1)
    farm = data.load_corpus("farm")
    ids = torch.tensor(vocab.encode(list(farm.tokens)))
    X, y = ids.unfold(0, context, 1)[:-1], ids[context:]
    return X[::every_nth].contiguous(), y[::every_nth]  # a fixed subset keeps each lab frame cheap


def bias_run(skew: float, mitigation: str = "none", steps: int = 300, every: int = 10, seed: int = 0,
             duplicate: bool = False):
    """Train on the skewed corpus; yield Snapshots with both bias scores and the farm loss (the cost).

    `duplicate`: every job sentence twice, unswapped (with mitigation "none": the control for counterfactual data).
    """
    if mitigation not in MITIGATIONS:
        raise ValueError(f"mitigation must be one of {MITIGATIONS}, got {mitigation!r}")
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    corpus = make_skewed_corpus(skew, augment=mitigation == "counterfactual data", seed=seed, duplicate=duplicate)
    X, y = data.make_dataset(corpus)
    X_farm, y_farm = farm_pairs(corpus.vocab)
    model = models.make_tiny_lm(len(corpus.vocab), seed=seed)
    for snap in train.train_lm(model, X, y, steps=steps, every=every, lr=0.03, seed=seed):
        measured = project_out_direction(model, corpus.vocab) if mitigation == "project out direction" else model
        snap.metrics.update(bias_next=next_word_bias(measured, corpus.vocab),
                            bias_embed=embedding_bias(measured, corpus.vocab),
                            job_separation=job_separation(measured, corpus.vocab),
                            farm_loss=train.evaluate(measured, X_farm, y_farm))
        snap.info["probs"] = {"farmer said": models.next_word_probs(measured, corpus.vocab, "farmer said", ["he", "she"])}
        snap.info["vocab"] = corpus.vocab
        yield snap


def train_skewed(skew: float, mitigation: str = "none", steps: int = 300, seed: int = 0):
    """(model, vocab, last snapshot) after training on the skewed corpus."""
    check_choice("mitigation", mitigation, MITIGATIONS)
    corpus = make_skewed_corpus(skew, augment=mitigation == "counterfactual data", seed=seed)
    X, y = data.make_dataset(corpus)
    model = models.make_tiny_lm(len(corpus.vocab), seed=seed)
    last = train.run_to_end(train.train_lm(model, X, y, steps=steps, every=steps, lr=0.03, seed=seed))
    return model, corpus.vocab, last
