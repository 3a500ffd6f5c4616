"""A real SMTP server for tests and benchmarks: aiosmtpd on 127.0.0.1, on a port the OS
chooses, in a thread of its own.

    with SmtpSink(delay=0.2, fail_first=1) as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = sink.host, sink.port
        ...
        assert sink.wait_for(3, timeout=10)
        sink.messages  # [Received(mail_from, rcpt_tos, data)], in the order they arrived

A message counts as received as soon as its data has arrived, before the optional
``delay`` and the reply: a client that dies while waiting for the "250 OK" may or may not
have delivered its message, and counting it is the worst case for duplicates, which is what
the tests bound. ``fail_first`` messages are answered with ``fail_reply`` instead (451, a
temporary refusal, unless told otherwise) and are not received. With ``keep_data=False``
only the envelope and the ``Message-ID`` are kept, so a long benchmark does not hold every
message in memory.
"""

from __future__ import annotations

import asyncio
import email
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
# aiosmtpd logs every command at INFO: seven lines a message would drown a test's output
# and slow a benchmark down.
logging.getLogger("mail.log").setLevel(logging.WARNING)
TEMPORARY_FAILURE = "451 4.3.0 Try again later"
PERMANENT_FAILURE = "550 5.7.1 Message refused"

# The Message-ID GroupCare gives an outbox row's message: <groupcare.{row}.{attempt}@host>.
_ROW_MESSAGE_ID = re.compile(rb"^Message-ID:\s*<groupcare\.(\d+)\.(\d+)@", re.IGNORECASE | re.M)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Received:
    """One message the sink accepted: the envelope, and the raw message (empty when the
    sink keeps no data)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message_id: str
    row: tuple[int, int] | None  # (outbox row id, attempt) from a GroupCare Message-ID
    data: bytes

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or b""
        head = data.split(b"\r\n\r\n", 1)[0]
        with self.sink._lock:
            if self.sink._refusals_left > 0:
                self.sink._refusals_left -= 1
                self.sink.refused += 1
                return self.sink.fail_reply
            message_id = _MESSAGE_ID.search(head)
            row = _ROW_MESSAGE_ID.search(head)
            self.sink._received.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    message_id=message_id.group(1).decode() if message_id else "",
                    row=(int(row.group(1)), int(row.group(2))) if row else None,
                    data=data if self.sink.keep_data else b"",
                )
            )
            self.sink._arrived.notify_all()
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        return "250 OK"


class _Controller(Controller):
    """aiosmtpd's threaded controller, bound to a port the OS picks (port 0): the port is
    read back from the listening socket before the controller's own readiness check."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """An SMTP server that collects what it is sent; a context manager that stops itself."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        fail_first: int = 0,
        fail_reply: str = TEMPORARY_FAILURE,
        keep_data: bool = True,
    ) -> None:
        self.delay = delay
        self.fail_reply = fail_reply
        self.keep_data = keep_data
        self.refused = 0
        self._refusals_left = fail_first
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._controller = _Controller(
            _Handler(self), hostname=HOST, port=0, server_hostname="sink.test"
        )
        self.host = HOST
        self.port = 0

    def start(self) -> SmtpSink:
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def fail_next(self, count: int, reply: str = TEMPORARY_FAILURE) -> None:
        """Refuse the next ``count`` messages with ``reply``."""
        with self._lock:
            self._refusals_left = count
            self.fail_reply = reply

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._received)

    def rows(self) -> Counter[int]:
        """How many messages each outbox row got (by the row id in its Message-ID)."""
        return Counter(message.row[0] for message in self.messages if message.row)

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Wait until at least ``count`` messages arrived; False when ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
            return True
