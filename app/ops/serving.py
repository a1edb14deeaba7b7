"""How `buurtkas serve` answers connections: uvicorn's HTTP protocol, with TCP_NODELAY on every connection.

uvicorn writes a response's headers and its body in two writes. With Nagle's algorithm on, the body waits
until the client has acknowledged the headers, and a client that is still waiting for the body delays that
acknowledgement (40 ms on Linux): every request on a keep-alive connection then takes 40 ms more.

Event loops turn Nagle off themselves, but asyncio's own loop only for an accepted socket that reports the
protocol IPPROTO_TCP. `buurtkas serve --workers N` (N > 1) has uvicorn's supervisor bind the listening socket
with protocol 0 and pass it to the workers, so their accepted sockets report 0 and keep Nagle on
(Kludex/uvicorn#3149; a single worker binds through getaddrinfo and gets 6). uvloop, which uvicorn picks when
it is installed, sets TCP_NODELAY on every TCP connection; asyncio's loop is what runs where uvloop is not
installed. scripts/bench/workers measures both: without this, asyncio with 4 workers answered /healthz in
44 ms at p50 on a keep-alive connection, 1.3 ms with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def set_tcp_nodelay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off for the transport's TCP connection (nothing for other sockets)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # a connection already reset needs no option
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what its "auto" picks with uvicorn[standard]), with TCP_NODELAY."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn
        set_tcp_nodelay(transport)
        super().connection_made(transport)
