"""ISO 4217 currency codes, read from ``data/iso4217.txt`` (data lives in a file, not in code)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_CODES_FILE = Path(__file__).parent / "data" / "iso4217.txt"


@cache
def currency_codes() -> frozenset[str]:
    words: list[str] = []
    for line in _CODES_FILE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            words.extend(line.split())
    return frozenset(words)


def currency_normalize(value: object) -> str:
    """The upper-case code for ``value``; ``ValueError`` with a readable message when it is not an ISO 4217 code."""
    code = str(value or "").strip().upper()
    if code not in currency_codes():
        raise ValueError("Use an ISO 4217 currency code such as EUR or USD.")
    return code
