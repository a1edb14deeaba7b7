"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests that send mail."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Received:
    """One delivered message: the envelope's recipients and the parsed message."""

    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class MailServer:
    url: str
    received: list[Received] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._arrived:
            return [item.message for item in self.received]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._arrived:
            self.received.append(Received(list(envelope.rcpt_tos), parsed))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once at least `count` have arrived (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} messages arrived"
                self._arrived.wait(left)
            return [item.message for item in self.received]


def free_port() -> int:
    """A loopback port nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[MailServer]:
    port = free_port()
    server = MailServer(url=f"smtp://127.0.0.1:{port}")
    controller = Controller(server, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
