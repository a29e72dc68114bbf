"""Client kinds from User-Agents and machine networks from addresses, as the data file describes them."""

from __future__ import annotations

import pytest

from kith.tracking import classify


@pytest.mark.parametrize(("user_agent", "kind"), [
    ("Mozilla/5.0", "proxy"),  # Apple Mail Privacy Protection
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "proxy"),
    ("YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", "proxy"),
    ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "scanner"),
    ("python-requests/2.31.0", "scanner"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
     "scanner"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
     "mobile"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
     "mobile"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
     "webmail"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
     "webmail"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", "desktop"),  # Apple Mail
    ("Microsoft Outlook 16.0.17126; ms-office; MSOffice 16", "desktop"),
    ("Mozilla/5.0 (Windows NT 10.0; rv:115.0) Gecko/20100101 Thunderbird/115.0", "desktop"),
    ("", "unknown"),
    ("   ", "unknown"),
])
def test_client_kind(user_agent, kind):
    assert classify.client_kind(user_agent) == kind


@pytest.mark.parametrize(("address", "flag"), [
    ("17.58.1.20", "proxy"), ("17.255.255.255", "proxy"), ("66.102.3.4", "proxy"),
    ("40.92.0.1", "scanner"), ("40.93.255.254", "scanner"), ("104.47.127.1", "scanner"),
    ("16.255.255.255", ""), ("18.0.0.0", ""), ("203.0.113.5", ""), ("2001:db8::1", ""),
    ("", ""), (None, ""), ("not an ip", ""), ("999.1.1.1", ""),
])
def test_ip_flag(address, flag):
    assert classify.ip_flag(address) == flag


def test_every_data_file_entry_names_its_networks_validly_and_cites_a_source():
    text = classify.SOURCES.read_text()
    assert text.count("Source") >= 4
    rules = classify.rules()
    assert rules.v4 and all(first <= last for first, last, _ in rules.v4)
    # Networks must not overlap, or the bisect lookup could miss one.
    assert all(a[1] < b[0] for a, b in zip(rules.v4, rules.v4[1:], strict=False))
