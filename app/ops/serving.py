"""How `buurtkas serve` answers connections: uvicorn's HTTP protocol, with TCP_NODELAY on every connection
and a time limit for a request's headers.

A time limit for headers (slowloris): uvicorn has none of its own, so a client could keep a connection open
for ever by sending a header byte now and then, and many such clients would use up the process's file
descriptors. Each request's headers must be complete within `header_timeout` seconds of its first byte (or
of the connection being opened); otherwise the connection is closed, as nginx's client_header_timeout does.
Bodies are read asynchronously before a route's thread is taken, so a slow body holds up nobody else (see
tests/security/test_slow_clients.py).

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


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what its "auto" picks with uvicorn[standard]), with TCP_NODELAY and a
    time limit for each request's headers."""

    header_timeout: float = 20.0
    """Seconds; generous for a cheap phone on a bad mobile connection, short for a slowloris."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn
        set_tcp_nodelay(transport)
        super().connection_made(transport)
        self._start_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()  # the next request on a keep-alive connection gets the same time

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            # A pipelined request waits behind one still being answered: reading is paused, so its
            # headers cannot arrive yet. Give it the time again rather than cut the answer off.
            self._start_header_timer()
            return
        if not self.transport.is_closing():
            self.logger.info("Closed a connection whose request headers took over %s s", self.header_timeout)
            self.transport.close()
