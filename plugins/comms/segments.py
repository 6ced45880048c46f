"""How many SMS segments a text takes, and in which encoding (GSM-7 or UCS-2).

A text whose every character is in the GSM 03.38 alphabet is sent in GSM-7: 160 septets
in one segment, 153 per segment once it is split (the user data header takes the rest);
characters of the extension table (``{}[]~^|\\€``) take two septets, and an escape pair
is never split across segments. Any other character sends the whole text as UCS-2:
70 UTF-16 code units in one segment, 67 per part, a surrogate pair never split.

The GSM alphabet comes from the ``gsm0338`` codec, not a table kept here.
"""

from __future__ import annotations

from dataclasses import dataclass

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec

GSM7 = "GSM-7"
UCS2 = "UCS-2"
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class Segments:
    encoding: str
    count: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)


def _gsm_units(text: str) -> list[int] | None:
    """Septets per character, or None when a character is not in GSM 03.38."""
    try:
        return [len(ch.encode("gsm03.38")) for ch in text]
    except UnicodeEncodeError:
        return None


def _split(units: list[int], per_part: int) -> int:
    """Parts needed when no character's units may straddle two parts."""
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:
            parts, used = parts + 1, 0
        used += size
    return parts


def count(text: str) -> Segments:
    """The encoding Twilio will use for ``text`` and the number of segments billed."""
    units = _gsm_units(text)
    encoding = GSM7
    if units is None:
        encoding = UCS2
        units = [len(ch.encode("utf-16-le")) // 2 for ch in text]
    single, multi = LIMITS[encoding]
    total = sum(units)
    parts = 1 if total <= single else _split(units, multi)
    return Segments(encoding, parts, total)
