"""Number formats (chapter 6): how fp32, fp16, bf16, int8 and int4 store a number, bit by bit.

`number_format(name)` reads a format's layout, range and precision from torch.finfo /
torch.iinfo (int4 from its 4 bits); `bit_fields(value, name)` shows the bits that store a
value (sign, exponent and mantissa for floats; one two's-complement field for integers, whose
top bit weighs -2^(b-1): there is no separate sign and magnitude) and
`value_from_fields` decodes them again, by the IEEE 754 rules, infinities and NaN included.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from knobs.validate import check_bool

FORMATS = ("fp32", "fp16", "bf16", "int8", "int4")
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": torch.int8}


@dataclass(frozen=True)
class NumberFormat:
    name: str
    kind: str  # "float" or "int"
    bits: int
    sign_bits: int  # 1 for floats; 0 for integers (two's complement: the top bit weighs -2^(b-1), not a sign field)
    exponent_bits: int  # 0 for integers
    mantissa_bits: int  # stored fraction bits (floats); 0 for integers
    smallest: float  # most negative value
    largest: float  # largest finite value
    smallest_normal: float  # floats: smallest positive normal number; ints: 1
    eps: float  # gap between 1 and the next number: the relative precision of a float

    @property
    def decimal_digits(self) -> float:
        """About how many significant decimal digits the format keeps (floats)."""
        return -math.log10(self.eps) if self.kind == "float" else math.log10(self.largest)

    @property
    def values(self) -> int:
        """How many distinct bit patterns the format has."""
        return 2 ** self.bits


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """The smallest and largest integer `bits` bits can hold (two's complement when signed)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 32:
        raise ValueError(f"bits must be a whole number between 1 and 32, got {bits!r}")
    check_bool("signed", signed)
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)


def number_format(name: str) -> NumberFormat:
    """A format's layout, range and precision, read from torch.finfo / torch.iinfo (int4 from its 4 bits)."""
    if name not in FORMATS:
        raise ValueError(f"name must be one of {', '.join(FORMATS)}; got {name!r}")
    if name.startswith("int"):
        bits = int(name[3:])
        low, high = (torch.iinfo(TORCH_DTYPES[name]).min, torch.iinfo(TORCH_DTYPES[name]).max) \
            if name in TORCH_DTYPES else int_range(bits)  # torch has no usable int4 dtype: compute it
        return NumberFormat(name, "int", bits, 0, 0, 0, float(low), float(high), 1.0, 1.0)
    info = torch.finfo(TORCH_DTYPES[name])
    mantissa = round(-math.log2(info.eps))  # eps = 2**-mantissa_bits
    return NumberFormat(name, "float", info.bits, 1, info.bits - 1 - mantissa, mantissa, float(info.min),
                        float(info.max), float(info.smallest_normal), float(info.eps))


def bit_fields(value: float, name: str) -> dict[str, str]:
    """The bits that store `value` in format `name`: sign, exponent and mantissa (floats) or {"twos_complement": ...}
    (ints: one field, most significant bit first, the top bit weighing -2^(b-1))."""
    fmt = number_format(name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"value must be a real number, got {value!r}")
    if fmt.kind == "int":
        if not math.isfinite(value) or value != int(value) or not fmt.smallest <= value <= fmt.largest:
            raise ValueError(f"value must be a whole number between {fmt.smallest:g} and {fmt.largest:g} for {name}, "
                             f"got {value!r}")
        pattern = format(int(value) & (2 ** fmt.bits - 1), f"0{fmt.bits}b")
        return {"twos_complement": pattern}
    stored = torch.tensor(float(value), dtype=TORCH_DTYPES[name])  # the nearest number the format has (or ±inf)
    as_int = {32: torch.int32, 16: torch.int16}[fmt.bits]
    pattern = format(int(stored.view(as_int).item()) & (2 ** fmt.bits - 1), f"0{fmt.bits}b")
    return {"sign": pattern[0], "exponent": pattern[1:1 + fmt.exponent_bits], "mantissa": pattern[1 + fmt.exponent_bits:]}


def value_from_fields(fields: dict[str, str], name: str) -> float:
    """Decode bit fields back to the number: IEEE 754 for floats (all-ones exponent: inf or NaN), two's complement for ints."""
    fmt = number_format(name)
    lengths = {"twos_complement": fmt.bits} if fmt.kind == "int" else \
        {"sign": 1, "exponent": fmt.exponent_bits, "mantissa": fmt.mantissa_bits}
    if not isinstance(fields, dict) or set(fields) != set(lengths) or any(
            not isinstance(fields[k], str) or len(fields[k]) != n or set(fields[k]) - {"0", "1"} for k, n in lengths.items()):
        raise ValueError(f"fields must be a dict of bit strings with lengths {lengths} for {name}, got {fields!r}")
    if fmt.kind == "int":
        bits = fields["twos_complement"]
        return float(-int(bits[0]) * 2 ** (fmt.bits - 1) + int(bits[1:] or "0", 2))  # the top bit weighs -2^(b-1)
    sign = -1.0 if fields["sign"] == "1" else 1.0
    exponent, mantissa = int(fields["exponent"], 2), int(fields["mantissa"], 2)
    bias = 2 ** (fmt.exponent_bits - 1) - 1
    if exponent == 2 ** fmt.exponent_bits - 1:  # all ones: not a number at all -- infinity, or NaN if any mantissa bit
        return sign * math.inf if mantissa == 0 else math.nan
    if exponent == 0:  # subnormal: no hidden leading 1
        return sign * mantissa / 2 ** fmt.mantissa_bits * 2.0 ** (1 - bias)
    return sign * (1 + mantissa / 2 ** fmt.mantissa_bits) * 2.0 ** (exponent - bias)
