"""Chapter 3 exercises: one SGD step with weight decay, a soft-threshold by hand, GPT-2's decayed parameters."""
import torch

from knobs.exercises.checker import direction_hint, exercise, is_close
from knobs.models import count_parameters, make_gpt2
from knobs.regularize import sgd_step, soft_threshold, split_decay

# Exercise 1: w = 2.0, data gradient 1.0, lr = 0.1, weight_decay = 0.5.
STEP = dict(w=2.0, grad=1.0, lr=0.1, weight_decay=0.5)


@exercise("ch03.sgd_step")
def check_sgd_step(answer):
    s = STEP
    expected = float(sgd_step(torch.tensor(s["w"]), torch.tensor(s["grad"]), s["lr"], s["weight_decay"]))
    if is_close(answer, expected, rel=1e-6):
        return True, "The decay term weight_decay × w joins the data gradient, and the step is lr times both."
    if is_close(answer, s["w"] - s["lr"] * s["grad"], rel=1e-6):
        return False, "That is the step without weight decay: add weight_decay × w to the gradient."
    if is_close(answer, s["w"] - s["lr"] * (s["grad"] + s["weight_decay"] * s["w"] / 2), rel=1e-6):
        return False, "The penalty is λ/2 · w², so its gradient is λ · w (the 2 from the square cancels the 1/2)."
    if is_close(answer, s["w"] + s["lr"] * (s["grad"] + s["weight_decay"] * s["w"]), rel=1e-6):
        return False, "A gradient step goes against the gradient: subtract."
    return False, direction_hint(answer, expected) + " Gradient = data gradient + weight_decay × w; new w = w − lr × gradient."


SHRINK_INPUT = [0.5, -0.2, 0.1, -1.0, 0.3]
SHRINK_THRESHOLD = 0.3


@exercise("ch03.soft_threshold")
def check_soft_threshold(answer):
    answer = [float(a) for a in answer]
    if len(answer) != len(SHRINK_INPUT):
        return False, f"Give one number per weight: {len(SHRINK_INPUT)} numbers."
    w = torch.tensor(SHRINK_INPUT)
    expected = soft_threshold(w, SHRINK_THRESHOLD).tolist()
    if all(abs(a - e) < 1e-6 for a, e in zip(answer, expected)):
        return True, "Small weights land on exactly 0; the others all move the same distance toward 0."
    hard = torch.where(w.abs() > SHRINK_THRESHOLD, w, torch.zeros_like(w)).tolist()
    if all(abs(a - h) < 1e-6 for a, h in zip(answer, hard)):
        return False, "That is a hard threshold: the weights that survive must also move toward 0 by the threshold."
    if all(abs(a - (x - SHRINK_THRESHOLD)) < 1e-6 for a, x in zip(answer, SHRINK_INPUT)):
        return False, "Subtracting the threshold from every weight pushes negative weights away from 0. Move each toward 0."
    if any(a * x < 0 for a, x in zip(answer, SHRINK_INPUT)):
        return False, "A weight never crosses 0: the step stops at exactly 0."
    wrong = sum(abs(a - e) > 1e-6 for a, e in zip(answer, expected))
    return False, f"{wrong} of {len(expected)} are off. Each weight moves {SHRINK_THRESHOLD} toward 0, and stops at 0."


@exercise("ch03.gpt2_decay")
def check_gpt2_decay(answer):
    model = make_gpt2()
    kinds = count_parameters(model).by_kind()
    expected = split_decay(model, decay_embeddings=False).counts["decay"]
    if is_close(answer, expected, rel=0):
        return True, "Only the weight matrices inside the 12 blocks are decayed under this convention."
    if answer == expected + kinds["embedding"]:
        return False, "You decayed the embeddings too (nanoGPT's choice). This exercise uses minGPT's: embeddings are left alone."
    if answer == expected + kinds["embedding"] + make_gpt2().wte.weight.numel():
        return False, "The output layer shares the token-embedding matrix (weight tying): it is one tensor, not two."
    if answer == expected + kinds["bias"] or answer == expected + kinds["norm"] or answer == expected + kinds["bias"] + kinds["norm"]:
        return False, "Biases and layer-norm gains and biases are not decayed."
    return False, direction_hint(answer, expected) + " Use count_parameters(...).by_kind() or split_decay(...)."
