"""Chapter 6 exercises: memory with group scales, quantizing by hand, choosing a clipping range."""
import math

import torch

from knobs import quantize as Q
from knobs import train
from knobs.exercises.checker import as_number, as_whole_number, direction_hint, exercise, is_close
from knobs.validate import check_tensor

MEMORY = dict(n_parameters=13e9, bits=4, group_size=128, scale_bits=16)
HAND_W = [0.62, -0.33, 0.05, -1.40, 0.91]
CLIPS = [round(0.05 + 0.01 * i, 2) for i in range(96)]  # 0.05 ... 1.00


@exercise("ch06.memory")
def check_memory(answer):
    n, b, g, s = MEMORY.values()
    expected = n * (b + s / g) / 8
    if is_close(answer, expected, rel=2e-3):
        return True, "Codes plus one scale per group: a little over 4 bits per weight."
    if is_close(answer, n * b / 8, rel=2e-3):
        return False, "Close: each group of weights also stores its scale. How many bits does that add per weight?"
    if is_close(answer, n * (b + s / g), rel=2e-3) or is_close(answer, n * b, rel=2e-3):
        return False, "That is a number of bits; the question asks for bytes."
    if is_close(answer, n * (b + s) / 8, rel=2e-3):
        return False, "One scale is shared by a whole group, not stored with every weight."
    if is_close(answer, expected / 2 ** 30, rel=2e-3) or is_close(answer, expected / 1e9, rel=2e-3):
        return False, "Give plain bytes, not gigabytes or GiB."
    return False, direction_hint(answer, expected) + " Bytes = parameters × (bits per weight) / 8."


@exercise("ch06.codes")
def check_codes(answer):
    if not isinstance(answer, dict) or set(answer) != {"scale", "codes"}:
        raise ValueError('give a dict {"scale": a number, "codes": a list of 5 whole numbers}')
    w = torch.tensor(HAND_W)
    qt = Q.quantize_tensor(w, bits=4, scheme="symmetric", granularity="tensor")
    scale, codes = float(qt.scale), qt.codes.ravel().tolist()
    amax = float(w.abs().max())
    given = [as_whole_number(c, "each code") for c in answer["codes"]]
    if len(given) != len(codes):
        raise ValueError(f"codes must have {len(codes)} entries, one per weight")
    scale_ok = is_close(answer["scale"], scale, rel=1e-3)
    if scale_ok and given == codes:
        return True, "That is exactly what quantize_tensor (and torch.quantize_per_tensor) store."
    if is_close(answer["scale"], amax / 8, rel=1e-3):
        return False, ("Symmetric 4-bit codes run from -7 to 7 (-8 is left unused, so -|w| has a code too): the "
                       "largest |w| lands on code 7.")
    if is_close(answer["scale"], 2 * amax / 15, rel=1e-3) or is_close(answer["scale"], amax / 15, rel=1e-3):
        return False, "That scale spreads 16 codes over the range, as an affine (unsigned) quantizer would. Symmetric uses ±max|w|."
    if not scale_ok:
        return False, "The scale is off: the largest |w| should map to the largest positive code."
    ratios = [round(v / scale, 6) for v in HAND_W]  # 6 decimals: -1.40 / 0.2 is -6.9999999 in float32
    if given in ([math.trunc(r) for r in ratios], [math.floor(r) for r in ratios]):
        return False, "The scale is right; round each w / scale to the nearest whole number (do not cut off the fraction)."
    return False, f"The scale is right; {sum(a != b for a, b in zip(given, codes))} code(s) are off. Code = round(w / scale)."


def clip_errors(W: torch.Tensor, bits: int = 3) -> dict[float, float]:
    """Per-tensor symmetric error of W at each clipping ratio of CLIPS (what the checker compares against)."""
    check_tensor("W", W, floating=True)
    return {c: Q.relative_error(W, Q.fake_quantize(W, bits, clip=c)) for c in CLIPS}


@exercise("ch06.clip")
def check_clip(answer):
    answer = as_number(answer, "clip")
    if not 0 < answer <= 1:
        raise ValueError("clip must be a number in (0, 1]")
    W = train.trained_tiny_lm().hidden.weight.detach()
    errors = clip_errors(W)
    best = min(errors.values())
    mine = Q.relative_error(W, Q.fake_quantize(W, 3, clip=float(answer)))
    if mine <= best * 1.01:
        return True, (f"Error {mine:.1%} instead of {errors[1.0]:.1%} at clip = 1: clipping a few large weights "
                      "buys a finer grid for all the others.")
    if answer == 1:
        return False, "clip = 1 is plain max scaling, the starting point. Try smaller values and compare the errors."
    best_clip = min(errors, key=errors.get)
    return False, ("Too much clipping: many weights are cut to the edge of the grid." if answer < best_clip
                   else "You can clip more: a finer grid helps more weights than clipping hurts.")
