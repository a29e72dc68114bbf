"""Where a webhook may go, and the one HTTP POST that takes it there.

SSRF protection: the host is resolved and every address must be public (not private, loopback, link-local,
multicast, reserved or unspecified — IPv4, IPv6 and IPv4-mapped IPv6 alike). The check runs when an endpoint is
saved and again before each attempt, and the connection goes to the address that was vetted, never to a second
resolution, so a DNS answer that changes in between (DNS rebinding) cannot redirect the request. Redirects are not
followed. The rule is lifted per workspace by its "allow private addresses" setting (``WebhookSettings``, passed in
as ``allow_private``), or for a whole install by ``settings.KITH_WEBHOOKS_ALLOW_PRIVATE`` (development and tests).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

from kith.webhooks.errors import UnsafeWebhookUrl

CONNECT_TIMEOUT = 5.0
# Short: a receiver should acknowledge and work later; a slow one holds only its own job (one delivery per job).
READ_TIMEOUT = 10.0
# How much of a response body is kept in the delivery log (and read off the wire at most).
BODY_EXCERPT = 1000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Trust store for https endpoints: None means the system's (tests point it at their own CA).
CA_CERTS: str | None = None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (for Host, SNI and certificate checks)
    port: int
    path: str  # path + query
    ip: str  # the vetted address to connect to


def _blocked(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global)


def _parts(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookUrl("Enter a valid URL.", field="url") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookUrl("Use an http:// or https:// URL with a host name.", field="url")
    if parts.username or parts.password:
        raise UnsafeWebhookUrl("Leave user name and password out of the URL.", field="url")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def url_resolve(url: str, *, allow_private: bool = False) -> Target:
    """Vet ``url`` and pick the address to connect to. Raises ``UnsafeWebhookUrl``. ``allow_private`` is the
    workspace's setting; the install-wide setting allows them too."""
    scheme, host, port, path = _parts(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookUrl(f"The host {host} could not be resolved.", field="url") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeWebhookUrl(f"The host {host} could not be resolved.", field="url")
    if not (allow_private or settings.KITH_WEBHOOKS_ALLOW_PRIVATE):
        # Any blocked answer refuses the whole host: a name that resolves to both a public and an internal
        # address is exactly what a rebinding attack looks like.
        blocked = [str(ip) for ip in addresses if _blocked(ip)]
        if blocked:
            raise UnsafeWebhookUrl(
                f"Webhooks cannot be sent to private, loopback or reserved addresses ({host} → {blocked[0]}) "
                "unless the workspace allows private addresses in its webhook settings.",
                field="url")
    return Target(scheme=scheme, host=host, port=port, path=path, ip=str(addresses[0]))


@dataclass(frozen=True)
class Response:
    status: int
    body: str


def post(target: Target, *, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body`` to the vetted address of ``target``. Raises ``urllib3.exceptions.HTTPError`` on network errors."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        # Connect to the IP, but present and verify the certificate for the host name.
        pool = urllib3.HTTPSConnectionPool(target.ip, target.port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=target.host, assert_hostname=target.host,
                                           cert_reqs="CERT_REQUIRED", ca_certs=CA_CERTS)
    else:
        pool = urllib3.HTTPConnectionPool(target.ip, target.port, timeout=timeout, retries=False, maxsize=1)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    if ":" in target.host:  # an IPv6 literal
        host_header = f"[{target.host}]" if target.port in (80, 443) else f"[{target.host}]:{target.port}"
    try:
        response = pool.urlopen("POST", target.path, body=body, headers={**headers, "Host": host_header},
                                redirect=False, retries=False, preload_content=False, assert_same_host=False)
        try:
            excerpt = response.read(BODY_EXCERPT, decode_content=False) or b""
        finally:
            response.release_conn()
        return Response(status=response.status, body=excerpt.decode("utf-8", "replace"))
    finally:
        pool.close()
