"""The origins allowed to embed Buurtkas (EMBED_ALLOWED_ORIGINS): exact `scheme://host[:port]`, nothing else.

An origin ends up in a Content-Security-Policy header and is compared with the browser's `Origin` header,
so it must be exactly what a browser sends: lower case, no path, no default port, no wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"  # name or IPv4
    r"|\[[0-9a-f:.]{2,45}\])"  # IPv6 literal
)
_ORIGIN = re.compile(rf"(?P<scheme>https?)://(?P<host>{_HOST.pattern})(?::(?P<port>[0-9]{{1,5}}))?")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def parse_origin(value: str) -> str:
    """The origin in the form browsers send it (`https://www.almelo.nl`), or ValueError saying what is wrong."""
    text = value.strip()
    lowered = text.lower().removesuffix("/")
    found = _ORIGIN.fullmatch(lowered)
    if found is None:
        raise ValueError(
            f"EMBED_ALLOWED_ORIGINS: {text!r} is not an origin. Write scheme://host or scheme://host:port "
            "(e.g. https://www.almelo.nl), without a path, a wildcard or a trailing dot; separate several "
            "with commas."
        )
    scheme, host, port = found["scheme"], found["host"], found["port"]
    if port is not None:
        if not 0 < int(port) < 65536:
            raise ValueError(f"EMBED_ALLOWED_ORIGINS: {text!r} has a port outside 1-65535.")
        port = str(int(port))
        if port == _DEFAULT_PORTS[scheme]:
            port = None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def parse_origins(values: Iterable[str]) -> list[str]:
    """Every entry parsed (ValueError on the first bad one), without duplicates, in the given order."""
    found: list[str] = []
    for value in values:
        origin = parse_origin(value)
        if origin not in found:
            found.append(origin)
    return found


def valid_origins(values: Iterable[str]) -> tuple[str, ...]:
    """The entries that are origins, skipping any other (a last guard: the settings refuse them at start)."""
    found: list[str] = []
    for value in values:
        try:
            origin = parse_origin(value)
        except ValueError:
            continue
        if origin not in found:
            found.append(origin)
    return tuple(found)
