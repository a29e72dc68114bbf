"""SMS text facts: the GSM 03.38 alphabet and how many segments a text costs.

A text of GSM-7 characters fits 160 per single SMS and 153 per part of a concatenated one (the user data header
takes 7); any other character switches the whole text to UCS-2, 70 and 67. Characters of the extension table
(``^{}[]~|€\\``) cost two septets. Providers bill per segment, which is why the editor shows the count.
"""

from __future__ import annotations

import math

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
# Twilio refuses bodies over 1,600 characters; ten segments is where a "text" stops being one.
MAX_SEGMENTS = 10


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` is sent as (0 for an empty text)."""
    if not text:
        return 0
    if is_gsm7(text):
        septets = len(text) + sum(char in GSM7_EXTENDED for char in text)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    # UCS-2 counts UTF-16 code units: a character outside the BMP (most emoji) takes two.
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)
