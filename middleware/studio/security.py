"""Who may talk to the studio: the token, the Host header and the Origin header.

The studio can steer a running mix and write into the scene folder, so a page on any other site
must not be able to reach it, even though it listens on a loopback port a browser can connect to:

- **token**: a random secret printed in the URL (as Jupyter does); required on every request and
  on the WebSocket. The first page load carries it in the query; the server then sets it as a
  ``SameSite=Strict`` cookie so the page's own scripts and styles load without repeating it.
- **Host**: must name this server (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT`` or the
  address it was bound to). A DNS-rebinding page reaches the port under its own host name, which
  fails this check.
- **Origin**: when a browser sends one (every cross-site fetch and every WebSocket), it must be
  this server's own origin. A foreign site's page fails it even if it guessed the token.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

TOKEN_BYTES = 24
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def new_token() -> str:
    """A URL-safe random token (192 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison (a wrong token takes as long as a right one)."""
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only reaches this machine."""
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, port: int) -> frozenset[str]:
    """``Host`` header values that name this server (lower case, with the port)."""
    names = set(LOOPBACK_NAMES) if is_loopback(bind_host) else set()
    h = bind_host.strip("[]")
    names.add(f"[{h}]" if ":" in h else h)
    return frozenset(f"{n.lower()}:{port}" for n in names)


def host_ok(host_header: str | None, allowed: Iterable[str]) -> bool:
    return host_header is not None and host_header.lower() in allowed


def origin_ok(origin: str | None, allowed: Iterable[str]) -> bool:
    """No Origin (a same-origin GET, a command-line tool) is fine; a present one must be ours."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme == "http" and parts.netloc.lower() in allowed


__all__ = ["allowed_hosts", "host_ok", "is_loopback", "new_token", "origin_ok", "token_matches"]
