"""Chapter 7 exercises: a compute-optimal budget, training vs inference memory, reading the sweep."""
import math

from knobs.exercises.checker import as_number, direction_hint, exercise, is_close
from knobs.models import memory_bytes
from knobs.scale import training_flops, training_memory_bytes

BUDGET = 1e22  # training FLOPs in exercise 1
TOKENS_PER_PARAMETER = 20  # Chinchilla's rule of thumb
MODEL_SIZE = 7e9  # parameters in exercise 2


def _numbers(answer: dict, keys: tuple) -> dict:
    if not isinstance(answer, dict) or set(answer) != set(keys):
        raise ValueError(f"give a dict with exactly the keys {list(keys)}")
    numbers = {key: as_number(answer[key], key) for key in keys}
    for key, value in numbers.items():
        if value <= 0:
            raise ValueError(f"{key} must be a positive number, got {value:g}")
    return numbers


@exercise("ch07.budget")
def check_budget(answer):
    a = _numbers(answer, ("parameters", "tokens"))
    N = math.sqrt(BUDGET / (6 * TOKENS_PER_PARAMETER))
    N_ok, D_ok = is_close(a["parameters"], N, rel=0.02), is_close(a["tokens"], TOKENS_PER_PARAMETER * N, rel=0.02)
    if N_ok and D_ok:
        return True, "Both follow from C = 6ND with D = 20N: the budget grows as N squared."
    spent = training_flops(a["parameters"], a["tokens"])
    if is_close(a["parameters"], math.sqrt(BUDGET / 6), rel=0.02):
        return False, "That spends the budget with one token per parameter: use D = 20 N."
    if is_close(spent, 3 * BUDGET, rel=0.02):  # they solved C = 2ND: the forward pass alone
        return False, "That is 2ND: the forward pass only. Training also runs the backward pass (about 4ND more)."
    if not is_close(spent, BUDGET, rel=0.05):
        return False, "6 × your parameters × your tokens should equal the budget; it does not. " + (
            "You spend too much." if spent > BUDGET else "You spend too little.")
    if not is_close(a["tokens"] / a["parameters"], TOKENS_PER_PARAMETER, rel=0.05):
        return False, "You spend the whole budget, but not at 20 tokens per parameter."
    return False, "Not yet: write D = 20 N, put it into C = 6 N D and solve for N."


@exercise("ch07.memory")
def check_memory(answer):
    a = _numbers(answer, ("training_GB", "inference_GB"))
    train, infer = training_memory_bytes(MODEL_SIZE) / 1e9, memory_bytes(MODEL_SIZE, "bf16") / 1e9
    train_ok, infer_ok = is_close(a["training_GB"], train, rel=0.02), is_close(a["inference_GB"], infer, rel=0.02)
    if train_ok and infer_ok:
        return True, "Training holds 8 times what inference needs, before counting activations."
    hints = []
    if not train_ok:
        per_param = a["training_GB"] * 1e9 / MODEL_SIZE
        if math.isclose(per_param, 2, rel_tol=0.05):
            hints.append("Training: that is the weights alone; add gradients and Adam's state.")
        elif math.isclose(per_param, 4, rel_tol=0.05):
            hints.append("Training: that covers the weights (and perhaps the 16-bit gradients), not the fp32 master "
                         "weights and Adam's two moments.")
        elif math.isclose(per_param, 12, rel_tol=0.05):
            hints.append("Training: that is the optimizer state alone; add the 16-bit weights and gradients.")
        elif math.isclose(per_param, 16 / 1.073741824, rel_tol=0.01):
            hints.append("Training: the question counts 10^9 bytes per GB, not 2^30.")
        else:
            hints.append("Training: " + direction_hint(a["training_GB"], train) + " Add up the bytes per parameter.")
    if not infer_ok:
        if math.isclose(a["inference_GB"] * 1e9 / MODEL_SIZE, 4, rel_tol=0.05):
            hints.append("Inference: that is fp32; bf16 has 16 bits.")
        else:
            hints.append("Inference: " + direction_hint(a["inference_GB"], infer) + " bf16 takes 16 bits a number.")
    return False, " ".join(hints)


@exercise("ch07.best")
def check_best(answer):
    import numpy as np

    from knobs.chapters.ch07 import scale_sweep

    sweep = scale_sweep(progress=False)  # the notebook's own sweep (cached for the session)
    if not isinstance(answer, dict) or set(answer) != set(sweep.sizes):
        raise ValueError(f"give a dict with exactly the keys {list(sweep.sizes)}")
    right = {s: int(sweep.n_params[np.argmin(sweep.final_val[:, k])]) for k, s in enumerate(sweep.sizes)}
    by_train = {s: int(sweep.n_params[np.argmin(sweep.final_train[:, k])]) for k, s in enumerate(sweep.sizes)}
    wrong = [s for s in sweep.sizes if answer[s] != right[s]]
    if not wrong:
        return True, "The best size grows with the data."
    if all(answer[s] == by_train[s] for s in sweep.sizes):
        return False, "Those are the lowest *training* losses: the largest model memorizes best. Use final_val."
    if any(answer[s] not in set(sweep.n_params.tolist()) for s in sweep.sizes):
        return False, "Give parameter counts from sweep.n_params, not widths or indices."
    return False, (f"{len(wrong)} of {len(right)} are off. For each data size, look down its column of "
                   "final_val for the smallest loss, then read that row's parameter count.")
