"""Chapter 5 exercises: write a magnitude mask, find where CSR starts to save memory, sort claims about sparsity."""
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from knobs.exercises.checker import as_number, exercise
from knobs.validate import check_int

# ---- 1. your own magnitude mask ---------------------------------------------------------------

CASES = [((6, 5), 0.4), ((32, 16), 0.5), ((29, 32), 0.9), ((3, 7), 0.3), ((8, 8), 0.0),
         ((29, 32), 0.95)]  # 0.95 × 928 = 881.6: rounding, not truncating, gives 882


def _reference(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    layer.weight.data = weight.clone()
    torch_prune.l1_unstructured(layer, "weight", amount=sparsity)
    return layer.weight_mask


def _as_mask(result, weight) -> torch.Tensor:
    result = torch.as_tensor(result)
    if tuple(result.shape) != tuple(weight.shape):
        raise ValueError(f"your function returned shape {tuple(result.shape)}; the mask needs the weight's "
                         f"shape {tuple(weight.shape)}")
    return result.to(torch.float32)


def _zero_smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    mask = torch.ones(scores.numel())
    mask[scores.flatten().argsort()[:k]] = 0.0
    return mask.view_as(scores)


@exercise("ch05.mask")
def check_mask(answer):
    if not callable(answer):
        return False, "Give a function: answer = my_mask, where my_mask(weight, sparsity) returns a 0/1 tensor."
    generator = torch.Generator().manual_seed(5)
    for shape, sparsity in CASES:
        weight = torch.randn(shape, generator=generator)
        expected = _reference(weight, sparsity)
        with torch.no_grad():
            result = answer(weight.clone(), sparsity)
        if result is None:
            return False, "Your function returned None: finish it, and `return` the mask."
        got = _as_mask(result, weight)
        if torch.equal(got, expected):
            continue
        if not bool(((got == 0) | (got == 1)).all()):
            return False, "A mask holds only 0 (pruned) and 1 (kept); yours has other values."
        n_pruned, k = int((got == 0).sum()), int((expected == 0).sum())
        if n_pruned != k:
            return False, (f"With sparsity {sparsity} on a {shape[0]}×{shape[1]} weight your mask prunes "
                           f"{n_pruned} weights. How many is that fraction of {weight.numel()}, rounded "
                           "to the nearest whole number?")
        if torch.equal(got, _zero_smallest(-weight.abs(), k)):
            return False, "You pruned the largest weights. Magnitude pruning removes the smallest."
        if torch.equal(got, _zero_smallest(weight, k)):
            return False, "You pruned the most negative weights. Magnitude means size: compare |w|, not w."
        return False, "Right number of zeros, wrong places: prune the weights with the smallest |w|."
    return True, "Your mask equals torch.nn.utils.prune.l1_unstructured's on every test weight."


# ---- 2. where does CSR start to save memory? -----------------------------------------------------

ROWS, COLS = 3072, 768  # one GPT-2-small MLP matrix
DENSE_BYTES = 4 * ROWS * COLS  # fp32


def csr_bytes(nnz: int, index_bytes: int = 8, rows: int = ROWS) -> int:
    """fp32 values, one column index per value, one row pointer per row plus one."""
    check_int("nnz", nnz, 0)
    check_int("index_bytes", index_bytes, 1)
    check_int("rows", rows, 1)
    return 4 * nnz + index_bytes * nnz + index_bytes * (rows + 1)


def breakeven_sparsity(per_value: int, fixed: int) -> float:
    """Smallest sparsity at which `per_value * nnz + fixed` bytes is no more than the dense matrix."""
    check_int("per_value", per_value, 1)
    check_int("fixed", fixed, 0)
    n = ROWS * COLS
    return 1 - (DENSE_BYTES - fixed) / per_value / n


@exercise("ch05.breakeven")
def check_breakeven(answer):
    answer = as_number(answer, "the sparsity")
    if 1 < answer <= 100:
        return False, "Give the sparsity as a fraction between 0 and 1 (0.5 means half the weights are zero)."
    expected = breakeven_sparsity(12, 8 * (ROWS + 1))
    if abs(answer - expected) <= 0.002:
        return True, ("Below that many zeros, CSR's indices cost more than the zeros it skips: "
                      "each stored value drags an 8-byte column index along.")
    hints = {breakeven_sparsity(20, 0): "That is COO's break-even: COO stores a row AND a column index per value; "
                                        "CSR stores only the column, plus one pointer per row.",
             breakeven_sparsity(8, 4 * (ROWS + 1)): "That would be right with int32 indices, but PyTorch's CSR "
                                                    "uses int64 (8-byte) indices.",
             0.0: "A stored value is not just its 4 bytes: CSR also stores where it is (its column index)."}
    for wrong, hint in hints.items():
        if abs(answer - wrong) <= 0.002:
            return False, hint
    side = "too many" if answer > expected else "too few"
    return False, (f"That is {side} zeros. Write CSR's bytes as (value + index bytes) × nnz + row pointers, "
                   "set it equal to 4 × rows × columns, and solve for the fraction of zeros.")


# ---- 3. true or false ---------------------------------------------------------------------------

CLAIMS = {
    "Setting 50% of a dense matrix's entries to zero halves the time of a dense matrix multiply.": False,
    "A 50%-sparse fp32 matrix takes less memory in PyTorch's CSR format than dense.": False,
    "Removing half of a layer's neurons (whole rows) halves that layer's multiply-adds.": True,
    "Global magnitude pruning removes the same fraction of weights from every layer.": False,
    "A winning lottery ticket keeps the trained values of its surviving weights.": False,
    "Fine-tuning with the mask held fixed can recover accuracy lost to pruning.": True,
}


def _as_truth(value) -> bool:
    """True or False in any form a computation gives it: bool, NumPy's bool_, a one-element bool tensor or array."""
    if hasattr(value, "dtype") and str(value.dtype) in ("bool", "torch.bool") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if not isinstance(value, bool):
        raise ValueError("each value must be True or False (no quotes)")
    return value


@exercise("ch05.claims")
def check_claims(answer):
    if not isinstance(answer, dict) or set(answer) != set(CLAIMS):
        raise ValueError("give a dict with exactly the six claims as keys and True or False as values")
    answer = {claim: _as_truth(value) for claim, value in answer.items()}
    wrong = sum(answer[k] != v for k, v in CLAIMS.items())
    if not wrong:
        return True, "Zeros save only what the format or the kernel skips; structure is what makes the matrix smaller."
    return False, (f"{wrong} of {len(CLAIMS)} are not right yet. For each, ask: does the computation or the "
                   "storage actually get smaller, and which numbers does the method keep?")
