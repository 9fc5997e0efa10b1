"""Chapter 4 exercises: which rows a batch reaches, cosine similarity by hand, GPT-2's share of embeddings."""
import math

import torch

from knobs.exercises.checker import NotAnswered, as_number, as_whole_number, direction_hint, exercise, is_close
from knobs.embeddings import embedding_share
from knobs.models import GPT2Config

ROWS_BATCH = 6  # the exercise's batch: the first 6 training examples of the farm corpus


def rows_batch():
    """(X_batch, y_batch) of exercise ch04.rows: the first ROWS_BATCH training examples."""
    from knobs.data import farm_split

    _, X, y, _, _ = farm_split()
    return X[:ROWS_BATCH], y[:ROWS_BATCH]


@exercise("ch04.rows")
def check_rows(answer):
    X_batch, y_batch = rows_batch()
    answer = as_whole_number(answer, "the number of rows")
    expected = len(set(X_batch.flatten().tolist()))
    if answer == expected:
        return True, ("Only the rows that were looked up take part in the loss, so only they get a gradient (this model's "
                      "table is not tied to its output layer).")
    if answer == X_batch.numel():
        return False, "Some words appear more than once in the batch; a row gets one (summed) gradient however often it is used."
    if answer == len(set(X_batch.flatten().tolist()) | set(y_batch.tolist())):
        return False, ("The next word (y) is scored by the output layer; its row of the embedding table is not looked "
                       "up for this batch.")
    if answer == 29:
        return False, "Does the loss depend on the row of a word that is not in the batch at all?"
    return False, direction_hint(answer, expected) + " Look at the context words of the batch, X_batch."


def cosine_vectors():
    """(u, v) of exercise ch04.cosine: small whole numbers, so the lengths come out exact (3 and 9)."""
    return torch.tensor([2.0, 1.0, -2.0]), torch.tensor([1.0, 4.0, 8.0])


@exercise("ch04.cosine")
def check_cosine(answer):
    u, v = (t.double() for t in cosine_vectors())
    if callable(answer):  # a function of two vectors works too: it is asked about u and v
        answer = answer(u.clone(), v.clone())  # an error inside it is reported by check(), naming the inputs
        if answer is ...:
            raise NotAnswered("Replace the ... in your function with your code, then run the cell again.")
    value = as_number(answer)
    expected = float(torch.nn.functional.cosine_similarity(u, v, dim=0))
    dot, nu, nv = float(u @ v), float(u.norm()), float(v.norm())
    if math.isclose(value, expected, rel_tol=1e-3):
        return True, "Cosine similarity compares directions only: the lengths are divided away."
    if math.isclose(value, dot, rel_tol=1e-3):
        return False, "That is the dot product: it grows with the vectors' lengths. Divide both lengths away."
    if math.isclose(value, dot / nu, rel_tol=1e-3) or math.isclose(value, dot / nv, rel_tol=1e-3):
        return False, "Divide by the lengths of both vectors, not just one."
    if math.isclose(value, 1 - expected, rel_tol=1e-3):
        return False, "That is a distance (1 − similarity): identical directions should give 1, not 0."
    if math.isclose(value, -expected, rel_tol=1e-3):
        return False, "Right size, wrong sign: do these two vectors point more towards or more away from each other?"
    if math.isclose(value, math.acos(expected), rel_tol=1e-3) or math.isclose(value, math.degrees(math.acos(expected)), rel_tol=1e-3):
        return False, "That is the angle itself; the question asks for its cosine."
    if not -1 <= value <= 1:
        return False, "A cosine similarity always lies between −1 and 1: check the division by the lengths."
    return False, "Not yet: multiply the vectors (u @ v), then divide by the length of each (u.norm(), v.norm())."


@exercise("ch04.share")
def check_share(answer):
    answer = as_number(answer, "the share")
    c = GPT2Config()
    share = embedding_share(c)
    expected = share["share"]
    if abs(answer - expected) <= 0.005:  # rounded to a whole percent, as the quiz asks, is right too
        return True, ("Almost a third of GPT-2 small is its lookup tables; at a fixed vocabulary the share shrinks in "
                      "bigger models.")
    if abs(answer - 100 * expected) <= 0.5:
        return False, "That looks like a percentage: give the share as a fraction between 0 and 1."
    if is_close(answer, share["token"] / share["total"], rel=2e-3):
        return False, "GPT-2 also learns one vector per position (n_positions of them): count those too."
    untied = (2 * share["token"] + share["position"]) / (share["total"] + share["token"])
    if is_close(answer, untied, rel=2e-3):
        return False, "GPT-2's output layer reuses the token embedding (weight tying): it is one tensor, counted once."
    return False, direction_hint(answer, expected) + " Token embeddings are vocab_size × n_embd; positions n_positions × n_embd."
