"""The client address a request came from, for per-address limits.

Behind a reverse proxy every request's peer is the proxy, so the proxy names the
client in a header (`FRONTDOOR_TRUSTED_PROXY_HEADER`, e.g. `X-Forwarded-For`).
That header is believed only when the peer is one of `FRONTDOOR_TRUSTED_PROXIES`
(addresses or networks); from anyone else it is ignored, since a client can send
any header it likes. In a list (`X-Forwarded-For: client, proxy1, proxy2`) each
proxy appends the address it saw, so the list is read from the right and the
first address that is not a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from core.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(entries: Iterable[str]) -> list[Network]:
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # not an address: trusts nothing
    return networks


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, networks: list[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def client_address(conn: HTTPConnection, settings: Settings) -> str:
    """The client's address: the peer's, or what a trusted proxy says it is."""
    peer = conn.client.host if conn.client else "unknown"
    header = settings.trusted_proxy_header
    if not header:
        return peer
    networks = _networks(settings.trusted_proxies)
    if not _trusted(peer, networks):
        return peer
    named = [part.strip() for value in conn.headers.getlist(header)
             for part in value.split(",") if part.strip()]
    for address in reversed(named):
        ip = _ip(address)
        if ip is None:
            return peer  # a malformed hop: believe nothing further left of it
        if not any(ip in network for network in networks):
            return str(ip)
    return str(_ip(named[0])) if named else peer
