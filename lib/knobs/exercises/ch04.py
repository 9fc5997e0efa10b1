"""Chapter 4 exercises: which rows a batch reaches, cosine similarity by hand, GPT-2's share of embeddings."""
import math

import torch

from knobs.check import NotAnswered, direction_hint, exercise, is_close
from knobs.embeddings import embedding_share
from knobs.models import GPT2Config

ROWS_BATCH = 6  # the exercise's batch: the first 6 training examples of the farm corpus


def rows_batch():
    """(X_batch, y_batch) of exercise ch04.rows: the first ROWS_BATCH training examples."""
    from knobs.labs.ch01 import farm_data

    _, X, y, _, _ = farm_data()
    return X[:ROWS_BATCH], y[:ROWS_BATCH]


@exercise("ch04.rows")
def check_rows(answer):
    X_batch, y_batch = rows_batch()
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise TypeError("give a whole number of rows")
    expected = len(set(X_batch.flatten().tolist()))
    if answer == expected:
        return True, "Only the rows that were looked up take part in the loss, so only they get a gradient."
    if answer == X_batch.numel():
        return False, "Some words appear more than once in the batch; a row gets one (summed) gradient however often it is used."
    if answer == len(set(X_batch.flatten().tolist()) | set(y_batch.tolist())):
        return False, ("The next word (y) is scored by the output layer; its row of the embedding table is not looked "
                       "up for this batch.")
    if answer == 29:
        return False, "Does the loss depend on the row of a word that is not in the batch at all?"
    return False, direction_hint(answer, expected) + " Look at the context words of the batch, X_batch."


def _call(fn, a, b):
    value = fn(a.clone(), b.clone())
    return float(value)


@exercise("ch04.cosine")
def check_cosine(answer):
    if not callable(answer):
        raise TypeError("give a function of two vectors, e.g. def my_cosine(a, b): ...")
    generator = torch.Generator().manual_seed(4)
    pairs = [(torch.randn(8, generator=generator, dtype=torch.float64), torch.randn(8, generator=generator, dtype=torch.float64))
             for _ in range(4)]
    pairs.append((torch.tensor([3.0, 0.0], dtype=torch.float64), torch.tensor([-5.0, 0.0], dtype=torch.float64)))
    pairs.append((torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64), torch.tensor([10.0, 20.0, 20.0], dtype=torch.float64)))
    try:
        if answer(*pairs[0]) is ...:
            raise NotAnswered("Replace the ... in your function with your code, then run the cell again.")
        got = [_call(answer, a, b) for a, b in pairs]
    except NotAnswered:
        raise
    except Exception as error:  # the learner's own code: report, never a traceback
        return False, f"Your function raised {type(error).__name__}: {error}. It should take two 1-D tensors and return one number."
    want = [float(torch.nn.functional.cosine_similarity(a, b, dim=0)) for a, b in pairs]
    if all(math.isclose(g, w, rel_tol=1e-4, abs_tol=1e-6) for g, w in zip(got, want)):
        return True, "Cosine similarity compares directions only: lengths are divided away."
    if all(math.isclose(g, float(a @ b), rel_tol=1e-4) for g, (a, b) in zip(got, pairs)):
        return False, "That is the dot product: it grows with the vectors' lengths. Divide the lengths away."
    if all(math.isclose(g, 1 - w, rel_tol=1e-4, abs_tol=1e-6) for g, w in zip(got, want)):
        return False, "That is a distance (1 − similarity): identical directions should give 1, not 0."
    if all(math.isclose(g, float(a @ b / a.norm()), rel_tol=1e-4) or math.isclose(g, float(a @ b / b.norm()), rel_tol=1e-4)
           for g, (a, b) in zip(got, pairs)):
        return False, "Divide by the lengths of both vectors, not just one."
    if all(math.isclose(abs(g), abs(w), rel_tol=1e-4) for g, w in zip(got, want)):
        return False, "Close, but the sign is lost: opposite directions should give −1."
    return False, "Not yet: two vectors pointing the same way should give 1, opposite ways −1, at right angles 0."


@exercise("ch04.share")
def check_share(answer):
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise TypeError("give a number between 0 and 1")
    c = GPT2Config()
    share = embedding_share(c)
    expected = share["share"]
    if is_close(answer, expected, rel=2e-3):
        return True, "Almost a third of GPT-2 small is its lookup tables; in bigger models the share shrinks."
    if is_close(answer, 100 * expected, rel=2e-3):
        return False, "That looks like a percentage: give the share as a fraction between 0 and 1."
    if is_close(answer, share["token"] / share["total"], rel=2e-3):
        return False, "GPT-2 also learns one vector per position (n_positions of them): count those too."
    untied = (2 * share["token"] + share["position"]) / (share["total"] + share["token"])
    if is_close(answer, untied, rel=2e-3):
        return False, "GPT-2's output layer reuses the token embedding (weight tying): it is one tensor, counted once."
    return False, direction_hint(answer, expected) + " Token embeddings are vocab_size × n_embd; positions n_positions × n_embd."
