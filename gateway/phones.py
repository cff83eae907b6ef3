"""Indonesian mobile numbers: the one rule for what a phone is, and the form it is stored in.

A person types 0812…, 62812… or +62812…; the gateway stores +62812…. A sheet from an office
adds two habits of Excel: a number cell drops the leading 0 (812…), and people group digits with
spaces, dashes, dots or brackets. The API, the member import and the SHU savings import all go
through here, so a phone that registers is the phone an import finds.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-.()]")
_MOBILE = re.compile(r"8[0-9]{7,12}")
REFUSAL = "phone must be an Indonesian mobile number such as 0812…"


def normalize(typed: str) -> str:
    """Return a typed phone as stored (+628…); raise ValueError if it is not a mobile number."""
    digits = _SEPARATORS.sub("", typed)
    if digits.startswith("+62"):
        digits = digits[3:]
    elif digits.startswith("62"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]
    else:
        raise ValueError(REFUSAL)
    if not _MOBILE.fullmatch(digits):
        raise ValueError(REFUSAL)
    return "+62" + digits


def from_sheet(cell: str) -> str:
    """Return a sheet cell's phone as stored; a number cell's lost leading 0 is put back."""
    text = cell.strip()
    if text.startswith("8"):
        text = "0" + text
    return normalize(text)
