"""GSM-7 vs UCS-2 segment counting (the numbers Twilio bills)."""

from __future__ import annotations

import pytest

from plugins.comms.segments import GSM7, UCS2, count


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("", GSM7, 1, 0),
        ("a" * 160, GSM7, 1, 160),
        ("a" * 161, GSM7, 2, 161),
        ("a" * 306, GSM7, 2, 306),
        ("a" * 307, GSM7, 3, 307),
        ("€" * 80, GSM7, 1, 160),  # extension characters take two septets
        ("{" * 81, GSM7, 2, 162),
        ("a" * 152 + "€", GSM7, 1, 154),
        ("a" * 152 + "€" + "a" * 152, GSM7, 3, 306),  # 306 = 2 x 153, but the escape pair is not split
        ("Ünïcödé? no: ï is not GSM", UCS2, 1, 25),
        ("é à ñ ü Ä Ö Ñ ß", GSM7, 1, 15),  # Latin-1 letters GSM 03.38 has
        ("ç", UCS2, 1, 1),  # GSM has only the capital Ç
        ("✓" * 70, UCS2, 1, 70),
        ("✓" * 71, UCS2, 2, 71),
        ("😀" * 35, UCS2, 1, 70),  # one emoji is two UTF-16 units
        ("😀" * 36, UCS2, 2, 72),
        ("a" * 66 + "😀" * 34, UCS2, 3, 134),  # 134 = 2 x 67, but a surrogate pair is not split
    ],
)
def test_count(text: str, encoding: str, segments: int, units: int) -> None:
    found = count(text)
    assert (found.encoding, found.count, found.units) == (encoding, segments, units)
