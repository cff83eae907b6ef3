"""Integer rupiah: parsing guards, basis-point fees rounded half up, exact splits, formatting.

Money is always a Python `int` of whole rupiah (SQL BIGINT). Nothing here touches a float.
"""

from __future__ import annotations

# The largest amount any single transfer may carry: Rp 1 trillion. Far below BIGINT's 2^63, so
# sums of many transfers cannot overflow either.
AMOUNT_MAX = 1_000_000_000_000

BASIS_POINTS = 10_000


def _require_int(**values: object) -> None:
    """Refuse anything but a plain int (a float or a bool is never an amount of rupiah)."""
    for name, value in values.items():
        if type(value) is not int:
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")


def bps_of(amount: int, bps: int) -> int:
    """Return `bps` basis points of `amount`, rounded half up to the whole rupiah."""
    _require_int(amount=amount, bps=bps)
    if amount < 0 or bps < 0:
        raise ValueError("amount and bps must not be negative")
    return (amount * bps + BASIS_POINTS // 2) // BASIS_POINTS


def split(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` so that the parts sum exactly to `total`.

    Largest-remainder method (hordak's ratio_split): each part gets the floor of its exact share,
    and the rupiah left over go one each to the parts with the largest remainders, earlier parts
    first on a tie.
    """
    _require_int(total=total)
    for weight in weights:
        _require_int(weight=weight)
    if total < 0:
        raise ValueError("total must not be negative")
    if not weights or any(weight < 0 for weight in weights):
        raise ValueError("weights must be non-negative and not empty")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    parts = [total * weight // weight_sum for weight in weights]
    remainders = [total * weight % weight_sum for weight in weights]
    left_over = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda index: (-remainders[index], index))
    for index in order[:left_over]:
        parts[index] += 1
    return parts


def format_rupiah(amount: int) -> str:
    """Format as Indonesians write it: `Rp 12.500`, `-Rp 3.000`."""
    _require_int(amount=amount)
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {abs(amount):,}".replace(",", ".")
