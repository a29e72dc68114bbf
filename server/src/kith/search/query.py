"""What a person typed into the search box, taken apart once into the safe pieces every backend needs.

Nothing the user typed reaches SQL as SQL: the tsquery is rebuilt from word characters only (so quotes,
backslashes and tsquery operators such as ``&|!:*()<->`` cannot change its structure) and is passed as a bound
parameter; LIKE patterns are escaped by Django's ``contains`` lookups; phone digits are digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longer input is not a search a person types; the cap also bounds the work of trigram matching.
MAX_QUERY_CHARS = 100
# More words than this narrow nothing further and only make the tsquery longer.
MAX_TERMS = 8
# A phone search needs enough digits to mean something ("55" would match half the workspace).
MIN_PHONE_DIGITS = 4

_TERM = re.compile(r"[^\W_]+")
_PHONE_LIKE = re.compile(r"^[\d\s+().\-/]+$")


@dataclass(frozen=True)
class SearchQuery:
    text: str  # trimmed, lower-cased, at most MAX_QUERY_CHARS characters
    terms: tuple[str, ...]  # the words, lower-cased: letters and digits only
    phone_digits: str  # the digits when the input looks like a phone number, else ""

    @property
    def fuzzy(self) -> bool:
        """Whether to forgive typos (trigram word similarity). Only for words of letters: "example7" is
        "similar" to every "example1…9" of a workspace, and numbers, ids and codes are meant exactly."""
        return len(self.text) >= 4 and not any(ch.isdigit() for ch in self.text)

    @property
    def is_empty(self) -> bool:
        return not self.terms

    def tsquery(self) -> str:
        """Every term as a prefix ("ada lov" → ``ada:* & lov:*``), for ``to_tsquery``."""
        return " & ".join(f"{term}:*" for term in self.terms)


def parse(raw: object) -> SearchQuery:
    text = raw.strip()[:MAX_QUERY_CHARS].lower() if isinstance(raw, str) else ""
    text = "".join(ch for ch in text if ch.isprintable())
    terms = tuple(dict.fromkeys(_TERM.findall(text)))[:MAX_TERMS]
    digits = "".join(ch for ch in text if ch.isdigit()) if _PHONE_LIKE.match(text) else ""
    return SearchQuery(text=text, terms=terms, phone_digits=digits if len(digits) >= MIN_PHONE_DIGITS else "")
