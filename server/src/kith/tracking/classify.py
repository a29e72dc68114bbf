"""Coarse client kind of a tracking hit, from its User-Agent and address: cheap enough to run inside the request.

Kinds: ``proxy`` (a mail privacy proxy fetched the pixel: Apple MPP, Gmail, Yahoo), ``scanner`` (a security
gateway or a script), ``mobile``, ``webmail`` (a desktop browser: the mail was read on a web page), ``desktop`` (a
mail program), ``unknown`` (no User-Agent). The data lives in ``data/machine_sources.toml`` with its sources; this
module only matches. Matching is substring search over one lower-cased string and a bisect over sorted networks,
a few microseconds per hit.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SOURCES = Path(__file__).resolve().parent / "data" / "machine_sources.toml"

PROXY, SCANNER, MOBILE, WEBMAIL, DESKTOP, UNKNOWN = "proxy", "scanner", "mobile", "webmail", "desktop", "unknown"
MACHINE_KINDS = frozenset({PROXY, SCANNER})

_MOBILE = re.compile(r"iphone|ipad|ipod|android|mobile", re.IGNORECASE)
# A full browser: mail programs embed WebKit/Gecko but do not announce a browser product token.
_BROWSER = re.compile(r"chrome/|firefox/|edg/|version/[\d.]+ safari/|opr/", re.IGNORECASE)


@dataclass(frozen=True)
class _Rules:
    proxy_patterns: re.Pattern[str] | None
    proxy_exact: frozenset[str]
    scanner_patterns: re.Pattern[str] | None
    # (first address, last address, flag) per IP version, sorted by first address for bisect.
    v4: tuple[tuple[int, int, str], ...]
    v6: tuple[tuple[int, int, str], ...]


def _pattern(words: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(re.escape(word.lower()) for word in words)) if words else None


@cache
def rules() -> _Rules:
    data = tomllib.loads(SOURCES.read_text(encoding="utf-8"))
    ranges: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
    for flag in (PROXY, SCANNER):
        for entry in data.get(flag, []):
            for cidr in entry.get("networks", []):
                network = ipaddress.ip_network(cidr)
                ranges[network.version].append((int(network.network_address), int(network.broadcast_address), flag))
    return _Rules(
        proxy_patterns=_pattern([ua for entry in data.get(PROXY, []) for ua in entry.get("user_agents", [])]),
        proxy_exact=frozenset(ua for entry in data.get(PROXY, []) for ua in entry.get("exact_user_agents", [])),
        scanner_patterns=_pattern([ua for entry in data.get(SCANNER, []) for ua in entry.get("user_agents", [])]),
        v4=tuple(sorted(ranges[4])), v6=tuple(sorted(ranges[6])),
    )


def client_kind(user_agent: str) -> str:
    """The coarse kind of the client that sent ``user_agent`` (see the module docstring)."""
    user_agent = user_agent.strip()
    if not user_agent:
        return UNKNOWN
    found = rules()
    lowered = user_agent.lower()
    if user_agent in found.proxy_exact or (found.proxy_patterns and found.proxy_patterns.search(lowered)):
        return PROXY
    if found.scanner_patterns and found.scanner_patterns.search(lowered):
        return SCANNER
    if _MOBILE.search(user_agent):
        return MOBILE
    if _BROWSER.search(user_agent):
        return WEBMAIL
    return DESKTOP


def ip_flag(address: str | None) -> str:
    """``proxy`` or ``scanner`` when ``address`` is in a known network of such machines, else ``""``."""
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    found = rules()
    table = found.v4 if ip.version == 4 else found.v6
    value = int(ip)
    # The rightmost network starting at or before the address; networks in the file do not overlap.
    index = bisect.bisect_right(table, (value, 2**128, "")) - 1
    if index >= 0 and table[index][0] <= value <= table[index][1]:
        return table[index][2]
    return ""
